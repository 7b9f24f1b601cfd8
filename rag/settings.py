"""The answering library's settings: retrieval, backends, answering, evaluation's judge.

``RagSettings`` extends ``index.settings.IndexSettings`` (the index it reads) and is extended by
``ui.settings.Settings`` (the faces' own knobs). Loading rules, ranges and choices: see
``index.settings``. Thresholds that are not per-deployment settings live in ``rag.thresholds``.

Example::

    >>> s = RagSettings.load(top_k=3, backend="extractive")
    >>> s.top_k, s.backend
    (3, 'extractive')
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from index.errors import ConfigError
from index.settings import IndexSettings
from rag.thresholds import MAX_TOP_K_ANSWER

DEFAULT_LLM_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


@dataclass(frozen=True)
class RagSettings(IndexSettings):
    """What the answering library reads, on top of the index's settings."""

    RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "top_k": (1, MAX_TOP_K_ANSWER),
        "min_score": (-1.0, 2.0),
        "llm_threads": (1, 512),
        "llm_ctx": (256, 1_048_576),
        "llm_parallel": (1, 64),
        "llm_max_tokens": (1, 65_536),
        "llm_timeout_s": (0.1, 86_400),
        "prompt_tokens": (100, 1_000_000),
        "overrule_refusal_score": (-1.0, 100.0),
        "max_question_chars": (1, 1_000_000),
    }
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        "prompt_mode": ("evidence", "focused", "full"),
    }

    # Retrieval
    top_k: int = 5
    min_score: float = 0.30  # search drops passages under this cosine; ask() refuses when no passage reaches it (rag.answerability)

    # Answering
    backend: str = "local"  # a name in rag.backends: "local" | "openai" | "extractive"
    llm_model: str = DEFAULT_LLM_MODEL
    llm_threads: int = 2
    llm_ctx: int = 4096  # tokens of context per slot
    llm_parallel: int = 4  # local LLM: answers decoded together (llama.cpp slots, continuous batching); each holds llm_ctx tokens
    llm_max_tokens: int = 300
    openai_base_url: str = "http://127.0.0.1:11434/v1"
    openai_model: str = "qwen2.5:1.5b"
    openai_api_key: str = "none"
    llm_timeout_s: float = 180.0
    prompt_tokens: int = 1000
    overrule_refusal_score: float = 0.55  # the LLM's "not found" gives way to quotes when a passage scores this (README)
    prompt_mode: str = "evidence"  # "evidence": answer built on 1–2 selected sentences (README); "focused"/"full": the model writes it all
    max_question_chars: int = 4000  # a longer question is refused (rag.questions)

    # Evaluation: an optional OpenAI-compatible judge for correctness/faithfulness
    judge_base_url: str = ""
    judge_model: str = ""
    judge_api_key: str = "none"

    def __post_init__(self) -> None:
        super().__post_init__()
        from rag import backends  # the registry is the one list of backend names

        if self.backend not in backends.names():
            raise ConfigError(f"backend must be one of {', '.join(repr(n) for n in backends.names())}, got {self.backend!r}")
