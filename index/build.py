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
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.chunking import Chunker
from index.clean import clean_page
from index.embedder import Embedder, accepts_titles, embedder_from_settings
from index.errors import ConfigError, CorpusError, IndexMismatchError
from index.loader import RawFile, Skipped, read_corpus
from index.progress import Progress
from index.settings import IndexSettings
from index.store import FORMAT_VERSION, IndexStore, Manifest, build_lock, read_manifest, write_atomic
from index.stores import StoreConfig, lexical_terms, store_config
from index.types import Chunk, Document, sha256_text

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What one ``build_index`` run did."""

    index_dir: Path | str  # the FAISS folder, or where the Qdrant collection is
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
        found, problem = documents_of(f, Path(root))
        if problem:
            skipped.append(Skipped(f.rel_path, problem))
        docs += found
    return docs, skipped


def documents_of(f: RawFile, root: Path) -> tuple[list[Document], str]:
    """The documents of one read file, or ``([], why)`` when cleaning leaves no article text."""
    page = clean_page(f.text)
    if not any(a.text.strip() for a in page.articles):
        log.warning("skipped %s: no article text after cleaning", f.rel_path)
        return [], "no article text after cleaning"
    for r in page.removed:
        if r.numbers_or_dates or (r.facts and len(r.line.split()) >= 8):
            log.info("%s: removed (%s) %r; not in the kept text: %s", f.rel_path, r.rule, r.line, ", ".join(r.facts))
    source = f"{Path(root).resolve().name}/{f.rel_path}" if Path(root).is_dir() else f.rel_path
    removed = tuple(r.line for r in page.removed)
    docs = []
    for n, article in enumerate(page.articles):
        if not article.text.strip():
            continue
        doc_id = f.rel_path if n == 0 else f"{f.rel_path}#{n + 1}"
        docs.append(Document(doc_id, article.title or f.path.stem, source, article.text, f.sha256, removed if n == 0 else ()))
    return docs, ""


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
    terms: Callable[[str], list[str]] | None = None,
    workers: int = 1,
    ray_address: str | None = None,
    documents: list[Document] | None = None,
) -> BuildReport:
    """Index the articles under ``root`` into the configured store (``store``: FAISS folder or Qdrant), incrementally.

    ``terms``: the lexical tokenizer (``rag.lexical.tokenize``); a Qdrant store needs it for its
    BM25 sparse vectors (FAISS keeps BM25 in memory and ignores it). ``workers`` > 1 or a
    ``ray_address``: clean, chunk and embed with Ray Data (``index.distributed``, the ``cluster`` extra).
    ``documents``: index these, already cleaned, instead of reading ``root``, each as one chunk
    holding its text exactly (a benchmark's passages; chunking settings do not apply).
    """
    started = time.perf_counter()
    cfg = store_config(settings)
    parallel = workers > 1 or bool(ray_address)
    embedder = embedder or embedder_from_settings(settings)
    if parallel:
        from index.distributed import RayEmbedder

        embedder = RayEmbedder(embedder, settings, workers, ray_address)
    titles = settings.chunk_titles
    if titles and (not accepts_titles(embedder) or getattr(embedder, "embed_stream", None) is not None):
        raise ConfigError(f"chunk_titles needs an embedder that takes titles; {type(embedder).__name__} does not "
                          "(Ray builds and some wrappers do not yet): set chunk_titles = false (RAG_CHUNK_TITLES=0)")
    if cfg.kind == "qdrant":
        return _build_qdrant(root, settings, cfg, embedder, rebuild, terms, started, documents)
    path = Path(settings.index_dir)
    report = BuildReport(path)
    with build_lock(path):
        docs, report.skipped, chunks, chunker = documents_and_chunks(root, settings, embedder, documents)
        previous = None if rebuild else _previous(path, embedder, chunker, titles)
        cache: dict[str | tuple[str, str], np.ndarray] = {}
        if previous is not None:
            cache = {vector_key(c, titles): previous.vectors[i] for i, c in enumerate(previous.chunks)}
            report.removed_documents = sorted(set(previous.manifest.documents) - {d.id for d in docs})
        todo = [c for c in chunks if vector_key(c, titles) not in cache]
        unchanged = (previous is not None and not todo and not report.removed_documents
                     # the title too: a renamed article keeps its vectors (untitled) but not its old headline
                     and [(c.hash, c.title) for c in previous.chunks] == [(c.hash, c.title) for c in chunks]
                     and previous.manifest.index_kind == settings.index_kind)
        report.documents, report.chunks = len(docs), len(chunks)
        report.embedded, report.reused = len(todo), len(chunks) - len(todo)
        if unchanged:
            log.info("index at %s is up to date", path)
            report.seconds = time.perf_counter() - started
            return report

        if todo:
            log.info("embedding %d new or changed chunks (%d reused)%s", len(todo), report.reused, ", with their titles" if titles else "")
            fresh = embed_documents(embedder, todo, titles)
            cache.update({vector_key(c, titles): v for c, v in zip(todo, fresh)})
        vectors = np.stack([cache[vector_key(c, titles)] for c in chunks]).astype(np.float32)
        manifest = _manifest(root, settings, docs, chunks, embedder, int(vectors.shape[1]), chunker)
        write_atomic(path, manifest, chunks, vectors, settings.hnsw_m)
        report.written = True
    report.seconds = time.perf_counter() - started
    return report


def documents_and_chunks(root: Path, settings: IndexSettings, embedder: Embedder,
                         documents: list[Document] | None = None) -> tuple[list[Document], list[Skipped], list[Chunk], Chunker]:
    """Read, clean and chunk the corpus (with Ray when ``embedder`` is a ``RayEmbedder``, in order either way);
    ``documents``: chunk these instead of reading ``root``."""
    chunker = make_chunker(settings, embedder)
    parallel = getattr(embedder, "clean_and_chunk", None)
    if documents is not None:
        docs, skipped = list(documents), []
        chunks = [Chunk(d.id, d.title, d.source, 0, 0, len(d.text), d.text, sha256_text(d.text)) for d in docs]
    elif parallel is not None:
        docs, skipped, chunks = parallel(Path(root), make_chunker, documents_of)
    else:
        docs, skipped = load_documents(Path(root))
        chunks = [c for doc in docs for c in chunker.chunk(doc)]
    if not docs:
        raise CorpusError(f"no readable article under {root} ({len(skipped)} file(s) skipped); add .txt, .md or .html files")
    return docs, skipped, chunks, chunker


EMBED_BLOCK = 512  # chunks per embedding call, so progress (done, rate, ETA) is logged during long builds


def vector_key(chunk: Chunk, titles: bool) -> str | tuple[str, str]:
    """What a chunk's vector depends on: its text (its hash), and its title when chunks are embedded with titles."""
    return (chunk.hash, chunk.title) if titles else chunk.hash


def _embed_chunks(embedder: Embedder, chunks: list[Chunk], titles: bool) -> np.ndarray:
    texts = [c.text for c in chunks]
    if titles:  # each chunk with its document's title in the prompt (index.embedder.titled_prompt)
        return embedder.embed(texts, "document", titles=[c.title for c in chunks])  # type: ignore[call-arg]
    return embedder.embed(texts, "document")


def embed_documents(embedder: Embedder, chunks: list[Chunk], titles: bool = False) -> np.ndarray:
    """The unit vectors of ``chunks``, in order, with progress logged for long runs; ``titles``: each
    embedded with its title (setting ``chunk_titles``; the embedder must take ``titles``)."""
    stream = getattr(embedder, "embed_stream", None)
    progress = Progress(len(chunks), "embedded", log_done=len(chunks) > EMBED_BLOCK)
    if stream is not None and not titles:  # Ray: blocks arrive as workers finish them
        return stream([c.text for c in chunks], progress)
    parts = []
    for start in range(0, len(chunks), EMBED_BLOCK):
        block = chunks[start:start + EMBED_BLOCK]
        parts.append(_embed_chunks(embedder, block, titles))
        progress(len(block))
    return np.concatenate(parts).astype(np.float32)


def _embed_plain(embedder: Embedder, chunks: list[Chunk], titles: bool = False) -> np.ndarray:
    stream = getattr(embedder, "embed_stream", None)
    if stream is not None and not titles:
        return stream([c.text for c in chunks], None)
    return _embed_chunks(embedder, chunks, titles)


def expected_identity(settings: IndexSettings, embedder: Embedder) -> dict:
    """What an index must have been built with to serve ``settings`` with ``embedder`` (``IndexStore.load(expect=)``,
    ``index.stores.open_store``): the model, the chunking and ``chunk_titles``."""
    return {
        "embedding_model": embedder.name,
        "model_fingerprint": embedder.fingerprint,
        "chunking": {"target_tokens": settings.chunk_tokens, "overlap_sentences": settings.chunk_overlap_sentences, "tokenizer": "cl100k_base"},
        "chunk_titles": settings.chunk_titles,
    }


def _manifest(root: Path, settings: IndexSettings, docs: list[Document], chunks: list[Chunk], embedder: Embedder, dim: int, chunker: Chunker) -> Manifest:
    return Manifest(
        format_version=FORMAT_VERSION,
        embedding_model=embedder.name,
        model_fingerprint=embedder.fingerprint,
        dim=dim,
        index_kind=settings.index_kind,
        chunking=chunker.settings(),
        documents={d.id: {"title": d.title, "source": d.source, "sha256": d.content_hash, "chunks": sum(c.doc_id == d.id for c in chunks)} for d in docs},
        corpus_root=str(Path(root).resolve()),
        chunk_titles=settings.chunk_titles,
    )


def _build_qdrant(root: Path, settings: IndexSettings, cfg: StoreConfig, embedder: Embedder, rebuild: bool,
                  terms: Callable[[str], list[str]] | None, started: float, documents: list[Document] | None) -> BuildReport:
    """Sync the Qdrant collection with the corpus: only new chunks are embedded, stale points deleted."""
    from index.stores.qdrant import read_manifest as read_qdrant_manifest
    from index.stores.qdrant import sync_collection

    terms = terms or lexical_terms()
    if terms is None:
        raise ConfigError("a Qdrant store needs the lexical tokenizer for its BM25 sparse vectors: "
                          "build_index(..., terms=rag.lexical.tokenize) (the rag commands pass it)")
    report = BuildReport(cfg.where)
    with build_lock(Path(cfg.qdrant_path)) if not cfg.qdrant_url else nullcontext():  # a server: one builder at a time (docs/deploy.md)
        docs, report.skipped, chunks, chunker = documents_and_chunks(root, settings, embedder, documents)
        previous = None if rebuild else read_qdrant_manifest(cfg)
        if previous is not None and previous[0].chunk_titles != settings.chunk_titles:
            log.info("the collection was embedded %s titles, the settings ask %s: re-embedding everything",
                     "with" if previous[0].chunk_titles else "without", "with" if settings.chunk_titles else "without")
            rebuild, previous = True, None
        dim = previous[0].dim if previous and previous[0].model_fingerprint == embedder.fingerprint else None
        if dim is None:
            dim = int(getattr(embedder, "dim", 0) or embedder.embed([chunks[0].text], "document").shape[1])
        manifest = _manifest(root, settings, docs, chunks, embedder, dim, chunker)
        progress = Progress(len(chunks), "embedded and written")
        block = int(getattr(embedder, "block", EMBED_BLOCK))
        sync = sync_collection(cfg, manifest, chunks, lambda batch: _embed_plain(embedder, batch, settings.chunk_titles), terms, rebuild,
                               progress, block)
        report.documents, report.chunks = len(docs), len(chunks)
        report.embedded, report.reused, report.written = sync.embedded, sync.reused, sync.written
        report.removed_documents = sorted(set(previous[0].documents) - {d.id for d in docs}) if previous else []
    report.seconds = time.perf_counter() - started
    return report


def _previous(path: Path, embedder: Embedder, chunker: Chunker, titles: bool = False) -> IndexStore | None:
    """The existing index if its vectors can be reused (same model, embedded with titles or not as
    ``titles`` asks); else None (full re-embed)."""
    try:
        manifest = read_manifest(path)
    except IndexMismatchError as exc:  # damaged or another format: rebuilt from scratch, never "up to date"
        log.warning("previous index at %s is unusable (%s); re-embedding everything", path, str(exc).split("; rebuild")[0])
        return None
    if manifest is None or manifest.model_fingerprint != embedder.fingerprint or manifest.embedding_model != embedder.name:
        return None
    if manifest.chunk_titles != titles:
        log.info("previous index at %s was embedded %s chunk titles; re-embedding everything", path, "with" if manifest.chunk_titles else "without")
        return None
    try:
        return IndexStore.load(path)
    except Exception as exc:  # a damaged previous index only costs a full re-embed
        log.warning("previous index at %s is unusable (%s); re-embedding everything", path, str(exc).split("; rebuild")[0])
        return None
