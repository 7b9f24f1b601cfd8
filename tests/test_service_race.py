"""The embedder is made once per model, even when the first requests arrive together (a warm-up and a
first request used to race: lru_cache does not lock, so each could make, and then load, its own model)."""
from __future__ import annotations

import threading
import time

from rag import service
from rag.settings import RagSettings


def test_concurrent_first_calls_share_one_embedder(monkeypatch, tmp_path) -> None:
    made = []

    class Slow:
        name, fingerprint = "slow-model", "fp"

        def __init__(self) -> None:
            time.sleep(0.2)  # as long as a construction that reads files
            made.append(self)

    monkeypatch.setattr(service, "embedder_from_settings", lambda settings, show_progress=True: Slow())
    # a table of its own: the process's real one keeps the models other tests loaded
    monkeypatch.setattr(service, "_loaded", {})
    settings = RagSettings(home=tmp_path, embedding_model=f"race-{tmp_path.name}")
    got: list = []
    threads = [threading.Thread(target=lambda: got.append(service.embedder(settings))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1 and len({id(g) for g in got}) == 1
