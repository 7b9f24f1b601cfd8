"""The managed corpus (index/corpus.py) and its job queue (index/jobs.py), on a private data home.

Fast unit tests: the store, the loader, the cleaner and the build path are the real ones; the
embedder is the hashing stand-in of conftest (the real model is exercised by the API and browser
tests of the same features, tests/test_documents_api.py and tests/test_ui_articles.py).
"""
from __future__ import annotations

import shutil
import threading
import time

import pytest

from index.build import build_index
from index.corpus import Corpus
from index.errors import CorpusError, DocumentNotFoundError, DocumentRejectedError
from index.jobs import JobQueue
from index.settings import IndexSettings
from index.store import IndexStore, read_manifest
from tests.conftest import SEEDS

NEW_ARTICLE = ("افتتاح مكتبة عامة في البصرة\n\n"
               "افتتحت محافظة البصرة يوم السبت مكتبة عامة جديدة تضم أكثر من 40 ألف كتاب في مبنى تاريخي على ضفاف شط العرب. "
               "وقال المحافظ إن المكتبة ستفتح أبوابها للطلاب مجانا طوال أيام الأسبوع.\n")
SEED_FILES = ["001_855d7bddcf291e5e.txt", "004_007ff8f57a8682c6.txt"]


@pytest.fixture
def settings(tmp_path) -> IndexSettings:
    return IndexSettings(home=tmp_path / "home", index_dir=tmp_path / "home" / "index", models_dir=tmp_path / "models")


@pytest.fixture
def corpus(settings, tmp_path, hash_embedder) -> Corpus:
    """A data home whose index was built from a folder of two seed articles, then managed."""
    folder = tmp_path / "seeds2"
    folder.mkdir()
    for name in SEED_FILES:
        shutil.copy(SEEDS / name, folder)
    build_index(folder, settings, hash_embedder)
    hash_embedder.embedded = 0
    return Corpus(settings, hash_embedder, max_upload_bytes=64 * 1024)


def test_the_folder_indexed_before_is_adopted_with_its_chunks(corpus, settings) -> None:
    docs = corpus.documents()
    assert sorted(d.path for d in docs) == SEED_FILES
    assert all(d.indexed and d.chunks > 0 and d.origin == "adopted" and d.title for d in docs)
    assert (corpus.folder / SEED_FILES[0]).read_bytes() == (SEEDS / SEED_FILES[0]).read_bytes()
    assert corpus.get(docs[0].id).path == docs[0].path
    with pytest.raises(DocumentNotFoundError):
        corpus.get("doc-nope")


def test_an_upload_is_indexed_incrementally_and_listed(corpus, settings, hash_embedder) -> None:
    chunks_before = len(IndexStore.load(settings.index_dir).chunks)
    added, rejected = corpus.add_files([("basra library.txt", NEW_ARTICLE.encode("utf-8"))], source="Basra news")
    assert not rejected and added[0].source == "Basra news" and added[0].filename == "basra library.txt"
    assert not corpus.get(added[0].id).indexed  # stored, not yet in the index
    job = corpus.reindex([added[0].id])
    done = corpus.jobs.wait(job.id, timeout=60)
    assert done.state == "done", done.error
    assert done.progress == 1.0 and done.result["embedded"] == hash_embedder.embedded > 0  # only the new text was embedded
    assert done.result["reused"] == chunks_before
    doc = corpus.get(added[0].id)
    assert doc.indexed and doc.chunks == done.result["embedded"] and doc.title == "افتتاح مكتبة عامة في البصرة"
    store = IndexStore.load(settings.index_dir)
    assert any("شط العرب" in c.text for c in store.chunks)


@pytest.mark.parametrize("name,data,reason", [
    ("scan.pdf", b"%PDF-1.4", "not an article file"),
    ("photo.txt", bytes(range(256)) * 4, "binary file"),
    ("empty.md", b"   \n", "empty file"),
    ("latin1.txt", "café crème brûlée".encode("latin-1"), "not UTF-8"),
    ("big.txt", ("خبر " * 40_000).encode("utf-8"), "larger than the upload limit"),
    ("nav.html", b"<html><script>var a = 1;</script></html>", "empty file"),
])
def test_bad_files_are_refused_with_the_loaders_reason(corpus, name, data, reason) -> None:
    added, rejected = corpus.add_files([(name, data)])
    assert not added and len(rejected) == 1 and reason in rejected[0].reason, rejected
    assert not any(p.name.endswith(name) for p in corpus.folder.iterdir())


def test_the_same_file_twice_and_bad_json_text(corpus) -> None:
    first, _ = corpus.add_files([("a.txt", NEW_ARTICLE.encode())])
    again, rejected = corpus.add_files([("b.txt", NEW_ARTICLE.encode())])
    assert first and not again and first[0].id in rejected[0].reason
    with pytest.raises(DocumentRejectedError, match="empty"):
        corpus.add_text("عنوان", "   ")
    doc = corpus.add_text("مكتبة الموصل", "أعيد افتتاح مكتبة جامعة الموصل بعد ترميمها بالكامل وإعادة آلاف الكتب إليها.", "https://example.org/x")
    assert doc.origin == "text" and doc.title == "مكتبة الموصل" and doc.source == "https://example.org/x"


def test_concurrent_uploads_are_serialised_and_none_is_lost(corpus, settings) -> None:
    results, errors = [], []

    def upload(i: int) -> None:
        try:
            text = NEW_ARTICLE.replace("40 ألف", f"{i + 1}0 ألف").replace("البصرة", f"البصرة {i}")
            added, rejected = corpus.add_files([(f"article-{i}.txt", text.encode("utf-8"))])
            assert not rejected, rejected
            results.append((added[0].id, corpus.reindex([added[0].id])))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for _, job in results:
        assert corpus.jobs.wait(job.id, timeout=120).state == "done"
    manifest = read_manifest(settings.index_dir)
    docs = {d.id: d for d in corpus.documents()}
    assert len(docs) == 2 + 8 and all(docs[i].indexed for i, _ in results)
    assert len(manifest.documents) == 10
    assert len({job.id for _, job in results}) < 8  # uploads that arrived during a build joined the one queued build


def test_delete_removes_the_article_from_the_index(corpus, settings) -> None:
    added, _ = corpus.add_files([("x.txt", NEW_ARTICLE.encode())])
    corpus.jobs.wait(corpus.reindex().id, timeout=60)
    assert added[0].path in read_manifest(settings.index_dir).documents
    gone = corpus.delete(added[0].id)
    assert not (corpus.folder / gone.path).exists()
    job = corpus.jobs.wait(corpus.reindex().id, timeout=60)
    assert job.state == "done" and job.result["removed"] == [added[0].path]
    assert added[0].path not in read_manifest(settings.index_dir).documents
    with pytest.raises(DocumentNotFoundError):
        corpus.delete(added[0].id)
    first, second = corpus.documents()
    corpus.delete(first.id)
    with pytest.raises(CorpusError, match="last article"):
        corpus.delete(second.id)


def test_a_file_dropped_into_the_folder_is_registered(corpus) -> None:
    (corpus.folder / "dropped.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    (corpus.folder / SEED_FILES[0]).unlink()
    paths = {d.path: d for d in corpus.documents()}
    assert "dropped.txt" in paths and paths["dropped.txt"].origin == "folder" and SEED_FILES[0] not in paths


def test_job_queue_runs_in_order_joins_waiting_jobs_and_reports_failures() -> None:
    queue = JobQueue("test")
    order: list[str] = []
    gate = threading.Event()

    def slow(job):
        gate.wait(5)
        order.append("first")
        return {"message": "ok"}

    first = queue.submit("index", slow, ["a"], key="index")
    deadline = time.time() + 5
    while queue.get(first.id).state != "running" and time.time() < deadline:
        time.sleep(0.01)
    second = queue.submit("index", lambda job: order.append("second") or {}, ["b"], key="index")
    third = queue.submit("index", lambda job: order.append("third") or {}, ["c"], key="index")
    assert third.id == second.id and second.documents == ["b", "c"] and second.id != first.id
    failing = queue.submit("other", lambda job: 1 / 0)
    gate.set()
    assert queue.wait(failing.id, 10).state == "failed" and "division" in queue.get(failing.id).error
    assert order == ["first", "second"] and queue.get(first.id).to_dict()["progress"] == 1.0
