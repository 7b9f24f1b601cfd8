"""The Qdrant store (local mode, the real client): incremental, crash-safe, and the same search as FAISS."""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from index.build import build_index
from index.store import IndexStore
from index.stores import open_store, store_config
from index.stores import qdrant as qstore
from rag.lexical import tokenize
from rag.retrieval import MODES, Retriever
from tests.conftest import ROOT, SEEDS


def qdrant_settings(settings, path, collection: str = "test", monkeypatch=None):
    """``settings`` pointed at a local-mode Qdrant collection under ``path`` (through ``RAG_*`` variables
    when the settings class has no store fields)."""
    if hasattr(settings, "store"):
        return dataclasses.replace(settings, store="qdrant", qdrant_path=path, qdrant_collection=collection)
    for name, value in (("STORE", "qdrant"), ("QDRANT_PATH", str(path)), ("QDRANT_COLLECTION", collection)):
        monkeypatch.setenv(f"RAG_{name}", value)
    return settings


@pytest.fixture
def qsettings(tmp_settings, tmp_path, monkeypatch):
    yield qdrant_settings(tmp_settings, tmp_path / "qdrant", monkeypatch=monkeypatch)
    qstore.close_clients()  # releases the folder lock


def points(settings) -> dict[str, str]:
    """Point id → chunk text hash of every point in the collection."""
    cfg = store_config(settings)
    records, _ = qstore.client_for(cfg).scroll(cfg.qdrant_collection, limit=10_000, with_payload=["hash"])
    return {str(r.id): r.payload["hash"] for r in records}


@pytest.mark.slow  # builds the seed corpus into a local-mode collection (2–15 s on 2 busy cores)
def test_build_search_and_reindex_unchanged_writes_nothing(corpus, qsettings, hash_embedder) -> None:
    report = build_index(corpus, qsettings, hash_embedder, terms=tokenize)
    assert report.written and report.embedded == report.chunks == len(points(qsettings)) > 0
    store = open_store(store_config(qsettings))
    assert store.count() == report.chunks and store.manifest.embedding_model == "hash-embedder"
    chunk, _ = next(iter(store.fetch(list(points(qsettings))[:1]).values()))
    top = store.search(hash_embedder.embed([chunk.text], "query"), 3)[0][0]
    assert store.fetch([top[0]])[top[0]][0].text == chunk.text and top[1] == pytest.approx(1.0, abs=1e-5)
    assert store.search_lexical([tokenize(chunk.text)], 3)[0][0][0] == top[0]  # BM25 finds it by its own words

    cfg = store_config(qsettings)
    version = qstore.read_manifest(cfg)[1]["version"]
    before = hash_embedder.embedded
    again = build_index(corpus, qsettings, hash_embedder, terms=tokenize)
    assert (again.embedded, again.written, hash_embedder.embedded - before) == (0, False, 0)
    assert qstore.read_manifest(cfg)[1]["version"] == version  # not even the manifest was rewritten


@pytest.mark.slow  # builds the seed corpus into a local-mode collection (2–15 s on 2 busy cores)
def test_changed_article_replaced_removed_article_deleted(corpus, qsettings, hash_embedder) -> None:
    from index.stores import store_stamp

    build_index(corpus, qsettings, hash_embedder, terms=tokenize)
    first, stamp = points(qsettings), store_stamp(store_config(qsettings))
    path = corpus / "004_007ff8f57a8682c6.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\nوأضاف المسؤول أن الاجتماع المقبل سيعقد في واشنطن خلال الربيع المقبل.\n", encoding="utf-8")
    (corpus / "000_7e8f134315a61b1b.txt").unlink()
    report = build_index(corpus, qsettings, hash_embedder, terms=tokenize)
    assert 1 <= report.embedded <= 2 and report.removed_documents == ["000_7e8f134315a61b1b.txt"]
    now = points(qsettings)
    assert len(now) == report.chunks and store_stamp(store_config(qsettings)) != stamp  # what makes a running server reload
    store = open_store(store_config(qsettings))
    docs = {c.doc_id for c, _ in store.fetch(list(now)).values()}
    assert "000_7e8f134315a61b1b.txt" not in docs and "004_007ff8f57a8682c6.txt" in docs
    assert any("الربيع المقبل" in c.text for c, _ in store.fetch(list(set(now) - set(first))).values())
    assert len(set(first) - set(now)) >= 1  # the old last chunk of 004 and every chunk of 000 are gone


class Crashing:
    """The hash embedder, failing on its ``fail_on``-th call (a crash in the middle of the write loop)."""

    def __init__(self, inner, fail_on: int) -> None:
        self.inner, self.fail_on, self.calls = inner, fail_on, 0
        self.name, self.fingerprint, self.dim = inner.name, inner.fingerprint, inner.dim

    def embed(self, texts, kind):
        self.calls += 1
        if self.calls == self.fail_on:
            raise RuntimeError("killed mid-build")
        return self.inner.embed(texts, kind)


@pytest.mark.slow  # builds the seed corpus into a local-mode collection (2–15 s on 2 busy cores)
def test_crash_midway_leaves_a_searchable_collection(corpus, qsettings, hash_embedder, monkeypatch) -> None:
    import index.build

    monkeypatch.setattr(index.build, "EMBED_BLOCK", 32)  # several blocks for the seed corpus
    with pytest.raises(RuntimeError, match="killed mid-build"):
        build_index(corpus, qsettings, Crashing(hash_embedder, fail_on=3), terms=tokenize)
    store = open_store(store_config(qsettings))
    written = store.count()
    assert written == 64  # two blocks made it
    hits = store.search(hash_embedder.embed(["وزير الخارجية"], "query"), 5)[0]
    assert len(hits) == 5 and all(k in store.fetch([k for k, _ in hits]) for k, _ in hits)
    report = build_index(corpus, qsettings, hash_embedder, terms=tokenize)  # the next run completes it
    assert report.embedded == report.chunks - written and store.count() == report.chunks


def test_sparse_vectors_score_as_bm25s() -> None:
    """Qdrant's IDF modifier × our term-frequency values = bm25s's BM25 (the FAISS path's scores)."""
    from qdrant_client import QdrantClient, models

    from rag.lexical import BM25Index

    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.iterdir())]
    terms = [tokenize(t) for t in texts]
    avgdl = float(np.mean([len(t) for t in terms]))
    client = QdrantClient(":memory:")
    client.create_collection("t", sparse_vectors_config={qstore.SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)})
    client.upsert("t", [models.PointStruct(id=i, vector={qstore.SPARSE: qstore.document_sparse(t, avgdl)}) for i, t in enumerate(terms)])
    query = "وزير الخارجية العراقي في واشنطن"
    got = {p.id: p.score for p in client.query_points("t", query=qstore.query_sparse(tokenize(query)), using=qstore.SPARSE, limit=10).points}
    want = BM25Index(texts).scores(query)
    assert got and all(got[i] == pytest.approx(float(want[i]), rel=1e-4) for i in got)
    assert set(got) == {i for i, s in enumerate(want) if s > 0}


class ReusedVectors:
    """The real model's seed-index vectors looked up by text (no second embedding run); queries go to the real model."""

    def __init__(self, store: IndexStore, model) -> None:
        self.by_text = {c.text: store.vectors[i] for i, c in enumerate(store.chunks)}
        self.model, self.name, self.fingerprint, self.dim = model, model.name, model.fingerprint, store.vectors.shape[1]

    def embed(self, texts, kind):
        return np.stack([self.by_text[t] for t in texts]) if kind == "document" else self.model.embed(texts, kind)


@pytest.mark.slow
def test_qdrant_ranks_the_dev_set_as_faiss_does(seed_index, tmp_path, monkeypatch) -> None:
    """Every dev-set question, every mode: the same passages in the same order, the same scores."""
    from rag import service
    from rag.evaluation.report import load_questions

    faiss_store = IndexStore.load(seed_index.index_dir)
    model = service.embedder(seed_index)
    qs = qdrant_settings(seed_index, tmp_path / "q", "dev", monkeypatch)
    try:
        build_index(SEEDS, qs, ReusedVectors(faiss_store, model), terms=tokenize)
        questions = [q.question for q in load_questions(ROOT / "rag" / "data" / "seed_dev.jsonl")]
        on_faiss, on_qdrant = Retriever(faiss_store, model), Retriever(open_store(store_config(qs)), model)
        for mode in MODES:
            a, b = on_faiss.search_many(questions, 10, mode), on_qdrant.search_many(questions, 10, mode)
            for question, pa, pb in zip(questions, a, b):
                assert [(p.doc_id, p.start, p.end) for p in pa] == [(p.doc_id, p.start, p.end) for p in pb], (mode, question)
                assert np.allclose([p.score for p in pa], [p.score for p in pb], atol=1e-4), (mode, question)
    finally:
        qstore.close_clients()


def test_store_setting_reads_the_environment(monkeypatch, tmp_path) -> None:
    from index.errors import ConfigError
    from index.settings import IndexSettings

    monkeypatch.setenv("RAG_STORE", "qdrant")
    monkeypatch.setenv("RAG_QDRANT_PATH", str(tmp_path / "q"))
    monkeypatch.setenv("RAG_QDRANT_COLLECTION", "news_2026")
    monkeypatch.setenv("RAG_QDRANT_URL", "http://qdrant:6333")
    monkeypatch.setenv("RAG_QDRANT_API_KEY", "k")
    cfg = store_config(IndexSettings.load())
    assert (cfg.kind, cfg.qdrant_path, cfg.qdrant_collection, cfg.qdrant_url, cfg.qdrant_api_key) == (
        "qdrant", tmp_path / "q", "news_2026", "http://qdrant:6333", "k")
    from rag.settings import RagSettings  # docs/deploy.md: the model server's settings, read the same way

    for name, value in (("BACKEND", "openai"), ("OPENAI_BASE_URL", "http://vllm:8000/v1"), ("OPENAI_MODEL", "Qwen/Qwen2.5-7B-Instruct"),
                        ("OPENAI_API_KEY", "secret")):
        monkeypatch.setenv(f"RAG_{name}", value)
    rs = RagSettings.load()
    assert (rs.backend, rs.openai_base_url, rs.openai_model, rs.openai_api_key, store_config(rs).kind) == (
        "openai", "http://vllm:8000/v1", "Qwen/Qwen2.5-7B-Instruct", "secret", "qdrant")
    monkeypatch.setenv("RAG_STORE", "milvus")
    with pytest.raises(ConfigError, match="store must be one of"):
        IndexSettings.load()
    assert os.environ["RAG_STORE"] == "milvus"


@pytest.mark.slow  # a second Python process (~5–30 s to start on 2 busy cores)
def test_local_mode_serves_one_process_and_says_what_to_use_instead(qsettings) -> None:
    """Local mode locks its folder: a second process gets a clear error naming qdrant_url (a server serves many)."""
    import subprocess
    import sys

    cfg = store_config(qsettings)
    qstore.client_for(cfg)  # this process holds the folder, as a running `rag serve` would
    code = ("import sys; from index.stores import StoreConfig; from index.stores.qdrant import client_for; from pathlib import Path\n"
            f"client_for(StoreConfig(kind='qdrant', qdrant_path=Path({str(cfg.qdrant_path)!r})))")
    other = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert other.returncode != 0 and "IndexBusyError" in other.stderr and "qdrant_url" in other.stderr


@pytest.mark.parametrize("titled", [True, False], ids=["chunk_titles", "untitled"])
def test_a_renamed_article_gets_its_new_title_in_every_vector_that_holds_it(qsettings, tmp_path, titled) -> None:
    # found by review: point ids come from (document, text), so a rename kept the old title in the dense
    # vector (chunk_titles) and in the BM25 sparse vector (always)
    from tests.test_chunk_titles import TitledHashEmbedder, docs

    settings = dataclasses.replace(qsettings, chunk_titles=titled)
    emb = TitledHashEmbedder()
    build_index(tmp_path, settings, emb, terms=tokenize, documents=docs())
    renamed = build_index(tmp_path, settings, emb, terms=tokenize, documents=docs("عنوان مختلف"))
    assert renamed.embedded == (1 if titled else 0)
    store = open_store(store_config(settings))
    ids = list(points(settings))
    chunks = store.fetch(ids)
    b = next(pid for pid in ids if chunks[pid][0].doc_id == "b")
    assert chunks[b][0].title == "عنوان مختلف"
    assert store.search_lexical([tokenize("مختلف")], 1)[0][0][0] == b  # BM25 finds the new title (same length: no drift rewrite)
    if titled:
        want = emb.embed([chunks[b][0].text], "document", titles=["عنوان مختلف"])
        top = store.search(want, 1)[0][0]
        assert top[0] == b and top[1] == pytest.approx(1.0, abs=1e-5)
