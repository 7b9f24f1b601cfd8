"""The answering library: retrieve passages, answer with numbered citations, check, evaluate.

This module is the public API the faces (``ui/``) and other tools import. Names load lazily
(PEP 562), so ``import rag`` is cheap and no model or heavy library loads until it is used.

Example::

    >>> from rag import ask, RagSettings
    >>> answer = ask("من هو وزير الخارجية العراقي؟", settings=RagSettings.load(backend="extractive"))
    >>> answer.text, [c.number for c in answer.citations]
"""
from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it (``module:attr`` where the name differs there)
_EXPORTS: dict[str, str] = {
    # answering and search
    "ask": "rag.answer",
    "ask_stream": "rag.answer",
    "search": "rag.service",
    "get_retriever": "rag.service",
    "embedder": "rag.service",
    "preload": "rag.service",
    "start_llm": "rag.service",
    "serving": "rag.service",
    "check_question": "rag.questions",
    "check_unicode": "rag.questions",
    "MAX_TOP_K_ANSWER": "rag.thresholds",
    "MAX_TOP_K_SEARCH": "rag.thresholds",
    "detect_language": "rag.language",
    "LLMCalls": "rag.llm",
    # records
    "Answer": "rag.types",
    "Citation": "rag.types",
    "Finding": "rag.types",
    "Passage": "rag.types",
    # settings, registries and errors
    "RagSettings": "rag.settings",
    "backends": "rag.backends",
    "RETRIEVAL_MODES": "rag.retrieval:MODES",
    "lexical_terms": "rag.lexical:tokenize",  # BM25 terms, for stores that keep them (index.build_index(terms=…))
    "InputError": "rag.errors",
    "InvalidTextError": "rag.errors",
    "InputTooLargeError": "rag.errors",
    "BackendError": "rag.errors",
    "AnswerNotFoundError": "rag.errors",
    # feedback on answers (rag.feedback)
    "remember": "rag.feedback",
    "FeedbackStore": "rag.feedback",
    "feedback_path": "rag.feedback",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    module, _, attr = module.partition(":")
    value = importlib.import_module(module) if name == "backends" else getattr(importlib.import_module(module), attr or name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
