"""Arabic text helpers every layer shares, defined once: script ranges, diacritics, letter folding, digits.

``index`` uses them to clean and audit articles, ``rag`` to tokenise, detect the language, compare
numbers and score answers. (Transliteration skeletons, which only name matching needs, stay in
``rag.lexical``.)

Example::

    >>> fold("أَهْلاً بالعراق ٢٠٢٥")
    'اهلا بالعراق 2025'
    >>> arabic_ratio("ما هو الحوار؟"), ascii_digits("٣٫٥")
    (1.0, '3.5')
"""
from __future__ import annotations

import re

# Arabic script: the main block, the supplement, and the presentation forms (A and B).
ARABIC_SCRIPT = "\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff"
ARABIC_RUN = re.compile(f"[{ARABIC_SCRIPT}]+")
ARABIC_WORD = re.compile(r"[\u0621-\u064a]{3,}")  # three or more base letters (hamza to ya)

DIACRITICS = re.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")  # harakat, Quranic marks, dagger alef
TATWEEL = "\u0640"

# Arabic-Indic and Persian digits -> ASCII.
DIGITS: dict[str, str] = {**{chr(0x0660 + d): str(d) for d in range(10)}, **{chr(0x06F0 + d): str(d) for d in range(10)}}
_ASCII_NUMBERS = str.maketrans({**DIGITS, "٫": ".", "٬": ","})  # also the Arabic decimal and thousands separators
# The spelling variants that retrieval and matching treat as one letter, tatweel removed, digits ASCII.
_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", TATWEEL: None, "ی": "ي", "ک": "ك", **DIGITS})


def is_arabic(ch: str) -> bool:
    """Whether the character ``ch`` is Arabic script."""
    return "\u0600" <= ch <= "\u06ff" or "\u0750" <= ch <= "\u077f" or "\ufb50" <= ch <= "\ufdff" or "\ufe70" <= ch <= "\ufeff"


def arabic_ratio(text: str) -> float:
    """Share of the letters in ``text`` that are Arabic script (0.0 without letters)."""
    letters = [c for c in text if c.isalpha()]
    return sum(map(is_arabic, letters)) / len(letters) if letters else 0.0


def ascii_digits(text: str) -> str:
    """``text`` with Arabic-Indic and Persian digits, and the Arabic decimal/thousands signs, in ASCII."""
    return text.translate(_ASCII_NUMBERS)


def strip_diacritics(text: str) -> str:
    return DIACRITICS.sub("", text)


def fold(text: str) -> str:
    """Diacritics and tatweel removed, alef/ya/ta-marbuta forms unified, ASCII digits, Latin lower-cased."""
    return DIACRITICS.sub("", text).translate(_FOLD).lower()
