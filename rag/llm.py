"""LLM backends behind one protocol: an OpenAI-compatible endpoint, or the embedded local model.

Both are driven through langchain-openai's ``ChatOpenAI``: the local backend starts
llama.cpp's own OpenAI-compatible server in-process (``xllamacpp``) on a loopback port,
lazily and once, and points ``ChatOpenAI`` at it — the same code path as Ollama, vLLM,
LM Studio or OpenAI itself. (The third backend, extractive, needs no LLM: see
``rag.extractive``.)

Example::

    >>> chat = chat_model(RagSettings.load(backend="openai", openai_base_url="http://127.0.0.1:11434/v1"))
    >>> chat.invoke("Say hi").content
"""
from __future__ import annotations

import atexit
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from index import models
from index.errors import ModelMissingError
from rag.errors import BackendError

if TYPE_CHECKING:  # annotations only: rag.settings checks backend names against this registry
    from rag.settings import RagSettings

log = logging.getLogger(__name__)

PROMPT_CACHE_MIB = 256  # host-memory cache of slot prompts (llama.cpp's default, 8 GiB, is more than this machine has)


class LocalServer:
    """The embedded GGUF model served by llama.cpp on 127.0.0.1 (one per process)."""

    _instance: "LocalServer | None" = None
    _lock = threading.Lock()

    def __init__(self, model_path: Path, threads: int, ctx: int, slots: int = 1) -> None:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(model_path)
        # Parallel slots with continuous batching: up to ``slots`` answers decode together, one
        # token each per step, so a second reader gets its first words without waiting for the
        # first reader's whole answer. Each slot keeps its own ``ctx`` tokens (the KV cache is
        # split, so the total is ctx × slots: 28 KB a token for this 1.5B model, 460 MB for 4 × 4096).
        params.n_parallel = slots
        params.n_ctx = ctx * slots
        params.kv_unified = False
        params.cont_batching = True
        # A slot keeps its last prompt: the next request sharing its beginning (the system prompt and
        # instructions every answer starts with) reuses it instead of evaluating it again.
        params.cache_prompt = True
        params.cache_ram_mib = PROMPT_CACHE_MIB
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.port = 0  # any free port on loopback
        # a key made for this process: other local users and processes cannot drive the model's port
        self.api_key = secrets.token_urlsafe(32)
        params.api_keys = [self.api_key]
        params.verbosity = -1
        self.slots = slots
        log.info("starting the local LLM %s (%d threads, %d slots of %d tokens)", model_path.name, threads, slots, ctx)
        self._server = xllamacpp.Server(params)
        self.base_url = self._server.listening_address.rstrip("/") + "/v1"
        log.info("local LLM listening on %s", self.base_url)

    @classmethod
    def get(cls, settings: RagSettings) -> "LocalServer":
        """Start the server on first use; later calls get the same one (a start in progress in
        another thread, see ``start_background``, is waited for)."""
        with cls._lock:
            if cls._instance is None:
                spec = models.SPECS.get(settings.llm_model)
                path = models.require(spec, settings.models_dir) if spec else Path(settings.llm_model).expanduser()
                if not path.exists():
                    raise ModelMissingError(f"local LLM file {path} does not exist; run: rag models (or set RAG_LLM_MODEL)")
                try:
                    cls._instance = cls(path, settings.llm_threads, settings.llm_ctx, settings.llm_parallel)
                except Exception as exc:  # the native server gives no finer error types
                    raise BackendError(f"could not start the local LLM from {path}: {exc}") from exc
                atexit.register(cls.shutdown)
            return cls._instance

    def warm(self, prompts: list[list[tuple[str, str]]]) -> None:
        """Evaluate each of ``prompts`` (chat messages) in every slot, one token each, the slots together.

        llama.cpp keeps a prompt cache per slot, not one shared by the slots: after a start, each
        slot's first answer evaluated the whole shared system prompt (181 tokens, 16 s on 2 cores
        when 4 readers came at once; bench/bench_llm_concurrency.py). A server calls this once in
        the background after it starts; the last prompt stays in each slot, the earlier ones in
        llama.cpp's host-memory prompt cache (``PROMPT_CACHE_MIB``)."""
        import httpx

        roles = {"human": "user", "ai": "assistant"}
        headers = {"Authorization": f"Bearer {self.api_key}"}

        def one(messages: list[tuple[str, str]], slot: int) -> None:
            # id_slot: each request to a slot of its own. Left to llama.cpp, a request that came after another
            # had finished went to that idle slot (its prompt matches best), leaving a slot unwarmed
            # (tests/test_llm_slots.py failed so now and then, one reader finding none of the prompt).
            body = {"model": "local", "max_tokens": 1, "temperature": 0.0, "cache_prompt": True, "id_slot": slot,
                    "messages": [{"role": roles.get(r, r), "content": c} for r, c in messages]}
            try:
                httpx.post(self.base_url + "/chat/completions", json=body, headers=headers, timeout=600).raise_for_status()
            except httpx.HTTPError as exc:  # a cold slot only costs time
                log.warning("warming an LLM slot failed: %s", exc)

        started = time.perf_counter()
        for messages in prompts:
            threads = [threading.Thread(target=one, args=(messages, slot)) for slot in range(self.slots)]  # together: one per slot
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        log.info("local LLM: %d prompts in %d slots warmed in %.1f s", len(prompts), self.slots, time.perf_counter() - started)

    @classmethod
    def start_background(cls, settings: RagSettings, warm: list[list[tuple[str, str]]] | None = None) -> threading.Thread:
        """Start the server in a background thread, so it loads while the caller loads the embedder
        and the index (a cold ``rag ask`` pays for the slower of the two, not their sum); then,
        for a server, ``warm`` its slots with these prompts. A failure is logged here and raised
        again by the next ``get``."""

        def start() -> None:
            try:
                server = cls.get(settings)
                if warm:
                    server.warm(warm)
            except Exception as exc:  # reported to the caller by its own get()
                log.debug("background start of the local LLM failed: %s", exc)

        thread = threading.Thread(target=start, name="local-llm-start", daemon=True)
        thread.start()
        return thread

    @classmethod
    def shutdown(cls) -> None:
        """Stop the server (also run at interpreter exit)."""
        with cls._lock:
            if cls._instance is not None:
                del cls._instance._server
                cls._instance = None


def chat_model(settings: RagSettings, max_tokens: int | None = None, temperature: float = 0.0):
    """A ``ChatOpenAI`` for the configured backend (``local`` starts the embedded server)."""
    if settings.backend == "local":
        server = LocalServer.get(settings)
        base_url, model, key = server.base_url, "local", server.api_key
    elif settings.backend == "openai":
        base_url, model, key = settings.openai_base_url, settings.openai_model, settings.openai_api_key or "none"
    else:
        raise BackendError(f"backend {settings.backend!r} uses no LLM")
    calls = _calls.get()
    return _compatible_chat()(
        base_url=base_url, model=model, api_key=key, temperature=temperature,
        max_tokens=max_tokens or settings.llm_max_tokens, timeout=settings.llm_timeout_s, max_retries=0,
        http_client=calls.client(settings.llm_timeout_s) if calls is not None else None,
    )


@lru_cache(maxsize=1)
def _compatible_chat():
    """``ChatOpenAI`` that sends the length limit as ``max_tokens``. langchain-openai renames it to
    ``max_completion_tokens`` (OpenAI's newer name), which llama.cpp-based servers, Ollama and older
    vLLM ignore or reject (issue 17); every OpenAI-compatible server honours ``max_tokens``."""
    from langchain_openai import ChatOpenAI

    class CompatibleChatOpenAI(ChatOpenAI):
        def _get_request_payload(self, input_, *, stop=None, **kwargs):
            payload = super()._get_request_payload(input_, stop=stop, **kwargs)
            if "max_completion_tokens" in payload:
                payload["max_tokens"] = payload.pop("max_completion_tokens")
            return payload

    return CompatibleChatOpenAI


class LLMCalls:
    """The LLM calls one request makes: while ``active()``, every ``chat_model`` gets its own HTTP
    client, and ``cancel()`` (from any thread) closes them, so a generation whose reader went away
    stops at its next token instead of running to the end. (Closing the LangChain stream alone is
    not enough: LangChain reads the rest of the model's output when its stream is closed.)"""

    def __init__(self) -> None:
        self._clients: list = []
        self._lock = threading.Lock()
        self.cancelled = False

    @contextmanager
    def active(self) -> Iterator["LLMCalls"]:
        token = _calls.set(self)
        try:
            yield self
        finally:
            _calls.reset(token)

    def client(self, timeout: float):
        import httpx

        client = httpx.Client(timeout=timeout)
        with self._lock:
            if not self.cancelled:
                self._clients.append(client)
                return client
        client.close()
        raise BackendError("the request was cancelled")

    def cancel(self) -> None:
        with self._lock:
            self.cancelled, clients, self._clients = True, self._clients, []
        for client in clients:
            try:
                client.close()
            except Exception as exc:  # closing under a reader in another thread may complain; it is closed
                log.debug("closing an LLM client: %s", exc)


_calls: ContextVar[LLMCalls | None] = ContextVar("rag_llm_calls", default=None)
