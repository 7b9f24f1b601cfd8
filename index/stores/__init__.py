"""Where the chunks and their vectors live: a choice of store behind one small interface.

``faiss`` (the default) is today's index folder (``index.store``: files swapped in atomically,
everything loaded into the process). ``qdrant`` keeps the chunks, their dense vectors and their
BM25 terms (sparse vectors) in a Qdrant collection (``index.stores.qdrant``): local mode
(``qdrant_path``, one process at a time) or a server/cluster (``qdrant_url``, any number of
processes). Qdrant is an optional extra (``pip install .[qdrant]``) imported only when chosen.

Example::

    >>> cfg = store_config(IndexSettings.load(store="qdrant"))
    >>> store = open_store(cfg)
    >>> store.count()
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from index.stores.base import (
    DEFAULT_COLLECTION,
    STORES,
    LexicalStore,
    StoreConfig,
    VectorStore,
    lexical_terms,
    register_lexical_terms,
    store_config,
)

__all__ = ["DEFAULT_COLLECTION", "STORES", "LexicalStore", "StoreConfig", "VectorStore", "lexical_terms", "open_store", "read_store_manifest",
           "register_lexical_terms", "store_config", "store_stamp"]


def open_store(cfg: StoreConfig, expect: dict[str, Any] | None = None) -> VectorStore:
    """The store ``cfg`` names, loaded for reading; refuses one built with other settings than ``expect``."""
    if cfg.kind == "qdrant":
        from index.stores.qdrant import QdrantStore

        return QdrantStore.open(cfg, expect)
    from index.store import IndexStore

    return IndexStore.load(cfg.index_dir, expect)


def read_store_manifest(cfg: StoreConfig) -> Any:
    """The manifest of the store's index, or None when nothing has been built there yet."""
    if cfg.kind == "qdrant":
        from index.stores.qdrant import read_manifest

        found = read_manifest(cfg)
        return found[0] if found else None
    from index.store import read_manifest as read_faiss_manifest

    return read_faiss_manifest(cfg.index_dir)


def store_stamp(cfg: StoreConfig) -> Any:
    """Changes whenever a build changes the store (so long-running servers reload without a restart)."""
    if cfg.kind == "qdrant":
        from index.stores.qdrant import manifest_stamp

        return manifest_stamp(cfg)
    try:
        st = os.stat(Path(cfg.index_dir) / "manifest.json")
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size
