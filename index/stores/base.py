"""The store interface and its configuration (``index.stores`` re-exports these; the stores import them from here)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from index.errors import ConfigError
from index.types import Chunk

STORES = ("faiss", "qdrant")
DEFAULT_COLLECTION = "arabic_news"

_lexical_terms: Callable[[str], list[str]] | None = None


def register_lexical_terms(terms: Callable[[str], list[str]]) -> None:
    """The retrieval layer names its BM25 tokenizer here (``rag.retrieval`` does on import), so builds
    started inside ``index`` (``index.corpus``) write the same sparse terms as those given ``terms=``."""
    global _lexical_terms
    _lexical_terms = terms


def lexical_terms() -> Callable[[str], list[str]] | None:
    return _lexical_terms


class VectorStore(Protocol):
    """What retrieval needs from a store (the FAISS folder and the Qdrant collection both have it).

    Keys identify chunks: FAISS uses the chunk's position (``int``), Qdrant its point id (``str``).
    ``lexical`` says whether the store ranks BM25 terms itself (Qdrant: sparse vectors); when it
    does not, the caller keeps a BM25 index of the store's chunks in memory (FAISS).
    """

    lexical: bool

    @property
    def manifest(self) -> Any: ...

    def count(self) -> int: ...

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[Any, float]]]: ...


class LexicalStore(VectorStore, Protocol):
    """A store that also ranks by BM25 terms and hands back chunks and vectors by key."""

    def search_lexical(self, terms: Sequence[Sequence[str]], k: int, only: Sequence[Sequence[Any]] | None = None) -> list[list[tuple[Any, float]]]: ...

    def fetch(self, keys: Sequence[Any]) -> dict[Any, tuple[Chunk, np.ndarray]]: ...


@dataclass(frozen=True)
class StoreConfig:
    """Which store, and where: read from the settings ``store``, ``qdrant_url``, ``qdrant_path``,
    ``qdrant_collection``, ``qdrant_api_key`` (env ``RAG_STORE``, ``RAG_QDRANT_URL``…)."""

    kind: str = "faiss"
    index_dir: Path = Path(".")
    qdrant_url: str = ""
    qdrant_path: Path | None = None
    qdrant_collection: str = DEFAULT_COLLECTION
    qdrant_api_key: str = ""

    def __post_init__(self) -> None:
        if self.kind not in STORES:
            raise ConfigError(f"store must be one of {', '.join(STORES)}, got {self.kind!r}")
        if self.kind == "qdrant" and not self.qdrant_collection.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"qdrant_collection must be letters, digits, - and _, got {self.qdrant_collection!r}")

    @property
    def where(self) -> str:
        """A human-readable location, for messages."""
        if self.kind == "faiss":
            return str(self.index_dir)
        return f"{self.qdrant_url or self.qdrant_path} (collection {self.qdrant_collection})"


def store_config(settings: Any) -> StoreConfig:
    """The ``StoreConfig`` that ``settings`` (an ``IndexSettings``) describe."""
    path = settings.qdrant_path
    return StoreConfig(
        kind=settings.store,
        index_dir=Path(settings.index_dir),
        qdrant_url=settings.qdrant_url,
        qdrant_path=Path(path).expanduser() if path else Path(settings.home) / "qdrant",
        qdrant_collection=settings.qdrant_collection or DEFAULT_COLLECTION,
        qdrant_api_key=settings.qdrant_api_key,
    )
