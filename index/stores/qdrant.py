"""The Qdrant store: chunks, dense vectors and BM25 sparse vectors in one collection.

One point per chunk. Its id is derived from the chunk's identity (document id, text hash and
which occurrence of that text in the document it is), so a rebuild finds what is already there:

* ``dense``: the embedding (unit vectors, dot product = cosine, as in FAISS);
* ``bm25``: the chunk's Arabic-aware BM25 terms (the tokenizer is handed in by the caller,
  ``rag.lexical.tokenize``) as a sparse vector whose values are BM25's term-frequency part,
  ``tf / (tf + k1·(1 − b + b·dl/avgdl))``; the collection applies the IDF modifier, so a query
  with a 1 per term scores exactly the BM25 that ``bm25s`` computes in memory for FAISS;
* payload: the chunk record (``index.types.Chunk``).

The manifest (model, fingerprint, chunking, documents, avgdl) is one point of a companion
collection ``<collection>__manifest``, written last. Writes go in batches, new points first and
stale ones deleted after, so a crash at any moment leaves a searchable collection and the next
run completes it. Local mode (``QdrantClient(path=…)``) locks its folder: one process at a time;
a server (``qdrant_url``) serves any number.

Example::

    >>> report = sync_collection(cfg, manifest, chunks, embed, tokenize)
    >>> QdrantStore.open(cfg).search(query_vectors, k=5)
"""
from __future__ import annotations

import atexit
import hashlib
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from index.errors import IndexBusyError, IndexMissingError
from index.store import Manifest, check_compatible
from index.stores.base import StoreConfig
from index.types import Chunk

log = logging.getLogger(__name__)

DENSE, SPARSE = "dense", "bm25"
# BM25's constants: bm25s's defaults (method "lucene"), which rag.lexical.BM25Index uses for FAISS.
BM25_K1, BM25_B = 1.5, 0.75
EMPTY_TERM = "∅"  # rag.lexical.BM25Index gives a chunk with no terms this one, so N and dl agree
# The sparse values depend on the corpus's average chunk length; they are rewritten (no embedding)
# when a build moves it by more than this share (scores then differ from bm25s's by < 1%).
AVGDL_DRIFT = 0.01
WRITE_BATCH = 128  # points per upsert
SCROLL_BATCH = 1024
MANIFEST_ID = 1
ID_NAMESPACE = uuid.UUID("6f1c2a52-33b5-4b8a-9a59-0d3c3f0b7d11")

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def client_for(cfg: StoreConfig):
    """One client per server URL or local folder per process (local mode locks its folder, so a
    second client on it in the same process would fail)."""
    from qdrant_client import QdrantClient

    key = ("url", cfg.qdrant_url) if cfg.qdrant_url else ("path", str(cfg.qdrant_path))
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            if cfg.qdrant_url:
                client = QdrantClient(url=cfg.qdrant_url, api_key=cfg.qdrant_api_key or None)
            else:
                cfg.qdrant_path.mkdir(parents=True, exist_ok=True)
                try:
                    # a server's request threads share it; reads are in memory, sqlite is touched by writes (one build at a time)
                    client = QdrantClient(path=str(cfg.qdrant_path), force_disable_check_same_thread=True)
                except RuntimeError as exc:  # local mode locks its folder: one process at a time
                    if "already accessed" not in str(exc):
                        raise
                    raise IndexBusyError(f"the local Qdrant folder {cfg.qdrant_path} is open in another process (local mode serves one "
                                         "process); for several processes (replicas, a rebuild beside a server) set qdrant_url to a "
                                         "Qdrant server (docs/deploy.md)") from None
            if not _clients:
                atexit.register(close_clients)  # closed before the interpreter tears modules down
            _clients[key] = client
        return client


def close_clients() -> None:
    """Close every client this process opened (releases local-mode folder locks)."""
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def term_index(term: str) -> int:
    """The sparse-vector dimension of a term: 32 bits of its hash (collisions at 50k terms: ~0.3 in a million pairs)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "little")


def document_sparse(terms: Sequence[str], avgdl: float):
    """A chunk's BM25 sparse vector: the term-frequency part per term (IDF is applied by the collection)."""
    from qdrant_client import models

    terms = list(terms) or [EMPTY_TERM]
    norm = BM25_K1 * (1 - BM25_B + BM25_B * len(terms) / avgdl)
    counts: dict[int, float] = {}
    for term, tf in Counter(terms).items():
        i = term_index(term)
        counts[i] = counts.get(i, 0.0) + tf / (tf + norm)
    return models.SparseVector(indices=list(counts), values=list(counts.values()))


def query_sparse(terms: Sequence[str]):
    """A query's sparse vector: each term counts as often as it occurs (as bm25s sums repeated ids)."""
    from qdrant_client import models

    counts = Counter(term_index(t) for t in terms)
    return models.SparseVector(indices=list(counts), values=[float(v) for v in counts.values()])


def point_id(chunk: Chunk, occurrence: int = 0) -> str:
    """A stable id from the chunk's identity: its document, its text and which repeat of that text it is."""
    return str(uuid.uuid5(ID_NAMESPACE, f"{chunk.doc_id}\x00{chunk.hash}\x00{occurrence}"))


def point_ids(chunks: Sequence[Chunk]) -> list[str]:
    seen: Counter[tuple[str, str]] = Counter()
    out = []
    for c in chunks:
        out.append(point_id(c, seen[(c.doc_id, c.hash)]))
        seen[(c.doc_id, c.hash)] += 1
    return out


def _manifest_collection(cfg: StoreConfig) -> str:
    return f"{cfg.qdrant_collection}__manifest"


def read_manifest(cfg: StoreConfig) -> tuple[Manifest, dict[str, Any]] | None:
    """``(manifest, extra)`` of the collection (extra: avgdl, version), or None when there is none."""
    client = client_for(cfg)
    name = _manifest_collection(cfg)
    if not client.collection_exists(name) or not client.collection_exists(cfg.qdrant_collection):
        return None
    records = client.retrieve(name, [MANIFEST_ID], with_payload=True)
    if not records:
        return None
    payload = dict(records[0].payload or {})
    return Manifest(**payload["manifest"]), {k: v for k, v in payload.items() if k != "manifest"}


STAMP_TTL_S = 1.0  # a server's manifest is read at most once a second per process (every request asks)
_stamps: dict[StoreConfig, tuple[float, Any]] = {}


def manifest_stamp(cfg: StoreConfig) -> Any:
    """Changes when a build rewrites the manifest (its version): servers reload the store then."""
    now = time.monotonic()
    cached = _stamps.get(cfg)
    if cached is not None and now - cached[0] < STAMP_TTL_S:
        return cached[1]
    try:
        found = read_manifest(cfg)
    except Exception as exc:  # an unreachable server: keep serving what is loaded
        log.warning("cannot read the Qdrant manifest at %s: %s", cfg.where, exc)
        return cached[1] if cached else None
    stamp = None if found is None else (found[1].get("version"), found[0].created)
    _stamps[cfg] = (now, stamp)
    return stamp


def _write_manifest(cfg: StoreConfig, manifest: Manifest, avgdl: float, version: int) -> None:
    from qdrant_client import models

    client = client_for(cfg)
    name = _manifest_collection(cfg)
    if not client.collection_exists(name):
        client.create_collection(name, vectors_config={})
    payload = {"manifest": dict(manifest.__dict__), "avgdl": avgdl, "version": version}
    client.upsert(name, points=[models.PointStruct(id=MANIFEST_ID, vector={}, payload=payload)], wait=True)
    _stamps.pop(cfg, None)  # this process sees its own build at once


class QdrantStore:
    """A Qdrant collection opened for searching (see the module docstring)."""

    lexical = True

    def __init__(self, cfg: StoreConfig, manifest: Manifest, extra: dict[str, Any]) -> None:
        self.cfg, self._manifest, self.extra = cfg, manifest, extra
        self.client = client_for(cfg)
        self.name = cfg.qdrant_collection
        self.chunks: list[Chunk] = []  # not held in memory: fetched by key (kept for code that counts them)

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    @property
    def path(self) -> str:
        return self.cfg.where

    @classmethod
    def open(cls, cfg: StoreConfig, expect: dict[str, Any] | None = None) -> "QdrantStore":
        found = read_manifest(cfg)
        if found is None:
            raise IndexMissingError(f"no Qdrant collection {cfg.qdrant_collection!r} at {cfg.qdrant_url or cfg.qdrant_path}; "
                                    "build one with: rag index [FOLDER] (with store = \"qdrant\")")
        manifest, extra = found
        if expect:
            check_compatible(manifest, expect, cfg.where)  # type: ignore[arg-type]
        return cls(cfg, manifest, extra)

    def count(self) -> int:
        return int(self.client.count(self.name, exact=True).count)

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """For each query vector, up to ``k`` ``(point id, cosine)`` pairs, best first."""
        from qdrant_client import models

        if not len(queries):
            return []
        requests = [models.QueryRequest(query=np.asarray(q, dtype=np.float32).tolist(), using=DENSE, limit=k) for q in queries]
        return [[(str(p.id), float(p.score)) for p in r.points] for r in self.client.query_batch_points(self.name, requests)]

    def search_lexical(self, terms: Sequence[Sequence[str]], k: int, only: Sequence[Sequence[str]] | None = None) -> list[list[tuple[str, float]]]:
        """For each term list, up to ``k`` ``(point id, BM25)`` pairs with a positive score, best first;
        ``only[i]``: score just these points for query ``i`` (``k`` ignored)."""
        from qdrant_client import models

        requests, where = [], []
        for i, t in enumerate(terms):
            ids = list(only[i]) if only is not None else None
            if not t or ids == []:
                continue
            flt = models.Filter(must=[models.HasIdCondition(has_id=ids)]) if ids is not None else None
            where.append(i)
            requests.append(models.QueryRequest(query=query_sparse(t), using=SPARSE, limit=len(ids) if ids is not None else k, filter=flt))
        out: list[list[tuple[str, float]]] = [[] for _ in terms]
        if requests:
            for i, r in zip(where, self.client.query_batch_points(self.name, requests)):
                out[i] = [(str(p.id), float(p.score)) for p in r.points if p.score > 0]
        return out

    def all_chunks(self) -> list[Chunk]:
        """Every chunk in the collection, in (document, ordinal) order (a full scroll)."""
        fields, out, offset = Chunk.__dataclass_fields__, [], None
        while True:
            records, offset = self.client.scroll(self.name, limit=SCROLL_BATCH, offset=offset, with_payload=True, with_vectors=False)
            out += [Chunk(**{f: r.payload[f] for f in fields}) for r in records]
            if offset is None:
                return sorted(out, key=lambda c: (c.doc_id, c.ordinal))

    def fetch(self, keys: Sequence[str]) -> dict[str, tuple[Chunk, np.ndarray]]:
        """Chunk and dense vector of each point id (missing ids are left out)."""
        if not keys:
            return {}
        records = self.client.retrieve(self.name, list(keys), with_payload=True, with_vectors=[DENSE])
        fields = Chunk.__dataclass_fields__
        return {str(r.id): (Chunk(**{f: r.payload[f] for f in fields}), np.asarray(r.vector[DENSE], dtype=np.float32)) for r in records}


@dataclass
class SyncReport:
    """What one ``sync_collection`` did."""

    embedded: int = 0
    reused: int = 0
    payload_updated: int = 0
    sparse_rewritten: int = 0
    deleted: int = 0
    written: bool = False


def _create(client, cfg: StoreConfig, dim: int) -> None:
    from qdrant_client import models

    client.create_collection(
        cfg.qdrant_collection,
        vectors_config={DENSE: models.VectorParams(size=dim, distance=models.Distance.DOT)},
        sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
    )


def _scroll_payloads(client, name: str) -> dict[str, dict[str, Any]]:
    fields = ["doc_id", "title", "source", "ordinal", "start", "end", "hash"]
    out, offset = {}, None
    while True:
        records, offset = client.scroll(name, limit=SCROLL_BATCH, offset=offset, with_payload=fields, with_vectors=False)
        out.update({str(r.id): dict(r.payload or {}) for r in records})
        if offset is None:
            return out


def sync_collection(
    cfg: StoreConfig,
    manifest: Manifest,
    chunks: Sequence[Chunk],
    embed: Callable[[list[Chunk]], np.ndarray],
    terms: Callable[[str], list[str]],
    rebuild: bool = False,
    progress: Callable[[int], None] | None = None,
    embed_block: int = 512,
) -> SyncReport:
    """Make the collection hold exactly ``chunks``, embedding only those it lacks.

    ``embed(chunks)`` returns their unit vectors; ``terms(text)`` the BM25 terms of a text (the
    same tokenizer retrieval uses for questions). Unchanged corpus: nothing embedded, nothing
    written. ``progress(n)`` is told of each batch of chunks embedded and written.
    """
    from qdrant_client import models

    client = client_for(cfg)
    report = SyncReport()
    name = cfg.qdrant_collection
    previous = None if rebuild else read_manifest(cfg)
    if previous is not None:
        old, _ = previous
        if (old.embedding_model, old.model_fingerprint, old.dim) != (manifest.embedding_model, manifest.model_fingerprint, manifest.dim):
            log.info("the collection %s was built with another model; re-embedding everything", name)
            previous = None
    version = int(previous[1].get("version", 0)) if previous else 0
    if previous is None:
        for n in (name, _manifest_collection(cfg)):
            if client.collection_exists(n):
                client.delete_collection(n)
        _create(client, cfg, manifest.dim)

    ids = point_ids(chunks)
    chunk_terms = [terms(f"{c.title}\n{c.text}") or [EMPTY_TERM] for c in chunks]
    avgdl = float(np.mean([len(t) for t in chunk_terms])) if chunks else 1.0
    old_avgdl = float(previous[1].get("avgdl", 0.0)) if previous else 0.0
    if previous is None:  # a first (or fresh) build: the empty collection is searchable from the start
        _write_manifest(cfg, manifest, avgdl, version + 1)
    existing = _scroll_payloads(client, name) if previous is not None else {}

    # a retitled chunk (same text, the article renamed): its BM25 terms hold the title, and with chunk_titles
    # its vector too, so it is embedded again; without, its sparse vector is rewritten below
    retitled = {i for i, pid in enumerate(ids) if pid in existing and existing[pid].get("title") != chunks[i].title}
    titled = bool(getattr(manifest, "chunk_titles", False))
    todo = [i for i, pid in enumerate(ids) if pid not in existing or (titled and i in retitled)]
    report.embedded, report.reused = len(todo), len(chunks) - len(todo)
    for start in range(0, len(todo), embed_block):
        block = todo[start:start + embed_block]
        vectors = embed([chunks[i] for i in block])
        for b in range(0, len(block), WRITE_BATCH):
            batch = block[b:b + WRITE_BATCH]
            points = [models.PointStruct(id=ids[i], payload=chunks[i].to_dict(),
                                         vector={DENSE: v.astype(np.float32).tolist(), SPARSE: document_sparse(chunk_terms[i], avgdl)})
                      for i, v in zip(batch, vectors[b:b + WRITE_BATCH])]
            client.upsert(name, points=points, wait=True)
            if progress:
                progress(len(batch))

    wanted = set(ids)
    embedded = set(todo)
    keep = [i for i, pid in enumerate(ids) if pid in existing and i not in embedded]
    for i in keep:  # same text, moved (offsets, ordinal) or retitled: payload only
        record = chunks[i].to_dict()
        if any(existing[ids[i]].get(f) != record[f] for f in existing[ids[i]]):
            client.set_payload(name, payload=record, points=[ids[i]], wait=True)
            report.payload_updated += 1
    if keep and old_avgdl and abs(avgdl / old_avgdl - 1) > AVGDL_DRIFT:
        rewrite = keep  # every kept chunk's BM25 values, with the new average length
        report.sparse_rewritten = len(keep)
    else:
        avgdl = old_avgdl or avgdl  # the values written so far were computed with it
        rewrite = [i for i in keep if i in retitled]  # their terms changed with the title
    for start in range(0, len(rewrite), WRITE_BATCH):
        batch = rewrite[start:start + WRITE_BATCH]
        client.update_vectors(name, points=[models.PointVectors(id=ids[i], vector={SPARSE: document_sparse(chunk_terms[i], avgdl)}) for i in batch])
    stale = [pid for pid in existing if pid not in wanted]
    for start in range(0, len(stale), WRITE_BATCH):
        client.delete(name, points_selector=models.PointIdsList(points=stale[start:start + WRITE_BATCH]), wait=True)
    report.deleted = len(stale)

    same_docs = previous is not None and previous[0].documents == manifest.documents and previous[0].chunking == manifest.chunking
    changed = report.embedded or report.payload_updated or report.sparse_rewritten or report.deleted or not same_docs or previous is None
    if changed:
        manifest.created = time.time()
        _write_manifest(cfg, manifest, avgdl, version + 1)
        report.written = True
    return report
