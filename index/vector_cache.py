"""One embedding cache for every place that embeds the same text again: a thread-safe LRU keyed by
(model fingerprint, kind, text), optionally saved to an ``.npz`` file. A document embedded with its
title (``chunk_titles``) has the title in its kind, so titled and untitled vectors never mix.

Keys stay plain tuples in memory (no digest per lookup: the sentence selector looks up every
sentence of every passage on every request); the file holds the keys as strings beside one matrix.

Used by the sentence selector (passage sentences come back question after question), the query
batcher (a question embedded for retrieval, then for sentence selection) and the XQuAD evaluation
(thousands of contexts, cached on disk between runs).

Example::

    >>> cache = VectorCache(max_items=1000)
    >>> vectors = cache.embed(embedder, ["جملة أولى", "جملة ثانية"], "document")   # computes both
    >>> vectors = cache.embed(embedder, ["جملة أولى"], "document")                 # served from the cache
"""
from __future__ import annotations

import logging
import os
import tempfile
import threading
import zipfile
from collections import Counter, OrderedDict
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from index.embedder import clean_title, titles_for

log = logging.getLogger(__name__)


class _Embeds(Protocol):
    fingerprint: str

    def embed(self, texts: Sequence[str], kind: str) -> np.ndarray: ...


Key = tuple[str, str, str]  # (model fingerprint, "query" | "document" | "document|title=<title>", text)
_SEP = "\x00"
TITLE_MARK = "|title="  # a titled document's kind in its key (clean_title never leaves a NUL in the title)


class VectorCache:
    """Vectors by (fingerprint, kind, text), oldest dropped past ``max_items`` (None: unbounded)."""

    def __init__(self, max_items: int | None = 20_000, path: Path | None = None) -> None:
        self.max_items, self.path = max_items, path
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()  # Key tuples from embed(); any key from get/put
        self._lock = threading.Lock()
        self.dirty = False  # vectors computed since the file was read or written
        if path is not None and path.exists():
            self._load(path)

    def attach(self, path: Path) -> None:
        """Give an in-memory cache its file: what the file holds is added (entries already in memory
        stay), and ``save`` writes there. Attaching the same file again does nothing."""
        with self._lock:
            if self.path == path:
                return
            self.path = path
            held = OrderedDict(self._items)
            self._items.clear()
            if path.exists():
                self._load(path)
            self._items.update(held)
            while self.max_items is not None and len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def _load(self, path: Path) -> None:
        """The cached vectors of ``path``; a file of another layout (an older version) or a damaged one
        is only a cache: it is logged and ignored, and the next ``save`` replaces it."""
        try:
            with np.load(path) as data:
                if {"keys", "vectors"} - set(data.files):
                    raise ValueError(f"not this cache's layout (holds {len(data.files)} other arrays)")
                self._items.update((tuple(str(k).split(_SEP, 2)), v) for k, v in zip(data["keys"], data["vectors"]))  # type: ignore[misc]
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            log.warning("embedding cache %s ignored (%s); it will be rebuilt", path, exc)
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> np.ndarray | None:
        with self._lock:
            vector = self._items.get(key)
            if vector is not None:
                self._items.move_to_end(key)
            return vector

    def put(self, items: Mapping[Hashable, np.ndarray]) -> None:
        with self._lock:
            self._items.update(items)
            while self.max_items is not None and len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def embed(self, embedder: _Embeds, texts: Sequence[str], kind: str, titles: Sequence[str] | None = None) -> np.ndarray:
        """``embedder.embed(texts, kind)``, computing only the texts not cached yet.

        ``titles`` (one per text, index.settings ``chunk_titles``): passed on as ``embed(..., titles=)``;
        a titled text is cached under its own key (kind ``document|title=…``), never as the untitled
        text. An empty title is the untitled prompt ("title: none"), so it shares the untitled key."""
        fingerprint = embedder.fingerprint
        titles = titles_for(texts, titles)
        named = [clean_title(t) for t in titles] if titles is not None else [""] * len(texts)
        keys = [(fingerprint, f"{kind}{TITLE_MARK}{n}" if n else kind, t) for t, n in zip(texts, named)]
        found = {k: v for k in set(keys) if (v := self.get(k)) is not None}
        first = {k: i for i, k in reversed(list(enumerate(keys)))}  # each new text embedded once
        missing = sorted(i for k, i in first.items() if k not in found)
        if missing:
            if any(named[i] for i in missing):
                vectors = embedder.embed([texts[i] for i in missing], kind, titles=[named[i] for i in missing])  # type: ignore[call-arg]
            else:
                vectors = embedder.embed([texts[i] for i in missing], kind)
            new = {keys[i]: v for i, v in zip(missing, vectors)}
            self.put(new)
            self.dirty = True
            found.update(new)
        if not keys:
            return np.zeros((0, 1), np.float32)
        return np.stack([found[k] for k in keys])

    def save(self) -> None:
        """Write the cache to ``path`` atomically (a crash leaves the previous file); its keys must come from ``embed``."""
        if self.path is None:
            raise ValueError("this cache has no file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            items = list(self._items.items())
            self.dirty = False
        if items:  # one file holds one width: the one most vectors have (another model's are left out)
            widths = Counter(v.shape for _, v in items)
            width = widths.most_common(1)[0][0]
            kept = [(k, v) for k, v in items if v.shape == width]
            if len(kept) < len(items):
                log.warning("embedding cache %s: %d vectors of another model's width not saved", self.path, len(items) - len(kept))
            items = kept
        keys = np.array([_SEP.join(k) for k, _ in items], dtype=str)
        vectors = np.stack([v for _, v in items]) if items else np.zeros((0, 1), np.float32)
        # a temporary name of its own: two processes saving at once must not write into one file
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.stem + ".", suffix=".tmp.npz")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, keys=keys, vectors=vectors)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
