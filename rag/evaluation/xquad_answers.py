"""``rag eval xquad DIR --answers``: XQuAD end to end, through the path every user takes.

The 240 Arabic contexts are written as articles and indexed with ``build_index`` (as
``rag index`` does, into ``HOME/cache/xquad-index``); then a fixed, seeded sample of
``limit`` question ids is answered by ``ask()`` twice: the Arabic question (scored against
the Arabic gold answer) and the English question with the same id (answered in English,
scored against the English gold answer, Arabic script removed from the answer first).

Scores per direction: SQuAD token F1, exact match, "gold contained" (the normalised gold
answer is a substring of the answer), refusals (every XQuAD question is answerable), answers
flagged not grounded, and of those the flagged answers that do contain the gold (false alarms),
time to first token and per answer.

Example::

    >>> result = evaluate_xquad_answers(Path("../shared/benchmarks/xquad"), settings, limit=100)
    >>> result["summary"]["en"]["gold_contained"]
"""
from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.evaluation.scoring import exact_match, gold_contained, reader_text, squad_f1
from rag.settings import RagSettings

log = logging.getLogger(__name__)
SAMPLE_SEED = 20261201  # the sample is fixed so figures compare across runs


def load_pairs(folder: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """``(arabic contexts, questions)``; each question: id, context index, ar/en question and gold answers."""
    try:
        ar = json.loads((folder / "xquad.ar.json").read_text(encoding="utf-8"))
        en = json.loads((folder / "xquad.en.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{folder} does not hold readable xquad.ar.json and xquad.en.json: {exc}") from None
    english = {qa["id"]: qa for art in en["data"] for para in art["paragraphs"] for qa in para["qas"]}
    contexts, questions = [], []
    for art in ar["data"]:
        for para in art["paragraphs"]:
            contexts.append(para["context"])
            for qa in para["qas"]:
                other = english.get(qa["id"])
                if other:
                    questions.append({"id": qa["id"], "context": len(contexts) - 1,
                                      "ar": qa["question"], "ar_gold": [a["text"] for a in qa["answers"]],
                                      "en": other["question"], "en_gold": [a["text"] for a in other["answers"]]})
    return contexts, questions


def xquad_index(contexts: list[str], settings: RagSettings) -> RagSettings:
    """Index the contexts as articles with the normal build path; the settings that search it."""
    from index.build import build_index

    corpus = settings.home / "cache" / "xquad-corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(contexts):
        path = corpus / f"ctx{i:03d}.txt"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    indexed = settings.replace(index_dir=settings.home / "cache" / "xquad-index")
    report = build_index(corpus, indexed)
    log.info("XQuAD index: %d documents, %d chunks (%d embedded)", report.documents, report.chunks, report.embedded)
    return indexed


def sample(questions: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """A fixed, seeded sample of ``limit`` questions (the same ids every run)."""
    rng = random.Random(SAMPLE_SEED)
    return sorted(rng.sample(questions, min(limit, len(questions))), key=lambda q: q["id"])


def score(answer_text: str, language: str, golds: list[str]) -> dict[str, float]:
    text = reader_text(answer_text, language)
    return {"f1": max(squad_f1(text, g) for g in golds), "exact_match": float(any(exact_match(text, g) for g in golds)),
            "gold_contained": float(any(gold_contained(text, g) for g in golds))}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for lang in ("ar", "en"):
        sel = [r for r in rows if r["lang"] == lang]
        if not sel:
            continue
        n = len(sel)
        right = [r for r in sel if r["gold_contained"]]
        out[lang] = {
            "n": n,
            **{k: sum(r[k] for r in sel) / n for k in ("f1", "exact_match", "gold_contained")},
            "refused": sum(r["refused"] for r in sel) / n,
            "flagged": sum(not r["grounded"] for r in sel if not r["refused"]) / n,
            "false_alarms": (sum(not r["grounded"] for r in right) / len(right)) if right else None,
            "first_token_s": sum(r["first_token_s"] or 0 for r in sel) / n,
            "total_s": sum(r["total_s"] or 0 for r in sel) / n,
        }
    return out


def evaluate_xquad_answers(folder: Path, settings: RagSettings, limit: int = 100, progress=None,
                           languages: tuple[str, ...] = ("ar", "en")) -> dict[str, Any]:
    """Answer ``limit`` sampled questions per direction (``languages``) with ``settings.backend``; rows and summary."""
    from rag.answer import ask

    contexts, questions = load_pairs(Path(folder))
    indexed = xquad_index(contexts, settings)
    rows = []
    for q in sample(questions, limit):
        for lang in languages:
            a = ask(q[lang], settings=indexed)
            row = {"id": q["id"], "lang": lang, "question": q[lang], "gold": q[f"{lang}_gold"], "answer": a.text,
                   "refused": a.refused, "grounded": a.grounded, "reasons": a.reasons, "backend": a.backend,
                   "cited_context": any(c.passage.doc_id == f"ctx{q['context']:03d}.txt" for c in a.citations),
                   "first_token_s": a.timings.get("first_token_s"), "total_s": a.timings.get("total_s")}
            rows.append(row | score(a.text, lang, q[f"{lang}_gold"]))
            if progress:
                progress(1)
    return {"backend": settings.backend, "limit": limit, "seed": SAMPLE_SEED, "summary": summarize(rows), "questions": rows}


def rows(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    keys = ["f1", "exact_match", "gold_contained", "refused", "flagged", "false_alarms", "first_token_s", "total_s", "n"]
    langs = list(result["summary"])
    return ["metric"] + [f"{l}→ar ({result['backend']})" for l in langs], [[k] + [result["summary"][l][k] for l in langs] for k in keys]
