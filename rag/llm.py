"""LLM backends behind one protocol: an OpenAI-compatible endpoint, or the embedded local model.

Both are driven through langchain-openai's ``ChatOpenAI``: the local backend starts
llama.cpp's own OpenAI-compatible server in-process (``xllamacpp``) on a loopback port,
lazily and once, and points ``ChatOpenAI`` at it — the same code path as Ollama, vLLM,
LM Studio or OpenAI itself. (The third backend, extractive, needs no LLM: see
``rag.extractive``.)

Example::

    >>> chat = chat_model(Settings.load(backend="openai", openai_base_url="http://127.0.0.1:11434/v1"))
    >>> chat.invoke("Say hi").content
"""
from __future__ import annotations

import atexit
import logging
import threading
from pathlib import Path

from index import models
from index.errors import BackendError, ModelMissingError
from index.settings import Settings

log = logging.getLogger(__name__)


class LocalServer:
    """The embedded GGUF model served by llama.cpp on 127.0.0.1 (one per process)."""

    _instance: "LocalServer | None" = None
    _lock = threading.Lock()

    def __init__(self, model_path: Path, threads: int, ctx: int) -> None:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(model_path)
        params.n_ctx = ctx
        params.n_parallel = 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.port = 0  # any free port on loopback
        params.verbosity = -1
        log.info("starting the local LLM %s (%d threads)", model_path.name, threads)
        self._server = xllamacpp.Server(params)
        self.base_url = self._server.listening_address.rstrip("/") + "/v1"
        log.info("local LLM listening on %s", self.base_url)

    @classmethod
    def get(cls, settings: Settings) -> "LocalServer":
        """Start the server on first use; later calls get the same one."""
        with cls._lock:
            if cls._instance is None:
                spec = models.SPECS.get(settings.llm_model)
                path = models.require(spec, settings.models_dir) if spec else Path(settings.llm_model).expanduser()
                if not path.exists():
                    raise ModelMissingError(f"local LLM file {path} does not exist; run: rag models (or set RAG_LLM_MODEL)")
                try:
                    cls._instance = cls(path, settings.llm_threads, settings.llm_ctx)
                except Exception as exc:  # the native server gives no finer error types
                    raise BackendError(f"could not start the local LLM from {path}: {exc}") from exc
                atexit.register(cls.shutdown)
            return cls._instance

    @classmethod
    def shutdown(cls) -> None:
        """Stop the server (also run at interpreter exit)."""
        with cls._lock:
            if cls._instance is not None:
                del cls._instance._server
                cls._instance = None


def chat_model(settings: Settings, max_tokens: int | None = None, temperature: float = 0.0):
    """A ``ChatOpenAI`` for the configured backend (``local`` starts the embedded server)."""
    from langchain_openai import ChatOpenAI

    if settings.backend == "local":
        base_url, model, key = LocalServer.get(settings).base_url, "local", "none"
    elif settings.backend == "openai":
        base_url, model, key = settings.openai_base_url, settings.openai_model, settings.openai_api_key or "none"
    else:
        raise BackendError(f"backend {settings.backend!r} uses no LLM")
    return ChatOpenAI(
        base_url=base_url, model=model, api_key=key, temperature=temperature,
        max_tokens=max_tokens or settings.llm_max_tokens, timeout=settings.llm_timeout_s, max_retries=0,
    )
