"""The HTTP API: JSON endpoints and an OpenAI-compatible chat endpoint, over ``ask()``/``search()``.

Endpoints: ``POST /v1/ask``, ``POST /v1/search``, ``POST /v1/chat/completions`` (stream or
not), ``GET /v1/models``, ``GET /healthz``, ``GET /readyz``; OpenAPI docs at ``/docs``.

Example::

    $ rag serve --port 8000
    $ curl -s localhost:8000/v1/ask -H 'content-type: application/json' -d '{"question": "Who met Blinken?"}'
"""
from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
import uuid
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from index.errors import ConfigError, InputError, RagError
from index.settings import Settings
from rag.answer import BACKENDS, ask, ask_stream
from rag.service import get_retriever, search
from rag.types import Answer

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
MODEL_PREFIX = "arabic-news-rag"


class AskRequest(BaseModel):
    question: str = Field(description="The question, Arabic or English (at most max_question_chars characters, default 4,000)")
    history: list[dict[str, str]] | None = Field(None, description='Earlier turns: [{"role": "user"|"assistant", "content": "…"}]')
    top_k: int | None = Field(None, ge=1, le=20)
    backend: Literal["local", "openai", "extractive"] | None = None


class SearchRequest(BaseModel):
    query: str
    top_k: int | None = Field(None, ge=1, le=50)
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    model: str = MODEL_PREFIX
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    top_k: int | None = Field(None, ge=1, le=20)


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status, headers=headers)


def model_backends(settings: Settings) -> dict[str, str]:
    """OpenAI model ids this server answers to, and the backend each selects."""
    return {MODEL_PREFIX: settings.backend, **{f"{MODEL_PREFIX}-{b}": b for b in BACKENDS}}


TAIL_LABELS = {"ar": ("ملاحظة", "تحقّق", "المصادر"), "en": ("Note", "Check", "Sources")}


def answer_tail(answer: Answer) -> str:
    """What a plain OpenAI client shows after the answer text: the notice (fallback, overruled
    refusal), the reasons an answer is not grounded, and the numbered sources."""
    note, check, sources = TAIL_LABELS[answer.language]
    lines = []
    if answer.notice:
        lines.append(f"{note}: {answer.notice}")
    if not answer.grounded and answer.reasons:
        lines.append(f"{check}: " + "; ".join(answer.reasons[:3]))
    if answer.citations:
        lines.append(f"{sources}:\n" + "\n".join(f"[{c.n}] {c.passage.title} — {c.passage.source.rsplit('/', 1)[-1]}" for c in answer.citations))
    return "\n\n" + "\n\n".join(lines) if lines else ""


def _text(content: str | list[dict[str, Any]] | None) -> str:
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if part.get("type") == "text")
    return content or ""


def create_app(settings: Settings) -> FastAPI:
    """The FastAPI app for ``settings`` (token, CORS, limits); models load in the background."""
    slots = threading.BoundedSemaphore(settings.max_concurrent)
    state: dict[str, Any] = {"ready": False, "problem": "loading the index and models"}

    def warm_up() -> None:
        try:
            get_retriever(settings).search("warm up", 1)
            state.update(ready=True, problem="")
        except RagError as exc:
            state["problem"] = str(exc)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        threading.Thread(target=warm_up, daemon=True).start()  # /readyz turns 200 when done
        yield

    app = FastAPI(title="Arabic news RAG", version="0.1.0", lifespan=lifespan,
                  description="Cited answers over Arabic news articles. All answers come from `ask()`, passages from `search()`.")

    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=[o.strip() for o in settings.cors_origins.split(",")],
                           allow_methods=["GET", "POST"], allow_headers=["authorization", "content-type"])

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if request.url.path.startswith("/v1/"):
            if settings.api_token and request.headers.get("authorization") != f"Bearer {settings.api_token}":
                return _error(401, "missing or wrong bearer token (header Authorization: Bearer …)", "authentication_error")
            size = request.headers.get("content-length")
            if size and size.isdigit() and int(size) > MAX_BODY_BYTES:
                return _error(413, f"request body over {MAX_BODY_BYTES // 1024} KiB", "request_too_large")
        return await call_next(request)

    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError) -> JSONResponse:
        return _error(exc.http_status, str(exc), type(exc).__name__)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return _error(500, "internal error; see the server log", "internal_error")

    def busy() -> JSONResponse:
        return _error(429, f"too many concurrent requests (limit {settings.max_concurrent}); retry shortly", "rate_limit", {"Retry-After": "2"})

    def limited(fn, *args, **kwargs):
        if not slots.acquire(blocking=False):
            return busy()
        try:
            return fn(*args, **kwargs)
        finally:
            slots.release()

    @app.get("/healthz", summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Readiness: index and embedding model loaded")
    def readyz():
        if state["ready"]:
            return {"status": "ready"}
        return JSONResponse({"status": "not ready", "reason": state["problem"]}, status_code=503, headers={"Retry-After": "5"})

    @app.post("/v1/search", summary="Retrieve passages (no LLM)")
    def v1_search(req: SearchRequest):
        return limited(lambda: {"passages": [p.to_dict() for p in search(req.query, req.top_k, req.mode, settings)]})

    @app.post("/v1/ask", summary="Answer a question with citations")
    def v1_ask(req: AskRequest):
        def run() -> dict[str, Any]:
            a = ask(req.question, req.history, top_k=req.top_k, backend=req.backend, settings=settings)
            return a.to_dict()
        return limited(run)

    @app.get("/v1/models", summary="OpenAI-compatible model list")
    def v1_models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "local"} for m in model_backends(settings)]}

    @app.post("/v1/chat/completions", summary="OpenAI-compatible chat (stream with SSE)")
    def v1_chat(req: ChatRequest):
        backends = model_backends(settings)
        if req.model not in backends:
            raise InputError(f"unknown model {req.model!r}; use one of {', '.join(backends)}")
        turns = [(m.role, _text(m.content)) for m in req.messages if m.role in ("user", "assistant")]
        if not turns or turns[-1][0] != "user":
            raise InputError("the last message must come from the user")
        question, history = turns[-1][1], turns[:-1]
        options = dict(top_k=req.top_k, backend=backends[req.model], settings=settings)
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if not req.stream:
            def run():
                a = ask(question, history, **options)
                return {"id": cid, "object": "chat.completion", "created": created, "model": req.model,
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": a.text + answer_tail(a)}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                        "citations": [c.to_dict() for c in a.citations], "rag": a.to_dict()}
            return limited(run)
        if not slots.acquire(blocking=False):
            return busy()
        stream = ask_stream(question, history, **options)
        try:
            first = next(stream)  # validation errors surface here, before the 200 is sent
        except BaseException:
            slots.release()
            raise

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": req.model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

        def events():
            try:
                yield chunk({"role": "assistant", "content": ""})
                for piece in [first, *stream] if not isinstance(first, Answer) else [first]:
                    if isinstance(piece, Answer):
                        tail = answer_tail(piece)
                        if tail:
                            yield chunk({"content": tail})
                        yield chunk({}, "stop", citations=[c.to_dict() for c in piece.citations], rag=piece.to_dict())
                    else:
                        yield chunk({"content": piece})
                yield "data: [DONE]\n\n"
            finally:
                slots.release()

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the API under uvicorn; refuse to listen beyond loopback without a token."""
    import uvicorn

    if not is_loopback(host) and not settings.api_token:
        raise ConfigError(f"refusing to listen on {host} without a token: set RAG_API_TOKEN (clients then send Authorization: Bearer …)")
    print(f"API on http://{host}:{port}  (docs: http://{host}:{port}/docs)", flush=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
