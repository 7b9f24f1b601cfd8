"""rag.batching: normalised questions share one cache entry, concurrent ones share forward passes,
a cached question is served while a pass runs, and the real embedder gives the same vector through it."""
import threading
import time

import numpy as np
import pytest

from rag.batching import BatchedEmbedder, QueryBatcher, normalize_question


class Recorder:
    """An encoder that records its batches (a fake: the real model is in the slow test below)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[list[str]] = []
        self.delay = delay
        self.release = threading.Event()
        self.release.set()

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        self.release.wait(10)
        time.sleep(self.delay)
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)


def test_normalize_question_collapses_spaces_and_unicode_forms() -> None:
    assert normalize_question("  Who   met\u00a0Blinken?\n") == "Who met Blinken?"
    assert normalize_question("e\u0301") == "\u00e9"  # NFD and NFC spellings are one question
    assert normalize_question("Who met Blinken?") != normalize_question("who met blinken?")  # case changes the vector: kept


def test_a_re_spaced_question_is_served_from_the_cache_without_a_pass() -> None:
    class Inner:
        name, fingerprint = "fake", "f1"

        def __init__(self) -> None:
            self.calls = 0

        def embed(self, texts, kind):
            self.calls += 1
            return np.ones((len(texts), 2), dtype=np.float32)

    inner = Inner()
    emb = BatchedEmbedder(inner)
    first = emb.embed(["ما الملفات   التي يتناولها الحوار؟"], "query")
    again = emb.embed([" ما الملفات التي يتناولها الحوار؟ "], "query")
    assert inner.calls == 1 and np.array_equal(first, again)
    again[0, 0] = 7  # a caller changing its copy leaves the cache intact
    assert emb.embed(["ما الملفات التي يتناولها الحوار؟"], "query")[0, 0] == 1
    assert emb.cache_info().hits == 2 and emb.cache_info().misses == 1
    emb.embed(["a", "b"], "document")  # documents and several texts go straight to the model
    assert inner.calls == 2


def test_concurrent_questions_share_passes_of_at_most_max_batch() -> None:
    enc = Recorder(delay=0.02)
    batcher = QueryBatcher(enc, max_batch=4)
    out = {}
    threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, batcher.embed("x" * i))) for i in range(1, 13)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(out[i][0] == i for i in range(1, 13))
    assert sorted(len(b) for b in enc.batches)[-1] <= 4 and sum(len(b) for b in enc.batches) == 12
    assert len(enc.batches) < 12  # shared passes, not one per question


def test_a_cached_question_does_not_wait_for_a_running_pass() -> None:
    enc = Recorder()
    batcher = QueryBatcher(enc)
    batcher.embed("cached")
    enc.release.clear()  # the next pass blocks until released
    slow = threading.Thread(target=batcher.embed, args=("new question",))
    slow.start()
    while len(enc.batches) < 2:
        time.sleep(0.001)
    started = time.perf_counter()
    assert batcher.embed("cached")[0] == len("cached")
    waited = time.perf_counter() - started
    enc.release.set()
    slow.join()
    assert waited < 1.0  # the pass was held for up to 10 s: the hit did not queue behind it


def test_the_cache_keeps_the_most_recently_used() -> None:
    enc = Recorder()
    batcher = QueryBatcher(enc, cache_size=2)
    batcher.embed("a")
    batcher.embed("b")
    batcher.embed("a")  # a is now the most recent
    batcher.embed("c")  # evicts b
    n = len(enc.batches)
    batcher.embed("a")
    assert len(enc.batches) == n
    batcher.embed("b")
    assert len(enc.batches) == n + 1


def test_an_encoder_error_reaches_the_caller() -> None:
    def broken(texts):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        QueryBatcher(broken).embed("a")


def _wait_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_a_pass_waits_for_the_requests_still_running_python(monkeypatch) -> None:
    """Issue 16: with requests marked by request(), the first question no longer runs a pass of one
    while the others are still in their Python work; they all share the next pass."""
    import rag.batching as batching

    monkeypatch.setattr(batching, "MIN_WAIT_S", 30.0)  # patience far beyond the test: only the count decides
    enc = Recorder()
    batcher = QueryBatcher(enc)
    batcher.embed("warm-up")  # a pass has run: the patience counts from its end
    go, entered = threading.Event(), threading.Barrier(4)
    out: dict[int, np.ndarray] = {}

    def request(i: int) -> None:
        with batcher.request():
            entered.wait(10)  # four requests are being served
            if i:
                go.wait(10)  # still parsing, ranking… (Python of this request)
            out[i] = batcher.embed(f"question {i}")

    threads = [threading.Thread(target=request, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    _wait_until(lambda: len(batcher._pending) == 1)
    time.sleep(0.05)
    assert len(enc.batches) == 1  # question 0 waits: three served requests have not queued theirs yet
    go.set()
    for t in threads:
        t.join(10)
    assert len(out) == 4 and len(enc.batches) == 2 and sorted(enc.batches[1]) == [f"question {i}" for i in range(4)]


def test_a_served_request_that_never_embeds_delays_a_pass_by_at_most_the_patience(monkeypatch) -> None:
    import rag.batching as batching

    monkeypatch.setattr(batching, "MIN_WAIT_S", 0.05)
    enc = Recorder()
    batcher = QueryBatcher(enc)
    batcher.embed("warm-up")
    done = threading.Event()
    with batcher.request():  # a request busy elsewhere (an LLM answer): it will not queue a question
        other = threading.Thread(target=lambda: (batcher.embed("lonely"), done.set()))
        other.start()
        assert done.wait(10)  # served after the patience, not when the busy request ends
    other.join()
    assert enc.batches[-1] == ["lonely"]


def test_when_to_start_a_pass() -> None:
    batcher = QueryBatcher(Recorder(), max_batch=4)
    batcher._free_since, batcher._last_pass_s = time.monotonic(), 1.0
    batcher._pending = [("a", {})]
    assert batcher._wait_s() == 0.0  # nobody marked: at once (the CLI, a library caller)
    batcher._working = batcher._peak = 3
    assert 0.9 < batcher._wait_s() <= 1.0  # two served requests still running Python: wait for them, one pass at most
    batcher._pending = [(t, {}) for t in "abc"]
    assert batcher._wait_s() == 0.0  # all three queued
    batcher._working = 2
    assert batcher._wait_s() == 0.0
    batcher._pending, batcher._peak = [(t, {}) for t in "ab"], 3
    assert batcher._wait_s() > 0.9  # three were served at once since the last pass: the third, answered, is coming back
    batcher._pending = [(t, {}) for t in "abcd"]
    batcher._working = batcher._peak = 9
    assert batcher._wait_s() == 0.0  # a full batch goes at once
    batcher._pending = [("a", {})]
    batcher._free_since = time.monotonic() - 2.0
    assert batcher._wait_s() == 0.0  # waited a pass's length already


@pytest.mark.slow
def test_the_real_embedder_gives_the_same_vector_through_the_batcher(seed_index) -> None:
    from rag import service

    emb = service.embedder(seed_index)
    direct = emb.inner.embed(["Who met Blinken in Washington?"], "query")[0]
    hits = emb.cache_info().hits
    through = [emb.embed(["Who met  Blinken in Washington? "], "query")[0] for _ in range(2)]
    assert float(direct @ through[0]) > 0.9999 and np.array_equal(through[0], through[1])
    assert emb.cache_info().hits == hits + 1
