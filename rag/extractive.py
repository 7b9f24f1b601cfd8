"""Sentence selection: the extractive backend, and the first step of the focused LLM prompt.

Picks the sentences of the retrieved passages closest to the question (embedding
similarity, plus word overlap for Arabic questions), so an answer can quote them.

Example::

    >>> picked = select_sentences("من التقى بلينكن؟", passages, embedder)
    >>> picked[0].text, picked[0].passage
"""
from __future__ import annotations

import atexit
import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from index.chunking import sentence_spans
from index.embedder import Embedder
from index.vector_cache import VectorCache
from rag.language import detect_language
from rag.lexical import idf_shares, tokenize
from rag.thresholds import EXTRACTIVE_MARGIN, LEXICAL_PICK, SELECT_LEXICAL_BONUS, SELECT_PASSAGE_BONUS
from rag.types import Passage

log = logging.getLogger(__name__)

_SENTENCE_VECTORS = VectorCache(max_items=20_000)  # the same passages come back question after question
_saving = threading.Lock()
_save_at_exit: list[bool] = []  # registered once per process


@dataclass
class Sentence:
    """A sentence of passage ``passage`` (0-based), at ``start:end`` of its text."""

    passage: int
    start: int
    end: int
    text: str
    score: float = 0.0


def embed_sentences(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Document vectors of passage sentences, cached: the same passages come back question after question."""
    return _SENTENCE_VECTORS.embed(embedder, texts, "document")


def use_disk_cache(path: Path) -> None:
    """Keep the passage sentences' vectors in ``path`` between processes: read now, written when
    the process exits if new sentences were embedded. A cold ``rag ask`` then embeds only the
    question (the sentences of the passages it retrieves were embedded by an earlier run); the
    first question over a new corpus still embeds them. A damaged file is ignored and replaced."""
    _SENTENCE_VECTORS.attach(path)
    with _saving:
        if not _save_at_exit:
            _save_at_exit.append(True)
            atexit.register(save_disk_cache)


def save_disk_cache() -> None:
    """Write the sentence vectors to their file if any were computed since it was read (see
    ``use_disk_cache``); a read-only home only costs the cache."""
    with _saving:
        if _SENTENCE_VECTORS.path is None or not _SENTENCE_VECTORS.dirty:
            return
        try:
            _SENTENCE_VECTORS.save()
        except OSError as exc:
            log.warning("could not write the sentence vector cache %s: %s", _SENTENCE_VECTORS.path, exc)


def _units(text: str) -> list[tuple[int, int]]:
    """Sentence spans, where one ending in ؛ or : is joined to the next: it announces what follows
    ("ويتناول الحوار ملفات عدة؛ منها السياسية …")."""
    units: list[tuple[int, int]] = []
    for a, b in sentence_spans(text):
        if units and text[units[-1][0]:units[-1][1]].endswith(("؛", ":", ";")):
            units[-1] = (units[-1][0], b)
        else:
            units.append((a, b))
    return units


def split_passages(passages: list[Passage], min_words: int = 4) -> list[Sentence]:
    """The passages' sentences of ``min_words``+ words; a bracketed photo credit ("[مكتب رئيس الوزراء]") is none."""
    out = []
    for pi, p in enumerate(passages):
        for a, b in _units(p.text):
            unit = p.text[a:b].strip()
            if unit.startswith("[") and unit.endswith("]"):
                continue
            if len(p.text[a:b].split()) >= min_words:
                out.append(Sentence(pi, a, b, p.text[a:b]))
    return out


@lru_cache(maxsize=20_000)
def sentence_words(text: str) -> frozenset[str]:
    """A passage sentence's words, cached: the same passages come back question after question, and
    tokenising them again was a third of an extractive answer's Python time (bench/bench_api.py's profile)."""
    return frozenset(tokenize(text))


def select_sentences(question: str, passages: list[Passage], embedder: Embedder, max_sentences: int = 3, margin: float = EXTRACTIVE_MARGIN,
                     terms: list[str] | None = None) -> list[Sentence]:
    """The best ``max_sentences`` sentences (within ``margin`` of the best), in passage order.

    ``terms``: the question's lexical tokens in the corpus's token space (an English question's
    bridged to Arabic, ``rag.retrieval.Retriever.question_terms``); by default an Arabic question's own
    tokens and none for English."""
    sents = split_passages(passages)
    if not sents:
        return []
    qvec = embedder.embed([question], "query")[0]
    svecs = embed_sentences(embedder, [s.text for s in sents])
    sims = svecs @ qvec
    if terms is not None:
        qtokens = set(terms)
    else:
        qtokens = set(tokenize(question)) if detect_language(question) == "ar" else set()
    overlaps = idf_shares(qtokens, [sentence_words(s.text) for s in sents])
    for s, sim, overlap in zip(sents, sims, overlaps):
        s.score = float(sim) + SELECT_LEXICAL_BONUS * overlap + SELECT_PASSAGE_BONUS * passages[s.passage].score
    best = sorted(sents, key=lambda s: -s.score)
    chosen = [s for s in best[:max_sentences] if s.score >= best[0].score - margin]
    # Meaning alone favours sentences on the question's topic ("the dialogue between Baghdad and
    # Washington") over the one holding what it asks for ("the files it covers"); the sentence
    # sharing most of the question's rare words gets a place too, as in hybrid retrieval.
    lexical = max(range(len(sents)), key=lambda i: overlaps[i])
    if overlaps[lexical] >= LEXICAL_PICK and sents[lexical] not in chosen:
        chosen = chosen[: max_sentences - 1] + [sents[lexical]]
    return sorted(chosen, key=lambda s: (s.passage, s.start))
