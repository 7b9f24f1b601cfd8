"""The on-disk index: FAISS vectors, chunk metadata and a manifest, written atomically.

Layout of an index directory::

    manifest.json   format version, embedding model + fingerprint, dimension,
                    chunking settings, index kind, per-document content hashes
    chunks.jsonl    one Chunk per line, in vector order
    vectors.npy     float32 unit vectors (kept so re-indexing can reuse them)
    faiss.index     IndexFlatIP (exact) or IndexHNSWFlat (approximate), inner product

A build writes a sibling temporary directory and swaps it in with two renames; a
crash at any point leaves the previous index loadable (``_recover`` undoes a
half-finished swap).

Example::

    >>> store = IndexStore.load(Path("~/.cache/arabic-news-rag/index").expanduser())
    >>> store.search(query_vectors, k=5)
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from index.errors import IndexBusyError, IndexMismatchError, IndexMissingError
from index.types import Chunk

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
REBUILD_HINT = "rebuild it with: rag index --rebuild"


@dataclass
class Manifest:
    format_version: int
    embedding_model: str
    model_fingerprint: str
    dim: int
    index_kind: str
    chunking: dict[str, Any]
    documents: dict[str, dict[str, Any]]
    corpus_root: str = ""
    created: float = field(default_factory=time.time)

    def identity(self) -> dict[str, Any]:
        """What must match between an index and the settings that query it."""
        return {
            "format_version": self.format_version,
            "embedding_model": self.embedding_model,
            "model_fingerprint": self.model_fingerprint,
            "chunking": {k: self.chunking.get(k) for k in ("target_tokens", "overlap_sentences", "tokenizer")},
        }


def faiss_index(vectors: np.ndarray, kind: str, hnsw_m: int = 32):
    """A FAISS inner-product index over unit vectors: flat (exact) or HNSW (approximate)."""
    import faiss

    dim = vectors.shape[1]
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


class IndexStore:
    """A loaded index: chunks, their vectors and the FAISS index over them."""

    def __init__(self, path: Path, manifest: Manifest, chunks: list[Chunk], vectors: np.ndarray, index) -> None:
        self.path = path
        self.manifest = manifest
        self.chunks = chunks
        self.vectors = vectors
        self.index = index

    @classmethod
    def load(cls, path: Path, expect: dict[str, Any] | None = None) -> "IndexStore":
        """Load the index at ``path``; refuse (naming the difference) when ``expect`` disagrees with its manifest."""
        import faiss

        path = Path(path)
        _recover(path)
        manifest = read_manifest(path)
        if manifest is None:
            raise IndexMissingError(f"no index at {path}; build one with: rag index [FOLDER]")
        if expect:
            check_compatible(manifest, expect, path)
        with open(path / "chunks.jsonl", encoding="utf-8") as fh:
            chunks = [Chunk.from_dict(json.loads(line)) for line in fh if line.strip()]
        vectors = np.load(path / "vectors.npy")
        index = faiss.read_index(str(path / "faiss.index"))
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = 128
        if not (len(chunks) == len(vectors) == index.ntotal):
            raise IndexMismatchError(f"index at {path} is inconsistent ({len(chunks)} chunks, {index.ntotal} vectors); {REBUILD_HINT}")
        return cls(path, manifest, chunks, vectors, index)

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """For each query vector, up to ``k`` ``(chunk position, cosine score)`` pairs, best first."""
        if self.index.ntotal == 0:
            return [[] for _ in range(len(queries))]
        scores, ids = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), min(k, self.index.ntotal))
        return [[(int(i), float(s)) for i, s in zip(row_i, row_s) if i >= 0] for row_i, row_s in zip(ids, scores)]


def read_manifest(path: Path) -> Manifest | None:
    try:
        data = json.loads((Path(path) / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, OSError) as exc:
        raise IndexMismatchError(f"manifest of the index at {path} is unreadable ({exc}); {REBUILD_HINT}") from None
    if data.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index at {path} has format version {data.get('format_version')}, this program reads {FORMAT_VERSION}; {REBUILD_HINT}"
        )
    return Manifest(**data)


def check_compatible(manifest: Manifest, expect: dict[str, Any], path: Path) -> None:
    """Raise ``IndexMismatchError`` naming every setting that differs."""
    have = manifest.identity()
    diffs = []
    for key, want in expect.items():
        got = have.get(key)
        if isinstance(want, dict):
            diffs += [f"{key}.{k}: index has {got.get(k)!r}, settings ask for {v!r}" for k, v in want.items() if (got or {}).get(k) != v]
        elif got != want:
            diffs.append(f"{key}: index has {got!r}, settings ask for {want!r}")
    if diffs:
        raise IndexMismatchError(f"the index at {path} was built differently ({'; '.join(diffs)}); {REBUILD_HINT}")


def _old(path: Path) -> Path:
    return path.with_name(f".{path.name}.old")


def _recover(path: Path) -> None:
    """Finish or undo a swap that a crash interrupted."""
    old = _old(path)
    if old.exists():
        if path.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(old, path)
            log.warning("recovered the previous index at %s after an interrupted build", path)


@contextmanager
def build_lock(path: Path) -> Iterator[None]:
    """Only one build of an index at a time (an advisory lock beside it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusyError(f"another process is building the index at {path}; wait for it to finish") from None
        yield


def write_atomic(path: Path, manifest: Manifest, chunks: list[Chunk], vectors: np.ndarray, hnsw_m: int = 32) -> None:
    """Write a complete index to a temporary sibling, then swap it in place of ``path``."""
    import faiss

    path = Path(path)
    _recover(path)
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.mkdir(parents=True)
    try:
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as fh:
            for chunk in chunks:
                fh.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
        np.save(tmp / "vectors.npy", vectors.astype(np.float32))
        faiss.write_index(faiss_index(vectors, manifest.index_kind, hnsw_m), str(tmp / "faiss.index"))
        (tmp / "manifest.json").write_text(json.dumps(manifest.__dict__, ensure_ascii=False, indent=1), encoding="utf-8")
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = _old(path)
    if path.exists():
        os.rename(path, old)
    os.rename(tmp, path)
    shutil.rmtree(old, ignore_errors=True)
