"""Model provisioning: verification against the shipped manifests, clear errors when missing."""
import hashlib

import pytest

from index import models
from index.embedder import SentenceTransformerEmbedder, resolve_model
from index.errors import ModelMissingError
from tests.conftest import MODELS_DIR, SHARED


def test_shipped_manifests_are_sha256_lists() -> None:
    for spec in models.SPECS.values():
        hashes = models.expected_hashes(spec)
        assert hashes, spec.manifest
        assert all(len(d) == 64 and set(d) <= set("0123456789abcdef") for d in hashes.values()), spec.manifest


def test_shipped_manifests_match_the_shared_ones() -> None:
    pairs = [(spec, SHARED / "models" / spec.manifest) for spec in models.SPECS.values()]
    present = [(spec, path) for spec, path in pairs if path.exists()]
    if not present:
        pytest.skip(f"no model manifests in {SHARED / 'models'} to compare with")
    for spec, path in present:
        assert models.manifest_text(spec) == path.read_text(), spec.manifest


def test_missing_model_names_the_fixing_command(tmp_path) -> None:
    with pytest.raises(ModelMissingError, match="run: rag models"):
        resolve_model("embeddinggemma-300m", tmp_path)


def test_verify_catches_a_corrupt_file(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"hello")
    digest = hashlib.sha256(b"hello").hexdigest()
    spec = models.ModelSpec("m", (), "", "x.sha256", unzip=True)
    monkeypatch.setattr(models, "manifest_text", lambda s: f"{digest}  a.bin\n{digest}  b.bin\n")
    assert models.verify(spec, folder) == ["b.bin: missing"]
    (folder / "b.bin").write_bytes(b"hellO")
    assert models.verify(spec, folder) == ["b.bin: sha256 mismatch"]


@pytest.mark.slow
def test_installed_embedding_model_is_verified_and_loads() -> None:
    assert models.is_verified(models.EMBEDDING, MODELS_DIR), "run: rag models"
    assert models.verify(models.EMBEDDING, MODELS_DIR / models.EMBEDDING.name) == []
    emb = SentenceTransformerEmbedder("embeddinggemma-300m", resolve_model("embeddinggemma-300m", MODELS_DIR), show_progress=False)
    vec = emb.embed(["مرحبا بالعالم", "hello world"], "query")
    assert vec.shape == (2, 768) and abs(float((vec[0] ** 2).sum()) - 1.0) < 1e-4
    assert emb.max_tokens >= 512 and emb.count_tokens("مرحبا") >= 2


@pytest.mark.slow  # sentence-transformers tries to load the model: 5-10 s of imports on 2 cores
def test_an_unloadable_model_path_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    emb = SentenceTransformerEmbedder("broken", tmp_path / "broken")
    with pytest.raises(ModelMissingError, match="could not load embedding model"):
        emb.embed(["x"], "query")


def test_models_verify_rehashes_the_bf16_copy_and_rebuilds_it(tmp_path, monkeypatch, capsys) -> None:
    """`rag models --verify` checks the bfloat16 copy the embedder loads, not only the float32 original
    (issue 16): a flipped byte in the copy is reported and the copy is made again from the original."""
    import torch
    from safetensors.torch import save_file

    from ui.cli import main

    models_dir = tmp_path / "models"
    folder = models_dir / "tiny"
    folder.mkdir(parents=True)
    save_file({"w": torch.arange(64, dtype=torch.float32)}, str(folder / "model.safetensors"))
    (folder / "tokenizer.json").write_text("{}")
    manifest = "".join(f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}\n" for n in ("model.safetensors", "tokenizer.json"))
    spec = models.ModelSpec("tiny", (), "", "tiny.sha256", unzip=True)
    monkeypatch.setattr(models, "manifest_text", lambda s: manifest)
    monkeypatch.setattr(models, "EMBEDDING", spec)
    (folder / models.MARKER).write_text(manifest)
    copy = models.ensure_bf16(spec, models_dir)
    monkeypatch.setenv("RAG_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("RAG_HOME", str(tmp_path / "home"))

    assert main(["models", "--verify", "--embedding-only"]) == 0
    assert "tiny-bfloat16: OK" in capsys.readouterr().out

    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # same size: only a rehash finds it
    weights.write_bytes(bytes(data))
    assert models.is_bf16_ready(spec, models_dir) and models.verify_bf16(spec, models_dir)
    assert main(["models", "--verify", "--embedding-only"]) == 0
    out = capsys.readouterr().out
    assert "tiny: OK" in out and "tiny-bfloat16: CORRUPT: model.safetensors: sha256 mismatch" in out
    assert models.verify_bf16(spec, models_dir) == []
