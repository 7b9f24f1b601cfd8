"""Which language a text is in: Arabic or English (the two the product answers in).

Example::

    >>> detect_language("ما هو الحوار؟"), detect_language("What is the dialogue?")
    ('ar', 'en')
"""
from __future__ import annotations


def arabic_ratio(text: str) -> float:
    """Share of letters in ``text`` that are Arabic script."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum("\u0600" <= c <= "\u06ff" or "\u0750" <= c <= "\u077f" for c in letters) / len(letters)


def detect_language(text: str) -> str:
    """``"ar"`` when Arabic letters dominate, else ``"en"``."""
    return "ar" if arabic_ratio(text) >= 0.5 else "en"
