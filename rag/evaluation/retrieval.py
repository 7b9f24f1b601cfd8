"""``rag eval retrieval``: document recall, MRR and passage-level evidence hits per language.

Example::

    >>> result = evaluate_retrieval(retriever, load_questions(path), modes=["dense", "hybrid"])
    >>> result["hybrid"]["ar"]["evidence_hit@5"]
"""
from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from rag.answerability import decide
from rag.evaluation.report import Question
from rag.evaluation.scoring import recall_at, reciprocal_rank
from rag.retrieval import Retriever
from rag.types import Passage

KS = (1, 5, 10)


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def doc_name(doc_id: str) -> str:
    return PurePosixPath(doc_id).name


def question_metrics(q: Question, passages: list[Passage], *, refused: bool | None = None) -> dict[str, float]:
    """Per-question scores; ``passages`` are ranked, unthresholded, up to 10. ``refused``: the refusal
    decision ``ask()`` takes on them (``rag.answerability.decide``); None: none taken (BM25 alone)."""
    m: dict[str, float] = {}
    top = passages[0].dense_score if passages else 0.0
    if not q.answerable:
        if refused is not None:
            m["rejected"] = float(refused)
        m["top_score"] = top
        return m
    if refused is not None:
        m["refused"] = float(refused)
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


def evaluate_retrieval(retriever: Retriever, questions: list[Question], modes: list[str], min_score: float,
                       top_k: int = 5) -> dict[str, Any]:
    """``{mode: {"ar"|"en"|"all": averages, "questions": per-question rows}}``. A question is refused as
    ``ask()`` refuses it: ``rag.answerability.decide`` over the first ``top_k`` passages, ``min_score`` its
    floor (not for BM25 alone, which has no cosines: its refusal rows are None)."""
    out: dict[str, Any] = {}
    texts = [q.question for q in questions]
    for mode in modes:
        ranked = retriever.search_many(texts, top_k=10, mode=mode, min_score=0.0)
        # the decision on the passages ask() gets: its own search of top_k, nothing dropped (a search of 10 merges
        # more overlapping chunks into the first passages)
        asked = retriever.search_many(texts, top_k=top_k, mode=mode, min_score=-1.0) if mode != "bm25" else [[] for _ in texts]
        refused = [None if mode == "bm25" else not decide(q.question, ps, retriever, min_score).answer
                   for q, ps in zip(questions, asked)]
        per_q = [{"id": q.id, "lang": q.lang, "answerable": q.answerable, **question_metrics(q, ps, refused=r),
                  "retrieved": [doc_name(p.doc_id) for p in ps[:5]]} for q, ps, r in zip(questions, ranked, refused)]
        res: dict[str, Any] = {"questions": per_q}
        for lang in sorted({q.lang for q in questions}) + ["all"]:
            sel = [r for r in per_q if lang in ("all", r["lang"])]
            ans = aggregate([{k: v for k, v in r.items() if isinstance(v, float) and k not in ("rejected", "refused")} for r in sel if r["answerable"]])
            decided = [r for r in sel if r["answerable"] and "refused" in r]
            ans["answerable_refused"] = sum(r["refused"] for r in decided) / len(decided) if decided else None
            unans = [r for r in sel if not r["answerable"]]
            rejected = [r["rejected"] for r in unans if "rejected" in r]
            ans["unanswerable_rejected"] = sum(rejected) / len(rejected) if rejected else None
            ans["unanswerable_n"] = len(unans)
            res[lang] = ans
        out[mode] = res
    return out


ROW_KEYS = ["recall@1", "recall@5", "recall@10", "mrr@10", "evidence_hit@1", "evidence_hit@5", "evidence_hit@10", "unanswerable_rejected",
            "answerable_refused"]


def rows(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Table: one row per metric, one column per mode × language."""
    cols = [(mode, lang) for mode in result for lang in result[mode] if lang != "questions"]
    header = ["metric"] + [f"{mode}/{lang}" for mode, lang in cols]
    body = [[key] + [result[m][l].get(key) for m, l in cols] for key in ROW_KEYS]
    body.append(["questions"] + [f"{result[m][l]['n']}+{result[m][l]['unanswerable_n']}" for m, l in cols])
    return header, body
