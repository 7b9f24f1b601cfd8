"""``ask()`` and ``ask_stream()``: the one answering function behind the CLI, the UI and the API.

Flow: validate → refuse prompt-extraction attempts → rewrite a follow-up into a
standalone question → retrieve (LangChain retriever) → nothing relevant: say so
without calling a model → extractive, or LLM (chain: prompt → chat model → parser)
on the selected sentences → checks (citations, numbers/dates, language) → retry
once or fall back to the extractive answer, with a notice, when the LLM fails or
refuses although a passage scores at least ``overrule_refusal_score``.

Example::

    >>> answer = ask("من هو وزير الخارجية العراقي الذي التقى بلينكن؟")
    >>> print(answer.text, answer.citations[0].passage.title, answer.grounded)
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from index.errors import InputError, RagError
from index.settings import Settings
from rag.checks import check_answer, is_injection, is_refusal
from rag.extractive import select_sentences
from rag.language import detect_language
from rag.lc_retriever import PassageRetriever, to_passage
from rag.prompt import NOT_FOUND, build_messages, rewrite_messages
from rag.service import check_question, default_settings, get_retriever
from rag.types import Answer, Citation, Passage

log = logging.getLogger(__name__)

BACKENDS = ("local", "openai", "extractive")
REFUSE_ROLE = {
    "ar": "أجيب فقط عن أسئلة حول المقالات الإخبارية المتاحة، ولا أستطيع تغيير دوري أو كشف تعليماتي.",
    "en": "I only answer questions about the available news articles; I can't change my role or reveal my instructions.",
}
FALLBACK_NOTICE = {
    "ar": "تعذّر الوصول إلى النموذج اللغوي ({why})؛ هذه إجابة مقتطفة من المقالات.",
    "en": "The language model could not be used ({why}); this answer is quoted from the articles instead.",
}
OVERRULED_NOTICE = {
    "ar": "لم يجد النموذج اللغوي إجابة مع أن المقالات تحوي مقاطع وثيقة الصلة بالسؤال؛ هذه أقرب جملها إليه.",
    "en": "The language model found no answer, although the articles hold passages closely matching the question; these are their closest sentences.",
}
EXTRACTIVE_LEAD = {"ar": "بحسب المقالات:", "en": "From the articles (quoted in the original Arabic):"}
HistoryLike = Sequence[Any] | None


def normalize_history(history: HistoryLike) -> list[tuple[str, str]]:
    """Accept ``[(role, text)]``, ``[{"role", "content"}]`` or Gradio ``[[user, bot]]`` pairs."""
    out: list[tuple[str, str]] = []
    for item in history or []:
        if isinstance(item, dict) and isinstance(item.get("content"), str) and item.get("role") in ("user", "assistant"):
            out.append((item["role"], item["content"]))
        elif isinstance(item, (list, tuple)) and len(item) == 2 and item[0] in ("user", "assistant") and isinstance(item[1], str):
            out.append((item[0], item[1]))
        elif isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(x, (str, type(None))) for x in item):
            out += [("user", item[0] or ""), ("assistant", item[1] or "")]
        else:
            raise InputError("history must be a list of {role, content} messages with role 'user' or 'assistant'")
    return [(r, t) for r, t in out if t][-20:]


def _rule_rewrite(question: str, history: list[tuple[str, str]]) -> str:
    """Extractive mode: a follow-up is read together with the previous user question."""
    previous = next((t for r, t in reversed(history) if r == "user"), "")
    return f"{previous} {question}".strip() if previous else question


def _llm_rewrite(question: str, history: list[tuple[str, str]], language: str, settings: Settings) -> str:
    from rag.llm import chat_model

    try:
        text = chat_model(settings, max_tokens=60, temperature=0.0).invoke(rewrite_messages(question, history, language)).content
    except Exception as exc:  # any LLM failure: the rule still gives a usable question
        log.warning("follow-up rewrite failed (%s); using the rule", exc)
        return _rule_rewrite(question, history)
    text = str(text).strip().strip('"').splitlines()[0] if str(text).strip() else ""
    if not text or len(text) > 400 or detect_language(text) != language:
        return _rule_rewrite(question, history)
    return text


def extractive_answer(question: str, passages: list[Passage], language: str, settings: Settings) -> tuple[str, list[Citation]]:
    """Quote the sentences that best answer ``question``, each cited ``[n]`` by its passage."""
    picked = select_sentences(question, passages, get_retriever(settings).embedder)
    spans: dict[int, tuple[int, int]] = {}
    parts = []
    for s in picked:
        n = s.passage + 1
        parts.append(f"«{s.text}» [{n}]")
        a, b = spans.get(n, (s.start, s.end))
        spans[n] = (min(a, s.start), max(b, s.end))  # one quoted span per passage covers all its sentences
    citations = [Citation(n, passages[n - 1], passages[n - 1].text[a:b], a, b) for n, (a, b) in sorted(spans.items())]
    return f"{EXTRACTIVE_LEAD[language]} " + " ".join(parts), citations


def _focused(question: str, passages: list[Passage], settings: Settings) -> list[Passage]:
    """Step one of the two-step answer: only the selected sentences of each passage, in order."""
    picked = select_sentences(question, passages, get_retriever(settings).embedder, max_sentences=3, margin=0.2)
    out = []
    for i, p in enumerate(passages):
        mine = [s.text for s in picked if s.passage == i]
        if mine:
            out.append(replace(p, text=" ".join(mine)))
    return out or passages[:2]


def ask(question: str, history: HistoryLike = None, **options: Any) -> Answer:
    """Answer ``question`` (with the conversation ``history``); see ``ask_stream`` for options."""
    answer = None
    for piece in ask_stream(question, history, **options):
        if isinstance(piece, Answer):
            answer = piece
    assert answer is not None
    return answer


def ask_stream(question: str, history: HistoryLike = None, *, top_k: int | None = None, backend: str | None = None,
               settings: Settings | None = None) -> Iterator[str | Answer]:
    """Yield pieces of the answer text as they are generated, then the complete ``Answer``.

    Options: ``top_k`` passages to retrieve, ``backend`` ("local", "openai", "extractive"),
    ``settings`` (default: environment/config file).
    """
    started = time.perf_counter()
    settings = settings or default_settings()
    if backend is not None and backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if top_k is not None and not (isinstance(top_k, int) and 1 <= top_k <= 20):
        raise InputError("top_k must be an integer between 1 and 20")
    settings = settings.replace(backend=backend, top_k=top_k)
    question = check_question(question, settings)
    turns = normalize_history(history)
    language = detect_language(question)
    answer = Answer(question, "", language, backend=settings.backend)

    def finish(text: str) -> Answer:
        answer.text = text
        answer.timings["total_s"] = round(time.perf_counter() - started, 3)
        return answer

    if is_injection(question):
        answer.refused = True
        yield REFUSE_ROLE[language]
        yield finish(REFUSE_ROLE[language])
        return

    uses_llm = settings.backend != "extractive"
    standalone = question
    if turns:
        standalone = _llm_rewrite(question, turns, language, settings) if uses_llm else _rule_rewrite(question, turns)
    answer.standalone_question = standalone

    t = time.perf_counter()
    retriever = PassageRetriever(settings=settings, top_k=settings.top_k)
    passages = [to_passage(d) for d in retriever.invoke(standalone)]
    answer.timings["retrieve_s"] = round(time.perf_counter() - t, 3)
    if not passages:
        answer.refused = True
        yield NOT_FOUND[language]
        yield finish(NOT_FOUND[language])
        return

    if uses_llm:
        try:
            text = yield from _generate(standalone, passages, language, settings, answer, started)
            if text is not None:
                yield finish(text)
                return
            if answer.refused and max(p.score for p in passages) < settings.overrule_refusal_score:
                yield NOT_FOUND[language]
                yield finish(NOT_FOUND[language])
                return
            if answer.refused:  # small models refuse answerable questions; clearly relevant passages say so
                answer.refused, answer.notice = False, OVERRULED_NOTICE[language]
        except RagError as exc:
            answer.notice = FALLBACK_NOTICE[language].format(why=str(exc)[:160])
        except Exception as exc:  # connection refused, timeout, HTTP error from the endpoint
            log.warning("LLM failed: %s", exc)
            answer.notice = FALLBACK_NOTICE[language].format(why=type(exc).__name__)
        answer.backend = "extractive"

    text, citations = extractive_answer(standalone, passages, language, settings)
    answer.passages, answer.citations = passages, citations
    answer.grounded, answer.reasons = True, []
    answer.timings.setdefault("first_token_s", round(time.perf_counter() - started, 3))
    yield text
    yield finish(text)


def _generate(question: str, passages: list[Passage], language: str, settings: Settings, answer: Answer, started: float):
    """Stream the LLM answer; returns the final text, or None to fall back to extractive.

    Text that could still become the "not found" sentence is held back, so that when the model
    refuses in spite of clearly relevant passages nothing has been shown yet and the caller can
    answer from the passages instead.
    """
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.runnables import RunnableLambda

    from rag.llm import chat_model

    given = _focused(question, passages, settings) if settings.prompt_mode == "focused" else passages
    messages, shown = build_messages(question, given, language, settings.prompt_tokens)
    originals = [next(p for p in passages if p.doc_id == s.doc_id and p.start == s.start) for s in shown]
    chain = RunnableLambda(lambda m: m) | chat_model(settings) | StrOutputParser()
    text, shown_upto = "", 0
    for piece in chain.stream(messages):
        if piece:
            answer.timings.setdefault("first_token_s", round(time.perf_counter() - started, 3))
            text += piece
            if shown_upto or not NOT_FOUND[language].startswith(text.strip()):
                yield text[shown_upto:]
                shown_upto = len(text)
    for attempt in range(2):
        if is_refusal(text) and "[" not in text:
            answer.refused, answer.passages = True, originals
            return NOT_FOUND[language] if shown_upto else None
        result = check_answer(text, originals, language, get_retriever(settings).embedder)
        language_ok = not any("Arabic" in r for r in result.reasons)
        if language_ok or attempt == 1:
            break
        log.info("answer not in %s; retrying once", language)
        messages[-1] = (messages[-1][0], messages[-1][1] + f"\n\nIMPORTANT: write the whole answer in {'Arabic' if language == 'ar' else 'English'} only.")
        text = chain.invoke(messages)
    if not language_ok:
        answer.notice = FALLBACK_NOTICE[language].format(why="answer in the wrong language")
        return None
    if not shown_upto:
        yield result.text
    answer.passages, answer.citations = originals, result.citations
    answer.grounded, answer.reasons = result.grounded, result.reasons
    return result.text
