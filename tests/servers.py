"""Helpers to run the real servers (uvicorn API, Gradio UI) on free loopback ports inside tests."""
from __future__ import annotations

import socket
import threading
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, seconds: float, alive=lambda: True, path: str = "/readyz") -> bool:
    """Poll ``url + path`` until it answers 200 (True), time runs out or ``alive()`` is False."""
    deadline = time.time() + seconds
    while time.time() < deadline and alive():
        try:
            if httpx.get(url + path, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


class ApiServer:
    """uvicorn serving ``ui.api.create_app(settings)`` in a background thread."""

    def __init__(self, settings, ready: bool = True) -> None:
        import uvicorn

        from ui.api import create_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready = ready  # False: only wait until it answers (a server whose index is damaged never gets ready)
        self.server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "ApiServer":
        self.thread.start()
        if self.ready and not wait_ready(self.url, 120):
            raise RuntimeError("API server did not become ready")
        if not self.ready and not wait_ready(self.url, 120, path="/healthz"):
            raise RuntimeError("API server did not start")
        if not self.ready:  # and the warm-up is over (readyz says why it is not ready, not "loading")
            deadline = time.time() + 120
            while httpx.get(self.url + "/readyz", timeout=30).json().get("state") == "loading" and time.time() < deadline:
                time.sleep(0.3)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class ServeProcess:
    """``rag serve`` in its own process, as deployed (its threads do not share a GIL with the
    caller's clients). ``env`` adds ``RAG_*`` settings; ``args`` adds command-line options."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        import os
        import subprocess
        import sys
        from pathlib import Path

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "ui.cli", "serve", "--port", str(self.port), *args],
                                     env={**os.environ, **env}, cwd=Path(__file__).resolve().parent.parent,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def __enter__(self) -> "ServeProcess":
        if wait_ready(self.url, 180, lambda: self.proc.poll() is None):
            return self
        self.proc.kill()
        raise RuntimeError(f"rag serve did not become ready: {self.proc.stderr.read()[-2000:]}")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except Exception:  # a server that ignores SIGTERM is killed: tests must not hang
            self.proc.kill()


class ScriptedLLM:
    """A real OpenAI-compatible chat endpoint on loopback that always replies ``reply``
    (streamed as server-sent events when asked), to test what ``ask()`` does with a given reply."""

    def __init__(self, reply: str) -> None:
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        received = self.received = []  # each request's JSON body, in order: what the model was asked

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.append(body)
                self.send_response(200)
                if not body.get("stream"):
                    data = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "scripted",
                                       "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply}}]})
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(data.encode())
                    return
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for i in range(0, len(reply), 4):  # a few characters per chunk, as a model streams
                    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "scripted",
                             "choices": [{"index": 0, "delta": {"content": reply[i:i + 4]}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def __enter__(self) -> "ScriptedLLM":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()


class SlowStreamLLM:
    """A real OpenAI-compatible endpoint on loopback that streams a long reply slowly (one piece
    every ``every`` seconds, for ``pieces`` pieces) and counts the streams whose reader went away
    (``aborted``): what a model still generating for a client that disconnected looks like."""

    def __init__(self, every: float = 0.2, pieces: int = 600) -> None:
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self
        self.started = 0
        self.aborted = 0
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    outer.started += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for i in range(pieces):
                        text = "التقى الوزير فؤاد حسين نظيره الأمريكي في واشنطن [1]. " if i == 0 else "و"
                        chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "slow",
                                 "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                        time.sleep(every)
                    self.wfile.write(b"data: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    with outer.lock:
                        outer.aborted += 1

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def __enter__(self) -> "SlowStreamLLM":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
