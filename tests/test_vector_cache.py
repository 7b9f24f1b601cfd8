"""The one embedding cache: computes each new text once, serves repeats, bounds its size, survives a save."""
from __future__ import annotations

import numpy as np

from index.vector_cache import VectorCache


class Counting:
    fingerprint = "fp"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts, kind):
        self.calls.append(list(texts))
        return np.array([[len(t), ord(t[0]), 1.0 if kind == "query" else 0.0] for t in texts], np.float32)


def test_each_new_text_is_embedded_once_and_order_is_kept() -> None:
    cache, emb = VectorCache(), Counting()
    out = cache.embed(emb, ["ab", "c", "ab"], "document")
    assert emb.calls == [["ab", "c"]]
    assert out[:, 0].tolist() == [2, 1, 2]
    again = cache.embed(emb, ["c", "ab", "new"], "document")
    assert emb.calls[-1] == ["new"] and again[:, 0].tolist() == [1, 2, 3]


def test_kind_is_part_of_the_key() -> None:
    cache, emb = VectorCache(), Counting()
    assert cache.embed(emb, ["x"], "query")[0, 2] == 1.0
    assert cache.embed(emb, ["x"], "document")[0, 2] == 0.0
    assert len(emb.calls) == 2


def test_oldest_entries_go_past_the_bound() -> None:
    cache, emb = VectorCache(max_items=2), Counting()
    cache.embed(emb, ["a", "b"], "document")
    cache.embed(emb, ["a"], "document")  # a is now the most recent
    cache.embed(emb, ["c"], "document")  # b goes
    assert len(cache) == 2
    cache.embed(emb, ["a", "b"], "document")
    assert emb.calls[-1] == ["b"]


def test_save_and_reload(tmp_path) -> None:
    path = tmp_path / "vectors.npz"
    cache, emb = VectorCache(max_items=None, path=path), Counting()
    cache.embed(emb, ["one", "two"], "document")
    cache.save()
    again, fresh = VectorCache(max_items=None, path=path), Counting()
    assert np.array_equal(again.embed(fresh, ["two", "one"], "document"), cache.embed(emb, ["two", "one"], "document"))
    assert fresh.calls == []


def test_an_old_or_damaged_cache_file_is_ignored_and_replaced(tmp_path) -> None:
    old = tmp_path / "old.npz"
    np.savez(old, **{"0123abcd": np.ones(3, np.float32)})  # the earlier layout: one array per digest
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(b"PK\x03\x04 not a zip")
    for path in (old, damaged):
        cache, emb = VectorCache(max_items=None, path=path), Counting()
        assert len(cache) == 0
        cache.embed(emb, ["x"], "document")
        cache.save()
        assert len(VectorCache(max_items=None, path=path)) == 1


class Wider(Counting):
    """Another model, with vectors of another width (a test's small embedder beside the real one)."""

    fingerprint = "other"

    def embed(self, texts, kind):
        return np.ones((len(texts), 5), np.float32)


def test_a_cache_holding_two_models_of_different_widths_saves_the_one_most_vectors_have(tmp_path) -> None:
    # seen at the end of a full test run: one process's sentence cache had vectors of two models, and
    # the save at exit failed with "all input arrays must have the same shape", losing every vector
    path = tmp_path / "s.npz"
    cache = VectorCache(max_items=None, path=path)
    cache.embed(Counting(), ["a", "b"], "document")
    cache.embed(Wider(), ["c"], "document")  # used last, but one vector against two
    cache.save()
    again, emb = VectorCache(max_items=None, path=path), Counting()
    again.embed(emb, ["a", "b"], "document")
    assert emb.calls == [] and len(again) == 2  # the two vectors survived; the other width was left out
