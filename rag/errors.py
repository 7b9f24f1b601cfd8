"""The errors the answering library raises on purpose (the index's are in ``index.errors``).

Example::

    raise InputTooLargeError("the question is 5,000 characters long; the limit is 4,000")
"""
from __future__ import annotations

from index.errors import RagError


class InputError(RagError):
    """A question or request is empty, too long or malformed."""


class InvalidTextError(InputError):
    """Text that is not valid Unicode (a lone surrogate, undecodable bytes)."""


class InputTooLargeError(InputError):
    """A question or request body is over the documented size limit."""


class BackendError(RagError):
    """An LLM backend could not be reached or answered badly."""


class AnswerNotFoundError(RagError):
    """Feedback names an answer this server does not remember (unknown, or too old)."""
