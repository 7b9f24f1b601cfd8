"""Hybrid retrieval: dense (FAISS) + Arabic-aware BM25, fused by the question's language.

Dense retrieval carries both directions (English and Arabic questions over Arabic
articles); BM25 only helps when the question shares words with the article, i.e. when
it is Arabic. So the fused score is ``dense + w(lang) * bm25 / max(bm25)``, with the
weight ``w`` chosen per language from the evaluation (``rag eval retrieval --compare``).

Example::

    >>> retriever = Retriever(store, embedder)
    >>> [p.title for p in retriever.search("Who met Blinken?", top_k=3)]
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from index.embedder import Embedder
from index.store import IndexStore
from rag.language import detect_language
from rag.lexical import BM25Index
from rag.types import Passage

log = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "bm25")
# Lexical weight by question language; measured on XQuAD and the seed dev set (README, "Retrieval").
LEXICAL_WEIGHT = {"ar": 0.25, "en": 0.05}
CANDIDATES = 50
SPREAD_FOR_FULL_WEIGHT = 0.2  # BM25's best passage must lead the next by 20% for the full lexical weight


class Retriever:
    """Searches one loaded index. Thread-safe for concurrent reads."""

    def __init__(self, store: IndexStore, embedder: Embedder, lexical_weight: dict[str, float] | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.lexical_weight = dict(LEXICAL_WEIGHT if lexical_weight is None else lexical_weight)
        self.bm25 = BM25Index([f"{c.title}\n{c.text}" for c in store.chunks])

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
        lexical = self.bm25.scores(query) if mode != "dense" else np.zeros(len(self.store.chunks), dtype=np.float32)
        top_lex = float(lexical.max()) if len(lexical) else 0.0
        weight = 1.0 if mode == "bm25" else (self.lexical_weight.get(detect_language(query), 0.0) if mode == "hybrid" else 0.0)
        if mode == "hybrid":
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
