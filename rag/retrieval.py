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
import re
import threading
from collections.abc import Sequence

import numpy as np

from index.embedder import Embedder
from index.store import IndexStore
from index.stores import VectorStore, register_lexical_terms
from rag.language import detect_language
from rag.lexical import BM25Index, EnglishBridge, idf_shares, tokenize
from rag.thresholds import SENTENCE_LEXICAL_WEIGHT, SENTENCE_RERANK_DEPTH, SENTENCE_RERANK_WEIGHT
from rag.types import Passage

log = logging.getLogger(__name__)

# hybrid-plain: hybrid without the English bridge; hybrid-passages: hybrid without the sentence re-ranking (both for comparison)
MODES = ("hybrid", "dense", "bm25", "hybrid-plain", "hybrid-passages")
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
register_lexical_terms(tokenize)  # a Qdrant store's sparse vectors hold these terms, whoever builds it


class Retriever:
    """Searches one loaded index. Thread-safe for concurrent reads.

    The store is a FAISS folder (``IndexStore``: chunks and vectors in memory, BM25 kept here) or
    a store that ranks BM25 terms itself (``store.lexical``: Qdrant's sparse vectors, chunks
    fetched by key). The fusion below is the same for both, so their figures agree.
    """

    def __init__(self, store: IndexStore | VectorStore, embedder: Embedder, lexical_weight: dict[str, float] | None = None,
                 bridge: Sequence[str] = BRIDGE, sentence_weight: float = SENTENCE_RERANK_WEIGHT,
                 sentence_lexical_weight: dict[str, float] | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.sentence_weight = sentence_weight
        self.sentence_lexical_weight = dict(SENTENCE_LEXICAL_WEIGHT if sentence_lexical_weight is None else sentence_lexical_weight)
        self.lexical_weight = dict(LEXICAL_WEIGHT if lexical_weight is None else lexical_weight)
        self.remote = bool(getattr(store, "lexical", False))
        # a remote store's texts stay there: the "names" bridge route (built from the corpus's words) finds nothing on it
        self._texts = [] if self.remote else [f"{c.title}\n{c.text}" for c in store.chunks]
        self.bm25 = None if self.remote else BM25Index(self._texts)
        self._all: list | None = None
        self._bridge: EnglishBridge | None = None
        self._bridge_lock = threading.Lock()
        self.bridge = tuple(bridge)
        if self.bridge and (store.chunks or self.remote):  # built in the background: the first English question does not wait
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
        n = self._count()
        if n == 0 or not queries:
            return [[] for _ in queries]
        by_sentences = mode == "hybrid"
        mode = "hybrid" if mode == "hybrid-passages" else mode
        qvecs = self.embedder.embed(list(queries), "query") if mode != "bm25" else None
        k = min(n, max(CANDIDATES, top_k * 4))
        if self.remote:
            results = self._search_remote(queries, qvecs, k, n, top_k, mode, min_score)
        else:
            dense_hits = self.store.search(qvecs, k) if qvecs is not None else [[] for _ in queries]
            results = [self._rank(query, qvecs[qi] if qvecs is not None else None, dense_hits[qi], top_k, mode, min_score)
                       for qi, query in enumerate(queries)]
        return self._by_sentences(queries, qvecs, results) if by_sentences else results

    def _by_sentences(self, queries: Sequence[str], qvecs: np.ndarray, results: list[list[Passage]]) -> list[list[Passage]]:
        """Each ranking's first ``SENTENCE_RERANK_DEPTH`` passages re-ordered by fused score + weight × their best
        sentence's cosine to the question + the language's sentence lexical weight (``SENTENCE_LEXICAL_WEIGHT``) × the largest share of the
        question's words (IDF-weighted over these sentences; an English question's Arabic equivalents) that one
        of their sentences holds. ``Passage.score`` keeps the fused score."""
        from rag.extractive import embed_sentences, sentence_words, split_passages  # rag.extractive imports the chunker

        if self.sentence_weight <= 0:
            return results
        out = []
        for query, qvec, passages in zip(queries, qvecs, results):
            head = passages[:SENTENCE_RERANK_DEPTH]
            sentences = split_passages(head, min_words=3) if len(head) > 1 else []
            if not sentences:
                out.append(passages)
                continue
            sims = embed_sentences(self.embedder, [x.text for x in sentences]) @ qvec
            # a passage with no sentence of 3 words counts as a whole
            best = [max((float(sim) for x, sim in zip(sentences, sims) if x.passage == j), default=p.dense_score)
                    for j, p in enumerate(head)]
            lang = detect_language(query)
            words = [0.0] * len(head)
            lexical_weight = self.sentence_lexical_weight.get(lang, 0.0)
            if lang == "en" and not self._has_dictionary(query):  # its numbers alone would weigh as much as all its words
                lexical_weight = 0.0
            if lexical_weight > 0:
                shares = idf_shares(set(self.question_terms(query)), [sentence_words(x.text) for x in sentences])
                words = [max((s for x, s in zip(sentences, shares) if x.passage == j), default=0.0) for j in range(len(head))]
            order = sorted(range(len(head)), key=lambda i: -(head[i].score + self.sentence_weight * best[i] + lexical_weight * words[i]))
            ranked = [head[i] for i in order] + passages[len(head):]
            for rank, p in enumerate(ranked, 1):
                p.rank = rank
            out.append(ranked)
        return out

    def _rank(self, query: str, qvec: np.ndarray | None, dense_hits: list[tuple[int, float]], top_k: int, mode: str, min_score: float) -> list[Passage]:
        extra = self._bridged(query) if mode in ("hybrid", "bm25") else []
        mode = "hybrid" if mode == "hybrid-plain" else mode
        lexical = self.bm25.scores(query, extra) if mode != "dense" else np.zeros(len(self.store.chunks), dtype=np.float32)
        top_lex = float(lexical.max()) if len(lexical) else 0.0
        second = float(np.partition(lexical, -2)[-2]) if len(lexical) > 1 else 0.0
        weight = self._weight(query, mode, top_lex, second, len(lexical))
        candidates = {i for i, _ in dense_hits}
        if weight > 0 and top_lex > 0:
            candidates |= {int(i) for i in np.argsort(-lexical)[:CANDIDATES] if lexical[i] > 0}
        scored = []
        for i in candidates:
            dense = float(self.store.vectors[i] @ qvec) if qvec is not None else 0.0
            lex = float(lexical[i] / top_lex) if top_lex > 0 else 0.0
            fused = lex if mode == "bm25" else dense + weight * lex
            scored.append((fused, dense, float(lexical[i]), i))
        return self._passages(scored, self.store.chunks, top_k, mode, min_score)

    def all_chunks(self) -> list:
        """Every chunk of the index: held in memory (FAISS) or read once from the store (Qdrant: a full
        scroll, for corpus statistics such as rag.answerability's document frequencies; heavy past a few
        million chunks, where those statistics belong in the manifest)."""
        if not self.remote:
            return self.store.chunks
        with self._bridge_lock:
            if self._all is None:
                self._all = self.store.all_chunks()
            return self._all

    def _count(self) -> int:
        if not self.remote:
            return len(self.store.chunks)
        return sum(int(d.get("chunks", 0)) for d in self.store.manifest.documents.values())

    def _weight(self, query: str, mode: str, top: float, second: float, n: int) -> float:
        """The lexical weight of ``query`` in ``mode`` given BM25's two best scores over ``n`` chunks: the
        language's weight, scaled by how much BM25 can be trusted for this query: full when its best
        passage clearly leads the next, little when many passages tie on words every article shares
        (العراق, الأمريكية in a corpus about Iraq and the US)."""
        weight = 1.0 if mode == "bm25" else (self.lexical_weight.get(detect_language(query), 0.0) if mode == "hybrid" else 0.0)
        if mode == "hybrid":
            if weight > EN_WEIGHT_WITHOUT_DICTIONARY and detect_language(query) == "en" and not self._has_dictionary(query):
                weight = EN_WEIGHT_WITHOUT_DICTIONARY
            weight *= 1.0 if n < 2 else (0.0 if top <= 0 else float(min(1.0, (1.0 - second / top) / SPREAD_FOR_FULL_WEIGHT)))
        return weight

    def _search_remote(self, queries: Sequence[str], qvecs: np.ndarray | None, k: int, n: int, top_k: int, mode: str,
                       min_score: float) -> list[list[Passage]]:
        """``search_many`` on a store that ranks BM25 itself: the same candidates and fused scores as ``_rank``,
        with the dense top-k and the BM25 top-``CANDIDATES`` from the store, and each candidate's missing
        score (BM25 of a dense hit, cosine of a lexical hit) asked for by key."""
        store = self.store
        dense_hits = store.search(qvecs, k) if qvecs is not None else [[] for _ in queries]
        plain = mode == "hybrid-plain"
        mode = "hybrid" if plain else mode
        terms = [(tokenize(q) + ([] if plain else self._bridged(q))) if mode != "dense" else [] for q in queries]
        lex_top = store.search_lexical(terms, CANDIDATES)
        weights, candidates = [], []
        for qi, query in enumerate(queries):
            top = lex_top[qi][0][1] if lex_top[qi] else 0.0
            second = lex_top[qi][1][1] if len(lex_top[qi]) > 1 else 0.0
            weight = self._weight(query, mode, top, second, n)
            keys = dict.fromkeys(key for key, _ in dense_hits[qi])
            if weight > 0 and top > 0:
                keys.update(dict.fromkeys(key for key, _ in lex_top[qi]))
            weights.append(weight)
            candidates.append(list(keys))
        lex_known = [dict(hits) for hits in lex_top]
        missing = [[key for key in cands if key not in known] if t else [] for cands, known, t in zip(candidates, lex_known, terms)]
        for known, more in zip(lex_known, store.search_lexical(terms, 0, only=missing)):
            known.update(more)
        fetched = store.fetch(list(dict.fromkeys(key for cands in candidates for key in cands)))
        results = []
        for qi in range(len(queries)):
            top = lex_top[qi][0][1] if lex_top[qi] else 0.0
            scored = []
            for key in candidates[qi]:
                if key not in fetched:  # deleted by a rebuild since the search: skip it
                    continue
                chunk, vector = fetched[key]
                dense = float(vector @ qvecs[qi]) if qvecs is not None else 0.0
                raw = lex_known[qi].get(key, 0.0)
                lex = raw / top if top > 0 else 0.0
                fused = lex if mode == "bm25" else dense + weights[qi] * lex
                scored.append((fused, dense, raw, (chunk.doc_id, chunk.ordinal), chunk))
            results.append(self._passages(scored, None, top_k, mode, min_score))
        return results

    def _passages(self, scored: list[tuple], chunks, top_k: int, mode: str, min_score: float) -> list[Passage]:
        """The best ``top_k`` passages of scored candidates ``(fused, dense, lexical, order, [chunk])``,
        overlapping chunks of one document merged; ``chunks[order]`` when the chunk is not in the tuple."""
        scored.sort(key=lambda t: (-t[0], t[3]))
        passages: list[Passage] = []
        for fused, dense, lex, i, *held in scored:
            if mode != "bm25" and dense < min_score:
                continue
            if mode == "bm25" and lex <= 0:
                continue
            c = held[0] if held else chunks[i]
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

    def question_terms(self, query: str) -> list[str]:
        """The question's lexical terms in the corpus's token space: an Arabic question's own tokens; an
        English one's Arabic equivalents (the bridge) and its numbers. Used by the sentence re-ordering, the
        refusal decision's word coverage and the evidence selection."""
        if detect_language(query) == "ar":
            return list(dict.fromkeys(tokenize(query)))
        numbers = re.findall(r"\d+", query)
        return list(dict.fromkeys(self._bridged(query) + numbers))

    def _bridged(self, query: str) -> list[str]:
        """Arabic BM25 tokens for an English question (names, numbers, dictionary words)."""
        if not self._bridge_routes or detect_language(query) != "en":
            return []
        bridge = self.english_bridge()
        return bridge.tokens(query) if bridge is not None else []

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
