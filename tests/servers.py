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


def wait_ready(url: str, seconds: float, alive=lambda: True) -> bool:
    """Poll ``url/readyz`` until it answers 200 (True), time runs out or ``alive()`` is False."""
    deadline = time.time() + seconds
    while time.time() < deadline and alive():
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


class ApiServer:
    """uvicorn serving ``rag.api.create_app(settings)`` in a background thread."""

    def __init__(self, settings) -> None:
        import uvicorn

        from rag.api import create_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "ApiServer":
        self.thread.start()
        if not wait_ready(self.url, 120):
            raise RuntimeError("API server did not become ready")
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
        self.proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(self.port), *args],
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

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
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
