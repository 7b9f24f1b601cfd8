"""Contextual chunk headers (``chunk_titles``) with the real EmbeddingGemma: a title changes a chunk's
vector exactly as the model's own prompt would, both runtimes agree, and an index built with titles
refuses settings without them."""
from __future__ import annotations

import numpy as np
import pytest

from index.build import build_index, expected_identity
from index.embedder import SentenceTransformerEmbedder, embedder_from_settings, titled_prompt
from index.errors import IndexMismatchError
from index.settings import IndexSettings
from index.store import IndexStore
from index.types import Document, sha256_text
from tests.conftest import MODELS_DIR

pytestmark = pytest.mark.slow

TEXTS = ["أكد رئيس الوزراء أن الحوار الاستراتيجي مع واشنطن سيتناول ملف القوات الأمريكية في العراق.",
         "The Broncos defeated the Panthers 24–10 to earn their third Super Bowl title."]
TITLES = ["الحوار الاستراتيجي بين العراق والولايات المتحدة", "Super Bowl 50"]


@pytest.fixture(scope="module")
def torch_emb() -> SentenceTransformerEmbedder:
    return embedder_from_settings(IndexSettings(models_dir=MODELS_DIR, embed_dtype="bfloat16", embed_runtime="torch"), show_progress=False)


def test_a_titled_chunk_embeds_differently_and_as_the_models_own_prompt(torch_emb) -> None:
    plain = torch_emb.embed(TEXTS, "document")
    titled = torch_emb.embed(TEXTS, "document", titles=TITLES)
    assert ((plain * titled).sum(axis=1) < 0.99).all()  # the title moves the vector
    assert (torch_emb.embed(TEXTS, "document", titles=["", ""]) * plain).sum(axis=1).min() > 0.995  # "" is "title: none"

def test_the_title_prompt_is_what_sentence_transformers_makes_of_it() -> None:
    # in float32: bfloat16 inference on this CPU differs between two identical calls by up to 0.004 of cosine
    emb = embedder_from_settings(IndexSettings(models_dir=MODELS_DIR, embed_dtype="float32", embed_runtime="torch"), show_progress=False)
    model = emb.model
    titled = emb.embed(TEXTS, "document", titles=TITLES)
    for text, title, vector in zip(TEXTS, TITLES, titled):
        own = model.encode([text], prompt=titled_prompt(model.prompts["document"], title), normalize_embeddings=True)[0]
        assert float(np.dot(own, vector)) > 0.99999


def test_openvino_titles_match_torch(torch_emb) -> None:
    pytest.importorskip("openvino")
    ov = embedder_from_settings(IndexSettings(models_dir=MODELS_DIR, embed_runtime="openvino", embed_dtype="auto"),
                                show_progress=False)
    if not ov.ir_ready:
        pytest.skip("no OpenVINO IR converted yet (`rag models` converts the one embed_dtype auto picks)")
    a, b = ov.embed(TEXTS, "document", titles=TITLES), torch_emb.embed(TEXTS, "document", titles=TITLES)
    assert (a * b).sum(axis=1).min() >= 0.999
    assert ((a * ov.embed(TEXTS, "document")).sum(axis=1) < 0.99).all()


def test_a_titled_index_refuses_untitled_settings(torch_emb, tmp_path) -> None:
    docs = [Document(f"d{i}", title, "test", text, sha256_text(text)) for i, (text, title) in enumerate(zip(TEXTS, TITLES))]
    on = IndexSettings(home=tmp_path, models_dir=MODELS_DIR, index_dir=tmp_path / "index", chunk_titles=True)
    build_index(tmp_path, on, torch_emb, documents=docs)
    store = IndexStore.load(on.index_dir, expected_identity(on, torch_emb))
    assert store.manifest.chunk_titles is True
    cosine = (store.vectors * torch_emb.embed(TEXTS, "document", titles=TITLES)).sum(axis=1)
    assert cosine.min() > 0.995 > (store.vectors * torch_emb.embed(TEXTS, "document")).sum(axis=1).max()
    with pytest.raises(IndexMismatchError, match="chunk_titles"):
        IndexStore.load(on.index_dir, expected_identity(on.replace(chunk_titles=False), torch_emb))
