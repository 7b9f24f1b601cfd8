"""Checks run on every generated answer and every machine translation.

Each check returns ``Finding``s: a stable ``code`` that code decides on, and a ``message`` a
person can read. Any finding sets ``grounded = False``; invalid citations are removed from
the text. The kinds of wrong answer each check exists for:

- ``number_unsupported`` / ``month_unsupported``: a number or month the cited passage lacks;
- ``negation_lost`` / ``negation_added``: "ruled out" (مستبعد) turned into "expected", or the reverse;
- ``name_unmatched``: a name or acronym with nothing corresponding in the cited Arabic sentence
  ("MIGA" as "Make America Great Again", "احتجاجات تشرين" as "the Tunisian Revolution");
- ``slot_conflict``: two values for what the question asks (a meeting in Washington and in Baghdad);
- ``unsupported_meaning``: an English sentence far in meaning from what it cites;
- ``translation_*``: the same kinds for a translation against its Arabic sentence, and
  ``translation_instructions`` for a reply that repeats the prompt instead of translating;
- ``removed_citation``, ``no_citation``, ``wrong_language``, ``arabic_in_english``.

Example::

    >>> result = check_answer("عقدت المباحثات يوم 3 [1] [7]", passages, "ar")
    >>> [f.code for f in result.findings]
    ['removed_citation', 'number_unsupported']
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np

from index.chunking import sentence_spans
from index.embedder import Embedder
from rag import glossary, slots
from rag.answer_text import CITATION, months_in, numbers_in, strip_citations
from rag.language import arabic_ratio
from rag.lexical import idf_shares, tokenize
from rag.thresholds import (
    MIN_MISSING_CITATION_OVERLAP,
    MIN_SUPPORT,
    MIN_TRANSLATION_SIMILARITY,
    RECITE_MEANING,
    RECITE_MEANING_GAP,
    RECITE_WORD_RATIO,
    RECITE_WORD_SHARE,
)
from rag.types import Citation, Finding, Passage

log = logging.getLogger(__name__)

REFUSAL_MARKERS = ("لم أجد", "لا تحتوي", "لا تتضمن", "لا يوجد في", "لم يرد", "could not find", "cannot find", "can't find",
                   "do not contain", "does not contain", "not mentioned", "no information", "not found in")
INJECTION = re.compile(
    r"(ignore|disregard|forget|override|bypass)\s+(all\s+|any\s+|every\s+)?(of\s+)?(the\s+|your\s+|my\s+|these\s+)?(previous|prior|above|earlier|preceding|former|original|your)?\s*"
    r"(instructions?|prompts?|guidelines|everything\s+(above|before))"
    # rules/orders/directions are also what militias and courts ignore: only with "your", "previous", "all the"…
    r"|(ignore|disregard|forget|override|bypass)\s+(all\s+(of\s+)?(the\s+)?|your\s+|my\s+|the\s+(previous|above|earlier)\s+|(previous|above|earlier)\s+)(rules|orders|directions)"
    r"|system\s+prompt|your\s+(instructions|prompt|rules)\b|you\s+are\s+now|act\s+as\s+|pretend\s+(to\s+be|you\s+are)|jailbreak|developer\s+mode"
    r"|from\s+now\s+on,?\s+you|new\s+instructions\s*:"
    # Arabic, standard and Iraqi/Levantine: تجاهل/انسى/اهمل/لا تلتزم (كل) التعليمات/الأوامر/القواعد/اللي قبل
    r"|(تجاهل|تجاهلي|انس|انسى|انسي|إنسى|اهمل|أهمل|اترك|لا\s+تلتزم\s+ب|لا\s+تتبع)\s*(كل\s+|جميع\s+|كلش\s+)?(ال)?(تعليمات|أوامر|اوامر|قواعد|توجيهات|شي\s+اللي\s+قبل|اللي\s+(قبل|گلتلك|قلتلك|قلته))"
    r"|موجه\s+النظام|تعليمات\s+النظام|التعليمات\s+السابقة|أنت\s+الآن|انت\s+هسه|تظاهر\s+(بأنك|انك|إنك)|من\s+هسه\s+انت",
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
    findings: list[Finding] = field(default_factory=list)

    @property
    def grounded(self) -> bool:
        return not self.findings

    @property
    def reasons(self) -> list[str]:
        return [f.message for f in self.findings]

    def has(self, *codes: str) -> bool:
        return any(f.code in codes for f in self.findings)


def _drop_invalid(text: str, n_passages: int, findings: list[Finding]) -> str:
    def repl(m: re.Match) -> str:
        n = int(m.group(2))
        if 1 <= n <= n_passages:
            return m.group(0)
        findings.append(Finding("removed_citation", f"removed citation [{n}]: there is no passage {n}"))
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
        return best if share[best] >= RECITE_WORD_SHARE and max(share[n - 1] for n in cited) < RECITE_WORD_RATIO * share[best] else None
    if embedder is None or len(strip_citations(part).split()) < 5:
        return None
    share = _meaning_shares(part, passages, embedder)
    best = max(range(len(share)), key=lambda j: share[j])
    return best if share[best] >= RECITE_MEANING and max(share[n - 1] for n in cited) < share[best] - RECITE_MEANING_GAP else None


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


def add_missing_citations(text: str, passages: list[Passage], min_overlap: float = MIN_MISSING_CITATION_OVERLAP) -> str:
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


def unsupported_sentences(sentences: list[tuple[str, set[int]]], passages: list[Passage], embedder: Embedder) -> list[Finding]:
    """English sentences (3+ words) far in meaning from every sentence of the passages: a name or
    claim the model brought from memory ("Saddam Hussein" where the passages name al-Kadhimi
    scored 0.37; supported sentences on the dev set 0.49–0.82). Words cannot be compared with
    Arabic passages, so meaning is all there is to check. All passages count, not only the cited
    one: a right claim under a wrong number is a citation slip, not an invention."""
    out = []
    for claim in (strip_citations(s) for s, _ in sentences):
        if len(claim.split()) < 3 or not passages:
            continue
        similarity = max(_meaning_shares(claim, passages, embedder))
        if similarity < MIN_SUPPORT:
            out.append(Finding("unsupported_meaning",
                               f"this sentence may not be supported by the passages (similarity {similarity:.2f}): {claim[:120]}"))
    return out


# Negation: Arabic particles and words that deny or rule out; their English counterparts. "لا يزال" (still) and
# "لا بد" (must) are not negations. عدم / غير / دون negate a noun ("عدم الاستقرار" = instability), which English
# often renders without a negation word: they count against an added negation but never as a lost one.
_AR_NEGATION = re.compile(r"(?<![\w])(?:و|ف)?(?:ال)?(لا(?!\s*(?:سيما|يزال|تزال|زال|زالت|بد))|لم|لن|ليس|ليست|ليسوا|مستبعد\w*|استبعد\w*|يستبعد\w*"
                          r"|رفض\w*|يرفض\w*|نفى|نفت|ينفي|تنفي|بدون|بلا)(?![\w])")
_AR_WEAK_NEGATION = re.compile(r"(?<![\w])(?:و|ف|ب)?(عدم|غير|دون)(?![\w])")
_AR_STRONG_NEGATION = re.compile(r"(?<![\w])(?:و|ف)?(?:ال)?(مستبعد\w*|استبعد\w*|يستبعد\w*|لن|رفض\w*|نفى|نفت|ينفي)(?![\w])")
_EN_NEGATION = re.compile(r"\b(not|no|never|none|nor|neither|without|cannot|\w+n't|unlikely|ruled?\s+out|rules\s+out|reject\w*|refus\w*|den(?:y|ied|ies)|lack\w*|unable|absence)\b", re.I)  # noqa: E501


def negations(text: str) -> int:
    """How many negations ``text`` holds (Arabic or English; the noun negators عدم/غير/دون not counted)."""
    return len(_AR_NEGATION.findall(text)) + len(_EN_NEGATION.findall(text))


def check_negation(claim: str, evidence: str, whole: bool) -> list[Finding]:
    """A negation in the ``evidence`` lost in the ``claim``, or one added. ``whole``: the claim renders the
    whole evidence (a translation), so any loss counts; an answer may leave a negated clause out, so for
    it only a claim without any negation against evidence that rules out or refuses counts as lost."""
    body = strip_citations(claim)
    have, want = negations(body), negations(evidence)
    if want and not have and (whole or _AR_STRONG_NEGATION.search(evidence)):
        return [Finding("negation_lost", f"the cited sentence denies or rules something out, this text does not: {body[:100]}")]
    if have and not want and not _AR_WEAK_NEGATION.search(evidence) and not _AR_WEAK_NEGATION.search(body):
        return [Finding("negation_added", f"this text denies or rules something out, the cited sentence does not: {body[:100]}")]
    return []


def check_names(claim: str, evidence: str, embedder: Embedder | None = None) -> list[Finding]:
    """Names and acronyms of an English ``claim`` with nothing corresponding in the Arabic ``evidence``."""
    return [Finding("name_unmatched", f"the name “{name}” does not correspond to anything in the cited sentence")
            for name in glossary.unmatched_names(strip_citations(claim), evidence, embedder)]


def check_slots(question: str, text: str, language: str) -> list[Finding]:
    """Two different values for what the question asks: two places for "where" (places the answer puts
    something *in*, not every city it names), two dates for "when"; values the question names do not count."""
    kind = ("place" if re.match(r"\s*(where|in which (city|country|place))\b|(^|\s)(أين|في أي (مدينة|بلد|مكان))", question, re.I)
            else slots.question_kind(question))
    body = strip_citations(text)
    if kind == "place":
        if language == "ar":
            forms = {form for form, _ in glossary.entries()}
            places = {en for a, b, en in glossary.found(body)
                      if re.search(r"في\s*$", body[max(0, a - 4):a]) or (body[a] == "ب" and body[a + 1:b] in forms)}
        else:
            places = {p for p in _CITIES if re.search(rf"\b(in|at)\s+(the\s+)?{p}\b", body)}
        places = {p for p in places if p in _CITIES and p.lower() not in question.lower()} - {en for _, _, en in glossary.found(question)}
        if len(places) > 1:
            return [Finding("slot_conflict", f"the answer names more than one place ({', '.join(sorted(places))}) for one “where”")]
    if kind == "date":
        months = months_in(body) - months_in(question)
        years = set(re.findall(r"(?<!\d)(?:19|20)\d\d(?!\d)", body)) - set(re.findall(r"\d{4}", question))
        if len(months) > 1 or len(years) > 1:
            return [Finding("slot_conflict", f"the answer gives more than one date ({', '.join(sorted(months | years))}) for one “when”")]
    return []


_CITIES = {"Washington", "Baghdad", "Erbil", "Basra", "Mosul", "Kirkuk", "Najaf", "Karbala", "Fallujah", "Ramadi", "Tikrit", "Tehran",
           "Damascus", "Amman", "Ankara", "Riyadh", "Doha", "Cairo", "Beirut", "Gaza", "Moscow", "Beijing", "Paris", "London", "Berlin"}

_EN_NUMBER_WORDS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
                    "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50", "hundred": "100"}


def _numbers_any(text: str) -> set[str]:
    """Numbers in digits and in words (Arabic or English)."""
    words = {_EN_NUMBER_WORDS[w.lower()] for w in re.findall(r"[A-Za-z]+", text) if w.lower() in _EN_NUMBER_WORDS}
    return numbers_in(text) | words | {v for v in slots.values(text, "number", "en") if v.isdigit()}


def check_adds_something(answer: str, question: str) -> list[Finding]:
    """An answer made only of the question's own words answers nothing ("Blinken is the Iraqi foreign
    minister who met Blinken" for "Which Iraqi foreign minister met Blinken?")."""
    new = set(tokenize(strip_citations(answer))) - set(tokenize(question))
    if not new:
        return [Finding("restates_question", "the answer only repeats the question's words")]
    return []


def check_translation(arabic: str, english: str, embedder: Embedder | None = None) -> list[Finding]:
    """What a machine translation of one Arabic sentence got wrong, as far as code can tell."""
    out: list[Finding] = []
    if not english.strip():
        return [Finding("translation_empty", "the model returned no translation")]
    from rag.translate import echoes_instructions  # rag.translate imports the backends: only when a translation is checked

    if echoes_instructions(english):
        return [Finding("translation_instructions", "the model repeated its instructions instead of translating the sentence")]
    if arabic_ratio(english) > 0.15:
        out.append(Finding("arabic_in_english", "the translation still contains Arabic text"))
    ar_numbers, en_numbers = numbers_in(arabic), numbers_in(english)
    for n in sorted(en_numbers - _numbers_any(arabic)):
        out.append(Finding("translation_number_added", f"the translation has the number {n}, the Arabic sentence does not"))
    for n in sorted(ar_numbers - _numbers_any(english)):
        out.append(Finding("translation_number_lost", f"the translation lost the number {n} of the Arabic sentence"))
    for month in sorted(months_in(english) ^ months_in(arabic)):
        out.append(Finding("translation_month", f"the month {month} is in only one of the sentence and its translation"))
    out += [Finding("translation_" + f.code, f.message) for f in check_negation(english, arabic, whole=True)]
    out += [Finding("translation_" + f.code, f.message) for f in check_names(english, arabic, embedder)]
    if embedder is not None:
        from rag.extractive import embed_sentences  # the evidence sentence's vector is cached from selection

        a, e = embed_sentences(embedder, [arabic])[0], embedder.embed([english], "query")[0]
        similarity = float(a @ e)
        if similarity < MIN_TRANSLATION_SIMILARITY:
            out.append(Finding("translation_far", f"the translation is far in meaning from the Arabic sentence (similarity {similarity:.2f})"))
    return out


def check_answer(text: str, passages: list[Passage], language: str, embedder: Embedder | None = None,
                 question: str = "") -> CheckResult:
    """Validate citations, numbers/dates, negation, names, slots and language of a generated ``text``.

    ``embedder`` (optional) finds the quotes of an English answer by meaning, since its words
    cannot be matched against Arabic passages, and checks English sentences by meaning.
    """
    findings: list[Finding] = []
    text = _drop_invalid(text, len(passages), findings)
    text = add_missing_citations(text, passages)
    text = fix_citations(text, passages, embedder)
    sentences = _answer_sentences(text)
    cited_all = sorted({n for _, ns in sentences for n in ns})
    if not cited_all:
        findings.append(Finding("no_citation", "the answer cites no passage"))
    for sentence, ns in sentences:
        support = " ".join(passages[n - 1].text for n in (ns or cited_all))
        if not support:
            continue
        for num in sorted(numbers_in(sentence) - _numbers_any(support)):
            findings.append(Finding("number_unsupported", f"the number {num} in this answer was not found in the cited passage"))
        for month in sorted(months_in(strip_citations(sentence)) - months_in(support)):
            findings.append(Finding("month_unsupported", f"the month {month} in this answer was not found in the cited passage"))
        cited_sentence = best_quote(passages[min(ns or cited_all) - 1], sentence, embedder)[0] if strip_citations(sentence) else ""
        if cited_sentence:
            findings += check_negation(sentence, cited_sentence, whole=False)
        if language == "en":
            findings += check_names(sentence, support, embedder)
    if question:
        findings += check_slots(question, text, language) + check_adds_something(text, question)
    if embedder is not None and language == "en":
        findings += unsupported_sentences(sentences, passages, embedder)
    body = strip_citations(re.sub(r"[«\"“][^»\"”]*[»\"”]", " ", text))
    if language == "en" and arabic_ratio(body) > 0.15:
        findings.append(Finding("arabic_in_english", "the English answer contains Arabic text"))
    if language == "ar" and arabic_ratio(body) < 0.5:
        findings.append(Finding("wrong_language", "the answer is not in Arabic"))
    citations = []
    for n in cited_all:
        claim = " ".join(s for s, ns in sentences if n in ns)
        quote, qa, qb = best_quote(passages[n - 1], claim, embedder)
        citations.append(Citation(n, passages[n - 1], quote, qa, qb))
    return CheckResult(text, citations, findings)
