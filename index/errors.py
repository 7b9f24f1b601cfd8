"""Every error the project raises on purpose, in one place.

Each error says what was wrong and what to do about it. The CLI prints ``str(err)``
and exits with ``err.exit_code``; the HTTP API maps ``err.http_status`` to a JSON
error. Anything that is not a ``RagError`` is a bug.

Example::

    raise ModelMissingError("embedding model 'embeddinggemma-300m' is not installed; run: rag models")
"""
from __future__ import annotations


class RagError(Exception):
    """Base class: a problem the user can act on."""

    exit_code = 1
    http_status = 400


class ConfigError(RagError):
    """A setting has an invalid value (env var, config file or option)."""

    exit_code = 2
    http_status = 422


class ModelMissingError(RagError):
    """A model is not installed or failed verification."""

    exit_code = 3
    http_status = 503


class IndexMissingError(RagError):
    """No index has been built yet at the configured place."""

    exit_code = 4
    http_status = 503


class IndexMismatchError(RagError):
    """The index on disk was built with other settings or another model."""

    exit_code = 4
    http_status = 503


class IndexDamagedError(IndexMismatchError):
    """A file of the index is missing, truncated or inconsistent with the others."""


class IndexWriteError(RagError):
    """The index cannot be written where it should live (permissions, read-only disk)."""

    exit_code = 4
    http_status = 503


class IndexBusyError(RagError):
    """Another process is building the same index."""

    exit_code = 5
    http_status = 409


class CorpusError(RagError):
    """The articles folder is missing or holds no readable article."""

    exit_code = 2
    http_status = 422


class InputError(RagError):
    """A question or request is empty, too long or malformed."""

    exit_code = 2
    http_status = 422


class InvalidTextError(InputError):
    """Text that is not valid Unicode (a lone surrogate, undecodable bytes)."""

    http_status = 400


class InputTooLargeError(InputError):
    """A question or request body is over the documented size limit."""

    http_status = 413


class BackendError(RagError):
    """An LLM backend could not be reached or answered badly."""

    exit_code = 6
    http_status = 502
