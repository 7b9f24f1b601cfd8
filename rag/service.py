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
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from index.embedder import embedder_from_settings, resolve_runtime, runtime_tag
from index.errors import IndexMismatchError
from index.settings import IndexSettings
from index.store import rebuild_hint
from index.stores import open_store, store_config, store_stamp
from rag.batching import BatchedEmbedder
from rag.errors import InputError
from rag.extractive import use_disk_cache
from rag.questions import MAX_TOP_K_SEARCH, check_question, check_top_k
from rag.retrieval import MODES, Retriever
from rag.settings import RagSettings
from rag.types import Passage

log = logging.getLogger(__name__)
_lock = threading.Lock()


@lru_cache(maxsize=1)
def default_settings() -> RagSettings:
    return RagSettings.load()


def embedder(settings: RagSettings) -> BatchedEmbedder:
    """The loaded embedding model for ``settings`` (loaded on first use, then shared), with single
    questions from concurrent requests embedded in shared passes and repeated ones cached (``rag.batching``).
    One per model identity, dtype and runtime, shared by every index and settings variant."""
    key = _model_key(settings)
    with _models_lock:  # two first requests at once must not each make (and load) a model
        made = _loaded.get(key)
        if made is None:
            section = IndexSettings(models_dir=settings.models_dir, embedding_model=settings.embedding_model,
                                    embed_batch_size=settings.embed_batch_size, embed_dtype=settings.embed_dtype,
                                    embed_runtime=resolve_runtime(settings))
            made = _loaded[key] = BatchedEmbedder(embedder_from_settings(section, show_progress=False))
        return made


def _model_key(settings: RagSettings) -> tuple:
    # the resolved runtime: "auto" and the runtime it chose share one model
    return settings.embedding_model, settings.models_dir, settings.embed_batch_size, settings.embed_dtype, resolve_runtime(settings)


_models_lock = threading.Lock()  # not _lock: get_retriever holds that one while it asks for the embedder
_loaded: dict[tuple, BatchedEmbedder] = {}  # the embedders made, by _model_key


@contextmanager
def serving(settings: RagSettings) -> Iterator[None]:
    """A server wraps each request it answers with ``settings`` in this, so that the question
    batcher starts a forward pass when the requests being served have queued their questions
    instead of beside their Python work (``rag.batching``). Loads nothing: before the embedder
    is loaded it does nothing."""
    model = _loaded.get(_model_key(settings))
    if model is None:
        yield
        return
    with model.request():
        yield


def preload(settings: RagSettings) -> None:
    """Load what an answer with ``settings`` needs, the two models side by side: the local LLM
    starts in a background thread (llama.cpp loads outside the GIL) while this thread loads the
    embedder and the index. A cold ``rag ask`` then waits for the slower of the two, not both."""
    start_llm(settings)
    get_retriever(settings)


def start_llm(settings: RagSettings, for_server: bool = False) -> None:
    """Start the local LLM in the background when ``settings`` answer with it (nothing otherwise).
    ``for_server`` (the API and the chat UI at start): then put the default answers' system prompts
    into every slot too, so the first readers after a start do not each evaluate them (``warm_prompts``)."""
    if settings.backend != "local":
        return
    from rag.llm import LocalServer

    LocalServer.start_background(settings, warm_prompts() if for_server and settings.llm_parallel > 1 else None)


def warm_prompts() -> list[list[tuple[str, str]]]:
    """The prompts whose beginning every default answer shares: an Arabic answer's line and an English
    answer's sentence translation (the last one stays in the slots; it is the longer wait)."""
    from rag.prompt import answer_line_messages
    from rag.translate import messages as translation_messages

    return [answer_line_messages("؟", [(1, "…")], "ar"), translation_messages("…")]


def sentence_cache_path(settings: RagSettings) -> Path:
    """Where the passages' sentence vectors persist between processes: one file per runtime, since both
    share the model's fingerprint and their vectors are close but not equal (a near-tie could flip)."""
    return settings.home / "cache" / f"sentence_vectors{runtime_tag(settings)}.npz"


def _load_retriever(settings: RagSettings) -> Retriever:
    model = embedder(settings)
    # the passages' sentences embedded by earlier processes (the cold `rag ask` then embeds only the question)
    use_disk_cache(sentence_cache_path(settings))
    from index.build import expected_identity  # the model, the chunking and chunk_titles the index must have

    store = open_store(store_config(settings), expected_identity(settings, model))  # the FAISS folder or the Qdrant collection (setting store)
    if store.manifest.dim != model.dim:  # checked after the files, so a damaged index never loads the model
        raise IndexMismatchError(f"the index at {settings.index_dir} holds vectors of dimension {store.manifest.dim}, the model "
                                 f"{model.name!r} makes {model.dim}; {rebuild_hint(settings.index_dir, store.manifest.corpus_root)}")
    log.info("loaded index %s: %d chunks from %d documents", store_config(settings).where, store.count(), len(store.manifest.documents))
    return Retriever(store, model)


def _stamp(settings: RagSettings) -> Any:
    """Identifies the index in its store: a rebuild swaps in a new directory (FAISS) or a new manifest (Qdrant)."""
    return store_stamp(store_config(settings))


_retrievers: dict[RagSettings, tuple[Any, Retriever]] = {}


def get_retriever(settings: RagSettings | None = None) -> Retriever:
    """The retriever for ``settings`` (default: environment/config), loaded once and again after
    the index on disk changes (a rebuild by ``rag index`` is picked up without a restart)."""
    settings = settings or default_settings()
    stamp = _stamp(settings)
    hit = _retrievers.get(settings)  # without the lock: one answer asks several times, and requests must not queue here
    if hit is not None and hit[0] == stamp:
        return hit[1]
    with _lock:
        stamp = _stamp(settings)
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


def search(query: str, top_k: int | None = None, mode: str = "hybrid", settings: RagSettings | None = None) -> list[Passage]:
    """The best passages for ``query``, best first, above the relevance threshold."""
    settings = settings or default_settings()
    query = check_question(query, settings, "query")
    if mode not in MODES:
        raise InputError(f"unknown search mode {mode!r}; choose one of {', '.join(MODES)}")
    check_top_k(top_k, MAX_TOP_K_SEARCH)
    return get_retriever(settings).search(query, top_k or settings.top_k, mode, settings.min_score)
