"""The answering library's edge: every question and query is checked here, once, before any work.

``ask()``, ``ask_stream()`` and ``search()`` call ``check_question``; the faces call
``check_unicode`` on other text fields they accept. Loading models is not this module's business.

Example::

    >>> check_question("  من هو وزير الخارجية؟ ", settings)
    'من هو وزير الخارجية؟'
    >>> check_question("", settings)
    Traceback (most recent call last):
    rag.errors.InputError: the question is empty; type a question about the articles
"""
from __future__ import annotations

from rag.errors import InputError, InputTooLargeError, InvalidTextError
from rag.settings import RagSettings
from rag.thresholds import MAX_TOP_K_ANSWER, MAX_TOP_K_SEARCH

__all__ = ["MAX_TOP_K_ANSWER", "MAX_TOP_K_SEARCH", "check_question", "check_top_k", "check_unicode"]


def check_unicode(text: str, what: str = "text") -> str:
    """``text`` unchanged, or ``InvalidTextError`` when it is not valid Unicode: a lone surrogate
    (JSON ``"\\ud800"``) or bytes the terminal could not decode (``$'\\xff'`` on a command line)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidTextError(
            f"the {what} is not valid Unicode text (character {exc.start + 1} is {ascii(text[exc.start])}, a lone surrogate "
            "or an undecodable byte); send UTF-8 text (check the terminal's or the client's encoding)") from None
    return text


def check_question(text: object, settings: RagSettings, what: str = "question") -> str:
    """The stripped question, or an ``InputError`` saying what is wrong with it."""
    if not isinstance(text, str):
        raise InputError(f"the {what} must be a string")
    check_unicode(text, what)
    text = text.strip()
    if not text:
        raise InputError(f"the {what} is empty; type a question about the articles")
    if len(text) > settings.max_question_chars:
        raise InputTooLargeError(
            f"the {what} is {len(text):,} characters long; the limit is {settings.max_question_chars:,} (setting max_question_chars)"
        )
    return text


def check_top_k(top_k: object, most: int) -> None:
    """An ``InputError`` unless ``top_k`` is None (the setting applies) or an integer from 1 to ``most``."""
    if top_k is not None and not (isinstance(top_k, int) and 1 <= top_k <= most):
        raise InputError(f"top_k must be an integer between 1 and {most}")
