"""``rag eval retrieval``: document recall, MRR and passage-level evidence hits per language.

Example::

    >>> result = evaluate_retrieval(retriever, load_questions(path), modes=["dense", "hybrid"])
    >>> result["hybrid"]["ar"]["evidence_hit@5"]
"""
from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from rag.evaluation.report import Question
from rag.evaluation.scoring import recall_at, reciprocal_rank
from rag.retrieval import Retriever
from rag.types import Passage

KS = (1, 5, 10)


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def doc_name(doc_id: str) -> str:
    return PurePosixPath(doc_id).name


def question_metrics(q: Question, passages: list[Passage], min_score: float) -> dict[str, float]:
    """Per-question scores; ``passages`` are ranked, unthresholded, up to 10."""
    m: dict[str, float] = {}
    if not q.answerable:
        top = passages[0].dense_score if passages else 0.0
        m["rejected"] = float(top < min_score)
        m["top_score"] = top
        return m
    names = [doc_name(p.doc_id) for p in passages]
    gold = {doc_name(d) for d in q.docs}
    for k in KS:
        m[f"recall@{k}"] = recall_at(names, gold, k)
        texts = [squash(p.text) for p in passages[:k]]
        m[f"evidence_hit@{k}"] = float(any(squash(e) in t for e in q.evidence for t in texts)) if q.evidence else 0.0
    m["mrr@10"] = reciprocal_rank(names, gold, 10)
    m["top_score"] = passages[0].dense_score if passages else 0.0
    return m


def aggregate(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted({k for r in rows for k in r})
    return {k: sum(r[k] for r in rows if k in r) / max(1, sum(1 for r in rows if k in r)) for k in keys} | {"n": len(rows)}


def evaluate_retrieval(retriever: Retriever, questions: list[Question], modes: list[str], min_score: float) -> dict[str, Any]:
    """``{mode: {"ar"|"en"|"all": averages, "questions": per-question rows}}``."""
    out: dict[str, Any] = {}
    texts = [q.question for q in questions]
    for mode in modes:
        ranked = retriever.search_many(texts, top_k=10, mode=mode, min_score=0.0)
        per_q = [{"id": q.id, "lang": q.lang, "answerable": q.answerable, **question_metrics(q, ps, min_score),
                  "retrieved": [doc_name(p.doc_id) for p in ps[:5]]} for q, ps in zip(questions, ranked)]
        res: dict[str, Any] = {"questions": per_q}
        for lang in sorted({q.lang for q in questions}) + ["all"]:
            sel = [r for r in per_q if lang in ("all", r["lang"])]
            ans = aggregate([{k: v for k, v in r.items() if isinstance(v, float) and k != "rejected"} for r in sel if r["answerable"]])
            unans = [r for r in sel if not r["answerable"]]
            ans["unanswerable_rejected"] = sum(r["rejected"] for r in unans) / len(unans) if unans else None
            ans["unanswerable_n"] = len(unans)
            res[lang] = ans
        out[mode] = res
    return out


ROW_KEYS = ["recall@1", "recall@5", "recall@10", "mrr@10", "evidence_hit@1", "evidence_hit@5", "evidence_hit@10", "unanswerable_rejected"]


def rows(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Table: one row per metric, one column per mode × language."""
    cols = [(mode, lang) for mode in result for lang in result[mode] if lang != "questions"]
    header = ["metric"] + [f"{mode}/{lang}" for mode, lang in cols]
    body = [[key] + [result[m][l].get(key) for m, l in cols] for key in ROW_KEYS]
    body.append(["questions"] + [f"{result[m][l]['n']}+{result[m][l]['unanswerable_n']}" for m, l in cols])
    return header, body
