"""The faces' settings: the whole configuration, as the CLI, the API and the chat UI load it.

``Settings`` extends ``rag.settings.RagSettings`` (and through it ``index.settings.IndexSettings``)
with what only the faces read: the token, CORS, how many requests at once, how long a body may
take. Loading rules: see ``index.settings``.

Example::

    >>> s = Settings.load(max_concurrent=4)
    >>> s.section(IndexSettings)      # what ``rag index`` hands the indexing library
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from index.errors import ConfigError
from rag.settings import RagSettings


def check_port(port: object, what: str = "--port") -> int:
    """``port`` when it is a TCP port number (1–65535), else a ``ConfigError`` naming ``what``."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f"{what} must be a port number between 1 and 65535, got {port!r}")
    return port


@dataclass(frozen=True)
class Settings(RagSettings):
    """All settings: the library's plus the HTTP API's and the chat UI's."""

    RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "max_concurrent": (1, 4096),
        "body_timeout_s": (0.1, 3600),
    }

    api_token: str = ""  # bearer token for the API; also the UI's password when it listens beyond loopback
    cors_origins: str = ""  # comma separated
    max_concurrent: int = 16  # requests answered at once; more get 429 + Retry-After
    allowed_backends: str = ""  # comma separated backends a client may pick per request; empty: only `backend`
    body_timeout_s: float = 10.0  # a request body must arrive within this (slow clients get 408)
