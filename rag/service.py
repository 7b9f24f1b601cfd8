"""The two functions every front end calls: ``search()`` and ``ask()`` (see ``rag.answer``).

Models and the index load lazily, once per settings, on first use; never at import.

Example::

    >>> from rag.service import search
    >>> for p in search("ما الملفات التي يتناولها الحوار الاستراتيجي؟", top_k=3):
    ...     print(p.rank, round(p.score, 3), p.title)
"""
from __future__ import annotations

import logging
import os
import threading
from functools import lru_cache
from pathlib import Path

from index.embedder import SentenceTransformerEmbedder
from index.errors import IndexMismatchError, InputError, InputTooLargeError, InvalidTextError
from index.settings import Settings
from index.store import IndexStore, rebuild_hint
from rag.retrieval import MODES, Retriever
from rag.types import Passage

log = logging.getLogger(__name__)
_lock = threading.Lock()


@lru_cache(maxsize=1)
def default_settings() -> Settings:
    return Settings.load()


def _embedder(settings: Settings) -> SentenceTransformerEmbedder:
    return _embedder_for(settings.embedding_model, settings.models_dir, settings.embed_batch_size, settings.embed_dtype)


@lru_cache(maxsize=4)
def _embedder_for(model: str, models_dir, batch_size: int, dtype: str) -> SentenceTransformerEmbedder:
    """One loaded model per model identity and dtype, shared by every index and settings variant."""
    return SentenceTransformerEmbedder.from_settings(
        Settings(models_dir=models_dir, embedding_model=model, embed_batch_size=batch_size, embed_dtype=dtype), show_progress=False)


def _load_retriever(settings: Settings) -> Retriever:
    embedder = _embedder(settings)
    expect = {
        "embedding_model": embedder.name,
        "model_fingerprint": embedder.fingerprint,
        "chunking": {"target_tokens": settings.chunk_tokens, "overlap_sentences": settings.chunk_overlap_sentences, "tokenizer": "cl100k_base"},
    }
    store = IndexStore.load(settings.index_dir, expect)
    if store.manifest.dim != embedder.dim:  # checked after the files, so a damaged index never loads the model
        raise IndexMismatchError(f"the index at {settings.index_dir} holds vectors of dimension {store.manifest.dim}, the model "
                                 f"{embedder.name!r} makes {embedder.dim}; {rebuild_hint(settings.index_dir, store.manifest.corpus_root)}")
    log.info("loaded index %s: %d chunks from %d documents", settings.index_dir, len(store.chunks), len(store.manifest.documents))
    return Retriever(store, embedder)


def _stamp(index_dir: Path) -> tuple[int, int, int] | None:
    """Identifies the index on disk: a rebuild swaps in a new directory, so its manifest changes."""
    try:
        st = os.stat(Path(index_dir) / "manifest.json")
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


_retrievers: dict[Settings, tuple[tuple[int, int, int] | None, Retriever]] = {}


def get_retriever(settings: Settings | None = None) -> Retriever:
    """The retriever for ``settings`` (default: environment/config), loaded once and again after
    the index on disk changes (a rebuild by ``rag index`` is picked up without a restart)."""
    settings = settings or default_settings()
    with _lock:
        stamp = _stamp(settings.index_dir)
        hit = _retrievers.get(settings)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        _retrievers.pop(settings, None)
        retriever = _load_retriever(settings)
        while len(_retrievers) >= 4:
            _retrievers.pop(next(iter(_retrievers)))
        _retrievers[settings] = (stamp, retriever)
        return retriever


def reset() -> None:
    """Forget loaded indexes (after a rebuild), keeping loaded models."""
    with _lock:
        _retrievers.clear()


def check_unicode(text: str, what: str = "text") -> str:
    """``text`` unchanged, or ``InvalidTextError`` when it is not valid Unicode: a lone surrogate
    (JSON ``"\\ud800"``) or bytes the terminal could not decode (``$'\\xff'`` on a command line)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidTextError(
            f"the {what} is not valid Unicode text (character {exc.start + 1} is {ascii(text[exc.start])}, a lone surrogate "
            "or an undecodable byte); send UTF-8 text (check the terminal's or the client's encoding)") from None
    return text


def check_question(text: object, settings: Settings, what: str = "question") -> str:
    """The stripped question, or an ``InputError`` saying what is wrong with it."""
    if not isinstance(text, str):
        raise InputError(f"the {what} must be a string")
    check_unicode(text, what)
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
