"""Which language a text is in: Arabic or English (the two the product answers in).

Example::

    >>> detect_language("ما هو الحوار؟"), detect_language("What is the dialogue?")
    ('ar', 'en')
"""
from __future__ import annotations

from index.arabic import arabic_ratio

__all__ = ["arabic_ratio", "detect_language"]


def detect_language(text: str) -> str:
    """``"ar"`` when Arabic letters dominate, else ``"en"``."""
    return "ar" if arabic_ratio(text) >= 0.5 else "en"
