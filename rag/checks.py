"""Checks run on every generated answer: citations, numbers and dates, language, refusals.

A failed check sets ``grounded = False`` with a reason a person can read; invalid
citations are removed from the text.

Example::

    >>> result = check_answer("عقدت المباحثات يوم 3 [1] [7]", passages, "ar")
    >>> result.reasons
    ['removed citation [7]: there is no passage 7', 'the number 3 in this answer was not found in the cited passage']
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np

from index.chunking import sentence_spans
from index.embedder import Embedder
from rag.answer_text import CITATION, months_in, numbers_in, strip_citations
from rag.language import arabic_ratio
from rag.lexical import idf_shares, tokenize
from rag.types import Citation, Passage

log = logging.getLogger(__name__)
MIN_SUPPORT = 0.42  # cosine of an English answer sentence to its closest passage sentence (see unsupported_sentences)

REFUSAL_MARKERS = ("لم أجد", "لا تحتوي", "لا تتضمن", "لا يوجد في", "لم يرد", "could not find", "cannot find", "can't find",
                   "do not contain", "does not contain", "not mentioned", "no information", "not found in")
INJECTION = re.compile(
    r"(ignore|disregard|forget)\s+(all\s+|any\s+|the\s+)?(previous|prior|above|your)\s+(instructions|rules|prompt)"
    r"|system\s+prompt|your\s+(instructions|prompt|rules)\b|you\s+are\s+now|act\s+as\s+|pretend\s+to\s+be|jailbreak|developer\s+mode"
    r"|تجاهل\s+(كل\s+|جميع\s+)?(التعليمات|الأوامر|القواعد)|موجه\s+النظام|تعليمات\s+النظام|التعليمات\s+السابقة|أنت\s+الآن|تظاهر\s+بأنك",
    re.IGNORECASE,
)


def is_refusal(text: str) -> bool:
    low = text.lower()
    return any(m in low for m in REFUSAL_MARKERS)


def is_injection(question: str) -> bool:
    """Questions that try to read the system prompt or change the bot's role."""
    return bool(INJECTION.search(question))


@dataclass
class CheckResult:
    text: str
    citations: list[Citation] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def grounded(self) -> bool:
        return not self.reasons


def _drop_invalid(text: str, n_passages: int, reasons: list[str]) -> str:
    def repl(m: re.Match) -> str:
        n = int(m.group(2))
        if 1 <= n <= n_passages:
            return m.group(0)
        reasons.append(f"removed citation [{n}]: there is no passage {n}")
        return ""

    return re.sub(r"(\s*)\[(\d{1,2})\]", repl, text).strip()


def _sentence_groups(text: str) -> list[tuple[int, int]]:
    """Sentence spans of an answer, a sentence made only of markers ("[2]") joined to the one before."""
    groups: list[tuple[int, int]] = []
    for a, b in sentence_spans(text):
        if groups and not strip_citations(text[a:b]):
            groups[-1] = (groups[-1][0], b)
        else:
            groups.append((a, b))
    return groups


def _answer_sentences(text: str) -> list[tuple[str, set[int]]]:
    """Answer sentences with the citation numbers attached to each (a trailing marker belongs to the sentence before)."""
    return [(text[a:b], {int(n) for n in CITATION.findall(text[a:b])}) for a, b in _sentence_groups(text)]


def _closeness(passage: Passage, claim: np.ndarray, embedder: Embedder) -> tuple[list[tuple[int, int]], np.ndarray]:
    """The passage's sentence spans and the cosine of each to the ``claim`` vector."""
    from rag.extractive import embed_sentences

    spans = sentence_spans(passage.text) or [(0, len(passage.text))]
    return spans, embed_sentences(embedder, [passage.text[a:b] for a, b in spans]) @ claim


def best_quote(passage: Passage, claim: str, embedder: Embedder | None = None) -> tuple[str, int, int]:
    """The passage sentence that shares the most words/numbers with ``claim``; for a claim not
    written in Arabic (no shared words to count) the sentence closest in meaning, when an
    ``embedder`` is given."""
    if embedder is not None and passage.text and arabic_ratio(claim) < 0.3:
        spans, similarity = _closeness(passage, embedder.embed([strip_citations(claim)], "query")[0], embedder)
        a, b = spans[int(np.argmax(similarity))]
        return passage.text[a:b], a, b
    spans = sentence_spans(passage.text)
    want = set(tokenize(claim)) | numbers_in(claim)
    best, best_score = ("", -1, -1), 0.0
    for a, b in spans:
        s = passage.text[a:b]
        have = set(tokenize(s)) | numbers_in(s)
        score = len(want & have) / (1 + len(want)) if want else 0.0
        if score > best_score:
            best, best_score = (s, a, b), score
    return best


def _meaning_shares(sentence: str, passages: list[Passage], embedder: Embedder) -> list[float]:
    """Cosine of the sentence to the closest sentence of each passage."""
    claim = embedder.embed([strip_citations(sentence)], "query")[0]
    return [float(_closeness(p, claim, embedder)[1].max()) for p in passages]


def _clearly_from(part: str, cited: set[int], passages: list[Passage], tokens: list[set[str]],
                  embedder: Embedder | None) -> int | None:
    """The passage (0-based) a cited sentence clearly comes from, when it is not one it cites."""
    if not strip_citations(part) or not all(1 <= n <= len(passages) for n in cited):
        return None
    if arabic_ratio(part) > 0.5:
        share = idf_shares(set(tokenize(strip_citations(part))) | numbers_in(part), tokens)
        best = max(range(len(share)), key=lambda j: share[j])
        return best if share[best] >= 0.6 and max(share[n - 1] for n in cited) < 0.6 * share[best] else None
    if embedder is None or len(strip_citations(part).split()) < 5:
        return None
    share = _meaning_shares(part, passages, embedder)
    best = max(range(len(share)), key=lambda j: share[j])
    return best if share[best] >= 0.5 and max(share[n - 1] for n in cited) < share[best] - 0.15 else None


def fix_citations(text: str, passages: list[Passage], embedder: Embedder | None = None) -> str:
    """Small models cite the wrong number for a sentence they took from another passage; such a
    sentence gets that passage's number instead. Arabic sentences are compared by words: most
    (60%) of their rare words are in one passage, and less than 0.6 times as much in the ones they
    cite. Other sentences, with an ``embedder``, by meaning: one passage is close (cosine ≥ 0.5)
    and the cited ones are 0.15 further."""
    if len(passages) < 2:
        return text
    tokens = [set(tokenize(p.text)) | numbers_in(p.text) for p in passages]
    out, last = [], 0
    for a, b in _sentence_groups(text):
        part = text[a:b]
        cited = {int(n) for n in CITATION.findall(part)}
        better = _clearly_from(part, cited, passages, tokens, embedder) if cited else None
        if better is not None:
            log.info("citation %s → [%d] for %r", sorted(cited), better + 1, part[:60])
            first = re.search(r"\s*\[\d{1,2}\]", part)  # the first marker becomes [better], the others go
            part = part[:first.start()] + f" [{better + 1}]" + re.sub(r"\s*\[\d{1,2}\]", "", part[first.end():])
        out.append(text[last:a] + part)
        last = b
    return "".join(out) + text[last:]


def add_missing_citations(text: str, passages: list[Passage], min_overlap: float = 0.35) -> str:
    """Small models often forget the markers: cite each uncited sentence by the passage it
    shares most words with, when that overlap is clear; leave it uncited otherwise."""
    if CITATION.search(text) or not passages:
        return text
    tokens = [set(tokenize(p.text)) | numbers_in(p.text) for p in passages]
    out, last = [], 0
    for a, b in sentence_spans(text):
        words = set(tokenize(text[a:b])) | numbers_in(text[a:b])
        if not words:
            continue
        overlaps = [len(words & t) / len(words) for t in tokens]
        best = max(range(len(passages)), key=lambda i: overlaps[i])
        out.append(text[last:b] + (f" [{best + 1}]" if overlaps[best] >= min_overlap else ""))
        last = b
    return "".join(out) + text[last:]


def unsupported_sentences(sentences: list[tuple[str, set[int]]], passages: list[Passage], embedder: Embedder) -> list[str]:
    """English sentences of 8+ words far in meaning from every sentence of the passages: a name or
    claim the model brought from memory ("Saddam Hussein" where the passages name al-Kadhimi
    scored 0.37; supported sentences on the dev set 0.49–0.82). Words cannot be compared with
    Arabic passages, so meaning is all there is to check. All passages count, not only the cited
    one: a right claim under a wrong number is a citation slip, not an invention."""
    out = []
    for claim in (strip_citations(s) for s, _ in sentences):
        if len(claim.split()) < 8 or not passages:
            continue
        similarity = max(_meaning_shares(claim, passages, embedder))
        if similarity < MIN_SUPPORT:
            out.append(f"this sentence may not be supported by the passages (similarity {similarity:.2f}): {claim[:120]}")
    return out


def check_answer(text: str, passages: list[Passage], language: str, embedder: Embedder | None = None) -> CheckResult:
    """Validate citations, numbers/dates and language of a generated ``text``.

    ``embedder`` (optional) finds the quotes of an English answer by meaning, since its words
    cannot be matched against Arabic passages.
    """
    reasons: list[str] = []
    text = _drop_invalid(text, len(passages), reasons)
    text = add_missing_citations(text, passages)
    text = fix_citations(text, passages, embedder)
    sentences = _answer_sentences(text)
    cited_all = sorted({n for _, ns in sentences for n in ns})
    if not cited_all:
        reasons.append("the answer cites no passage")
    for sentence, ns in sentences:
        support = " ".join(passages[n - 1].text for n in (ns or cited_all))
        if not support:
            continue
        missing = sorted(numbers_in(sentence) - numbers_in(support))
        for num in missing:
            reasons.append(f"the number {num} in this answer was not found in the cited passage")
        for month in sorted(months_in(strip_citations(sentence)) - months_in(support)):
            reasons.append(f"the month {month} in this answer was not found in the cited passage")
    if embedder is not None and language == "en":
        reasons += unsupported_sentences(sentences, passages, embedder)
    body = strip_citations(re.sub(r"[«\"“][^»\"”]*[»\"”]", " ", text))
    if language == "en" and arabic_ratio(body) > 0.15:
        reasons.append("the English answer contains Arabic text")
    if language == "ar" and arabic_ratio(body) < 0.5:
        reasons.append("the answer is not in Arabic")
    citations = []
    for n in cited_all:
        claim = " ".join(s for s, ns in sentences if n in ns)
        quote, qa, qb = best_quote(passages[n - 1], claim, embedder)
        citations.append(Citation(n, passages[n - 1], quote, qa, qb))
    return CheckResult(text, citations, reasons)
