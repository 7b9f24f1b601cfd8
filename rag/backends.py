"""The answering backends, in one registry: ``local``, ``openai``, ``extractive``.

Each backend has one method, ``chat_model(settings, max_tokens, temperature)``: the LangChain
chat model that writes (and translates) for it, or ``None`` for a backend that uses no LLM.
The CLI's choices, the API schema and the UI's selector all read ``names()``.

Example::

    >>> names()
    ('local', 'openai', 'extractive')
    >>> get("extractive").chat_model(settings) is None
    True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from rag.errors import InputError

if TYPE_CHECKING:  # annotations only: rag.settings checks backend names against this registry
    from rag.settings import RagSettings


class Backend(Protocol):
    name: str
    description: str
    uses_llm: bool

    def chat_model(self, settings: RagSettings, max_tokens: int | None = None, temperature: float = 0.0) -> Any | None: ...


@dataclass(frozen=True)
class _OpenAICompatible:
    """An OpenAI-compatible endpoint: the embedded llama.cpp server (``local``) or any server (``openai``)."""

    name: str
    description: str
    uses_llm: bool = True

    def chat_model(self, settings: RagSettings, max_tokens: int | None = None, temperature: float = 0.0) -> Any:
        from rag.llm import chat_model

        return chat_model(settings.replace(backend=self.name), max_tokens=max_tokens, temperature=temperature)


@dataclass(frozen=True)
class _Extractive:
    name: str = "extractive"
    description: str = "no LLM: quotes the sentences that answer (English readers get no translation)"
    uses_llm: bool = False

    def chat_model(self, settings: RagSettings, max_tokens: int | None = None, temperature: float = 0.0) -> None:
        return None


BACKENDS: dict[str, Backend] = {
    "local": _OpenAICompatible("local", "the embedded Qwen2.5-Coder-1.5B (llama.cpp, in-process)"),
    "openai": _OpenAICompatible("openai", "any OpenAI-compatible server (vLLM, llama.cpp, Ollama, OpenAI)"),
    "extractive": _Extractive(),
}


def names() -> tuple[str, ...]:
    return tuple(BACKENDS)


def get(name: str) -> Backend:
    """The backend called ``name``; an ``InputError`` naming the choices otherwise."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise InputError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}") from None
