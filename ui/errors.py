"""How the faces report library errors: an HTTP status for the API, an exit code for the CLI.

The libraries raise domain errors (``index.errors``, ``rag.errors``) and know nothing of either;
this table is the one place that maps them. The most specific class listed wins.

Example::

    >>> http_status(IndexMissingError("no index"))
    503
    >>> exit_code(InputError("empty question"))
    2
"""
from __future__ import annotations

from index.errors import (
    ConfigError,
    CorpusError,
    DocumentNotFoundError,
    IndexBusyError,
    IndexMismatchError,
    IndexMissingError,
    IndexWriteError,
    ModelMissingError,
    RagError,
)
from rag.errors import AnswerNotFoundError, BackendError, InputError, InputTooLargeError, InvalidTextError


class Forbidden(RagError):
    """A backend or model the server's settings do not allow a client to pick (the faces' own error)."""


# error class -> (HTTP status, CLI exit code)
CODES: dict[type[RagError], tuple[int, int]] = {
    RagError: (400, 1),
    ConfigError: (422, 2),
    CorpusError: (422, 2),
    InputError: (422, 2),
    InvalidTextError: (400, 2),
    InputTooLargeError: (413, 2),
    ModelMissingError: (503, 3),
    IndexMissingError: (503, 4),
    IndexMismatchError: (503, 4),  # and IndexDamagedError, its subclass
    IndexWriteError: (503, 4),
    IndexBusyError: (409, 5),
    BackendError: (502, 6),
    Forbidden: (403, 1),
    DocumentNotFoundError: (404, 2),  # documents and answers named by id (the corpus, feedback)
    AnswerNotFoundError: (404, 2),
}


def _codes(exc: BaseException) -> tuple[int, int]:
    for klass in type(exc).__mro__:
        if klass in CODES:
            return CODES[klass]
    return 500, 1


def http_status(exc: BaseException) -> int:
    """The HTTP status the API answers ``exc`` with (500 for anything that is not a ``RagError``)."""
    return _codes(exc)[0]


def exit_code(exc: BaseException) -> int:
    """The exit status of ``rag`` when a command fails with ``exc``."""
    return _codes(exc)[1]
