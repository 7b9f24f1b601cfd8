"""The HTTP API: JSON endpoints and an OpenAI-compatible chat endpoint, over ``ask()``/``search()``.

Endpoints: ``POST /v1/ask``, ``POST /v1/search``, ``POST /v1/chat/completions`` (stream or
not), ``GET /v1/models``, ``GET /healthz``, ``GET /readyz``; the schema at ``/openapi.json``
and a plain, offline page of the endpoints at ``/docs``.

What a client cannot do (README, "Security"): reach ``/v1`` without the token when one is set,
pick a backend the server does not allow (``allowed_backends``), send a body over 256 KiB
(counted as it arrives, chunked or not) or take longer than ``body_timeout_s`` to send it,
hold a concurrency slot after it disconnects, or get an error in any shape but
``{"error": {"message", "type"}}``.

Example::

    $ rag serve --port 8000
    $ curl -s localhost:8000/v1/ask -H 'content-type: application/json' -d '{"question": "Who met Blinken?"}'
"""
from __future__ import annotations

import asyncio
import hmac
import html
import json
import logging
import re
import threading
import time
import uuid
from contextlib import asynccontextmanager
from typing import Any, Literal

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

from index.errors import ConfigError, IndexDamagedError, IndexMismatchError, IndexMissingError, ModelMissingError, RagError
from rag import (
    MAX_TOP_K_ANSWER,
    MAX_TOP_K_SEARCH,
    Answer,
    InputError,
    LLMCalls,
    ask,
    ask_stream,
    backends,
    check_unicode,
    get_retriever,
    remember,
    search,
    serving,
)
from ui.documents_api import documents_router, upload_body_limit
from ui.errors import Forbidden, http_status
from ui.security import require_token_off_loopback
from ui.settings import Settings, check_port

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
MODEL_PREFIX = "arabic-news-rag"


class _Strict(BaseModel):
    """Request bodies: numbers must be finite (``NaN``/``Infinity`` are input errors, not 500s)."""

    model_config = ConfigDict(allow_inf_nan=False)


class AskRequest(_Strict):
    question: str = Field(description="The question, Arabic or English (at most max_question_chars characters, default 4,000)")
    history: list[dict[str, str]] | None = Field(None, description='Earlier turns: [{"role": "user"|"assistant", "content": "…"}]')
    top_k: int | None = Field(None, ge=1, le=MAX_TOP_K_ANSWER)
    backend: str | None = Field(None, description="An answering backend the server allows (setting allowed_backends; "
                                                  "default: only the server's own). GET /v1/models lists them.")


class SearchRequest(_Strict):
    query: str
    top_k: int | None = Field(None, ge=1, le=MAX_TOP_K_SEARCH)
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"


class ChatMessage(_Strict):
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(_Strict):
    model: str = MODEL_PREFIX
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    top_k: int | None = Field(None, ge=1, le=MAX_TOP_K_ANSWER)
    temperature: float | None = Field(None, ge=0, le=2, description="Accepted for OpenAI clients; answers are greedy")


class ErrorDetail(BaseModel):
    message: str = Field(description="What was wrong and what to do about it")
    type: str = Field(description="A short machine-readable kind, e.g. invalid_request, authentication_error, rate_limit")


class ErrorResponse(BaseModel):
    """The one shape of every error this API returns."""

    error: ErrorDetail


ERROR_STATUSES = {
    400: "Invalid request: not valid Unicode, malformed body",
    401: "Missing or wrong bearer token",
    403: "A backend or model this server does not allow",
    408: "The request body did not arrive within body_timeout_s",
    413: "Question over max_question_chars, or body over 256 KiB",
    422: "Malformed JSON, wrong types, values out of range, empty question, unknown backend or model",
    429: "Over max_concurrent requests at once (see Retry-After)",
    503: "Index or models missing, damaged or loading (see /readyz)",
}
V1_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse, "description": text} for code, text in ERROR_STATUSES.items()}
_ABSOLUTE_PATH = re.compile(r"(?<![:/\w.~-])(?:/[^\s/'\"`]+)+/([^\s/'\"`;,)]+)")


def redact(text: str) -> str:
    """``text`` with absolute paths cut to their last part: clients learn the index name, not the disk layout."""
    return _ABSOLUTE_PATH.sub(r"\1", text)


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": redact(message), "type": kind}}, status_code=status, headers=headers)


def _backend_names() -> tuple[str, ...]:
    return backends.names()


def allowed_backends(settings: Settings) -> tuple[str, ...]:
    """The backends a client may ask for: the setting ``allowed_backends`` (default: the server's own)."""
    names = tuple(dict.fromkeys([settings.backend, *(b.strip() for b in settings.allowed_backends.split(",") if b.strip())]))
    unknown = [b for b in names if b not in _backend_names()]
    if unknown:
        raise ConfigError(f"setting allowed_backends names unknown backend(s) {', '.join(unknown)}; "
                          f"choose among {', '.join(_backend_names())}")
    return names


def model_backends(settings: Settings) -> dict[str, str]:
    """OpenAI model ids this server answers to, and the backend each selects."""
    return {MODEL_PREFIX: settings.backend, **{f"{MODEL_PREFIX}-{b}": b for b in allowed_backends(settings)}}


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


def check_strings(value: Any, where: str = "body") -> None:
    """Every string in a request (keys too) must be valid Unicode: a lone surrogate reaching the
    shared embedding batch used to fail every request batched with it (issue 15, item 1)."""
    if isinstance(value, str):
        check_unicode(value, where)
    elif isinstance(value, BaseModel):
        check_strings(value.model_dump(), where)
    elif isinstance(value, dict):
        for k, v in value.items():
            check_strings(k, where)
            check_strings(v, f"{where}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_strings(v, f"{where}[{i}]")


def _validation_message(exc: RequestValidationError) -> tuple[int, str, str]:
    """Status, message and kind for a request pydantic refused; the offending input is never echoed
    (it may be NaN, which JSON cannot carry, or megabytes of text)."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 422, "the body is not valid JSON", "invalid_json"
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {e.get('msg', 'invalid')}")
    return 422, "; ".join(parts), "invalid_request"


class Guard:
    """Pure ASGI middleware for ``/v1/*``: the bearer token, then the body, read here in full with
    its bytes counted as they arrive (``Content-Length`` or chunked) and a deadline for slow clients.

    It sits inside the CORS middleware, so a browser's preflight (OPTIONS) is answered without a token.
    """

    def __init__(self, app, settings: Settings) -> None:
        self.app = app
        self.token = settings.api_token
        self.timeout = settings.body_timeout_s
        self.upload_limit = upload_body_limit(settings)  # POST /v1/documents carries article files (ui.documents_api)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.token and not hmac.compare_digest(headers.get("authorization", "").encode(), f"Bearer {self.token}".encode()):
            await _error(401, "missing or wrong bearer token (header Authorization: Bearer …)", "authentication_error",
                         {"WWW-Authenticate": 'Bearer realm="arabic-news-rag"'})(scope, receive, send)
            return
        limit = self.upload_limit if scope["path"] == "/v1/documents" and scope["method"] == "POST" else MAX_BODY_BYTES
        size = headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > limit):
            status = 413 if size.isdigit() else 400
            await _error(status, f"request body over {limit // 1024} KiB" if status == 413 else "bad Content-Length",
                         "request_too_large" if status == 413 else "invalid_request", {"Connection": "close"})(scope, receive, send)
            return
        body = bytearray()
        deadline = time.monotonic() + self.timeout
        more = True
        while more:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                await _error(408, f"the request body did not arrive within {self.timeout:g} s (setting body_timeout_s)",
                             "timeout", {"Connection": "close"})(scope, receive, send)
                return
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await _error(413, f"request body over {limit // 1024} KiB", "request_too_large",
                             {"Connection": "close"})(scope, receive, send)
                return
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # after the body: the disconnect, for streaming responses

        await self.app(scope, replay, send)


class _Stream(StreamingResponse):
    """A streaming response whose body generator is always closed, also when the client went away."""

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()


def _docs_page(spec: dict[str, Any]) -> str:
    """A self-contained page of the endpoints (no JavaScript, no CDN): /docs works offline."""
    rows = []
    for path, ops in spec.get("paths", {}).items():
        for method, op in ops.items():
            rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                        f"<td>{html.escape(op.get('summary', ''))}</td></tr>")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Arabic news RAG API</title></head><body>"
            f"<h1>{html.escape(spec['info']['title'])} {html.escape(spec['info']['version'])}</h1>"
            f"<p>{html.escape(spec['info'].get('description', ''))}</p><table>{''.join(rows)}</table>"
            "<p>The full schema (request and response bodies) is at <a href='/openapi.json'>/openapi.json</a>. "
            "The interactive Swagger page is off: it loads its scripts from a CDN, which an offline server cannot reach.</p>"
            "</body></html>")


def _readiness(exc: RagError) -> str:
    if isinstance(exc, IndexMissingError):
        return "missing"
    if isinstance(exc, IndexDamagedError):
        return "damaged"
    if isinstance(exc, IndexMismatchError):
        return "mismatch"
    if isinstance(exc, ModelMissingError):
        return "model missing"
    return "error"


def create_app(settings: Settings) -> FastAPI:
    """The FastAPI app for ``settings`` (token, CORS, limits); models load in the background.

    Raises ``ConfigError`` for settings a server cannot run with.
    """
    allowed = allowed_backends(settings)
    backends = model_backends(settings)
    slots = threading.BoundedSemaphore(settings.max_concurrent)
    index_name = settings.index_dir.name
    state: dict[str, Any] = {"warm": False}

    def warm_up() -> None:
        from rag import embedder, start_llm

        try:
            start_llm(settings, for_server=True)  # the local LLM loads and warms its slots beside the embedder
            embedder(settings).dim  # the model loads even when the index is damaged, so a rebuild is served at once
            get_retriever(settings).search("warm up", 1)
        except RagError as exc:
            log.warning("not ready: %s", exc)
        except Exception:  # never leave /readyz at "loading" for ever
            log.exception("warm-up failed")
        finally:
            state["warm"] = True

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        threading.Thread(target=warm_up, daemon=True).start()  # /readyz turns 200 when done
        yield

    app = FastAPI(title="Arabic news RAG", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Cited answers over Arabic news articles. All answers come from `ask()`, passages from `search()`. "
                              'Every error is {"error": {"message", "type"}}.')
    app.add_middleware(Guard, settings=settings)
    if settings.cors_origins:  # added last, so outermost: preflights never meet the token check
        app.add_middleware(CORSMiddleware, allow_origins=[o.strip() for o in settings.cors_origins.split(",") if o.strip()],
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["authorization", "content-type"])

    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError) -> JSONResponse:
        return _error(http_status(exc), str(exc), type(exc).__name__)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(*_validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if isinstance(exc.__cause__, UnicodeDecodeError):
            message = "the body is not valid UTF-8"
        elif isinstance(exc.__cause__, ValueError) and exc.status_code == 400:
            message = f"the body could not be parsed ({exc.__cause__})"[:300]
        kind = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, message, kind, getattr(exc, "headers", None))

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
            with serving(settings):  # the question batcher waits for the requests being served (rag.batching)
                return fn(*args, **kwargs)
        finally:
            slots.release()

    def pick_backend(name: str | None) -> str | None:
        if name is None or name in allowed:
            return name
        if name in _backend_names():
            raise Forbidden(f"backend {name!r} is not enabled on this server; allowed: {', '.join(allowed)} (setting allowed_backends)")
        raise InputError(f"unknown backend {name!r}; allowed here: {', '.join(allowed)}")

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> JSONResponse:
        return _error(403, str(exc), "permission_error")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(_docs_page(app.openapi()))

    @app.get("/healthz", summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Readiness: index and embedding model loaded; the index name and state, never a path",
             responses={503: {"description": "Not ready: loading, or the index is missing, damaged or built differently"}})
    def readyz():
        if not state["warm"]:
            return JSONResponse({"status": "not ready", "index": index_name, "state": "loading", "reason": "loading the index and models"},
                                status_code=503, headers={"Retry-After": "5"})
        try:
            get_retriever(settings)  # cached; reloaded when `rag index` swapped a new index in
        except RagError as exc:
            return JSONResponse({"status": "not ready", "index": index_name, "state": _readiness(exc), "reason": redact(str(exc))},
                                status_code=503, headers={"Retry-After": "5"})
        return {"status": "ready", "index": index_name, "state": "ready"}

    @app.post("/v1/search", summary="Retrieve passages (no LLM)", responses=V1_ERRORS)
    def v1_search(req: SearchRequest):
        check_strings(req)
        return limited(lambda: JSONResponse({"passages": [p.to_dict() for p in search(req.query, req.top_k, req.mode, settings)]}))

    @app.post("/v1/ask", summary="Answer a question with citations", responses=V1_ERRORS)
    def v1_ask(req: AskRequest):
        check_strings(req)
        backend = pick_backend(req.backend)

        def run() -> JSONResponse:
            a = ask(req.question, req.history, top_k=req.top_k, backend=backend, settings=settings)
            # rendered as it is (plain JSON types): FastAPI's jsonable_encoder walk took 0.4 ms of every answer
            return JSONResponse(a.to_dict() | {"answer_id": remember(a, settings)})  # POST /v1/feedback names the answer by it
        return limited(run)

    @app.get("/v1/models", summary="OpenAI-compatible model list (the backends this server allows)", responses=V1_ERRORS)
    def v1_models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "local"} for m in backends]}

    @app.post("/v1/chat/completions", summary="OpenAI-compatible chat (stream with SSE)", responses=V1_ERRORS)
    async def v1_chat(req: ChatRequest):
        check_strings(req)
        if req.model not in backends:
            known = req.model.startswith(f"{MODEL_PREFIX}-") and req.model[len(MODEL_PREFIX) + 1:] in _backend_names()
            if known:
                raise Forbidden(f"model {req.model!r} is not enabled on this server; use one of {', '.join(backends)} (setting allowed_backends)")
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
            return await anyio.to_thread.run_sync(limited, run)
        if not slots.acquire(blocking=False):
            return busy()
        try:
            stream = ask_stream(question, history, **options)
            gate = threading.Lock()  # one thread at a time advances (or closes) the answer generator
            calls = LLMCalls()  # the LLM connections of this answer, to cut when the client leaves

            def step() -> str | Answer | None:
                with gate, calls.active():
                    return next(stream, None)

            first = await anyio.to_thread.run_sync(step)  # validation errors surface here, before the 200 is sent
        except BaseException:
            slots.release()
            raise

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": req.model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

        def stop() -> None:
            calls.cancel()  # the model's connection closes: its generation stops at the next token
            with gate:  # a step in flight ends (the LLM error becomes a fallback answer), then the generator
                stream.close()

        async def events():
            try:
                yield chunk({"role": "assistant", "content": ""})
                piece = first
                while piece is not None:
                    if isinstance(piece, Answer):
                        tail = answer_tail(piece)
                        if tail:
                            yield chunk({"content": tail})
                        # The last chunk: when the checked answer differs from what was streamed (a line the
                        # checks withdrew), "replace" carries the text a client shows instead (README, API).
                        extra = {"replace": piece.text} if piece.replaced else {}
                        yield chunk({}, "stop", citations=[c.to_dict() for c in piece.citations], rag=piece.to_dict(), **extra)
                        break
                    yield chunk({"content": piece})
                    # abandon_on_cancel: a client that goes away frees its slot now, not at the next token
                    piece = await anyio.to_thread.run_sync(step, abandon_on_cancel=True)
                yield "data: [DONE]\n\n"
            finally:
                slots.release()
                threading.Thread(target=stop, daemon=True).start()

        return _Stream(events(), media_type="text/event-stream")

    app.include_router(documents_router(settings, ErrorResponse))  # /v1/documents, /v1/jobs, /v1/feedback (ui.documents_api)
    return app


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the API under uvicorn; refuse to listen beyond loopback without a token."""
    import uvicorn

    check_port(port)
    require_token_off_loopback(settings, host, "the API")
    app = create_app(settings)
    print(f"API on http://{host}:{port}  (endpoints: http://{host}:{port}/docs)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_keep_alive=5)
