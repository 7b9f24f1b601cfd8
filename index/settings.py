"""The one home of configuration: defaults < config file < environment < explicit overrides.

Every setting has a default that works offline. A setting ``foo_bar`` is read from the
environment variable ``RAG_FOO_BAR`` and from the key ``foo_bar`` of a TOML config file
(``RAG_CONFIG`` or ``--config``).

Example::

    >>> s = Settings.load(top_k=3)
    >>> s.top_k
    3
"""
from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from index.errors import ConfigError

DEFAULT_EMBEDDING_MODEL = "embeddinggemma-300m"
DEFAULT_LLM_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


# The allowed range of every numeric setting, checked when settings are made (``rag`` refuses to start otherwise).
RANGES: dict[str, tuple[float, float]] = {
    "embed_batch_size": (1, 1024),
    "chunk_tokens": (16, 8192),
    "chunk_overlap_sentences": (0, 20),
    "hnsw_m": (4, 256),
    "top_k": (1, 20),
    "min_score": (-1.0, 2.0),
    "llm_threads": (1, 512),
    "llm_ctx": (256, 1_048_576),
    "llm_max_tokens": (1, 65_536),
    "llm_timeout_s": (0.1, 86_400),
    "prompt_tokens": (100, 1_000_000),
    "overrule_refusal_score": (-1.0, 100.0),
    "max_question_chars": (1, 1_000_000),
    "max_concurrent": (1, 4096),
    "body_timeout_s": (0.1, 3600),
}


def check_port(port: object, what: str = "--port") -> int:
    """``port`` when it is a TCP port number (1–65535), else a ``ConfigError`` naming ``what``."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f"{what} must be a port number between 1 and 65535, got {port!r}")
    return port


def _default_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "arabic-news-rag"


@dataclass(frozen=True)
class Settings:
    """All tunable knobs. Paths default to places under ``home``."""

    home: Path = field(default_factory=_default_home)
    index_dir: Path | None = None  # default: home / "index"
    models_dir: Path | None = None  # default: home / "models"

    # Embedding and index
    embedding_model: str = DEFAULT_EMBEDDING_MODEL  # a provisioned name, a local path or a sentence-transformers id
    embed_batch_size: int = 16
    embed_dtype: str = "auto"  # "auto" (bfloat16 where the CPU has native bf16, else float32) | "float32" | "bfloat16"
    chunk_tokens: int = 220  # target chunk size in cl100k tokens
    chunk_overlap_sentences: int = 1
    index_kind: str = "flat"  # "flat" (exact) or "hnsw" (approximate, for large corpora)
    hnsw_m: int = 32

    # Retrieval
    top_k: int = 5
    min_score: float = 0.30  # passages under this cosine are dropped; between it and 0.45 rag.answerability decides (README)

    # Answering
    backend: str = "local"  # "local" | "openai" | "extractive"
    llm_model: str = DEFAULT_LLM_MODEL
    llm_threads: int = 2
    llm_ctx: int = 4096
    llm_max_tokens: int = 300
    openai_base_url: str = "http://127.0.0.1:11434/v1"
    openai_model: str = "qwen2.5:1.5b"
    openai_api_key: str = "none"
    llm_timeout_s: float = 180.0
    prompt_tokens: int = 1000
    overrule_refusal_score: float = 0.55  # the LLM's "not found" gives way to quotes when a passage scores this (README)
    prompt_mode: str = "evidence"  # "evidence": answer built on 1–2 selected sentences (README); "focused"/"full": the model writes it all

    # Evaluation: an optional OpenAI-compatible judge for correctness/faithfulness
    judge_base_url: str = ""
    judge_model: str = ""
    judge_api_key: str = "none"

    # HTTP API (and the UI's exposure rule)
    api_token: str = ""  # bearer token for the API; also the UI's password when it listens beyond loopback
    cors_origins: str = ""  # comma separated
    max_question_chars: int = 4000
    max_concurrent: int = 16  # requests answered at once; more get 429 + Retry-After
    allowed_backends: str = ""  # comma separated backends a client may pick per request; empty: only `backend`
    body_timeout_s: float = 10.0  # a request body must arrive within this (slow clients get 408)

    def __post_init__(self) -> None:
        home = Path(self.home).expanduser()
        object.__setattr__(self, "home", home)
        object.__setattr__(self, "index_dir", Path(self.index_dir).expanduser() if self.index_dir else home / "index")
        object.__setattr__(self, "models_dir", Path(self.models_dir).expanduser() if self.models_dir else home / "models")
        if self.index_kind not in ("flat", "hnsw"):
            raise ConfigError(f"index_kind must be 'flat' or 'hnsw', got {self.index_kind!r}")
        if self.embed_dtype not in ("auto", "float32", "bfloat16"):
            raise ConfigError(f"embed_dtype must be 'auto', 'float32' or 'bfloat16', got {self.embed_dtype!r}")
        if self.prompt_mode not in ("evidence", "focused", "full"):
            raise ConfigError(f"prompt_mode must be 'evidence', 'focused' or 'full', got {self.prompt_mode!r}")
        if self.backend not in ("local", "openai", "extractive"):
            raise ConfigError(f"backend must be 'local', 'openai' or 'extractive', got {self.backend!r}")
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not low <= value <= high:
                raise ConfigError(f"setting {name} must be between {low:g} and {high:g}, got {value!r} "
                                  f"(from RAG_{name.upper()}, the config file or an option)")

    @classmethod
    def load(cls, config_file: str | Path | None = None, **overrides: Any) -> "Settings":
        """Build settings from defaults, a TOML file, ``RAG_*`` env vars and ``overrides`` (None values ignored)."""
        values: dict[str, Any] = {}
        known = {f.name: f for f in fields(cls)}
        path = config_file or os.environ.get("RAG_CONFIG")
        if path:
            try:
                with open(path, "rb") as fh:
                    data = tomllib.load(fh)
            except FileNotFoundError:
                raise ConfigError(f"config file {path} does not exist") from None
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
            unknown = set(data) - set(known)
            if unknown:
                raise ConfigError(f"unknown setting(s) in {path}: {', '.join(sorted(unknown))}")
            values.update(data)
        for name in known:
            env = os.environ.get(f"RAG_{name.upper()}")
            if env is not None and env != "":
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**{k: _coerce(known[k], v) for k, v in values.items()})

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some settings changed (None values ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    kind = str(f.type)
    try:
        if "Path" in kind:
            return Path(value)
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        return str(value) if not isinstance(value, str) else value
    except (TypeError, ValueError):
        raise ConfigError(f"setting {f.name} should be {kind}, got {value!r}") from None
