"""Index store: manifest checks, atomic writes (a killed build), incremental re-indexing."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from index.build import build_index
from index.errors import CorpusError, IndexBusyError, IndexMismatchError, IndexMissingError
from index.store import IndexStore, build_lock
from tests.conftest import ROOT


def test_build_then_load_and_search(corpus, tmp_settings, hash_embedder) -> None:
    report = build_index(corpus, tmp_settings, hash_embedder)
    # five pages, six articles: page 002 embeds a second article under "إقرأ أيضاً" (its own document, "#2")
    assert (report.documents, report.written) == (6, True) and report.chunks == hash_embedder.embedded
    store = IndexStore.load(tmp_settings.index_dir)
    assert len(store.chunks) == report.chunks == store.index.ntotal
    manifest = json.loads((tmp_settings.index_dir / "manifest.json").read_text())
    assert manifest["embedding_model"] == "hash-embedder" and manifest["dim"] == 64
    assert {d.split("#")[0] for d in manifest["documents"]} == {p.name for p in corpus.iterdir()}
    assert all(len(d["sha256"]) == 64 for d in manifest["documents"].values())
    hits = store.search(hash_embedder.embed([store.chunks[7].text], "query"), 3)
    assert hits[0][0][0] == 7 and hits[0][0][1] == pytest.approx(1.0, abs=1e-5)


def test_unchanged_corpus_embeds_nothing(corpus, tmp_settings, hash_embedder) -> None:
    build_index(corpus, tmp_settings, hash_embedder)
    before = hash_embedder.embedded
    report = build_index(corpus, tmp_settings, hash_embedder)
    assert hash_embedder.embedded == before and report.embedded == 0 and not report.written


def test_changed_file_reembeds_only_its_changed_chunks(corpus, tmp_settings, hash_embedder) -> None:
    first = build_index(corpus, tmp_settings, hash_embedder)
    path = corpus / "004_007ff8f57a8682c6.txt"
    path.write_text(path.read_text(encoding="utf-8")
                    + "\nوأضاف المسؤول أن الاجتماع المقبل سيعقد في واشنطن خلال الربيع المقبل لبحث الملفات العالقة بين البلدين بالتفصيل.\n",
                    encoding="utf-8")
    before = hash_embedder.embedded
    report = build_index(corpus, tmp_settings, hash_embedder)
    assert 1 <= report.embedded <= 2 and hash_embedder.embedded - before == report.embedded
    assert report.chunks in (first.chunks, first.chunks + 1)
    store = IndexStore.load(tmp_settings.index_dir)
    assert any("الربيع المقبل" in c.text for c in store.chunks)


def test_removed_file_disappears_and_no_file_twice(corpus, tmp_settings, hash_embedder) -> None:
    build_index(corpus, tmp_settings, hash_embedder)
    (corpus / "000_7e8f134315a61b1b.txt").unlink()
    report = build_index(corpus, tmp_settings, hash_embedder)
    assert report.removed_documents == ["000_7e8f134315a61b1b.txt"]
    store = IndexStore.load(tmp_settings.index_dir)
    assert {c.doc_id.split("#")[0] for c in store.chunks} == {p.name for p in corpus.iterdir()}
    build_index(corpus, tmp_settings, hash_embedder, rebuild=True)
    store = IndexStore.load(tmp_settings.index_dir)
    keys = [(c.doc_id, c.ordinal) for c in store.chunks]
    assert len(keys) == len(set(keys))


def test_mismatched_settings_are_refused_with_the_difference(corpus, tmp_settings, hash_embedder) -> None:
    build_index(corpus, tmp_settings, hash_embedder)
    with pytest.raises(IndexMismatchError, match=r"embedding_model: index has 'hash-embedder', settings ask for 'other'.*rag index --rebuild"):
        IndexStore.load(tmp_settings.index_dir, {"embedding_model": "other"})
    with pytest.raises(IndexMismatchError, match="chunking.target_tokens: index has 220"):
        IndexStore.load(tmp_settings.index_dir, {"chunking": {"target_tokens": 100}})
    manifest = tmp_settings.index_dir / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"format_version": 1', '"format_version": 99'))
    with pytest.raises(IndexMismatchError, match="format version 99"):
        IndexStore.load(tmp_settings.index_dir)


def test_missing_index_and_empty_corpus_are_clear_errors(tmp_path, tmp_settings, hash_embedder) -> None:
    with pytest.raises(IndexMissingError, match="rag index"):
        IndexStore.load(tmp_path / "none")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.txt").write_text("")
    with pytest.raises(CorpusError, match="no readable article"):
        build_index(tmp_path / "empty", tmp_settings, hash_embedder)


def test_second_concurrent_build_is_refused(tmp_settings) -> None:
    with build_lock(tmp_settings.index_dir):
        with pytest.raises(IndexBusyError):
            with build_lock(tmp_settings.index_dir):
                pass


@pytest.mark.slow  # a subprocess killed mid-build: seconds of start-up
def test_killed_build_leaves_the_previous_index_usable(corpus, tmp_settings, hash_embedder, tmp_path) -> None:
    build_index(corpus, tmp_settings, hash_embedder)
    good = len(IndexStore.load(tmp_settings.index_dir).chunks)
    (corpus / "new.txt").write_text("مقال جديد تماما عن موضوع آخر. " * 30, encoding="utf-8")
    script = tmp_path / "slow_build.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = [{str(ROOT)!r}]
        from tests.conftest import HashEmbedder
        from index.build import build_index
        from ui.settings import Settings
        class Slow(HashEmbedder):
            def embed(self, texts, kind):
                print("embedding", flush=True)
                time.sleep(60)
        build_index({str(corpus)!r}, Settings(home={str(tmp_settings.home)!r}, index_dir={str(tmp_settings.index_dir)!r}), Slow())
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "embedding"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert len(IndexStore.load(tmp_settings.index_dir).chunks) == good
    report = build_index(corpus, tmp_settings, hash_embedder)  # the lock and temp files do not block the next build
    assert report.written and len(IndexStore.load(tmp_settings.index_dir).chunks) > good


def test_crash_between_the_two_renames_is_recovered(corpus, tmp_settings, hash_embedder) -> None:
    build_index(corpus, tmp_settings, hash_embedder)
    path = tmp_settings.index_dir
    path.rename(path.with_name(f".{path.name}.old"))  # the state right after the first rename
    assert len(IndexStore.load(path).chunks) > 0 and path.exists()
