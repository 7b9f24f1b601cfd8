"""The errors the indexing library raises on purpose, and ``RagError``, the project's base error.

Each error says, in the domain's words, what was wrong and what to do about it. The library knows
nothing of HTTP or exit codes: the faces map error classes to those (``ui.errors``). The answering
library's own errors (bad questions, unreachable backends) are in ``rag.errors``. Anything that is
not a ``RagError`` is a bug.

Example::

    raise ModelMissingError("embedding model 'embeddinggemma-300m' is not installed; run: rag models")
"""
from __future__ import annotations


class RagError(Exception):
    """Base class: a problem the user can act on."""


class ConfigError(RagError):
    """A setting has an invalid value (env var, config file or option)."""


class ModelMissingError(RagError):
    """A model is not installed or failed verification."""


class IndexMissingError(RagError):
    """No index has been built yet at the configured place."""


class IndexMismatchError(RagError):
    """The index on disk was built with other settings or another model."""


class IndexDamagedError(IndexMismatchError):
    """A file of the index is missing, truncated or inconsistent with the others."""


class IndexWriteError(RagError):
    """The index cannot be written where it should live (permissions, read-only disk)."""


class IndexBusyError(RagError):
    """Another process is building the same index."""


class CorpusError(RagError):
    """The articles folder is missing or holds no readable article."""


class DocumentNotFoundError(RagError):
    """No document with that id in the managed corpus (``index.corpus``)."""


class DocumentRejectedError(CorpusError):
    """Every file of an upload was refused; ``rejected`` says why, file by file (``index.corpus.Rejected``)."""

    def __init__(self, message: str, rejected: list | None = None) -> None:
        super().__init__(message)
        self.rejected = list(rejected or [])
