"""``rag eval answers``: run a question set through ``ask()`` and score every answer.

Per question: cited evidence (a cited passage contains the evidence string), quote
support (a quoted span contains it), language match, number/date consistency (and
whether an unsupported number went unflagged), refusal correctness, latency; with a
judge endpoint configured, LLM-judged correctness and faithfulness too.

Example::

    >>> result = evaluate_answers(load_questions(path), settings)
    >>> result["summary"]["all"]["cited_evidence"]
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any

from rag.answer import ask
from rag.answer_text import months_in, numbers_in, strip_citations
from rag.evaluation.report import Question
from rag.evaluation.retrieval import squash
from rag.evaluation.scoring import fact_scores, facts_held
from rag.language import detect_language
from rag.settings import RagSettings
from rag.types import Answer

log = logging.getLogger(__name__)

JUDGE = """You grade an answer to a question about news articles. Reply with JSON only: {{"correct": 0 or 1, "faithful": 0 or 1}}.
correct = the answer states the same facts as the reference answer. faithful = every claim in the answer is supported by the passages.

Question: {question}
Reference answer: {reference}
Answer: {answer}
Passages:
{passages}"""


def answer_language(answer: Answer) -> str:
    """The language of the answer's own words (quotations from the articles left out)."""
    return detect_language(strip_citations(re.sub(r"«[^»]*»", " ", answer.text)) or answer.text)


def unsupported_numbers(answer: Answer) -> list[str]:
    """Numbers/months in the answer that no cited passage contains (independent of ``ask``'s own check)."""
    support = " ".join(c.passage.text for c in answer.citations)
    text = strip_citations(answer.text)
    return sorted(numbers_in(text) - numbers_in(support)) + sorted(months_in(text) - months_in(support))


def score(q: Question, a: Answer) -> dict[str, Any]:
    row: dict[str, Any] = {"id": q.id, "lang": q.lang, "answerable": q.answerable, "question": q.question, "answer": a.text, "backend": a.backend,
                           "reference": q.answer, "evidence": q.evidence, "facts": q.facts,
                           "citations": [{"n": c.n, "doc": c.passage.doc_id, "title": c.passage.title, "quote": c.quote, "text": c.passage.text,
                                          "translation": c.translation} for c in a.citations],
                           "contexts": [p.text for p in a.passages], "findings": [f.to_dict() for f in a.findings],
                           "grounded": a.grounded, "reasons": a.reasons, "refused": a.refused, "notice": a.notice,
                           "first_token_s": a.timings.get("first_token_s"), "total_s": a.timings.get("total_s")}
    row["refusal_correct"] = float(a.refused != q.answerable)
    row["language_match"] = float(answer_language(a) == q.lang)
    if q.answerable:
        recall, held_all = fact_scores(a.text, q.facts, q.lang)
        row["fact_recall"] = recall
        row["all_facts"] = None if held_all is None else float(held_all)
        held = facts_held(a.text, q.facts, q.lang)
        row["facts_found"] = [f[0] for f, h in zip(q.facts, held) if h]
        row["facts_missed"] = [f[0] for f, h in zip(q.facts, held) if not h]
        ev = [squash(e) for e in q.evidence]
        row["cited_evidence"] = float(any(e in squash(c.passage.text) for e in ev for c in a.citations)) if ev else None
        row["quote_support"] = float(any(e in squash(c.quote) for e in ev for c in a.citations)) if ev else None
        bad = unsupported_numbers(a) if not a.refused else []
        row["numbers_consistent"] = float(not bad)
        row["unsupported_unflagged"] = float(bool(bad) and a.grounded)
    return row


def judge(q: Question, a: Answer, settings: RagSettings) -> dict[str, float]:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=settings.judge_base_url, model=settings.judge_model or "judge", api_key=settings.judge_api_key,
                     temperature=0, max_tokens=40, timeout=settings.llm_timeout_s, max_retries=0)
    passages = "\n".join(f"[{c.n}] {c.passage.text}" for c in a.citations) or "(none)"
    reply = str(llm.invoke(JUDGE.format(question=q.question, reference=q.answer or "(not answerable)", answer=a.text, passages=passages)).content)
    m = re.search(r"\{.*\}", reply, re.S)
    data = json.loads(m.group(0)) if m else {}
    return {"judge_correct": float(data.get("correct", 0)), "judge_faithful": float(data.get("faithful", 0))}


METRICS = ["fact_recall", "all_facts", "cited_evidence", "quote_support", "language_match", "numbers_consistent", "unsupported_unflagged", "refusal_correct",
           "judge_correct", "judge_faithful", "first_token_s", "total_s"]


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for lang in sorted({r["lang"] for r in rows}) + ["all"]:
        sel = [r for r in rows if lang in ("all", r["lang"])]
        agg: dict[str, Any] = {"n": len(sel)}
        for key in METRICS:
            vals = [r[key] for r in sel if r.get(key) is not None]
            agg[key] = sum(vals) / len(vals) if vals else None
        agg["refused_unanswerable"] = f"{sum(r['refused'] for r in sel if not r['answerable'])}/{sum(not r['answerable'] for r in sel)}"
        agg["refused_answerable"] = sum(r["refused"] for r in sel if r["answerable"])
        agg["answers_with_all_facts"] = f"{sum(bool(r.get('all_facts')) for r in sel)}/{sum(r.get('all_facts') is not None for r in sel)}"
        agg["flagged_ungrounded"] = sum(not r["grounded"] for r in sel if not r["refused"])
        # answers the configured LLM did not write: it failed, or refused in spite of clear passages
        agg["extractive_fallbacks"] = sum(r["backend"] == "extractive" and r["requested_backend"] != "extractive" for r in sel)
        out[lang] = agg
    return out


def top_score(question: str, settings: RagSettings) -> float | None:
    """The cosine of the best passage, whatever its score (the report plots it against the refusal threshold)."""
    from rag.service import get_retriever

    try:
        best = get_retriever(settings).search(question, 1, "dense", min_score=-1.0)
    except Exception as exc:  # a chart value: never stops the run
        log.warning("no retrieval score for %r: %s", question[:60], exc)
        return None
    return best[0].dense_score if best else None


def evaluate_answers(questions: list[Question], settings: RagSettings, progress=None, question_set: str = "") -> dict[str, Any]:
    """Answer every question with ``ask()`` and score it; the result ``--json``, ``--html`` and ``rag eval compare`` read."""
    from datetime import datetime, timezone

    from rag.feedback import index_version
    from rag.thresholds import ANSWER_ABOVE

    rows = []
    for q in questions:
        a = ask(q.question, settings=settings)
        row = score(q, a) | {"requested_backend": settings.backend, "top_score": top_score(q.question, settings)}
        if settings.judge_base_url:
            try:
                row.update(judge(q, a, settings))
            except Exception as exc:  # the judge is optional; its failure must not stop the run
                log.warning("judge failed on %s: %s", q.id, exc)
        rows.append(row)
        if progress:
            progress(1)
    return {"backend": settings.backend, "question_set": question_set, "index_version": index_version(settings),
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "thresholds": {"min_score": settings.min_score, "answer_above": ANSWER_ABOVE}, "summary": summarize(rows), "questions": rows}


def rows(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    langs = list(result["summary"])
    header = ["metric"] + langs
    keys = METRICS + ["answers_with_all_facts", "refused_unanswerable", "refused_answerable", "extractive_fallbacks", "flagged_ungrounded", "n"]
    return header, [[k] + [result["summary"][l].get(k) for l in langs] for k in keys]
