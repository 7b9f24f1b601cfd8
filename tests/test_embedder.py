"""Query micro-batching: concurrent single questions share forward passes; errors reach every caller."""
import threading
import time

import numpy as np
import pytest

from rag.batching import QueryBatcher


def test_concurrent_questions_are_batched_and_each_gets_its_own_vector() -> None:
    calls = []

    def encode(texts):
        calls.append(len(texts))
        time.sleep(0.05)
        return np.array([[len(t)] for t in texts], dtype=np.float32)

    batcher = QueryBatcher(encode)
    out = {}
    threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, batcher.embed("x" * i))) for i in range(1, 17)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(out[i][0] == i for i in range(1, 17))
    assert sum(calls) == 16 and len(calls) < 16
    batcher.embed("x" * 3)
    assert sum(calls) == 16  # served from the cache


def test_an_encoder_error_reaches_the_caller() -> None:
    def broken(texts):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        QueryBatcher(broken).embed("a")
