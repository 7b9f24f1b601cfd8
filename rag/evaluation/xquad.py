"""``rag eval xquad DIR``: the public XQuAD benchmark as a retrieval test.

Corpus: the 240 Arabic contexts of ``xquad.ar.json`` (one passage each); queries: the
1,190 Arabic questions (ar→ar) and the 1,190 English ones with the same ids (en→ar).
A hit is the question's own context. Beside recall, the refusal decision of ``ask()``: how many of the
questions it refuses (false refusals) and how many of their negatives (the question with its own
context taken out of the ranking: nothing in the corpus answers it) it refuses. The contexts are indexed through the normal build path
(``index.build.build_index``) into the configured store (``store``: a FAISS folder under
``HOME/cache/xquad-retrieval-index`` or the Qdrant collection ``<qdrant_collection>_xquad``),
one chunk per context. Embeddings are cached under ``HOME/cache`` so that repeated runs
(comparisons, tuning, other stores) only pay for the model once.

Example::

    >>> result = evaluate_xquad(Path("../shared/benchmarks/xquad"), settings, modes=["dense", "hybrid"])
    >>> result["hybrid"]["en→ar"]["recall@1"]
"""
from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.embedder import Embedder, embedder_from_settings, runtime_tag
from index.types import Document, sha256_text
from index.vector_cache import VectorCache
from rag.answerability import decide
from rag.errors import InputError
from rag.evaluation.scoring import recall_at, reciprocal_rank
from rag.retrieval import Retriever
from rag.settings import RagSettings

log = logging.getLogger(__name__)


class CachingEmbedder:
    """Wraps an embedder with the project's vector cache saved to ``path`` (``index.vector_cache``),
    so a rerun of the benchmark embeds nothing it embedded before."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner, self.path = inner, path
        self.name, self.fingerprint = inner.name, inner.fingerprint
        self.cache = VectorCache(max_items=None, path=path)

    def embed(self, texts: Sequence[str], kind: str, titles: Sequence[str] | None = None) -> np.ndarray:
        """Cached by text, and by title for a titled document (``chunk_titles``): the two never mix."""
        return self.cache.embed(self.inner, texts, kind, titles)

    def save(self) -> None:
        self.cache.save()


def cached_embedder(settings: RagSettings, show_progress: bool = True) -> CachingEmbedder:
    """The configured embedder (``embed_runtime``), its XQuAD vectors cached per model, dtype and runtime
    under ``HOME/cache`` (the runtimes share the fingerprint, their vectors are close but not equal)."""
    inner = embedder_from_settings(settings, show_progress)
    return CachingEmbedder(inner, settings.home / "cache" / f"xquad-{inner.name}-{inner.fingerprint}-{inner.dtype}{runtime_tag(settings)}.npz")


def context_titles(folder: Path) -> list[str]:
    """The Wikipedia article title of each context, in ``load_xquad``'s order ("Super_Bowl_50" → "Super Bowl 50")."""
    try:
        ar = json.loads((folder / "xquad.ar.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{folder} does not hold a readable xquad.ar.json: {exc}") from None
    return [art.get("title", "").replace("_", " ") for art in ar["data"] for _ in art["paragraphs"]]


def load_xquad(folder: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str, str, int]]]:
    """``(contexts [(ctx_id, text)], queries [(qid, ar_question, en_question, ctx_index)])``."""
    try:
        ar = json.loads((folder / "xquad.ar.json").read_text(encoding="utf-8"))
        en = json.loads((folder / "xquad.en.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{folder} does not hold readable xquad.ar.json and xquad.en.json: {exc}") from None
    en_q = {qa["id"]: qa["question"] for art in en["data"] for para in art["paragraphs"] for qa in para["qas"]}
    contexts, queries = [], []
    for art in ar["data"]:
        for para in art["paragraphs"]:
            ci = len(contexts)
            contexts.append((f"ctx{ci:03d}", para["context"]))
            for qa in para["qas"]:
                queries.append((qa["id"], qa["question"], en_q.get(qa["id"], ""), ci))
    return contexts, queries


def xquad_settings(settings: RagSettings) -> RagSettings:
    """Where the XQuAD passages are indexed: beside, never inside, the user's own index."""
    extra = {"qdrant_collection": f"{settings.qdrant_collection}_xquad"} if hasattr(settings, "qdrant_collection") else {}
    return dataclasses.replace(settings, index_dir=settings.home / "cache" / "xquad-retrieval-index", **extra)


def xquad_retriever(contexts: list[tuple[str, str]], embedder: Embedder, settings: RagSettings,
                    titles: list[str] | None = None, rebuild: bool = False) -> Retriever:
    """The contexts indexed with ``build_index`` into the configured store (one chunk each, the text as
    given: no chunking, as the benchmark says), and a retriever over it.

    ``titles`` (``context_titles``): each context's article title as its document title, which BM25
    reads with the text, and which the embedding prompt gets when ``chunk_titles`` is on. None: no
    titles (the benchmark's published figures). ``rebuild``: no vector of the index on disk is reused (it may
    hold another runtime's or dtype's vectors: they share the fingerprint); with a caching embedder it costs nothing."""
    from index.build import build_index
    from index.stores import open_store, store_config
    from rag.lexical import tokenize

    indexed = xquad_settings(settings)
    titles = titles or [""] * len(contexts)
    docs = [Document(cid, title, "xquad.ar.json", text, sha256_text(text)) for (cid, text), title in zip(contexts, titles)]
    report = build_index(Path("xquad.ar.json"), indexed, embedder, rebuild=rebuild, terms=tokenize, documents=docs)
    log.info("XQuAD index %s: %d passages (%d embedded)", report.index_dir, report.chunks, report.embedded)
    return Retriever(open_store(store_config(indexed)), embedder)


def direction_metrics(retriever: Retriever, questions: list[str], gold: list[str], mode: str,
                      refusals: tuple[int, float] | None = None) -> dict[str, float]:
    """Recall@1/5 and MRR@10 of ``questions`` (their own context is the hit); with ``refusals = (top_k,
    min_score)`` also the refusal decision (``rag.answerability.decide``) over each ranking's first ``top_k``
    passages, as ``ask()`` takes it: ``false_refusals`` on the questions, and ``negatives_refused`` on
    XQuAD-derived negatives, the same questions with their own context taken out of the ranking, so that
    the corpus holds no answer (its words still count in the corpus statistics of the word coverage)."""
    ranked = retriever.search_many(questions, top_k=10, mode=mode)
    r1 = r5 = mrr = false_refusals = negatives_refused = 0.0
    for question, passages, want in zip(questions, ranked, gold):
        ids = [p.doc_id for p in passages]
        r1 += recall_at(ids, {want}, 1)
        r5 += recall_at(ids, {want}, 5)
        mrr += reciprocal_rank(ids, {want}, 10)
        if refusals:
            top_k, floor = refusals
            false_refusals += not decide(question, passages[:top_k], retriever, floor).answer
            negatives_refused += not decide(question, [p for p in passages if p.doc_id != want][:top_k], retriever, floor).answer
    n = len(gold)
    out = {"recall@1": r1 / n, "recall@5": r5 / n, "mrr@10": mrr / n, "n": n}
    if refusals:
        out |= {"false_refusals": false_refusals / n, "negatives_refused": negatives_refused / n}
    return out


def evaluate_xquad(folder: Path, settings: RagSettings, modes: list[str], limit: int | None = None) -> dict[str, Any]:
    """``{mode: {"ar→ar": metrics, "en→ar": metrics}}`` over the whole benchmark (or ``limit`` queries)."""
    contexts, queries = load_xquad(Path(folder))
    queries = queries[:limit] if limit else queries
    embedder = cached_embedder(settings)
    # with chunk_titles, each context is embedded (and BM25-indexed) with its article's title
    retriever = xquad_retriever(contexts, embedder, settings, context_titles(Path(folder)) if settings.chunk_titles else None)
    gold = [contexts[ci][0] for *_, ci in queries]
    ar_q = [q[1] for q in queries]
    en_q = [q[2] for q in queries]
    embedder.embed(ar_q + en_q, "query")  # one batch, cached
    embedder.save()
    out: dict[str, Any] = {}
    for mode in modes:
        refusals = None if mode == "bm25" else (settings.top_k, settings.min_score)  # the decision needs cosines
        out[mode] = {d: direction_metrics(retriever, qs, gold, mode, refusals) for d, qs in (("ar→ar", ar_q), ("en→ar", en_q))}
    return out


def rows(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The table: recall per variant and direction, and the refusal decision on the questions (false
    refusals) and on their negatives (refused: the higher the better)."""
    header = ["variant", "direction", "recall@1", "recall@5", "MRR@10", "false refusals", "negatives refused", "queries"]
    body = [[mode, d, m["recall@1"], m["recall@5"], m["mrr@10"], m.get("false_refusals", "–"), m.get("negatives_refused", "–"), m["n"]]
            for mode, dirs in result.items() for d, m in dirs.items()]
    return header, body
