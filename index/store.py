"""The on-disk index: FAISS vectors, chunk metadata and a manifest, written atomically.

Layout of an index directory::

    manifest.json   format version, embedding model + fingerprint, dimension,
                    chunking settings, chunk_titles, index kind, per-document content hashes
    chunks.jsonl    one Chunk per line, in vector order
    vectors.npy     float32 unit vectors (kept so re-indexing can reuse them)
    faiss.index     IndexFlatIP (exact) or IndexHNSWFlat (approximate), inner product

A build writes a sibling temporary directory and swaps it in with two renames; a
crash at any point leaves the previous index loadable (``_recover`` undoes a
half-finished swap).

Example::

    >>> store = IndexStore.load(Path("~/.cache/arabic-news-rag/index").expanduser())
    >>> store.search(query_vectors, k=5)
"""
from __future__ import annotations

import fcntl
import io
import json
import logging
import os
import shlex
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from index.errors import IndexBusyError, IndexDamagedError, IndexMismatchError, IndexMissingError, IndexWriteError
from index.types import Chunk

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass
class Manifest:
    format_version: int
    embedding_model: str
    model_fingerprint: str
    dim: int
    index_kind: str
    chunking: dict[str, Any]
    documents: dict[str, dict[str, Any]]
    corpus_root: str = ""
    created: float = field(default_factory=time.time)
    # the chunks were embedded with their document's title in the prompt (setting chunk_titles); an index
    # written before the setting existed has no such key and was embedded without titles
    chunk_titles: bool = False

    def identity(self) -> dict[str, Any]:
        """What must match between an index and the settings that query it."""
        return {
            "format_version": self.format_version,
            "embedding_model": self.embedding_model,
            "model_fingerprint": self.model_fingerprint,
            "dim": self.dim,
            "chunking": {k: self.chunking.get(k) for k in ("target_tokens", "overlap_sentences", "tokenizer")},
            "chunk_titles": self.chunk_titles,
        }


def faiss_index(vectors: np.ndarray, kind: str, hnsw_m: int = 32):
    """A FAISS inner-product index over unit vectors: flat (exact) or HNSW (approximate)."""
    import faiss

    dim = vectors.shape[1]
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


class IndexStore:
    """A loaded index: chunks, their vectors and the FAISS index over them (``index.stores.VectorStore``;
    BM25 is kept by the caller, so ``lexical`` is False)."""

    lexical = False

    def __init__(self, path: Path, manifest: Manifest, chunks: list[Chunk], vectors: np.ndarray, index) -> None:
        self.path = path
        self.manifest = manifest
        self.chunks = chunks
        self.vectors = vectors
        self.index = index

    @classmethod
    def load(cls, path: Path, expect: dict[str, Any] | None = None) -> "IndexStore":
        """Load the index at ``path``; refuse (naming the difference) when ``expect`` disagrees with its manifest.

        Every file is checked (present, complete, consistent with the manifest and the others); a
        problem raises ``IndexDamagedError`` naming the file and the command that rebuilds it. The
        files are read through one open handle on the directory, so a rebuild swapping a new index
        in meanwhile cannot mix files of two builds.
        """
        path = Path(path)
        _recover(path)
        with _open_dir(path) as folder:
            manifest = folder.manifest()
            if manifest is None:
                raise IndexMissingError(f"no index at {path}; build one with: rag index [FOLDER] --index-dir {shlex.quote(str(path))}")
            if expect:
                check_compatible(manifest, expect, path)
            chunks = folder.chunks(manifest)
            vectors = folder.vectors(manifest, len(chunks))
            index = folder.faiss(manifest, len(chunks))
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = 128
        return cls(path, manifest, chunks, vectors, index)

    def count(self) -> int:
        return len(self.chunks)

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """For each query vector, up to ``k`` ``(chunk position, cosine score)`` pairs, best first."""
        if self.index.ntotal == 0:
            return [[] for _ in range(len(queries))]
        scores, ids = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), min(k, self.index.ntotal))
        return [[(int(i), float(s)) for i, s in zip(row_i, row_s) if i >= 0] for row_i, row_s in zip(ids, scores)]


def rebuild_hint(path: Path, corpus_root: str = "") -> str:
    """The command that rebuilds the index at ``path`` (from ``corpus_root`` when known)."""
    folder = shlex.quote(corpus_root) if corpus_root else "YOUR_ARTICLES_FOLDER"
    return f"rebuild it with: rag index --rebuild --index-dir {shlex.quote(str(path))} {folder}"


INDEX_FILES = ("manifest.json", "chunks.jsonl", "vectors.npy", "faiss.index")


class _Folder:
    """The files of one index directory, read through a directory handle and checked one by one."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self.fd = path, fd
        self.corpus_root = ""

    def damaged(self, name: str, what: str) -> IndexDamagedError:
        return IndexDamagedError(f"the index at {self.path} is damaged: {name} {what}; {rebuild_hint(self.path, self.corpus_root)}")

    def read(self, name: str) -> bytes:
        try:
            fd = os.open(name, os.O_RDONLY, dir_fd=self.fd)
        except FileNotFoundError:
            raise self.damaged(name, "is missing") from None
        except OSError as exc:
            raise self.damaged(name, f"cannot be read ({exc.strerror})") from None
        with os.fdopen(fd, "rb") as fh:
            return fh.read()

    def manifest(self) -> Manifest | None:
        present = set(os.listdir(self.fd))
        if "manifest.json" not in present:
            if present & set(INDEX_FILES):
                raise self.damaged("manifest.json", "is missing")
            return None
        try:
            data = json.loads(self.read("manifest.json").decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self.damaged("manifest.json", f"is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise self.damaged("manifest.json", "is not a JSON object")
        self.corpus_root = data.get("corpus_root") if isinstance(data.get("corpus_root"), str) else ""
        if data.get("format_version") != FORMAT_VERSION:
            raise IndexMismatchError(
                f"index at {self.path} has format version {data.get('format_version')}, this program reads {FORMAT_VERSION}; "
                f"{rebuild_hint(self.path, self.corpus_root)}")
        try:
            manifest = Manifest(**data)
        except TypeError as exc:
            raise self.damaged("manifest.json", f"has wrong fields ({exc})") from None
        types = {"embedding_model": str, "model_fingerprint": str, "dim": int, "index_kind": str, "chunking": dict, "documents": dict,
                 "chunk_titles": bool}
        wrong = [k for k, t in types.items() if not isinstance(getattr(manifest, k), t)]
        if wrong or manifest.dim <= 0:
            raise self.damaged("manifest.json", f"has invalid values ({', '.join(wrong) or 'dim'})")
        return manifest

    def chunks(self, manifest: Manifest) -> list[Chunk]:
        try:
            lines = self.read("chunks.jsonl").decode("utf-8").splitlines()
        except UnicodeDecodeError:
            raise self.damaged("chunks.jsonl", "is not UTF-8 text") from None
        chunks = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                chunks.append(Chunk.from_dict(json.loads(line)))
            except json.JSONDecodeError:
                raise self.damaged("chunks.jsonl", f"line {n} is not valid JSON") from None
            except TypeError:
                raise self.damaged("chunks.jsonl", f"line {n} is not a chunk record") from None
        return chunks

    def vectors(self, manifest: Manifest, count: int) -> np.ndarray:
        try:
            vectors = np.load(io.BytesIO(self.read("vectors.npy")), allow_pickle=False)
        except IndexDamagedError:
            raise
        except Exception as exc:  # numpy raises ValueError, EOFError, OSError… for a bad file
            raise self.damaged("vectors.npy", f"is truncated or not a vector file ({type(exc).__name__})") from None
        if vectors.ndim != 2 or vectors.shape != (count, manifest.dim) or vectors.dtype.kind != "f":
            raise self.damaged("vectors.npy", f"holds {vectors.dtype} vectors of shape {vectors.shape}, "
                               f"expected ({count}, {manifest.dim}): {count} chunks of dimension {manifest.dim}")
        vectors = vectors.astype(np.float32, copy=False)
        if not np.isfinite(vectors).all():
            raise self.damaged("vectors.npy", "holds values that are not finite numbers")
        return vectors

    def faiss(self, manifest: Manifest, count: int):
        import faiss

        data = self.read("faiss.index")
        try:
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        except Exception as exc:  # faiss raises RuntimeError with a C++ message
            raise self.damaged("faiss.index", f"is truncated or not a FAISS index ({type(exc).__name__})") from None
        if index.d != manifest.dim or index.ntotal != count:
            raise self.damaged("faiss.index", f"holds {index.ntotal} vectors of dimension {index.d}, expected {count} of dimension {manifest.dim}")
        return index


@contextmanager
def _open_dir(path: Path) -> Iterator[_Folder]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        raise IndexMissingError(f"no index at {path}; build one with: rag index [FOLDER] --index-dir {shlex.quote(str(path))}") from None
    except OSError as exc:
        raise IndexDamagedError(f"the index at {path} cannot be opened ({exc.strerror}); "
                                f"check the folder's permissions, or {rebuild_hint(path)}") from None
    try:
        yield _Folder(path, fd)
    finally:
        os.close(fd)


def read_manifest(path: Path) -> Manifest | None:
    """The manifest of the index at ``path``; None when there is no index there at all."""
    path = Path(path)
    if not path.exists():
        return None
    with _open_dir(path) as folder:
        return folder.manifest()


def check_compatible(manifest: Manifest, expect: dict[str, Any], path: Path) -> None:
    """Raise ``IndexMismatchError`` naming every setting that differs."""
    have = manifest.identity()
    diffs = []
    for key, want in expect.items():
        got = have.get(key)
        if isinstance(want, dict):
            diffs += [f"{key}.{k}: index has {(got or {}).get(k)!r}, settings ask for {v!r}" for k, v in want.items() if (got or {}).get(k) != v]
        elif got != want:
            diffs.append(f"{key}: index has {got!r}, settings ask for {want!r}")
    if diffs:
        raise IndexMismatchError(f"the index at {path} was built differently ({'; '.join(diffs)}); {rebuild_hint(path, manifest.corpus_root)}")


def _old(path: Path) -> Path:
    return path.with_name(f".{path.name}.old")


def _recover(path: Path) -> None:
    """Finish or undo a swap that a crash interrupted (never one that a running build is doing)."""
    old = _old(path)
    if not old.exists():
        return
    try:
        if path.exists():
            shutil.rmtree(old, ignore_errors=True)
        elif _building(path):  # between the two renames of a live build: the new index appears in a moment
            for _ in range(50):
                if path.exists():
                    return
                time.sleep(0.1)
        else:
            os.rename(old, path)
            log.warning("recovered the previous index at %s after an interrupted build", path)
    except OSError as exc:  # a read-only folder: read what is there
        log.warning("could not finish the interrupted swap at %s (%s)", path, exc.strerror)


def _lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


def _building(path: Path) -> bool:
    """Whether another process holds the build lock of ``path`` now."""
    try:
        with open(_lock_path(path), "rb") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh, fcntl.LOCK_UN)
    except OSError:
        pass
    return False


def _unwritable(path: Path, exc: OSError) -> IndexWriteError:
    where = exc.filename or path
    return IndexWriteError(f"cannot write the index at {path}: {where} ({exc.strerror or exc}); "
                           "choose a writable place with --index-dir (or RAG_INDEX_DIR), or fix the folder's permissions")


@contextmanager
def build_lock(path: Path) -> Iterator[None]:
    """Only one build of an index at a time (an advisory lock beside it)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(_lock_path(path), "w")
    except OSError as exc:
        raise _unwritable(path, exc) from None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusyError(f"another process is building the index at {path}; wait for it to finish") from None
        yield


def write_atomic(path: Path, manifest: Manifest, chunks: list[Chunk], vectors: np.ndarray, hnsw_m: int = 32) -> None:
    """Write a complete index to a temporary sibling, then swap it in place of ``path``."""
    path = Path(path)
    try:
        _write_atomic(path, manifest, chunks, vectors, hnsw_m)
    except OSError as exc:
        raise _unwritable(path, exc) from None


def _write_atomic(path: Path, manifest: Manifest, chunks: list[Chunk], vectors: np.ndarray, hnsw_m: int) -> None:
    import faiss

    _recover(path)
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.mkdir(parents=True)
    try:
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as fh:
            for chunk in chunks:
                fh.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
        np.save(tmp / "vectors.npy", vectors.astype(np.float32))
        faiss.write_index(faiss_index(vectors, manifest.index_kind, hnsw_m), str(tmp / "faiss.index"))
        (tmp / "manifest.json").write_text(json.dumps(manifest.__dict__, ensure_ascii=False, indent=1), encoding="utf-8")
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = _old(path)
    if path.exists():
        os.rename(path, old)
    os.rename(tmp, path)
    shutil.rmtree(old, ignore_errors=True)
