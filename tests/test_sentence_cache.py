"""The passage sentences' vectors outlive the process: a cold `rag ask` embeds only the question
when an earlier run embedded the sentences of the passages it retrieves (issue 16, cold start)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from index.vector_cache import VectorCache
from rag import extractive
from rag.extractive import split_passages
from rag.types import Passage
from tests.conftest import ROOT
from tests.test_vector_cache import Counting


def test_attach_adds_the_file_and_keeps_what_memory_holds(tmp_path) -> None:
    path = tmp_path / "s.npz"
    first = VectorCache(max_items=None, path=path)
    first.embed(Counting(), ["from the file"], "document")
    first.save()
    cache, emb = VectorCache(max_items=None), Counting()
    cache.embed(emb, ["in memory"], "document")
    cache.attach(path)
    cache.embed(emb, ["from the file", "in memory"], "document")
    assert emb.calls == [["in memory"]]  # both served after attaching
    assert cache.dirty
    cache.save()
    assert not cache.dirty and sorted(p.name for p in tmp_path.iterdir()) == ["s.npz"]  # no temporary file left
    assert len(VectorCache(max_items=None, path=path)) == 2


def test_save_at_exit_writes_only_when_something_new_was_embedded(tmp_path, monkeypatch) -> None:
    cache = VectorCache(max_items=None)
    monkeypatch.setattr(extractive, "_SENTENCE_VECTORS", cache)
    path = tmp_path / "cache" / "s.npz"
    extractive.use_disk_cache(path)
    extractive.save_disk_cache()
    assert not path.exists()  # nothing embedded: nothing written
    cache.embed(Counting(), ["a sentence"], "document")
    extractive.save_disk_cache()
    assert path.exists() and len(VectorCache(max_items=None, path=path)) == 1


def test_an_unwritable_home_costs_only_the_cache(tmp_path, monkeypatch, caplog) -> None:
    cache = VectorCache(max_items=None)
    monkeypatch.setattr(extractive, "_SENTENCE_VECTORS", cache)
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("x")
    extractive.use_disk_cache(blocked / "cache" / "s.npz")
    cache.embed(Counting(), ["a sentence"], "document")
    extractive.save_disk_cache()  # logs, does not raise
    assert "could not write the sentence vector cache" in caplog.text


@pytest.mark.slow
def test_a_second_cold_ask_embeds_no_passage_sentence(seed_index, tmp_path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "RAG_HOME": str(home), "RAG_MODELS_DIR": str(seed_index.models_dir), "RAG_INDEX_DIR": str(seed_index.index_dir)}
    ask = [sys.executable, "-m", "ui.cli", "ask", "من هو وزير الخارجية العراقي الذي التقى بلينكن؟", "--backend", "extractive", "--json"]
    out = subprocess.run(ask, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    from rag.service import sentence_cache_path

    path = sentence_cache_path(seed_index.replace(home=home))
    assert path.exists(), "the first run did not keep the sentences it embedded"
    # every sentence of every passage the answer was chosen from is in the file, under the model's fingerprint
    assert answer["citations"]
    cited = [Passage(**p) for p in answer["passages"]]
    kept = VectorCache(max_items=None, path=path)
    fingerprints = {key[0] for key in kept._items}
    assert len(fingerprints) == 1
    emb = Counting()
    emb.fingerprint = fingerprints.pop()
    kept.embed(emb, [s.text for s in split_passages(cited)], "document")
    assert emb.calls == []
    # a second cold process retrieves the same passages: nothing new to embed, so nothing is written
    before = path.stat().st_mtime_ns
    again = subprocess.run(ask, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["answer"] == answer["answer"]
    assert path.stat().st_mtime_ns == before
