"""Build or update an index from a folder of articles, incrementally.

Unchanged chunks keep their vectors (matched by content hash, same model), so
re-running on an unchanged corpus embeds nothing, a changed file re-embeds only the
chunks whose text changed, and a removed file's chunks disappear.

Example::

    >>> report = build_index(Path("seeds"), IndexSettings.load())
    >>> report.documents, report.chunks
    (5, 102)
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.chunking import Chunker
from index.clean import clean_page
from index.embedder import Embedder, SentenceTransformerEmbedder
from index.errors import CorpusError, IndexMismatchError
from index.loader import Skipped, read_corpus
from index.settings import IndexSettings
from index.store import FORMAT_VERSION, IndexStore, Manifest, build_lock, read_manifest, write_atomic
from index.types import Document

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What one ``build_index`` run did."""

    index_dir: Path
    documents: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    removed_documents: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    written: bool = False


def load_documents(root: Path) -> tuple[list[Document], list[Skipped]]:
    """Read and clean every article under ``root``; files with no text left are skipped.

    A page that embeds a second article (under "إقرأ أيضاً", with its own headline and body)
    gives one document per article: ``rel_path`` for its own, ``rel_path#2``… for the embedded
    ones, each titled by its own headline, all with the page's source. Removed lines that carry
    facts the kept text lacks are logged (INFO), never dropped silently.
    """
    files, skipped = read_corpus(root)
    docs = []
    for f in files:
        page = clean_page(f.text)
        if not any(a.text.strip() for a in page.articles):
            log.warning("skipped %s: no article text after cleaning", f.rel_path)
            skipped.append(Skipped(f.rel_path, "no article text after cleaning"))
            continue
        for r in page.removed:
            if r.numbers_or_dates or (r.facts and len(r.line.split()) >= 8):
                log.info("%s: removed (%s) %r; not in the kept text: %s", f.rel_path, r.rule, r.line, ", ".join(r.facts))
        source = f"{Path(root).resolve().name}/{f.rel_path}" if Path(root).is_dir() else f.rel_path
        removed = tuple(r.line for r in page.removed)
        for n, article in enumerate(page.articles):
            if not article.text.strip():
                continue
            doc_id = f.rel_path if n == 0 else f"{f.rel_path}#{n + 1}"
            docs.append(Document(doc_id, article.title or f.path.stem, source, article.text, f.sha256, removed if n == 0 else ()))
    return docs, skipped


def make_chunker(settings: IndexSettings, embedder: Embedder) -> Chunker:
    """The chunker for ``settings``, bounded by the embedder's own tokenizer when it has one."""
    model_tokens = getattr(embedder, "count_tokens", None)
    model_max = getattr(embedder, "max_tokens", None)
    return Chunker(settings.chunk_tokens, settings.chunk_overlap_sentences, model_tokens, model_max)


def build_index(
    root: Path,
    settings: IndexSettings,
    embedder: Embedder | None = None,
    rebuild: bool = False,
) -> BuildReport:
    """Index the articles under ``root`` into ``settings.index_dir`` (atomic, incremental)."""
    started = time.perf_counter()
    embedder = embedder or SentenceTransformerEmbedder.from_settings(settings)
    path = Path(settings.index_dir)
    report = BuildReport(path)
    with build_lock(path):
        docs, report.skipped = load_documents(Path(root))
        if not docs:
            raise CorpusError(f"no readable article under {root} ({len(report.skipped)} file(s) skipped); add .txt, .md or .html files")
        chunker = make_chunker(settings, embedder)
        chunks = [c for doc in docs for c in chunker.chunk(doc)]

        previous = None if rebuild else _previous(path, embedder, chunker)
        cache: dict[str, np.ndarray] = {}
        if previous is not None:
            cache = {c.hash: previous.vectors[i] for i, c in enumerate(previous.chunks)}
            report.removed_documents = sorted(set(previous.manifest.documents) - {d.id for d in docs})
        todo = [c for c in chunks if c.hash not in cache]
        unchanged = (previous is not None and not todo and not report.removed_documents
                     and [c.hash for c in previous.chunks] == [c.hash for c in chunks] and previous.manifest.index_kind == settings.index_kind)
        report.documents, report.chunks = len(docs), len(chunks)
        report.embedded, report.reused = len(todo), len(chunks) - len(todo)
        if unchanged:
            log.info("index at %s is up to date", path)
            report.seconds = time.perf_counter() - started
            return report

        if todo:
            log.info("embedding %d new or changed chunks (%d reused)", len(todo), report.reused)
            fresh = embedder.embed([c.text for c in todo], "document")
            cache.update({c.hash: v for c, v in zip(todo, fresh)})
        vectors = np.stack([cache[c.hash] for c in chunks]).astype(np.float32)
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            embedding_model=embedder.name,
            model_fingerprint=embedder.fingerprint,
            dim=int(vectors.shape[1]),
            index_kind=settings.index_kind,
            chunking=chunker.settings(),
            documents={d.id: {"title": d.title, "source": d.source, "sha256": d.content_hash, "chunks": sum(c.doc_id == d.id for c in chunks)} for d in docs},
            corpus_root=str(Path(root).resolve()),
        )
        write_atomic(path, manifest, chunks, vectors, settings.hnsw_m)
        report.written = True
    report.seconds = time.perf_counter() - started
    return report


def _previous(path: Path, embedder: Embedder, chunker: Chunker) -> IndexStore | None:
    """The existing index if its vectors can be reused (same model); else None (full re-embed)."""
    try:
        manifest = read_manifest(path)
    except IndexMismatchError as exc:  # damaged or another format: rebuilt from scratch, never "up to date"
        log.warning("previous index at %s is unusable (%s); re-embedding everything", path, str(exc).split("; rebuild")[0])
        return None
    if manifest is None or manifest.model_fingerprint != embedder.fingerprint or manifest.embedding_model != embedder.name:
        return None
    try:
        return IndexStore.load(path)
    except Exception as exc:  # a damaged previous index only costs a full re-embed
        log.warning("previous index at %s is unusable (%s); re-embedding everything", path, str(exc).split("; rebuild")[0])
        return None
