"""``ask()`` and ``ask_stream()``: the one answering function behind the CLI, the UI and the API.

Flow: validate → refuse prompt-extraction attempts → rewrite a follow-up into a
standalone question → retrieve (``retrieve``) → nothing relevant (``rag.answerability``:
the best cosine and the share of the question's words in the best passages): say so without
calling a model → the evidence answer (``prompt_mode = "evidence"``, the default):

1. the sentence selector picks the one or two evidence sentences;
2. a date or number the question asks for is pulled out of them by code (``rag.slots``);
3. an Arabic reader gets a one-sentence answer from the model (given only those sentences),
   then the sentences quoted; an English reader gets each sentence translated by the model
   (``rag.translate``: months, digits and glossary names written out first; cached), labelled
   as machine translation, the Arabic original kept in the citation;
4. checks on everything the model wrote (``rag.checks``): numbers, months, negation, names,
   two values for one slot, meaning; any finding sets ``grounded = False``.

The application, not the model, assembles the citations and the quotes. Without an LLM
(``extractive``, or when the LLM fails) the sentences that answer are quoted (the extractive selection); an English reader then
sees the Arabic original, labelled as such. ``prompt_mode = "focused" | "full"`` keep the
earlier pipeline (the model writes the whole answer) for comparison.

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

from index.errors import RagError
from rag import answerability, backends, slots
from rag.answer_text import CITATION
from rag.checks import check_answer, check_translation, is_injection, is_refusal
from rag.errors import InputError
from rag.extractive import Sentence, select_sentences
from rag.glossary import has_anaphor, resolve_references
from rag.language import detect_language
from rag.prompt import NOT_FOUND, answer_line_messages, build_messages, rewrite_messages
from rag.questions import MAX_TOP_K_ANSWER, check_question, check_top_k
from rag.service import default_settings, get_retriever
from rag.settings import RagSettings
from rag.thresholds import EVIDENCE_MARGIN, EVIDENCE_SENTENCES
from rag.translate import clean as clean_translation
from rag.translate import translate_stream
from rag.types import Answer, Citation, Finding, Passage

log = logging.getLogger(__name__)

BACKENDS = backends.names()
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
EXTRACTIVE_LEAD = {"ar": "بحسب المقالات:"}
EVIDENCE_HEAD = {"ar": "بحسب المقالات:", "en": "From the articles (machine translation from Arabic):"}
ORIGINAL_HEAD = "The passages that answer, in the original Arabic (no translation without a language model):"
DROP_LINE = ("restates_question", "wrong_language", "no_citation")  # a line with these is left out, not shown flagged
SUMMARY_HEAD = "الخلاصة: "
NO_TRANSLATION = "(original Arabic: the model gave no translation of this sentence)"
NOT_TRANSLATED = ("translation_empty", "translation_instructions")  # the model's reply is no translation: show the original
SHORT = {"ar": "باختصار: {value} [{n}]", "en": "In short: {value} [{n}]"}
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


def _llm_rewrite(question: str, history: list[tuple[str, str]], language: str, settings: RagSettings) -> str:
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


def extractive_answer(question: str, passages: list[Passage], language: str, settings: RagSettings) -> tuple[str, list[Citation]]:
    """Quote the sentences that best answer ``question``, each cited ``[n]`` by its passage, after the
    asked-for date or number when code can tell it. An English reader is told the quotes are the
    Arabic originals: there is no model to translate them."""
    picked = select_sentences(question, passages, get_retriever(settings).embedder)
    if not picked:
        picked = [Sentence(0, 0, len(passages[0].text), passages[0].text)]
    quotes = " ".join(f"«{s.text}» [{s.passage + 1}]" for s in picked)
    head = EXTRACTIVE_LEAD["ar"] if language == "ar" else ORIGINAL_HEAD
    lead = _lead(question, picked, language)
    return (f"{lead}\n\n" if lead else "") + f"{head} {quotes}", _citations(picked, passages)


def _focused(question: str, passages: list[Passage], settings: RagSettings) -> list[Passage]:
    """Step one of the two-step answer: only the selected sentences of each passage, in order."""
    picked = select_sentences(question, passages, get_retriever(settings).embedder, max_sentences=3, margin=0.2)
    out = []
    for i, p in enumerate(passages):
        mine = [s.text for s in picked if s.passage == i]
        if mine:
            out.append(replace(p, text=" ".join(mine)))
    return out or passages[:2]


def _evidence(question: str, passages: list[Passage], settings: RagSettings) -> list[Sentence]:
    """The few sentences an answer is built on (``EVIDENCE_SENTENCES``), in passage order.

    An English question's words, bridged to Arabic (``Retriever.question_terms``), count in
    the selection as an Arabic question's own words do."""
    retriever = get_retriever(settings)
    language = detect_language(question)
    terms = retriever.question_terms(question) if language == "en" else None
    picked = select_sentences(question, passages, retriever.embedder, max_sentences=EVIDENCE_SENTENCES[language],
                              margin=EVIDENCE_MARGIN, terms=terms)
    if not picked:  # passages too short to split: their first words are the evidence
        p = passages[0]
        picked = [Sentence(0, 0, len(p.text), p.text)]
    return picked


def _lead(question: str, evidence: list[Sentence], language: str) -> str:
    """The asked-for date or number, stated by code: "In short: 8 [1]" (or '')."""
    best = max(evidence, key=lambda s: s.score)
    for s in [best] + [e for e in evidence if e is not best]:
        value = slots.lead(question, s.text, language)
        if value:
            return SHORT[language].format(value=value, n=s.passage + 1)
    return ""


def _text_before(passages: list[Passage], s: Sentence, settings: RagSettings) -> str:
    """The article's text before sentence ``s``: its earlier chunks (held in memory; with a remote store,
    the earlier ones among ``passages``) and its own passage up to the sentence."""
    passage = passages[s.passage]
    retriever = get_retriever(settings)
    # a remote store would be scrolled whole (retriever.all_chunks): the retrieved passages must do there
    pool = passages if retriever.remote else retriever.all_chunks()
    chunks = [(c.start, c.text) for c in pool if c.doc_id == passage.doc_id]
    earlier = [text for start, text in sorted(chunks) if start < passage.start]
    return "\n".join(earlier + [passage.text[:s.start]])


def _citations(evidence: list[Sentence], passages: list[Passage], translations: dict[int, str] | None = None) -> list[Citation]:
    """One citation per cited passage, its quote spanning the evidence sentences taken from it."""
    spans: dict[int, tuple[int, int]] = {}
    for s in evidence:
        a, b = spans.get(s.passage, (s.start, s.end))
        spans[s.passage] = (min(a, s.start), max(b, s.end))
    out = []
    for pi, (a, b) in sorted(spans.items()):
        english = " ".join(translations[id(s)] for s in evidence if s.passage == pi and translations and translations.get(id(s)))
        out.append(Citation(pi + 1, passages[pi], passages[pi].text[a:b], a, b, english))
    return out


class _Stream:
    """What has been shown so far, and when the first content arrived."""

    def __init__(self, answer: Answer, started: float) -> None:
        self.answer, self.started, self.shown = answer, started, ""

    def show(self, piece: str, content: bool = True) -> str:
        if content and piece.strip():
            self.answer.timings.setdefault("first_token_s", round(time.perf_counter() - self.started, 3))
        self.shown += piece
        return piece


def _evidence_answer(question: str, passages: list[Passage], language: str, settings: RagSettings, answer: Answer,
                     stream: _Stream) -> Iterator[str]:
    """The evidence answer (see the module doc); yields text, fills ``answer``; LLM errors propagate."""
    embedder = get_retriever(settings).embedder
    evidence = _evidence(question, passages, settings)
    lead = _lead(question, evidence, language)
    findings: list[Finding] = []
    parts: list[str] = []
    if lead:
        parts.append(lead)
        yield stream.show(lead + "\n\n")
    translations: dict[int, str] = {}
    if language == "ar":
        # The sentences themselves come first: they are the answer in the reader's language, shown at
        # once; the model's one-line summary follows (a 1.5B model needs ~5 s before its first word).
        quotes = " ".join(f"«{s.text}» [{s.passage + 1}]" for s in evidence)
        parts.append(f"{EVIDENCE_HEAD['ar']} {quotes}")
        yield stream.show(parts[-1])
        line = yield from _answer_line(question, evidence, passages, settings, stream, findings, "\n\n" + SUMMARY_HEAD)
        if line:
            parts.append(SUMMARY_HEAD + line)
    else:
        yield stream.show(EVIDENCE_HEAD["en"] + "\n", content=False)
        rendered = []
        for i, s in enumerate(evidence):
            yield stream.show("“", content=False)
            raw = ""
            # "التنظيم" stands for the group the article named before: written in, as a name is
            source = resolve_references(s.text, _text_before(passages, s, settings)) if has_anaphor(s.text) else s.text
            for piece in translate_stream(source, settings):
                raw += piece
                yield stream.show(piece.lstrip("\"“'«") if raw == piece else piece)
            english = clean_translation(raw)
            found = check_translation(source, english, embedder)
            if any(f.code in NOT_TRANSLATED for f in found):
                # nothing the reader could be misled by is shown: the labelled original replaces it (not a flag)
                log.info("no translation of %r: %s", s.text[:60], found[0].code)
                english = ""
            else:
                findings += found
            if english:
                translations[id(s)] = english
                rendered.append(f"“{english}” [{s.passage + 1}]")
            else:  # nothing to show in English: the original, labelled (the stream is replaced)
                rendered.append(f"«{s.text}» [{s.passage + 1}] {NO_TRANSLATION}")
            yield stream.show(f"” [{s.passage + 1}]" + ("\n" if i + 1 < len(evidence) else ""), content=False)
        parts.append(EVIDENCE_HEAD["en"] + "\n" + "\n".join(rendered))
    text = "\n\n".join(parts)
    citations = _citations(evidence, passages, translations)
    cited = {c.n for c in citations}
    # the answer line may cite a passage the evidence did not come from (its checks re-cite by meaning)
    citations += [Citation(n, passages[n - 1]) for n in sorted({int(m) for m in CITATION.findall(text)} - cited) if 1 <= n <= len(passages)]
    answer.passages, answer.citations = passages, sorted(citations, key=lambda c: c.n)
    answer.findings = findings
    answer.grounded = not findings
    return text


def _answer_line(question: str, evidence: list[Sentence], passages: list[Passage], settings: RagSettings, stream: _Stream,
                 findings: list[Finding], head: str) -> Iterator[str]:
    """An Arabic reader's one-sentence answer, written by the model from the evidence sentences only.

    Returns the checked line, or '' when the model declines (the quotes then answer alone).
    Text that could still become a refusal is held back, so no refusal is shown and withdrawn;
    ``head`` is streamed with the line's first words, never alone.
    """
    chat = backends.get(settings.backend).chat_model(settings, max_tokens=120)
    messages = answer_line_messages(question, [(s.passage + 1, s.text) for s in evidence], "ar")
    text, shown = "", 0
    for piece in chat.stream(messages):
        chunk = str(piece.content)
        if not chunk:
            continue
        text += chunk
        if "\n\n" in text.strip():
            text = text.strip().split("\n\n")[0]
            break
        if shown or not NOT_FOUND["ar"].startswith(text.strip()[:len(NOT_FOUND["ar"])]) and len(text.strip()) > 12:
            yield stream.show(text[shown:] if shown else head + text.lstrip())
            shown = len(text)
    text = text.strip()
    if text and not (is_refusal(text) and "[" not in text):
        result = check_answer(text, passages, "ar", get_retriever(settings).embedder, question=question)
        if not result.has(*DROP_LINE):
            if shown < len(text):
                yield stream.show(text[shown:] if shown else head + text.lstrip())
            findings += result.findings
            return result.text
        log.info("answer line dropped (%s): %s", ", ".join(f.code for f in result.findings), text[:80])
    return ""  # the quotes answer alone; anything streamed of the line is replaced (answer.replaced)


def retrieve(question: str, settings: RagSettings) -> list[Passage]:
    """The ``top_k`` passages an answer is decided and built on: hybrid, as ranked.

    None is dropped under ``min_score`` first (``search()`` does drop them): the refusal decision was
    calibrated on the ranked passages (bench/bench_answerability.py), and a passage matching the
    question's words with a low cosine is evidence for answering (dropping them refused 10 of 200
    held-out Arabic XQuAD questions, against 5). Called directly, not through the LangChain
    retriever (``rag.lc_retriever``): importing ``langchain_core`` cost a cold ``rag ask`` 1.0–1.3 s.
    """
    return get_retriever(settings).search(question, settings.top_k, "hybrid", min_score=-1.0)


def ask(question: str, history: HistoryLike = None, **options: Any) -> Answer:
    """Answer ``question`` (with the conversation ``history``); see ``ask_stream`` for options."""
    answer = None
    for piece in ask_stream(question, history, **options):
        if isinstance(piece, Answer):
            answer = piece
    assert answer is not None
    return answer


def ask_stream(question: str, history: HistoryLike = None, *, top_k: int | None = None, backend: str | None = None,
               settings: RagSettings | None = None) -> Iterator[str | Answer]:
    """Yield pieces of the answer text as they are generated, then the complete ``Answer``.

    Options: ``top_k`` passages to retrieve, ``backend`` ("local", "openai", "extractive"),
    ``settings`` (default: environment/config file).
    """
    started = time.perf_counter()
    settings = settings or default_settings()
    if backend is not None:
        backends.get(backend)  # an unknown name is an InputError naming the choices
    check_top_k(top_k, MAX_TOP_K_ANSWER)
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

    uses_llm = backends.get(settings.backend).uses_llm
    standalone = question
    if turns:
        standalone = _llm_rewrite(question, turns, language, settings) if uses_llm else _rule_rewrite(question, turns)
    answer.standalone_question = standalone

    t = time.perf_counter()
    passages = retrieve(standalone, settings)
    answer.timings["retrieve_s"] = round(time.perf_counter() - t, 3)
    decision = answerability.decide(standalone, passages, get_retriever(settings), settings.min_score)
    if not decision.answer:
        log.info("refused %r: %s", standalone[:80], decision.reason)
        answer.refused, answer.passages = True, passages
        yield NOT_FOUND[language]
        yield finish(NOT_FOUND[language])
        return

    stream = _Stream(answer, started)
    if uses_llm:
        try:
            if settings.prompt_mode == "evidence":
                text = yield from _evidence_answer(standalone, passages, language, settings, answer, stream)
                answer.replaced = text != stream.shown
                yield finish(text)
                return
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
    answer.grounded, answer.findings = True, []
    answer.replaced = bool(stream.shown)  # an evidence answer broke off mid-stream: the quotes replace it
    answer.timings.setdefault("first_token_s", round(time.perf_counter() - started, 3))
    yield text
    yield finish(text)


def _generate(question: str, passages: list[Passage], language: str, settings: RagSettings, answer: Answer, started: float):
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
        language_ok = not result.has("arabic_in_english", "wrong_language")
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
    answer.grounded, answer.findings = result.grounded, result.findings
    return result.text
