"""bench/bench_api.py's question texts: no load may re-send a text an earlier load sent, or the
server's question cache (rag.batching) answers it without a forward pass and the bench times
cache hits instead of the model (issue 16: round 2's single client at p50 17.5 ms)."""
from __future__ import annotations

import sys
from pathlib import Path

from rag.batching import normalize_question

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _bench_api():
    sys.path.insert(0, str(BENCH))
    try:
        import bench_api
    finally:
        sys.path.remove(str(BENCH))
    return bench_api


def _texts(question, clients: int, requests: int) -> set[str]:
    return {normalize_question(question(i, n)) for i in range(clients) for n in range(requests)}


def test_every_load_sends_questions_no_earlier_load_sent() -> None:
    bench = _bench_api()
    # one round's loads as one_round runs them (warm-up: each question form, 1 client, 16 clients;
    # then 1 client, 16 clients), twice
    loads = [bench.fresh_questions() for _ in range(10)]
    sizes = [(1, len(bench.QUESTIONS)), (1, 200), (16, 200), (1, 200), (16, 200)] * 2
    seen: set[str] = set()
    for question, (clients, requests) in zip(loads, sizes):
        texts = _texts(question, clients, requests)
        assert len(texts) == clients * requests  # distinct within the load too
        assert not texts & seen
        seen |= texts


def test_a_load_without_a_question_function_gets_fresh_texts(monkeypatch) -> None:
    bench = _bench_api()
    sent: list[set[str]] = []

    class Conn:  # records the questions instead of sending them
        def __init__(self, *_a, **_k) -> None:
            self.texts: set[str] = set()
            sent.append(self.texts)

        def request(self, _method, _path, body, _headers) -> None:
            import json
            self.texts.add(normalize_question(json.loads(body)["question"]))
            if len(self.texts) >= 5:
                raise OSError("enough")

        def getresponse(self):
            return type("R", (), {"status": 200, "read": lambda self: b"{}"})()

        def close(self) -> None:
            pass

    monkeypatch.setattr(bench.http.client, "HTTPConnection", Conn)
    bench.load("http://127.0.0.1:1", 1, 0.05)
    first = set().union(*sent)
    sent.clear()
    bench.load("http://127.0.0.1:1", 1, 0.05)
    second = set().union(*sent)
    assert first and second and not first & second
