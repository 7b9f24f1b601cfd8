"""Query embeddings for a busy server: concurrent questions share one forward pass, and a question
asked again (after normalising spaces and Unicode forms) is answered from a small LRU cache.

On two cores sixteen forward passes cannot run at once; one pass over sixteen questions costs
about a quarter of sixteen single passes (bench/bench_api.py measures it). ``QueryBatcher`` has
no thread of its own: a caller that finds no pass running runs one for everything queued, up to
``max_batch``; whoever arrives meanwhile waits and forms the next batch.

A server marks each request it serves with ``request()``. A pass then waits until every such
request is queued for it (the others are still running Python: parsing, ranking, selecting
sentences, writing JSON), bounded by one pass's duration. Two reasons, both measured
(bench/bench_api.py, bench/bench_onnx.py): a pass of one question costs four times a batched
question, and a pass that runs beside the requests' Python is slowed several times over, since
torch needs the GIL between operations and its two OpenMP threads wait on each other when one
of them loses its core. Without ``request()`` (the CLI, a library caller) a pass starts at once.
``BatchedEmbedder`` wraps any ``Embedder`` so single query embeddings go through it; every
other call (documents, several texts at once) goes straight to the wrapped model.

Example::

    >>> emb = BatchedEmbedder(SentenceTransformerEmbedder.from_settings(settings))
    >>> emb.embed(["Who met  Blinken?"], "query")     # one pass, cached as "Who met Blinken?"
    >>> emb.embed(["Who met Blinken? "], "query")     # the same normalised text: no pass
    >>> emb.cache_info()
    CacheInfo(hits=1, misses=1, batches=1, batched=1, size=1)
"""
from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from index.embedder import Embedder, Kind
from index.vector_cache import VectorCache

log = logging.getLogger(__name__)

CACHE_SIZE = 1024  # question vectors kept (3 KB each); a repeated question skips the forward pass
MAX_BATCH = 64  # questions per forward pass at most; beyond that a pass is long enough to make latency jumpy
MIN_WAIT_S = 0.02  # a queued question waits for company at most max(this, the last pass's duration)
_SPACE = re.compile(r"\s+")


def normalize_question(text: str) -> str:
    """The form a question is embedded and cached under: Unicode NFC, runs of white space as one
    space, no space at either end. (Case and diacritics are kept: they change the vector.)

    >>> normalize_question("  Who   met\\u00a0Blinken?\\n")
    'Who met Blinken?'
    """
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


@dataclass(frozen=True)
class CacheInfo:
    """Counters since start: cache hits and misses, forward passes run and questions they embedded."""

    hits: int
    misses: int
    batches: int
    batched: int
    size: int


class QueryBatcher:
    """Embeds single texts with ``encode(texts) -> rows``, batching concurrent callers; thread-safe."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], cache_size: int = CACHE_SIZE, max_batch: int = MAX_BATCH) -> None:
        self._encode = encode
        self._cond = threading.Condition()
        self._pending: list[tuple[str, dict[str, Any]]] = []
        self._busy = False
        self._cache = VectorCache(max_items=cache_size)  # the project's one embedding cache, keyed here by the normalised question
        self._max_batch = max_batch
        self._hits = self._misses = self._batches = self._batched = 0
        self._working = 0  # requests inside request()
        self._peak = 0  # the most of them at once since the last pass started: how many a pass waits for
        self._last_pass_s = 0.0  # the last pass's duration
        self._free_since = 0.0  # when it ended

    @contextmanager
    def request(self) -> Iterator[None]:
        """Marks one request being served (its whole handling, not only its embedding), so that a
        pass waits for the requests still running Python to queue their questions (module docstring)."""
        with self._cond:
            self._working += 1
            self._peak = max(self._peak, self._working)
        try:
            yield
        finally:
            with self._cond:
                self._working -= 1
                self._cond.notify_all()

    def _wait_s(self) -> float:
        """0 when a pass should start now (none running); else how long to wait before looking again.

        A pass waits for as many questions as requests were being served at once since the last
        pass started: those still running Python, and those whose client is about to send the next
        question (closed-loop clients leave for a moment between answers). It never waits longer
        than the last pass took (at least ``MIN_WAIT_S``), so a client that went away costs one wait."""
        queued = len(self._pending)
        if queued >= self._max_batch or queued >= max(self._working, self._peak):
            return 0.0
        return max(0.0, self._free_since + max(MIN_WAIT_S, self._last_pass_s) - time.monotonic())

    def embed(self, text: str) -> np.ndarray:
        """The vector of ``text`` (already normalised by the caller), from the cache or a shared pass."""
        # fast path without the condition: a hit must not queue behind threads waiting for a forward pass
        vector = self._cache.get(text)
        if vector is not None:
            with self._cond:
                self._hits += 1
            return vector
        with self._cond:
            self._misses += 1
            slot: dict[str, Any] = {}
            self._pending.append((text, slot))
            if self._working:
                self._cond.notify_all()  # a caller waiting for company re-counts
            while "vector" not in slot and "error" not in slot:
                if self._busy:
                    self._cond.wait()
                    continue
                wait = self._wait_s() if self._working else 0.0
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                self._busy = True
                batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch:]
                self._peak = self._working
                self._cond.release()
                started = time.monotonic()
                try:
                    self._run(batch)
                finally:
                    self._cond.acquire()
                    self._busy = False
                    self._free_since = time.monotonic()
                    self._last_pass_s = self._free_since - started
                    self._cond.notify_all()
        if "error" in slot:
            raise slot["error"]
        return slot["vector"]

    def _run(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        texts = list(dict.fromkeys(t for t, _ in batch))
        errors: dict[str, Exception] = {}
        vectors: dict[str, np.ndarray] = {}
        try:
            vectors = dict(zip(texts, self._encode(texts)))
        except Exception as exc:
            if len(texts) == 1:
                errors = {texts[0]: exc}
            else:  # one bad text must fail only its own request: encode each alone to find it
                log.warning("a batch of %d queries failed (%s); encoding them one by one", len(texts), exc)
                for text in texts:
                    try:
                        vectors[text] = self._encode([text])[0]
                    except Exception as one:  # every waiter gets its own outcome, not a hang
                        errors[text] = one
        with self._cond:
            self._batches += 1
            self._batched += len(texts)
            for text, slot in batch:
                if text in errors:
                    slot["error"] = errors[text]
                else:
                    slot["vector"] = vectors[text]
            self._cache.put(vectors)

    def info(self) -> CacheInfo:
        with self._cond:
            return CacheInfo(self._hits, self._misses, self._batches, self._batched, len(self._cache))


class BatchedEmbedder:
    """An ``Embedder`` whose single query embeddings are normalised, cached and batched across
    threads (``QueryBatcher``); everything else is the wrapped embedder's (attributes included)."""

    def __init__(self, inner: Embedder, cache_size: int = CACHE_SIZE, max_batch: int = MAX_BATCH) -> None:
        self.inner = inner
        self.name = inner.name
        self.fingerprint = inner.fingerprint
        self._queries = QueryBatcher(lambda texts: inner.embed(texts, "query"), cache_size, max_batch)

    def embed(self, texts: Sequence[str], kind: Kind, titles: Sequence[str] | None = None) -> np.ndarray:
        if kind == "query" and len(texts) == 1:
            return self._queries.embed(normalize_question(texts[0]))[None, :].copy()  # the cached row stays intact
        return self.inner.embed(texts, kind) if titles is None else self.inner.embed(texts, kind, titles=titles)

    def cache_info(self) -> CacheInfo:
        return self._queries.info()

    def request(self):
        """``QueryBatcher.request()``: a server wraps each request it serves in it."""
        return self._queries.request()

    def __getattr__(self, name: str) -> Any:  # dim, max_tokens, count_tokens, model, dtype… of the wrapped model
        return getattr(self.inner, name)
