"""The managed corpus: the articles a user added through the UI or the API, kept under the data home.

Files live in ``HOME/corpus/`` (kept, so a rebuild or another store can read them again), with a
small registry beside them (``.registry.json``: id, original file name, title, source, date added,
sha256). The index is always built from this folder through the normal build path
(``index.build.build_index``), so only new or changed text is embedded and the new index is
swapped in atomically: questions keep being answered from the old one until then.

Adding or deleting stores or removes the file at once (under a lock, so two uploads never lose
each other) and queues one re-index job (``index.jobs``); uploads arriving while a build runs join
the one queued build. A file the loader cannot use is rejected with the loader's own reason.

The first time a corpus is opened for an index that was built from another folder (``rag index
seeds/``), that folder's articles are copied in, with their ids and sources, so managing the
corpus never drops what was indexed before.

Example::

    >>> corpus = open_corpus(settings, embedder)
    >>> added, rejected = corpus.add_files([("report.txt", data)], source="Reuters")
    >>> job = corpus.reindex()
    >>> corpus.jobs.wait(job.id).state
    'done'
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from index.clean import clean_page
from index.embedder import Embedder
from index.errors import CorpusError, DocumentNotFoundError, DocumentRejectedError, IndexBusyError, RagError
from index.jobs import Job, JobQueue
from index.loader import SUFFIXES, printable, read_corpus, read_file
from index.settings import IndexSettings
from index.store import read_manifest

log = logging.getLogger(__name__)

PROGRESS_BATCH = 16  # chunks embedded between two progress reports
BUSY_WAIT_S = 120.0  # how long a queued build waits for another process's build (rag index) to finish
MAX_TITLE_CHARS = 300
MAX_SOURCE_CHARS = 500
REGISTRY = ".registry.json"


@dataclass(frozen=True)
class Rejected:
    """A file that was not added, and the reason (the loader's words)."""

    filename: str
    reason: str


@dataclass
class CorpusDocument:
    """One file of the managed corpus; ``chunks``/``indexed``/``articles`` come from the live index."""

    id: str
    path: str  # relative to the corpus folder: the index's document id (``path#2``… for embedded articles)
    filename: str
    title: str
    source: str
    added: str  # ISO 8601, UTC
    sha256: str
    bytes: int
    origin: str = "upload"  # "upload" (a file), "text" (JSON title/text), "adopted" (the folder indexed before), "folder" (found there)
    chunks: int = 0
    indexed: bool = False
    articles: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """What the registry keeps (the index-derived fields are recomputed on every read)."""
        return {k: v for k, v in asdict(self).items() if k not in ("chunks", "indexed", "articles")}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _safe_name(filename: str) -> str:
    """A file name that cannot leave the folder or hide: last path part, word characters, dots, dashes."""
    name = Path(str(filename).replace("\\", "/")).name
    stem, suffix = os.path.splitext(name)
    stem = re.sub(r"[^\w\-]+", "_", stem).strip("._") or "article"
    return f"{stem[:80]}{suffix.lower()}"


class _ProgressEmbedder:
    """Wraps the build's embedder: embeds in batches and reports ``done/total`` to the job."""

    def __init__(self, inner: Embedder, job: Job | None) -> None:
        self.inner, self.job = inner, job
        self.name, self.fingerprint = inner.name, inner.fingerprint

    def __getattr__(self, name: str) -> Any:  # count_tokens, max_tokens, dim… of the real model
        return getattr(self.inner, name)

    def embed(self, texts: Sequence[str], kind: str, titles: Sequence[str] | None = None) -> np.ndarray:
        def inner(a: int, b: int) -> np.ndarray:  # titles only when given: the inner embedder may not take them
            part = texts[a:b]
            return self.inner.embed(part, kind) if titles is None else self.inner.embed(part, kind, titles=titles[a:b])

        if self.job is None or len(texts) <= PROGRESS_BATCH:
            if self.job is not None:
                self.job.step(0, len(texts), f"embedding {len(texts)} new passage(s)")
            out = inner(0, len(texts))
            if self.job is not None:
                self.job.step(len(texts), len(texts))
            return out
        parts = []
        for start in range(0, len(texts), PROGRESS_BATCH):
            self.job.step(start, len(texts), f"embedding new passages: {start} of {len(texts)}")
            parts.append(inner(start, start + PROGRESS_BATCH))
        self.job.step(len(texts), len(texts), "writing the new index")
        return np.concatenate(parts)


class Corpus:
    """The managed articles of one index (see the module doc). Use ``open_corpus`` to share one per index."""

    def __init__(self, settings: IndexSettings, embedder: Embedder | Callable[[], Embedder] | None = None,
                 max_upload_bytes: int | None = None) -> None:
        self.settings = settings
        self.folder = Path(settings.home) / "corpus"
        self.max_upload_bytes = max_upload_bytes or settings.max_upload_bytes
        self._embedder_source = embedder
        self._embedder: Embedder | None = None
        self._lock = threading.RLock()
        self.jobs = JobQueue(f"corpus-{settings.index_dir.name}")
        self._adopt()

    # ----- registry -------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, Any]]]:
        """The registry, read and written under the in-process lock and a file lock (another process, too)."""
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.folder / ".registry.lock", "w") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                records = self._read()
                before = json.dumps(records, sort_keys=True)
                yield records
                if json.dumps(records, sort_keys=True) != before:
                    self._write(records)

    def _read(self) -> dict[str, dict[str, Any]]:
        path = self.folder / REGISTRY
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return dict(data.get("documents", {}))
        except (OSError, ValueError, AttributeError) as exc:  # rebuilt from the files below (origin "folder")
            log.warning("corpus registry %s is unreadable (%s); rebuilding it from the files", path, exc)
            return {}

    def _write(self, records: dict[str, dict[str, Any]]) -> None:
        tmp = self.folder / f".registry.tmp-{os.getpid()}-{threading.get_ident()}"
        tmp.write_text(json.dumps({"documents": records}, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.folder / REGISTRY)

    def _sync(self, records: dict[str, dict[str, Any]]) -> None:
        """Register files found in the folder without a record; forget records whose file is gone."""
        on_disk = {p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*")
                   if p.is_file() and p.suffix.lower() in SUFFIXES and not any(part.startswith(".") for part in p.relative_to(self.folder).parts)}
        known = {r["path"] for r in records.values()}
        for gone in [i for i, r in records.items() if r["path"] not in on_disk]:
            log.warning("corpus file %s is gone; forgetting it", printable(records[gone]["path"]))
            del records[gone]
        for rel in sorted(on_disk - known):
            data = (self.folder / rel).read_bytes()
            doc = CorpusDocument(self._new_id(), rel, Path(rel).name, Path(rel).stem, "", _now(), hashlib.sha256(data).hexdigest(), len(data), "folder")
            records[doc.id] = doc.record()

    def _adopt(self) -> None:
        """First use: copy in the folder the index was built from, so its articles stay indexed and manageable."""
        with self._locked() as records:
            if (self.folder / REGISTRY).exists():
                self._sync(records)
                return
            try:
                manifest = read_manifest(self.settings.index_dir)
            except RagError:
                manifest = None
            root = Path(manifest.corpus_root) if manifest and manifest.corpus_root else None
            if manifest and root and root.is_dir() and root.resolve() != self.folder.resolve():
                files, _ = read_corpus(root)
                added = datetime.fromtimestamp(manifest.created, timezone.utc).isoformat(timespec="seconds")
                for f in files:
                    dest = self.folder / f.rel_path
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(f.path, dest)
                    entry = manifest.documents.get(f.rel_path, {})
                    doc = CorpusDocument(self._new_id(), f.rel_path, Path(f.rel_path).name, entry.get("title", ""), entry.get("source", ""),
                                         added, hashlib.sha256(dest.read_bytes()).hexdigest(), dest.stat().st_size, "adopted")
                    records[doc.id] = doc.record()
                log.info("corpus %s: adopted %d article(s) from %s", self.folder, len(files), root)
            self._sync(records)
            self._write(records)

    @staticmethod
    def _new_id() -> str:
        return f"doc-{uuid.uuid4().hex[:12]}"

    # ----- reading --------------------------------------------------------------------------
    def documents(self) -> list[CorpusDocument]:
        """Every document, newest first, with its chunk count from the index now being served."""
        with self._locked() as records:
            self._sync(records)
            docs = [CorpusDocument(**r) for r in records.values()]
        try:
            manifest = read_manifest(self.settings.index_dir)
        except RagError:
            manifest = None
        indexed = manifest.documents if manifest else {}
        for d in docs:
            d.articles = [k for k in indexed if k == d.path or k.startswith(d.path + "#")]
            d.indexed = d.path in indexed and indexed[d.path].get("sha256") == d.sha256
            d.chunks = sum(int(indexed[k].get("chunks", 0)) for k in d.articles)
            if d.path in indexed and indexed[d.path].get("title") and d.origin != "text":
                d.title = indexed[d.path]["title"]
        return sorted(docs, key=lambda d: (d.added, d.path), reverse=True)

    def get(self, doc_id: str) -> CorpusDocument:
        for d in self.documents():
            if d.id == doc_id:
                return d
        raise DocumentNotFoundError(f"no document {doc_id!r} in the corpus; GET /v1/documents lists them")

    # ----- changing -------------------------------------------------------------------------
    def check_file(self, filename: str, data: bytes) -> str:
        """Why ``data`` cannot be an article ("" when it can): type, size, the loader's and the cleaner's reasons."""
        if not str(filename).lower().endswith(SUFFIXES):
            return f"not an article file ({', '.join(SUFFIXES)})"
        if len(data) > self.max_upload_bytes:
            return f"larger than the upload limit of {self.max_upload_bytes:,} bytes (setting max_upload_bytes)"
        try:
            text = read_file(Path(_safe_name(filename)), data)
        except ValueError as exc:
            return str(exc)
        if not any(a.text.strip() for a in clean_page(text).articles):
            return "no article text after cleaning"
        return ""

    def add_files(self, files: Sequence[tuple[str, bytes]], source: str = "", origin: str = "upload",
                  titles: Sequence[str] | None = None) -> tuple[list[CorpusDocument], list[Rejected]]:
        """Store each usable file (not indexed yet: call ``reindex``); the others come back with reasons."""
        added: list[CorpusDocument] = []
        rejected: list[Rejected] = []
        source = str(source or "")[:MAX_SOURCE_CHARS]
        with self._locked() as records:
            self._sync(records)
            hashes = {r["sha256"]: r["id"] for r in records.values()}
            for i, (filename, data) in enumerate(files):
                reason = self.check_file(filename, data)
                digest = hashlib.sha256(data).hexdigest()
                if not reason and digest in hashes:
                    reason = f"the same file is already in the corpus (document {hashes[digest]})"
                if reason:
                    log.info("upload %s rejected: %s", printable(str(filename)), reason)
                    rejected.append(Rejected(printable(str(filename)), reason))
                    continue
                doc_id = self._new_id()
                rel = f"{doc_id[4:]}_{_safe_name(filename)}"
                tmp = self.folder / f".upload-{doc_id}"
                tmp.write_bytes(data)
                os.replace(tmp, self.folder / rel)  # whole files only: a build never reads half an upload
                title = (titles[i] if titles else "") or Path(_safe_name(filename)).stem
                doc = CorpusDocument(doc_id, rel, printable(Path(str(filename)).name), title[:MAX_TITLE_CHARS], source or printable(Path(str(filename)).name),
                                     _now(), digest, len(data), origin)
                records[doc.id] = doc.record()
                hashes[digest] = doc.id
                added.append(doc)
        return added, rejected

    def add_text(self, title: str, text: str, source: str = "") -> CorpusDocument:
        """Store one article given as title and text (the API's JSON form); ``DocumentRejectedError`` when unusable."""
        title = " ".join(str(title or "").split())[:MAX_TITLE_CHARS]
        body = str(text or "").strip()
        if not body:
            raise DocumentRejectedError("the article text is empty", [Rejected(title or "text", "empty text")])
        data = (f"{title}\n\n{body}\n" if title else f"{body}\n").encode("utf-8")
        name = (title[:60] or "article") + ".txt"
        added, rejected = self.add_files([(name, data)], source, "text", [title])
        if rejected:
            raise DocumentRejectedError(f"article refused: {rejected[0].reason}", rejected)
        return added[0]

    def delete(self, doc_id: str) -> CorpusDocument:
        """Remove a document's file and record (the index changes at the next ``reindex``)."""
        with self._locked() as records:
            self._sync(records)
            if doc_id not in records:
                raise DocumentNotFoundError(f"no document {doc_id!r} in the corpus; GET /v1/documents lists them")
            if len(records) == 1:
                raise CorpusError("cannot delete the last article: an index needs at least one; add another first")
            doc = CorpusDocument(**records.pop(doc_id))
            (self.folder / doc.path).unlink(missing_ok=True)
        return doc

    # ----- indexing -------------------------------------------------------------------------
    def embedder(self) -> Embedder:
        """The embedding model for builds: the one given (or made by the callable given), else loaded once."""
        if self._embedder is None:
            source = self._embedder_source
            if source is None:
                from index.embedder import embedder_from_settings

                self._embedder = embedder_from_settings(self.settings, show_progress=False)
            elif hasattr(source, "embed"):
                self._embedder = source  # type: ignore[assignment]
            else:
                self._embedder = source()  # type: ignore[operator]
        return self._embedder

    def reindex(self, documents: Sequence[str] = (), rebuild: bool = False) -> Job:
        """Queue a build of the index from the corpus folder; joins a build that has not started yet."""
        return self.jobs.submit("index", lambda job: self._build(job, rebuild), list(documents), key="rebuild" if rebuild else "index")

    def _build(self, job: Job, rebuild: bool) -> dict[str, Any]:
        from index.build import build_index

        job.step(0, 0, "reading the articles")
        embedder = _ProgressEmbedder(self.embedder(), job)
        deadline = time.monotonic() + BUSY_WAIT_S
        while True:
            try:
                report = build_index(self.folder, self.settings, embedder, rebuild=rebuild)
                break
            except IndexBusyError:  # `rag index` in another process: wait for it rather than lose this upload
                if time.monotonic() > deadline:
                    raise
                job.message = "waiting for another build of this index to finish"
                time.sleep(1.0)
        state = "written" if report.written else "already up to date"
        message = (f"indexed {report.documents} article(s), {report.chunks} passages (embedded {report.embedded}, "
                   f"reused {report.reused}) in {report.seconds:.1f} s; index {state}")
        log.info("corpus %s: %s", self.folder, message)
        return {"message": message, "documents": report.documents, "chunks": report.chunks, "embedded": report.embedded,
                "reused": report.reused, "removed": report.removed_documents, "written": report.written, "seconds": round(report.seconds, 3),
                "skipped": [{"file": s.rel_path, "reason": s.reason} for s in report.skipped]}


_corpora: dict[tuple[str, str], Corpus] = {}
_corpora_lock = threading.Lock()


def open_corpus(settings: IndexSettings, embedder: Embedder | Callable[[], Embedder] | None = None) -> Corpus:
    """The one ``Corpus`` of ``settings``' index in this process (shared by the API and the UI: one build queue per index)."""
    key = (str(Path(settings.home).resolve()), str(Path(settings.index_dir).resolve()))
    with _corpora_lock:
        corpus = _corpora.get(key)
        if corpus is None:
            corpus = _corpora[key] = Corpus(settings, embedder)
        elif corpus._embedder_source is None and embedder is not None:
            corpus._embedder_source = embedder
        return corpus
