"""The two functions every front end calls: ``search()`` and ``ask()`` (see ``rag.answer``).

Models and the index load lazily, once per settings, on first use; never at import.

Example::

    >>> from rag.service import search
    >>> for p in search("ما الملفات التي يتناولها الحوار الاستراتيجي؟", top_k=3):
    ...     print(p.rank, round(p.score, 3), p.title)
"""
from __future__ import annotations

import logging
import threading
from functools import lru_cache

from index.embedder import SentenceTransformerEmbedder
from index.errors import InputError, InputTooLargeError
from index.settings import Settings
from index.store import IndexStore
from rag.retrieval import MODES, Retriever
from rag.types import Passage

log = logging.getLogger(__name__)
_lock = threading.Lock()


@lru_cache(maxsize=1)
def default_settings() -> Settings:
    return Settings.load()


def _embedder(settings: Settings) -> SentenceTransformerEmbedder:
    return _embedder_for(settings.embedding_model, settings.models_dir, settings.embed_batch_size)


@lru_cache(maxsize=4)
def _embedder_for(model: str, models_dir, batch_size: int) -> SentenceTransformerEmbedder:
    """One loaded model per model identity, shared by every index and settings variant."""
    return SentenceTransformerEmbedder.from_settings(
        Settings(models_dir=models_dir, embedding_model=model, embed_batch_size=batch_size), show_progress=False)


@lru_cache(maxsize=4)
def _retriever(settings: Settings) -> Retriever:
    embedder = _embedder(settings)
    expect = {
        "embedding_model": embedder.name,
        "model_fingerprint": embedder.fingerprint,
        "chunking": {"target_tokens": settings.chunk_tokens, "overlap_sentences": settings.chunk_overlap_sentences, "tokenizer": "cl100k_base"},
    }
    store = IndexStore.load(settings.index_dir, expect)
    log.info("loaded index %s: %d chunks from %d documents", settings.index_dir, len(store.chunks), len(store.manifest.documents))
    return Retriever(store, embedder)


def get_retriever(settings: Settings | None = None) -> Retriever:
    """The retriever for ``settings`` (default: environment/config), loaded once."""
    with _lock:
        return _retriever(settings or default_settings())


def reset() -> None:
    """Forget loaded indexes (after a rebuild), keeping loaded models."""
    with _lock:
        _retriever.cache_clear()


def check_question(text: object, settings: Settings, what: str = "question") -> str:
    """The stripped question, or an ``InputError`` saying what is wrong with it."""
    if not isinstance(text, str):
        raise InputError(f"the {what} must be a string")
    text = text.strip()
    if not text:
        raise InputError(f"the {what} is empty; type a question about the articles")
    if len(text) > settings.max_question_chars:
        raise InputTooLargeError(
            f"the {what} is {len(text):,} characters long; the limit is {settings.max_question_chars:,} (setting max_question_chars)"
        )
    return text


def search(query: str, top_k: int | None = None, mode: str = "hybrid", settings: Settings | None = None) -> list[Passage]:
    """The best passages for ``query``, best first, above the relevance threshold."""
    settings = settings or default_settings()
    query = check_question(query, settings, "query")
    if mode not in MODES:
        raise InputError(f"unknown search mode {mode!r}; choose one of {', '.join(MODES)}")
    if top_k is not None and not (1 <= top_k <= 50):
        raise InputError("top_k must be between 1 and 50")
    return get_retriever(settings).search(query, top_k or settings.top_k, mode, settings.min_score)
