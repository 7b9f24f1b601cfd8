"""Issue 15, "Damaged index directory": every damaged file gives one line naming the file and the
fix, ``rag index`` rebuilds instead of calling it up to date, and ``rag serve`` recovers."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from index.build import build_index
from index.errors import IndexDamagedError, IndexWriteError
from index.store import IndexStore
from tests.conftest import ROOT, SEEDS


def _truncate(name: str, keep: float = 0.5):
    def damage(path: Path) -> None:
        data = (path / name).read_bytes()
        (path / name).write_bytes(data[: int(len(data) * keep)])
    return damage


def _delete(name: str):
    return lambda path: (path / name).unlink()


def _manifest(**changes):
    def damage(path: Path) -> None:
        data = json.loads((path / "manifest.json").read_text())
        data.update(changes)
        (path / "manifest.json").write_text(json.dumps(data))
    return damage


def _wrong_shape(path: Path) -> None:
    vectors = np.load(path / "vectors.npy")
    np.save(path / "vectors.npy", vectors[:, : vectors.shape[1] // 2])


def _nan_vector(path: Path) -> None:
    vectors = np.load(path / "vectors.npy")
    vectors[3, 5] = np.nan
    np.save(path / "vectors.npy", vectors)


def _bad_chunk_line(path: Path) -> None:
    lines = (path / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    lines[2] = "this is not json"
    (path / "chunks.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _one_chunk_less(path: Path) -> None:
    lines = (path / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    (path / "chunks.jsonl").write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")


DAMAGE = {
    "vectors.npy truncated": ("vectors.npy", _truncate("vectors.npy")),
    "vectors.npy deleted": ("vectors.npy", _delete("vectors.npy")),
    "vectors.npy of the wrong shape": ("vectors.npy", _wrong_shape),
    "vectors.npy holding NaN": ("vectors.npy", _nan_vector),
    "faiss.index truncated": ("faiss.index", _truncate("faiss.index")),
    "faiss.index deleted": ("faiss.index", _delete("faiss.index")),
    "chunks.jsonl truncated mid-line": ("chunks.jsonl", _truncate("chunks.jsonl", 0.37)),
    "chunks.jsonl one line short": ("vectors.npy", _one_chunk_less),
    "chunks.jsonl deleted": ("chunks.jsonl", _delete("chunks.jsonl")),
    "chunks.jsonl line not JSON": ("chunks.jsonl", _bad_chunk_line),
    "manifest.json truncated": ("manifest.json", _truncate("manifest.json")),
    "manifest.json deleted": ("manifest.json", _delete("manifest.json")),
    "manifest.json with another dimension": ("vectors.npy", _manifest(dim=512)),
    "manifest.json with a wrong field type": ("manifest.json", _manifest(documents=[1, 2])),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_index_is_one_line_naming_the_file_and_the_fix(case, corpus, tmp_settings, hash_embedder) -> None:
    """Issue 15 damaged index: each damaged file gave a traceback (or, for a wrong shape, 'up to date')."""
    name, damage = DAMAGE[case]
    build_index(corpus, tmp_settings, hash_embedder)
    path = tmp_settings.index_dir
    damage(path)
    with pytest.raises(IndexDamagedError) as err:
        IndexStore.load(path)
    message = str(err.value)
    assert "\n" not in message and name in message, message
    assert f"rag index --rebuild --index-dir {path}" in message, message


@pytest.mark.parametrize("case", list(DAMAGE))
def test_rag_index_detects_damage_and_rebuilds(case, corpus, tmp_settings, hash_embedder) -> None:
    """Issue 15 damaged index: `rag index` rebuilds a damaged index instead of calling it up to date."""
    first = build_index(corpus, tmp_settings, hash_embedder)
    DAMAGE[case][1](tmp_settings.index_dir)
    report = build_index(corpus, tmp_settings, hash_embedder)
    assert report.written and report.embedded == first.chunks
    store = IndexStore.load(tmp_settings.index_dir)
    assert len(store.chunks) == first.chunks == store.index.ntotal


@pytest.mark.slow  # loads the CLI in-process with its imports: seconds
def test_model_mismatch_hint_names_the_index_dir_the_user_gave(corpus, tmp_settings, hash_embedder, capsys, monkeypatch) -> None:
    """Issue 15 damaged index: 'a manifest with another model', and the hint carries --index-dir."""
    from ui.cli import main

    monkeypatch.setenv("RAG_MODELS_DIR", str(tmp_settings.models_dir))
    build_index(corpus, tmp_settings, hash_embedder)  # built by another model than the configured one
    code = main(["--home", str(tmp_settings.home), "search", "Blinken", "--index-dir", str(tmp_settings.index_dir)])
    err = capsys.readouterr().err.strip()
    assert code == 4 and "\n" not in err and err.startswith("error: the index at")
    assert "embedding_model: index has 'hash-embedder'" in err
    assert f"rag index --rebuild --index-dir {tmp_settings.index_dir} {corpus.resolve()}" in err


def test_unwritable_index_folder_is_one_clear_line(corpus, tmp_path) -> None:
    """Issue 15 damaged index: a folder that is not writable gave a traceback."""
    place = Path(tempfile.mkdtemp(prefix="ro-index-"))
    try:
        os.chmod(place, 0o555)  # nobody (and, below, a non-root user) can create the index here
        script = textwrap.dedent(f"""
            import os, sys
            sys.path[:0] = [{str(ROOT)!r}]
            from tests.conftest import HashEmbedder
            from index.build import build_index
            from index.errors import IndexWriteError
            from ui.settings import Settings
            if os.geteuid() == 0:  # root writes anywhere: drop to nobody once the modules are imported
                os.setgid(65534); os.setuid(65534)
            try:
                build_index({str(SEEDS)!r}, Settings(home={str(place)!r}, index_dir={str(place / "index")!r}), HashEmbedder())
            except IndexWriteError as exc:
                print("IndexWriteError:", exc)
        """)
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
        assert out.stdout.startswith("IndexWriteError: cannot write the index at"), out.stdout + out.stderr
        assert "--index-dir" in out.stdout and out.stdout.count("\n") == 1
    finally:
        os.chmod(place, 0o755)
        shutil.rmtree(place, ignore_errors=True)
    from ui.errors import exit_code

    assert exit_code(IndexWriteError("x")) == 4


@pytest.mark.slow
@pytest.mark.parametrize("command", [["search", "Who met Blinken?"], ["ask", "Who met Blinken?", "--backend", "extractive"]])
def test_rag_search_and_ask_on_a_damaged_index_print_one_line(command, seed_index, tmp_path) -> None:
    """Issue 15 damaged index: `rag search` / `rag ask` printed a traceback for a truncated vectors.npy."""
    index = tmp_path / "idx"
    shutil.copytree(seed_index.index_dir, index)
    _truncate("vectors.npy")(index)
    env = {**os.environ, "RAG_HOME": str(seed_index.home), "RAG_MODELS_DIR": str(seed_index.models_dir)}
    out = subprocess.run([sys.executable, "-m", "ui.cli", *command, "--index-dir", str(index)],
                         capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert out.returncode == 4 and "Traceback" not in out.stderr, out.stderr
    assert len(lines) == 1 and "vectors.npy" in lines[0] and f"rag index --rebuild --index-dir {index}" in lines[0]


@pytest.mark.slow
def test_serve_reports_a_damaged_index_and_recovers_after_a_rebuild(seed_index, tmp_path) -> None:
    """Issue 15 damaged index: `rag serve` answers /readyz 503 with the reason (no absolute path),
    never 500, and serves again once the index is rebuilt, without a restart."""
    from rag import service
    from tests.servers import ApiServer

    index = tmp_path / "idx"
    shutil.copytree(seed_index.index_dir, index)
    _truncate("faiss.index")(index)
    settings = seed_index.replace(index_dir=index)
    with ApiServer(settings, ready=False) as server:
        r = httpx.get(server.url + "/readyz", timeout=30)
        body = r.json()
        assert r.status_code == 503 and body["index"] == "idx" and body["state"] == "damaged"
        assert "faiss.index" in body["reason"] and str(tmp_path) not in r.text
        ask = httpx.post(server.url + "/v1/ask", json={"question": "Who met Blinken?"}, timeout=60)
        assert ask.status_code == 503 and "faiss.index" in ask.json()["error"]["message"] and str(tmp_path) not in ask.text
        seen: list[int] = []
        done = threading.Event()

        def poll() -> None:  # clients keep asking while the index is rebuilt and swapped in
            while not done.is_set():
                seen.append(httpx.post(server.url + "/v1/search", json={"query": "Blinken"}, timeout=60).status_code)
                seen.append(httpx.get(server.url + "/readyz", timeout=60).status_code)

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            build_index(SEEDS, settings, service.embedder(settings))  # what `rag index --rebuild` does
            deadline = time.time() + 30
            while httpx.get(server.url + "/readyz", timeout=30).status_code != 200 and time.time() < deadline:
                time.sleep(0.2)
        finally:
            done.set()
            poller.join()
        assert httpx.get(server.url + "/readyz").json()["state"] == "ready"
        assert httpx.post(server.url + "/v1/ask", json={"question": "Who met Blinken?"}, timeout=60).status_code == 200
        assert set(seen) <= {200, 503} and 503 in seen, sorted(set(seen))
