"""Answer-text scores shared by the evaluations: key facts, SQuAD F1 / exact match, gold contained.

Both compare after one normalisation (``normalize``): casefold, Arabic letter forms unified
(أ/إ/آ/ٱ→ا ى→ي ة→ه ؤ→و ئ→ي), no diacritics or tatweel, Arabic-Indic digits to ASCII,
thousands separators dropped. For an English reader, Arabic-script text is removed from
the answer first (``reader_text``): an untranslated quote gives an English reader nothing.

Example::

    >>> fact_scores("The talks were in Baghdad on Thursday [1]", [["baghdad"], ["thursday"]], "en")
    (1.0, True)
    >>> round(squad_f1("the River Tyne", "Tyne"), 2), gold_contained("on the River Tyne", "Tyne")
    (0.67, True)
"""
from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Collection, Sequence

from index.arabic import ARABIC_RUN, TATWEEL, ascii_digits, strip_diacritics
from rag.answer_text import strip_citations

_LETTERS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})
_PUNCT = set(string.punctuation) | set("«»“”‘’،؛؟…–—")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize(text: str) -> str:
    """The one normalisation every answer score compares under (see the module doc)."""
    text = ascii_digits(strip_diacritics(text).replace(TATWEEL, "")).translate(_LETTERS).casefold()
    text = re.sub(r"(?<=\d)[,٬](?=\d{3}\b)", "", text)  # 12,500 → 12500
    return re.sub(r"\s+", " ", text).strip()


def reader_text(answer: str, language: str) -> str:
    """What a reader of ``language`` can read in ``answer``: for English, Arabic script removed."""
    text = strip_citations(answer)
    return ARABIC_RUN.sub(" ", text) if language == "en" else text


def facts_held(answer: str, facts: list[list[str]], language: str) -> list[bool]:
    """For each fact, whether the answer holds it (any of its forms occurs, after ``normalize``)."""
    text = normalize(reader_text(answer, language))
    return [any(normalize(form) in text for form in forms) for forms in facts]


def fact_scores(answer: str, facts: list[list[str]], language: str) -> tuple[float | None, bool | None]:
    """``(share of facts held, all held)``; a fact is held when any of its forms occurs."""
    if not facts:
        return None, None
    held = facts_held(answer, facts, language)
    return sum(held) / len(held), all(held)


def _squad_tokens(text: str) -> list[str]:
    text = "".join(c for c in normalize(text) if c not in _PUNCT)
    return _ARTICLES.sub(" ", text).split()


def squad_f1(prediction: str, gold: str) -> float:
    """SQuAD token F1 (articles and punctuation dropped, after ``normalize``)."""
    p, g = _squad_tokens(prediction), _squad_tokens(gold)
    common = sum((Counter(p) & Counter(g)).values())
    if not p or not g or not common:
        return float(p == g)
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold: str) -> bool:
    return _squad_tokens(prediction) == _squad_tokens(gold)


def gold_contained(prediction: str, gold: str) -> bool:
    """The normalised gold answer occurs in the normalised prediction."""
    g = normalize(gold).strip(" .")
    return bool(g) and g in normalize(prediction)


def recall_at(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """Share of the ``gold`` ids found among the first ``k`` of ``ranked`` (0.0 without gold)."""
    return len(set(gold) & set(ranked[:k])) / len(set(gold)) if gold else 0.0


def reciprocal_rank(ranked: Sequence[str], gold: Collection[str], cutoff: int = 10) -> float:
    """1 / the rank of the first gold id within ``cutoff`` (0.0 when none is there): MRR@cutoff's term."""
    return next((1.0 / i for i, x in enumerate(ranked[:cutoff], 1) if x in gold), 0.0)
