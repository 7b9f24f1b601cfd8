"""Contextual chunk headers (setting ``chunk_titles``, issue 13): each chunk embedded with its document's
title in the document prompt. Fast: a hashing embedder stands in for the model (the real one is in
tests/test_chunk_titles_real.py)."""
from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest

from index.build import build_index, expected_identity
from index.embedder import accepts_titles, clean_title, titled_prompt
from index.errors import ConfigError, IndexMismatchError
from index.settings import IndexSettings
from index.store import IndexStore, read_manifest
from index.types import Document, sha256_text
from index.vector_cache import VectorCache
from rag.evaluation.xquad import CachingEmbedder, context_titles

PROMPT = "title: none | text: "


class TitledHashEmbedder:
    """Hashed bag of words of the whole model input (prompt included), as a real model would see it."""

    name = "titled-hash"
    fingerprint = "titled-hash-v1"
    dim = 64

    def __init__(self) -> None:
        self.inputs: list[str] = []

    def embed(self, texts, kind, titles=None):
        titles = list(titles) if titles is not None else [""] * len(texts)
        inputs = [titled_prompt(PROMPT if kind == "document" else "q: ", t) + text if kind == "document" else "q: " + text
                  for t, text in zip(titles, texts)]
        self.inputs += inputs
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(inputs):
            for word in re.findall(r"\w+", text):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def docs(title_b: str = "عنوان ثان") -> list[Document]:
    texts = {"a": "نص المقال الأول عن الحوار الاستراتيجي", "b": "نص المقال الثاني عن الانتخابات"}
    titles = {"a": "عنوان أول", "b": title_b}
    return [Document(k, titles[k], "test", t, sha256_text(t)) for k, t in texts.items()]


def settings(tmp_path, titles: bool) -> IndexSettings:
    return IndexSettings(home=tmp_path / "home", index_dir=tmp_path / "index", chunk_titles=titles)


def test_the_title_goes_into_the_prompt_slot() -> None:
    assert titled_prompt(PROMPT, "Super Bowl 50") == "title: Super Bowl 50 | text: "
    assert titled_prompt(PROMPT, "") == PROMPT and titled_prompt(PROMPT, None) == PROMPT
    assert clean_title("  two\nlines\t here\x00 ") == "two lines here"
    with pytest.raises(ValueError, match="no title slot"):
        titled_prompt("passage: ", "a title")


def test_the_setting_is_off_by_default_and_read_as_a_boolean(monkeypatch) -> None:
    assert IndexSettings.load().chunk_titles is False
    monkeypatch.setenv("RAG_CHUNK_TITLES", "1")
    assert IndexSettings.load().chunk_titles is True
    monkeypatch.setenv("RAG_CHUNK_TITLES", "off")
    assert IndexSettings.load().chunk_titles is False
    monkeypatch.setenv("RAG_CHUNK_TITLES", "maybe")
    with pytest.raises(ConfigError, match="chunk_titles"):
        IndexSettings.load()
    with pytest.raises(ConfigError, match="chunk_titles"):
        IndexSettings(chunk_titles="yes")  # type: ignore[arg-type]


def test_both_runtimes_and_the_caches_take_titles() -> None:
    from index.embed_openvino import OpenVINOEmbedder
    from index.embedder import SentenceTransformerEmbedder

    for klass in (SentenceTransformerEmbedder, OpenVINOEmbedder, CachingEmbedder, TitledHashEmbedder):
        assert accepts_titles(klass), klass


def test_a_titled_index_records_the_setting_and_embeds_the_title(tmp_path) -> None:
    emb = TitledHashEmbedder()
    build_index(tmp_path, settings(tmp_path, True), emb, documents=docs())
    assert any(i.startswith("title: عنوان أول | text: ") for i in emb.inputs)
    titled = IndexStore.load(tmp_path / "index")
    assert titled.manifest.chunk_titles is True
    plain = settings(tmp_path, False).replace(index_dir=tmp_path / "plain")
    build_index(tmp_path, plain, TitledHashEmbedder(), documents=docs())
    untitled = IndexStore.load(tmp_path / "plain")
    assert untitled.manifest.chunk_titles is False
    assert not np.allclose(titled.vectors, untitled.vectors)


def test_switching_the_setting_re_embeds_everything_and_a_retitled_article_its_chunks(tmp_path) -> None:
    emb = TitledHashEmbedder()
    first = build_index(tmp_path, settings(tmp_path, False), emb, documents=docs())
    assert first.embedded == 2
    assert build_index(tmp_path, settings(tmp_path, False), emb, documents=docs()).embedded == 0
    switched = build_index(tmp_path, settings(tmp_path, True), emb, documents=docs())
    assert switched.embedded == 2 and switched.written  # no untitled vector is reused in a titled index
    assert build_index(tmp_path, settings(tmp_path, True), emb, documents=docs()).embedded == 0
    retitled = build_index(tmp_path, settings(tmp_path, True), emb, documents=docs("عنوان جديد"))
    assert retitled.embedded == 1  # same text, new title: its vector is the title's too
    back = build_index(tmp_path, settings(tmp_path, False), emb, documents=docs())
    assert back.embedded == 2 and read_manifest(tmp_path / "index").chunk_titles is False


def test_a_query_time_mismatch_is_caught(tmp_path) -> None:
    emb = TitledHashEmbedder()
    build_index(tmp_path, settings(tmp_path, True), emb, documents=docs())
    IndexStore.load(tmp_path / "index", expected_identity(settings(tmp_path, True), emb))
    with pytest.raises(IndexMismatchError, match="chunk_titles: index has True, settings ask for False"):
        IndexStore.load(tmp_path / "index", expected_identity(settings(tmp_path, False), emb))


def test_an_index_from_before_the_setting_reads_as_untitled(tmp_path) -> None:
    emb = TitledHashEmbedder()
    build_index(tmp_path, settings(tmp_path, False), emb, documents=docs())
    path = tmp_path / "index" / "manifest.json"
    data = json.loads(path.read_text())
    del data["chunk_titles"]
    path.write_text(json.dumps(data))
    store = IndexStore.load(tmp_path / "index", expected_identity(settings(tmp_path, False), emb))
    assert store.manifest.chunk_titles is False
    with pytest.raises(IndexMismatchError, match="chunk_titles"):
        IndexStore.load(tmp_path / "index", expected_identity(settings(tmp_path, True), emb))
    assert build_index(tmp_path, settings(tmp_path, False), emb, documents=docs()).embedded == 0


def test_an_embedder_without_titles_is_refused_not_silently_untitled(tmp_path, hash_embedder) -> None:
    with pytest.raises(ConfigError, match="chunk_titles"):
        build_index(tmp_path, settings(tmp_path, True), hash_embedder, documents=docs())
    assert not (tmp_path / "index" / "manifest.json").exists()


def test_the_vector_cache_never_mixes_titled_and_untitled_vectors(tmp_path) -> None:
    emb = TitledHashEmbedder()
    cache = VectorCache(max_items=None, path=tmp_path / "v.npz")
    plain = cache.embed(emb, ["نص"], "document")
    titled = cache.embed(emb, ["نص"], "document", titles=["عنوان"])
    assert not np.allclose(plain, titled) and len(emb.inputs) == 2
    assert np.allclose(cache.embed(emb, ["نص"], "document", titles=[""]), plain)  # no title = "title: none"
    assert np.allclose(cache.embed(emb, ["نص", "نص"], "document", titles=["عنوان", ""]), np.vstack([titled, plain]))
    assert len(emb.inputs) == 2
    cache.save()
    again = VectorCache(max_items=None, path=tmp_path / "v.npz")
    assert np.allclose(again.embed(emb, ["نص"], "document", titles=["عنوان"]), titled) and len(emb.inputs) == 2


def test_xquad_titles_follow_the_contexts(tmp_path) -> None:
    data = {"data": [{"title": "Super_Bowl_50", "paragraphs": [{"context": "a", "qas": []}, {"context": "b", "qas": []}]},
                     {"title": "Warsaw", "paragraphs": [{"context": "c", "qas": []}]}]}
    (tmp_path / "xquad.ar.json").write_text(json.dumps(data))
    assert context_titles(tmp_path) == ["Super Bowl 50", "Super Bowl 50", "Warsaw"]


def test_the_serving_and_articles_wrappers_pass_titles_through() -> None:
    # the server's BatchedEmbedder and the Articles tab's progress wrapper stand between the build and the model
    from index.corpus import PROGRESS_BATCH, _ProgressEmbedder
    from index.jobs import Job
    from rag.batching import BatchedEmbedder

    texts = [f"نص رقم {i}" for i in range(PROGRESS_BATCH + 3)]
    titles = [f"عنوان {i}" for i in range(len(texts))]
    want = TitledHashEmbedder().embed(texts, "document", titles=titles)
    assert not np.allclose(want, TitledHashEmbedder().embed(texts, "document"))  # the titles do change the vectors
    served = BatchedEmbedder(TitledHashEmbedder())
    assert accepts_titles(served) and np.allclose(served.embed(texts, "document", titles=titles), want)
    for job in (None, Job("test", "titled")):
        wrapped = _ProgressEmbedder(TitledHashEmbedder(), job)
        assert accepts_titles(wrapped) and np.allclose(wrapped.embed(texts, "document", titles=titles), want)

    class Untitled:  # an embedder without titles stays one when wrapped: refused before the build, not mid-way
        name, fingerprint, dim = "u", "u", 4

        def embed(self, texts, kind):
            return np.zeros((len(texts), 4), dtype=np.float32)

    assert not accepts_titles(BatchedEmbedder(Untitled())) and not accepts_titles(_ProgressEmbedder(Untitled(), None))


def test_a_renamed_article_is_written_without_titles_too(tmp_path) -> None:
    # found by review: with chunk_titles off, a rename left the old headline in the manifest and the
    # chunks (which BM25 and the sources panel read) because every chunk's text hash was unchanged
    emb = TitledHashEmbedder()
    build_index(tmp_path, settings(tmp_path, False), emb, documents=docs())
    renamed = build_index(tmp_path, settings(tmp_path, False), emb, documents=docs("عنوان جديد"))
    assert renamed.written and renamed.embedded == 0  # nothing to embed: the vectors hold no title
    store = IndexStore.load(tmp_path / "index")
    assert store.manifest.documents["b"]["title"] == "عنوان جديد"
    assert {c.title for c in store.chunks if c.doc_id == "b"} == {"عنوان جديد"}
