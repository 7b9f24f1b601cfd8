"""Hybrid retrieval: dense (FAISS) + Arabic-aware BM25, fused by the question's language.

Dense retrieval carries both directions (English and Arabic questions over Arabic
articles); BM25 only helps when the question shares words with the article, i.e. when
it is Arabic — or when an English question's content words are given their Arabic
equivalents (the FreeDict English→Arabic list, ``rag.lexical.EnglishBridge``). So the fused
score is ``dense + w(lang) * bm25 / max(bm25)``, with the weight ``w`` chosen per language
from the evaluation (``bench/bench_retrieval.py``, ``rag eval retrieval --compare``).

Example::

    >>> retriever = Retriever(store, embedder)
    >>> [p.title for p in retriever.search("Who met Blinken?", top_k=3)]
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import numpy as np

from index.embedder import Embedder
from index.store import IndexStore
from rag.language import detect_language
from rag.lexical import BM25Index, EnglishBridge
from rag.types import Passage

log = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "bm25", "hybrid-plain")  # hybrid-plain: hybrid without the English bridge (for comparison)
# Lexical weight by question language; measured on XQuAD and the seed dev set (README, "Retrieval").
# English: 0.1 with the FreeDict bridge, 0.05 without it (bench/results/retrieval_routes.json).
LEXICAL_WEIGHT = {"ar": 0.3, "en": 0.1}
EN_WEIGHT_WITHOUT_DICTIONARY = 0.05
CANDIDATES = 50
SPREAD_FOR_FULL_WEIGHT = 0.2  # BM25's best passage must lead the next by 20% for the full lexical weight
# English questions reach the Arabic BM25 index through these routes (rag.lexical.EnglishBridge):
# "dictionary" (FreeDict English→Arabic words; shipped: XQuAD en→ar R@1 0.915 → 0.929) and "names"
# (transliteration by consonant skeleton; measured, adds nothing over the dictionary and costs the
# dev set an English hit at higher weights, so it is off by default).
BRIDGE = ("dictionary",)
ROUTES = ("names", "dictionary")


class Retriever:
    """Searches one loaded index. Thread-safe for concurrent reads."""

    def __init__(self, store: IndexStore, embedder: Embedder, lexical_weight: dict[str, float] | None = None,
                 bridge: Sequence[str] = BRIDGE) -> None:
        self.store = store
        self.embedder = embedder
        self.lexical_weight = dict(LEXICAL_WEIGHT if lexical_weight is None else lexical_weight)
        self._texts = [f"{c.title}\n{c.text}" for c in store.chunks]
        self.bm25 = BM25Index(self._texts)
        self._bridge: EnglishBridge | None = None
        self._bridge_lock = threading.Lock()
        self.bridge = tuple(bridge)
        if self.bridge and store.chunks:  # built in the background: the first English question does not wait
            threading.Thread(target=self.english_bridge, name="english-bridge", daemon=True).start()

    @property
    def bridge(self) -> tuple[str, ...]:
        return self._bridge_routes

    @bridge.setter
    def bridge(self, routes: Sequence[str]) -> None:
        unknown = set(routes) - set(ROUTES)
        if unknown:
            raise ValueError(f"unknown bridge route(s) {sorted(unknown)}; known: {ROUTES}")
        with self._bridge_lock:
            self._bridge_routes = tuple(routes)
            if self._bridge is not None and (self._bridge.use_names, self._bridge.use_dictionary) != ("names" in routes, "dictionary" in routes):
                self._bridge = None

    def english_bridge(self) -> EnglishBridge | None:
        """The English→Arabic lexical bridge over this index (None when no route is enabled)."""
        with self._bridge_lock:
            if self._bridge is None and self._bridge_routes:
                self._bridge = EnglishBridge(self._texts, "dictionary" in self._bridge_routes, "names" in self._bridge_routes)
            return self._bridge

    def search(self, query: str, top_k: int = 5, mode: str = "hybrid", min_score: float = 0.0) -> list[Passage]:
        """The ``top_k`` best passages for ``query``, overlapping chunks of a document merged."""
        return self.search_many([query], top_k, mode, min_score)[0]

    def search_many(self, queries: Sequence[str], top_k: int = 5, mode: str = "hybrid", min_score: float = 0.0) -> list[list[Passage]]:
        """``search`` for several queries, embedding them in one batch."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        n = len(self.store.chunks)
        if n == 0 or not queries:
            return [[] for _ in queries]
        qvecs = self.embedder.embed(list(queries), "query") if mode != "bm25" else None
        k = min(n, max(CANDIDATES, top_k * 4))
        dense_hits = self.store.search(qvecs, k) if qvecs is not None else [[] for _ in queries]
        results = []
        for qi, query in enumerate(queries):
            results.append(self._rank(query, qvecs[qi] if qvecs is not None else None, dense_hits[qi], top_k, mode, min_score))
        return results

    def _rank(self, query: str, qvec: np.ndarray | None, dense_hits: list[tuple[int, float]], top_k: int, mode: str, min_score: float) -> list[Passage]:
        extra = self._bridged(query) if mode in ("hybrid", "bm25") else []
        mode = "hybrid" if mode == "hybrid-plain" else mode
        lexical = self.bm25.scores(query, extra) if mode != "dense" else np.zeros(len(self.store.chunks), dtype=np.float32)
        top_lex = float(lexical.max()) if len(lexical) else 0.0
        weight = 1.0 if mode == "bm25" else (self.lexical_weight.get(detect_language(query), 0.0) if mode == "hybrid" else 0.0)
        if mode == "hybrid":
            if weight > EN_WEIGHT_WITHOUT_DICTIONARY and detect_language(query) == "en" and not self._has_dictionary(query):
                weight = EN_WEIGHT_WITHOUT_DICTIONARY
            weight *= self._lexical_confidence(lexical)
        candidates = {i for i, _ in dense_hits}
        if weight > 0 and top_lex > 0:
            candidates |= {int(i) for i in np.argsort(-lexical)[:CANDIDATES] if lexical[i] > 0}
        scored = []
        for i in candidates:
            dense = float(self.store.vectors[i] @ qvec) if qvec is not None else 0.0
            lex = float(lexical[i] / top_lex) if top_lex > 0 else 0.0
            fused = lex if mode == "bm25" else dense + weight * lex
            scored.append((fused, dense, float(lexical[i]), i))
        scored.sort(key=lambda t: (-t[0], t[3]))
        passages: list[Passage] = []
        for fused, dense, lex, i in scored:
            if mode != "bm25" and dense < min_score:
                continue
            if mode == "bm25" and lex <= 0:
                continue
            c = self.store.chunks[i]
            if self._merge(passages, c):
                continue
            passages.append(Passage(c.doc_id, c.title, c.source, c.start, c.end, c.text, fused, dense, lex))
            if len(passages) == top_k:
                break
        for rank, p in enumerate(passages, 1):
            p.rank = rank
        return passages

    def _has_dictionary(self, query: str) -> bool:
        bridge = self.english_bridge() if self._bridge_routes else None
        return bridge is not None and bool(bridge.dictionary)

    def _bridged(self, query: str) -> list[str]:
        """Arabic BM25 tokens for an English question (names, numbers, dictionary words)."""
        if not self._bridge_routes or detect_language(query) != "en":
            return []
        bridge = self.english_bridge()
        return bridge.tokens(query) if bridge is not None else []

    @staticmethod
    def _lexical_confidence(lexical: np.ndarray) -> float:
        """How much BM25 can be trusted for this query: full when its best passage clearly
        leads the next, little when many passages tie on words every article shares
        (العراق, الأمريكية in a corpus about Iraq and the US)."""
        if len(lexical) < 2:
            return 1.0
        s2, s1 = np.partition(lexical, -2)[-2:]
        if s1 <= 0:
            return 0.0
        return float(min(1.0, (1.0 - s2 / s1) / SPREAD_FOR_FULL_WEIGHT))

    @staticmethod
    def _merge(passages: list[Passage], chunk) -> bool:
        """Fold ``chunk`` into an already chosen passage of its document that it overlaps."""
        for p in passages:
            if p.doc_id == chunk.doc_id and chunk.start < p.end and p.start < chunk.end:
                if chunk.start < p.start:
                    p.text = chunk.text[: p.start - chunk.start] + p.text
                    p.start = chunk.start
                if chunk.end > p.end:
                    p.text = p.text + chunk.text[len(chunk.text) - (chunk.end - p.end):]
                    p.end = chunk.end
                return True
        return False
