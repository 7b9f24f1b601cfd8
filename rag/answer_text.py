"""Text helpers for answers: month names, numbers, sentences, citation markers.

Example::

    >>> annotate_months("في تموز الماضي")
    'في تموز (يوليو/July) الماضي'
    >>> numbers_in("يوم ٢٤ تموز 2024")
    {'24', '2024'}
"""
from __future__ import annotations

import re

from index.arabic import ascii_digits  # re-exported: rag modules take it from here
from index.chunking import sentence_spans

# Levantine/Iraqi month names -> (standard Arabic, English)
LEVANTINE_MONTHS = {
    "كانون الثاني": ("يناير", "January"), "شباط": ("فبراير", "February"), "آذار": ("مارس", "March"),
    "نيسان": ("أبريل", "April"), "أيار": ("مايو", "May"), "حزيران": ("يونيو", "June"),
    "تموز": ("يوليو", "July"), "آب": ("أغسطس", "August"), "أيلول": ("سبتمبر", "September"),
    "تشرين الأول": ("أكتوبر", "October"), "تشرين الثاني": ("نوفمبر", "November"), "كانون الأول": ("ديسمبر", "December"),
}
STANDARD_MONTHS = {
    "يناير": "January", "فبراير": "February", "مارس": "March", "أبريل": "April", "ابريل": "April", "مايو": "May",
    "يونيو": "June", "يوليو": "July", "أغسطس": "August", "اغسطس": "August", "سبتمبر": "September",
    "أكتوبر": "October", "اكتوبر": "October", "نوفمبر": "November", "ديسمبر": "December",
}
ENGLISH_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
_MONTH_RE = re.compile(r"(?<![\w])(" + "|".join(sorted(LEVANTINE_MONTHS, key=len, reverse=True)) + r")(?![\w])(?!\s*\()")
CITATION = re.compile(r"\[(\d{1,2})\]")


def annotate_months(text: str) -> str:
    """Write the standard and English name beside each Levantine month: تموز (يوليو/July)."""
    return _MONTH_RE.sub(lambda m: f"{m.group(1)} ({LEVANTINE_MONTHS[m.group(1)][0]}/{LEVANTINE_MONTHS[m.group(1)][1]})", text)


def numbers_in(text: str) -> set[str]:
    """Numbers written in ``text`` (Arabic-Indic digits normalised, thousands separators dropped)."""
    text = ascii_digits(CITATION.sub(" ", text))
    text = re.sub(r"(?m)^\s*\d{1,2}[.)]\s", " ", text)  # list markers ("1. ...") are not facts
    return {n.replace(",", "").rstrip(".") for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text)}


# Every Arabic month name (Levantine and standard) → English, and where one stands as a whole word: a
# clitic may precede it (و/ف, then ب/ل: وبتموز "and in July"), nothing may follow (آب is also the start of الآباء).
ARABIC_MONTHS = {**{ar: en for ar, (_, en) in LEVANTINE_MONTHS.items()}, **STANDARD_MONTHS}
_ARABIC_MONTH_RE = re.compile(r"(?<![\w])[وف]?[بل]?(" + "|".join(sorted(map(re.escape, ARABIC_MONTHS), key=len, reverse=True)) + r")(?![\w])")
_ENGLISH_MONTH_RE = re.compile(r"\b(" + "|".join(ENGLISH_MONTHS) + r")\b")  # capitalised only: "may have" names no month


def arabic_months(text: str) -> list[tuple[str, str]]:
    """``(arabic name, English name)`` of each month named in ``text``, in order, once each."""
    return list(dict.fromkeys((m.group(1), ARABIC_MONTHS[m.group(1)]) for m in _ARABIC_MONTH_RE.finditer(text)))


def month_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, English name)`` of each Arabic month name in ``text`` (a clitic before it not included)."""
    return [(m.start(1), m.end(1), ARABIC_MONTHS[m.group(1)]) for m in _ARABIC_MONTH_RE.finditer(text)]


def months_in(text: str) -> set[str]:
    """English names of the months mentioned in ``text`` (Arabic Levantine, standard or English)."""
    return {en for _, en in arabic_months(text)} | set(_ENGLISH_MONTH_RE.findall(text))


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def strip_citations(text: str) -> str:
    return re.sub(r"\s*\[\d{1,2}\]", "", text).strip()
