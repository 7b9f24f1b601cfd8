"""Whether the articles answer a question: the dense score and the question's words, together.

A bare cosine threshold cannot separate answerable from unanswerable questions: on the
XQuAD sample a tenth of the answerable English questions score under 0.32, while the dev
set's unanswerable ones reach 0.39. So the decision uses two signals:

- ``dense``: the cosine of the question to the best passage;
- ``coverage``: the share of the question's words (IDF-weighted over the corpus; for an English
  question its Arabic equivalents from the dictionary bridge, and its numbers) that the
  best passages contain. "the exchange rate of the Iraqi dinar" shares "Iraqi" with a corpus on
  Iraq, but not "exchange", "rate" or "dinar".

Refuse when ``dense`` is under the ``min_score`` setting (0.30); answer when ``dense >= ANSWER_ABOVE``; in between, answer
only when ``coverage >= MIN_COVERAGE``. The constants (``rag.thresholds``) are calibrated on held-out XQuAD questions and the
dev set (``bench/results/answerability.json``).

Example::

    >>> decide("What is the exchange rate of the Iraqi dinar?", passages, retriever, floor=0.30)
    Decision(answer=False, dense=0.316, coverage=0.06, reason='…')
"""
from __future__ import annotations

import math
import threading
import weakref
from collections import Counter
from dataclasses import dataclass

from rag.language import detect_language
from rag.lexical import tokenize
from rag.retrieval import Retriever
from rag.thresholds import ANSWER_ABOVE, COVERAGE_PASSAGES, MIN_COVERAGE
from rag.types import Passage

_df: "weakref.WeakKeyDictionary[Retriever, tuple[int, Counter]]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


@dataclass(frozen=True)
class Decision:
    answer: bool
    dense: float
    coverage: float | None
    reason: str


def _document_frequencies(retriever: Retriever) -> tuple[int, Counter]:
    with _lock:
        if retriever not in _df:
            df: Counter = Counter()
            chunks = retriever.all_chunks()  # in memory (FAISS) or read from the store once (Qdrant)
            for chunk in chunks:
                df.update(set(tokenize(f"{chunk.title}\n{chunk.text}")))
            _df[retriever] = (len(chunks), df)
        return _df[retriever]


def coverage(question: str, passages: list[Passage], retriever: Retriever) -> float | None:
    """IDF-weighted share of the question's terms found in the best passages (None: no term to weigh)."""
    n, df = _document_frequencies(retriever)
    terms = retriever.question_terms(question)
    if not terms:
        return None
    have = set()
    for p in passages[:COVERAGE_PASSAGES]:
        have |= set(tokenize(f"{p.title}\n{p.text}"))
    weight = {t: math.log(1 + n / (1 + df.get(t, 0))) for t in terms}
    total = sum(weight.values())
    return sum(w for t, w in weight.items() if t in have) / total if total else None


def decide(question: str, passages: list[Passage], retriever: Retriever, floor: float) -> Decision:
    """Answer or refuse ``question`` given its retrieved ``passages`` (best first); ``floor``: the
    ``min_score`` setting, the cosine under which nothing counts."""
    if not passages:
        return Decision(False, 0.0, None, "no passage")
    dense = max(p.dense_score for p in passages)
    if dense < floor:
        return Decision(False, dense, None, f"best passage cosine {dense:.2f} < {floor}")
    if dense >= ANSWER_ABOVE:
        return Decision(True, dense, None, f"best passage cosine {dense:.2f} ≥ {ANSWER_ABOVE}")
    share = coverage(question, passages, retriever)
    if share is None or share >= MIN_COVERAGE[detect_language(question)]:
        return Decision(True, dense, share, "the best passages hold the question's words")
    return Decision(False, dense, share, f"cosine {dense:.2f} and only {share:.0%} of the question's words in the best passages")
