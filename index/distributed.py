"""Indexing a large corpus on a Ray cluster: clean and chunk in parallel, embed with Ray Data.

``rag index DIR --workers N`` (a local Ray cluster of N workers) or ``--ray ADDRESS`` (join an
existing cluster) hands ``index.build.build_index`` a ``RayEmbedder``: it has the name and
fingerprint of the configured model (so manifests and incremental reuse are unchanged) and

* ``clean_and_chunk``: the files are read here, then cleaned and chunked by ``map_batches``
  over the workers (``index.build.documents_of`` + the same chunker), results put back in order;
* ``embed_stream``: ``map_batches`` over ``_EmbedWorker``, a sentence-transformers model loaded
  once per worker (``num_gpus=1`` per worker when the cluster has GPUs), vectors streamed back
  as workers finish blocks (progress: chunks done, rate, ETA) and put back in order.

The store is written by the caller in batches, as in a single-process build. Ray is the
optional ``cluster`` extra, imported only here, only when asked for.

Example::

    >>> build_index(Path("seeds"), settings, workers=2)      # starts a local Ray cluster
    >>> build_index(Path("archive"), settings, ray_address="ray://head:10001")
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import ConfigError
from index.progress import Progress
from index.settings import IndexSettings
from index.types import Chunk, Document

log = logging.getLogger(__name__)

EMBED_ROWS_PER_BATCH = 64  # texts per map_batches call on a worker (the model batches them again by embed_batch_size)
CLEAN_ROWS_PER_BATCH = 8  # files per cleaning/chunking call
BLOCK = 8192  # chunks per Ray Data embedding job when a store writes as it goes (Qdrant)


def _ray(workers: int, address: str | None):
    """``ray``, connected: to ``address``, or to a local cluster of ``workers`` CPUs started now."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--workers/--ray need Ray: pip install 'arabic-news-rag[cluster]' (ray[data])") from None
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        log.info("Ray cluster: %s", ray.cluster_resources())
    return ray


class _CleanChunkWorker:
    """Cleans and chunks files on a worker, with the chunker the driver would have used."""

    def __init__(self, root: str, settings: dict[str, Any], make_chunker: Callable, documents_of: Callable) -> None:
        from index.embedder import SentenceTransformerEmbedder

        self.root, self.documents_of = Path(root), documents_of
        s = IndexSettings(**settings)
        self.chunker = make_chunker(s, SentenceTransformerEmbedder.from_settings(s, show_progress=False))  # the tokenizer only, no model

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        import json

        from index.loader import RawFile

        out = []
        for i, rel, text, sha in zip(batch["i"], batch["rel"], batch["text"], batch["sha"]):
            f = RawFile(str(rel), self.root / str(rel), str(text), str(sha))
            docs, problem = self.documents_of(f, self.root)
            chunks = [c.to_dict() for d in docs for c in self.chunker.chunk(d)]
            out.append(json.dumps({"docs": [d.__dict__ for d in docs], "chunks": chunks, "problem": problem}, ensure_ascii=False))
        return {"i": list(batch["i"]), "result": out}


class _EmbedWorker:
    """One embedding model per worker, loaded once."""

    def __init__(self, name: str, location: str, batch_size: int, dtype: str) -> None:
        from index.embedder import SentenceTransformerEmbedder

        threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        if threads:
            import torch

            torch.set_num_threads(threads)
        self.embedder = SentenceTransformerEmbedder(name, location, batch_size, show_progress=False, dtype=dtype)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.embed([str(t) for t in batch["text"]], "document")
        return {"i": batch["i"], "vector": vectors}


class RayEmbedder:
    """The configured embedder's identity, with cleaning, chunking and embedding run on Ray (see the module)."""

    block = BLOCK

    def __init__(self, local, settings: IndexSettings, workers: int = 2, address: str | None = None) -> None:
        if workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        self.local, self.settings, self.workers, self.address = local, settings, workers, address
        self.name, self.fingerprint = local.name, local.fingerprint

    # the chunker asks the embedder for its tokenizer; the driver has it without loading the model
    def count_tokens(self, text: str) -> int:
        return self.local.count_tokens(text)

    @property
    def max_tokens(self) -> int:
        return self.local.max_tokens

    def _settings_dict(self) -> dict[str, Any]:
        import dataclasses

        return {f.name: getattr(self.settings, f.name) for f in dataclasses.fields(IndexSettings)}

    def clean_and_chunk(self, root: Path, make_chunker: Callable, documents_of: Callable) -> tuple[list[Document], list, list[Chunk]]:
        """Documents, skipped files and chunks of ``root``, as ``index.build.load_documents`` + the chunker give them
        (the two functions come from ``index.build``, which calls this)."""
        import json

        from index.loader import Skipped, read_corpus

        ray = _ray(self.workers, self.address)
        files, skipped = read_corpus(root)
        if not files:
            return [], skipped, []
        rows = [{"i": n, "rel": f.rel_path, "text": f.text, "sha": f.sha256} for n, f in enumerate(files)]
        ds = ray.data.from_items(rows).map_batches(
            _CleanChunkWorker, fn_constructor_args=(str(Path(root)), self._settings_dict(), make_chunker, documents_of),
            batch_size=CLEAN_ROWS_PER_BATCH, concurrency=self.workers, num_cpus=1)
        progress = Progress(len(files), "cleaned and chunked", "files")
        results = []
        for batch in ds.iter_batches(batch_size=None, batch_format="pandas"):  # as the workers finish them
            results += batch.to_dict("records")
            progress(len(batch))
        results.sort(key=lambda r: int(r["i"]))
        docs, chunks = [], []
        for r in results:
            data = json.loads(r["result"])
            if data["problem"]:
                skipped.append(Skipped(files[int(r["i"])].rel_path, data["problem"]))
                continue
            docs += [Document(**{**d, "removed": tuple(d["removed"])}) for d in data["docs"]]
            chunks += [Chunk.from_dict(c) for c in data["chunks"]]
        log.info("cleaned and chunked %d files on Ray: %d documents, %d chunks", len(files), len(docs), len(chunks))
        return docs, skipped, chunks

    def embed_stream(self, texts: Sequence[str], progress: Callable[[int], None] | None) -> np.ndarray:
        """Unit vectors of ``texts`` (documents), in order, computed by the Ray workers."""
        ray = _ray(self.workers, self.address)
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        ds = ray.data.from_items([{"i": i, "text": t} for i, t in enumerate(texts)]).map_batches(
            _EmbedWorker,
            fn_constructor_args=(self.name, str(self.local.location), self.settings.embed_batch_size, self.settings.embed_dtype),
            batch_size=EMBED_ROWS_PER_BATCH, concurrency=self.workers, num_gpus=gpus, num_cpus=0 if gpus else 1)
        out: np.ndarray | None = None
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            vectors = np.asarray(batch["vector"], dtype=np.float32)
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[np.asarray(batch["i"], dtype=np.int64)] = vectors
            if progress:
                progress(len(vectors))
        return out

    def embed(self, texts: Sequence[str], kind: str) -> np.ndarray:
        if kind != "document":  # queries are few: embedded here
            return self.local.embed(texts, kind)
        return self.embed_stream(texts, None)
