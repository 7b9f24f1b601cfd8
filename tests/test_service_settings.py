"""rag.service builds its embedder from every embedding setting the user gave (fast: the model loads lazily)."""
from rag import service
from tests.conftest import MODELS_DIR


def test_embed_dtype_reaches_the_shared_embedder(tmp_path, monkeypatch) -> None:
    """RAG_EMBED_DTYPE=float32 was ignored by search/ask/chat/serve: the embedder was rebuilt without it."""
    monkeypatch.setenv("RAG_EMBED_DTYPE", "float32")
    monkeypatch.setenv("RAG_MODELS_DIR", str(MODELS_DIR))
    from ui.settings import Settings

    settings = Settings.load(home=tmp_path)
    assert settings.embed_dtype == "float32"
    assert service.embedder(settings).dtype == "float32"
    assert service.embedder(settings.replace(embed_dtype="bfloat16")).dtype == "bfloat16"
