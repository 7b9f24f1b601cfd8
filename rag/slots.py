"""Dates and numbers handled by code: what a question asks for, and that value pulled from a sentence.

"When …?" / "متى …؟" asks for a date, "How many …?" / "كم …؟" for a number. When the evidence
sentence holds exactly one value of that kind that the question does not already name, the
application states it itself, written in the reader's language (months and weekdays normalised),
instead of trusting a small model to copy it.

Example::

    >>> question_kind("How many countries pledged half of the campaign?")
    'number'
    >>> values("تعهدت ثماني دول بتأمين نصف مبلغ الـ600 مليون دولار", "number", "en")
    ['600 million', '8']
    >>> values("وتعود إلى أوائل العصر الكمبري منذ حوالي 515 مليون سنة", "number", "en")
    ['515 million years']
    >>> lead("كم دولة تعهدت بتأمين نصف مبلغ حملة الـ600 مليون دولار؟", "تعهدت ثماني دول بتأمين نصف المبلغ", "ar")
    '8'
"""
from __future__ import annotations

import re

from rag.answer_text import ARABIC_MONTHS, ascii_digits

_DATE_EN = re.compile(r"^\s*(when\b|(in|on|by|since|until)?\s*(what|which)\s+(year|date|day|month|time)\b)", re.I)
_NUMBER_EN = re.compile(r"\b(how\s+(many|much|long|old|far)|what\s+(number|percentage|percent|share|amount)|what\s+is\s+the\s+(number|total|size))\b", re.I)
_DATE_AR = re.compile(r"(^|\s)(متى|في\s+أي\s+(عام|سنة|يوم|شهر|تاريخ)|ما\s+تاريخ|أي\s+(عام|سنة|يوم))(\s|$)")
_NUMBER_AR = re.compile(r"(^|\s)(كم|ما\s+(عدد|نسبة|حجم|قيمة|مقدار))(\s|$)")

WEEKDAYS = {"الأحد": "Sunday", "الاثنين": "Monday", "الإثنين": "Monday", "الثلاثاء": "Tuesday", "الأربعاء": "Wednesday",
            "الخميس": "Thursday", "الجمعة": "Friday", "السبت": "Saturday"}
_UNITS = {"مليون": "million", "ملايين": "million", "مليار": "billion", "مليارات": "billion", "ألف": "thousand", "آلاف": "thousand",
          "الف": "thousand", "بالمئة": "%", "بالمائة": "%", "في المئة": "%", "في المائة": "%", "%": "%"}
_WORD_NUMBERS = {
    "واحد": 1, "واحدة": 1, "اثنان": 2, "اثنين": 2, "اثنتان": 2, "اثنتين": 2, "ثلاث": 3, "ثلاثة": 3, "أربع": 4, "أربعة": 4,
    "خمس": 5, "خمسة": 5, "ست": 6, "ستة": 6, "سبع": 7, "سبعة": 7, "ثماني": 8, "ثمانية": 8, "ثمان": 8, "تسع": 9, "تسعة": 9,
    "عشر": 10, "عشرة": 10, "عشرين": 20, "عشرون": 20, "ثلاثين": 30, "ثلاثون": 30, "أربعين": 40, "أربعون": 40,
    "خمسين": 50, "خمسون": 50, "مئة": 100, "مائة": 100, "ألفين": 2000,
}
_MONTH_ALT = "|".join(sorted(map(re.escape, ARABIC_MONTHS), key=len, reverse=True))
_DATE = re.compile(rf"(?:(?P<day>\d{{1,2}})\s+)?(?<![\w])[وبلف]?(?P<month>{_MONTH_ALT})(?![\w])(?:\s*/\s*(?:{_MONTH_ALT}))?(?:\s+(?:عام|سنة)?\s*(?P<year>\d{{4}}))?"  # noqa: E501
                   rf"|(?:عام|سنة|العام)\s+(?P<year2>\d{{4}})|(?<!\d)(?P<year3>(?:19|20)\d{{2}})(?!\d)")
# What a count or a length is counted in ("منذ 515 مليون سنة" → "515 million years"): the common time units only,
# whose English is not in doubt; the Arabic form is kept for an Arabic reader.
_MEASURES = {"سنة": "years", "سنوات": "years", "سنين": "years", "عام": "years", "عاما": "years", "عامًا": "years", "أعوام": "years",
             "شهر": "months", "شهرا": "months", "شهرًا": "months", "أشهر": "months", "شهور": "months",
             "يوم": "days", "يوما": "days", "يومًا": "days", "أيام": "days", "ساعة": "hours", "ساعات": "hours",
             "أسبوع": "weeks", "أسابيع": "weeks", "أسبوعا": "weeks", "قرن": "centuries", "قرون": "centuries"}
_MEASURE_ALT = "|".join(sorted(map(re.escape, _MEASURES), key=len, reverse=True))
_NUMBER = re.compile(r"(?<![\d.,])(?P<n>\d[\d,]*(?:\.\d+)?)\s*(?P<unit>مليون|ملايين|مليار|مليارات|ألف|آلاف|الف|بالمئة|بالمائة|في المئة|في المائة|%)?"
                     rf"(?:\s*(?P<measure>{_MEASURE_ALT})(?![\w]))?")
_WORD_NUMBER = re.compile(r"(?<![\w])(?:و|ب|ل)?(?P<w>" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)) + r")(?![\w])"
                          r"(?P<scale>\s+(?:آلاف|ألف|الف|مليون|ملايين|مليار|مليارات|عشر|عشرة))?")


def question_kind(question: str) -> str | None:
    """``"date"``, ``"number"`` or ``None`` (anything else)."""
    if _DATE_EN.search(question) or _DATE_AR.search(question):
        return "date"
    if _NUMBER_EN.search(question) or _NUMBER_AR.search(question):
        return "number"
    return None


def _dates(text: str, language: str) -> list[str]:
    out = []
    for m in _DATE.finditer(text):
        if m.group("month"):
            month = ARABIC_MONTHS[m.group("month")] if language == "en" else m.group("month")
            parts = [m.group("day"), month, m.group("year")]
            out.append(" ".join(p for p in parts if p))
        else:
            out.append(m.group("year2") or m.group("year3"))
    for ar, en in WEEKDAYS.items():
        if re.search(rf"(?<![\w])(?:يوم\s+)?{ar}(?![\w])", text):
            out.append(en if language == "en" else ar)
    return list(dict.fromkeys(out))


def _numbers(text: str, language: str) -> list[str]:
    out = []
    for m in _NUMBER.finditer(text):
        n = m.group("n").rstrip(",")
        if re.fullmatch(r"(19|20)\d\d", n) and not m.group("unit"):
            continue  # a year is a date, not a count
        unit, measure = m.group("unit"), m.group("measure")
        value = n + ("%" if unit and _UNITS[unit] == "%" else f" {_UNITS[unit] if language == 'en' else unit}" if unit else "")
        if measure and not (unit and _UNITS[unit] == "%"):
            value += f" {_MEASURES[measure] if language == 'en' else measure}"
        out.append(value)
    for m in _WORD_NUMBER.finditer(text):
        if m.group("scale"):  # ثلاثة آلاف, أحد عشر: not the bare word's value; code states no value then
            out.append(m.group(0).strip())
            continue
        out.append(str(_WORD_NUMBERS[m.group("w")]))
    return list(dict.fromkeys(out))


def values(sentence: str, kind: str, language: str) -> list[str]:
    """The dates or numbers written in an Arabic ``sentence``, rendered for a ``language`` reader."""
    text = ascii_digits(sentence)
    return _dates(text, language) if kind == "date" else _numbers(text, language)


def lead(question: str, sentence: str, language: str) -> str | None:
    """The one value of the asked kind in ``sentence`` that the question does not name, else None."""
    kind = question_kind(question)
    if kind is None:
        return None
    asked = set(re.findall(r"\d+", ascii_digits(question)))
    found = [v for v in values(sentence, kind, language) if not set(re.findall(r"\d+", v)) & asked]
    if len(found) != 1 or (language == "en" and not found[0].isascii()):
        return None  # several candidates, or one code cannot write in English (ثلاثة آلاف): no short answer
    return found[0]
