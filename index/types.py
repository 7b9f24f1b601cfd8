"""The records that flow through indexing.

A ``Document`` is one cleaned article; a ``Chunk`` is a slice of its cleaned text,
with offsets such that ``document.text[chunk.start:chunk.end] == chunk.text``.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Document:
    """One article after loading and cleaning.

    ``id`` is the path relative to the corpus root (POSIX style), so the same file never
    appears twice; ``content_hash`` is the sha256 of the raw file bytes.
    """

    id: str
    title: str
    source: str
    text: str
    content_hash: str
    removed: tuple[str, ...] = ()  # lines the cleaner dropped, for inspection and tests


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: the unit that is embedded, retrieved and cited."""

    doc_id: str
    title: str
    source: str
    ordinal: int
    start: int
    end: int
    text: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Chunk":
        return cls(**data)
