"""index.models.ensure_bf16: the bfloat16 copy of the embedder is made once from the verified
float32 files, holds exactly the weights a bfloat16 load would make, is checksummed, and is
rebuilt when damaged. Slow: it reads and writes the real model (1.2 GB in, 0.6 GB out)."""
import os
from pathlib import Path

import pytest

from index import models
from tests.conftest import MODELS_DIR

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    """A models folder of its own, holding the verified original as hard links (no copy of 1.2 GB)."""
    if not models.is_verified(models.EMBEDDING, MODELS_DIR):
        pytest.skip("the embedding model is not provisioned (rag models)")
    root = tmp_path_factory.mktemp("models")
    src = MODELS_DIR / models.EMBEDDING.name
    for path in src.rglob("*"):
        if path.is_file():
            out = root / models.EMBEDDING.name / path.relative_to(src)
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, out)
            except OSError:
                pytest.skip("hard links to the models folder are not possible here")
    return root


def test_the_copy_holds_the_bfloat16_cast_of_every_weight(models_dir) -> None:
    import torch
    from safetensors import safe_open

    path = models.ensure_bf16(models.EMBEDDING, models_dir)
    assert path == models.bf16_path(models.EMBEDDING, models_dir) and models.is_bf16_ready(models.EMBEDDING, models_dir)
    assert models.verify_bf16(models.EMBEDDING, models_dir) == []
    original = models_dir / models.EMBEDDING.name / "model.safetensors"
    copy = path / "model.safetensors"
    assert copy.stat().st_size < 0.55 * original.stat().st_size
    with safe_open(str(original), "pt") as a, safe_open(str(copy), "pt") as b:
        assert set(a.keys()) == set(b.keys())
        for key in a.keys():
            tb = b.get_tensor(key)
            assert tb.dtype == torch.bfloat16 and torch.equal(a.get_tensor(key).to(torch.bfloat16), tb), key
    # everything else is the verified original, byte for byte
    assert (path / "tokenizer.json").read_bytes() == (original.parent / "tokenizer.json").read_bytes()
    assert (path / "2_Dense" / "model.safetensors").stat().st_size == (original.parent / "2_Dense" / "model.safetensors").stat().st_size


def test_a_damaged_copy_is_found_and_rebuilt(models_dir) -> None:
    path = models.ensure_bf16(models.EMBEDDING, models_dir)
    weights = path / "model.safetensors"
    size = weights.stat().st_size
    with open(weights, "r+b") as fh:  # one flipped byte: the cheap check cannot see it, the rehash does
        fh.seek(size // 2)
        byte = fh.read(1)
        fh.seek(size // 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    assert models.is_bf16_ready(models.EMBEDDING, models_dir)
    assert models.verify_bf16(models.EMBEDDING, models_dir) == ["model.safetensors: sha256 mismatch"]
    with open(weights, "r+b") as fh:  # truncated: found without rehashing, and rebuilt on next use
        fh.truncate(size // 2)
    assert not models.is_bf16_ready(models.EMBEDDING, models_dir)
    models.ensure_bf16(models.EMBEDDING, models_dir)
    assert models.verify_bf16(models.EMBEDDING, models_dir) == []


def test_the_embedder_loads_the_copy_in_bfloat16_and_the_original_in_float32(models_dir) -> None:
    from index.embedder import SentenceTransformerEmbedder

    location = models_dir / models.EMBEDDING.name
    bf16 = SentenceTransformerEmbedder(models.EMBEDDING.name, location, dtype="bfloat16")
    f32 = SentenceTransformerEmbedder(models.EMBEDDING.name, location, dtype="float32")
    assert bf16.load_location() == models.bf16_path(models.EMBEDDING, models_dir)
    assert f32.load_location() == location
    assert bf16.fingerprint == f32.fingerprint  # an index built with either serves both
