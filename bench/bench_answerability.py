"""Calibrate the refusal decision (rag.answerability) on XQuAD, away from the evaluation sample.

Positives: XQuAD questions (not in the fixed end-to-end sample) over the 240 Arabic contexts
indexed with the build path. Negatives: the same questions with their own context removed
from the results, so the corpus holds no answer (XQuAD-derived negatives). For each, the
two signals (best dense cosine, coverage of the question's words) are computed once; then
the current constants are scored: refusal rate on negatives, false refusals on positives,
per language, and the dev set's answerable/unanswerable questions.

    python bench/bench_answerability.py [--per-language 300]
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from common import ROOT, report

from rag import answerability
from rag.evaluation.report import load_questions
from rag.evaluation.xquad_answers import SAMPLE_SEED, load_pairs, sample, xquad_index
from rag.service import get_retriever
from ui.settings import Settings

XQUAD = ROOT.parent / "shared" / "benchmarks" / "xquad"


def signals(retriever, questions: list[str], drop: list[str | None], floor: float) -> list[dict]:
    out = []
    for q, own, ps in zip(questions, drop, retriever.search_many(questions, top_k=10, mode="hybrid")):
        kept = [p for p in ps if p.doc_id != own][:5] if own else ps[:5]
        d = answerability.decide(q, kept, retriever, floor)
        out.append({"dense": d.dense, "coverage": answerability.coverage(q, kept, retriever) if kept else None, "answer": d.answer})
    return out


def frontier(pos: list[dict], neg: list[dict], caps=(0.05, 0.10, 0.20)) -> dict[str, dict]:
    """The most negatives any rule of the shipped form refuses within each false-refusal cap.

    The rule: answer when dense >= hi, or dense >= lo and coverage >= c. Searched over a grid, *on
    the calibration set itself* (an upper bound: held-out figures can only be worse). It shows how
    far these two signals can go, whatever the constants.
    """
    grid = []
    for lo in [x / 100 for x in range(20, 60, 2)]:
        for hi in [x / 100 for x in range(int(round(lo * 100)), 80, 2)]:
            for c in [x / 20 for x in range(21)]:
                def answers(s: dict) -> bool:
                    cov = 1.0 if s["coverage"] is None else s["coverage"]
                    return s["dense"] >= hi or (s["dense"] >= lo and cov >= c)
                fr = sum(not answers(s) for s in pos) / len(pos)
                nr = sum(not answers(s) for s in neg) / len(neg)
                grid.append((fr, nr, lo, hi, c))
    out = {}
    for cap in caps:
        fr, nr, lo, hi, c = max((g for g in grid if g[0] <= cap), key=lambda g: g[1])
        out[f"{cap:.2f}"] = {"negatives_refused": nr, "false_refusals": fr, "min_score": lo, "ANSWER_ABOVE": hi, "MIN_COVERAGE": c}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-language", type=int, default=300)
    parser.add_argument("--xquad", default=str(XQUAD))
    parser.add_argument("--frontier-only", action="store_true", help="recompute the frontier from the stored results, no model")
    args = parser.parse_args()
    if args.frontier_only:
        stored = json.loads((ROOT / "bench" / "results" / "answerability.json").read_text(encoding="utf-8"))
        for lang in ("ar", "en"):
            for cap, b in frontier(stored["xquad"][lang]["positives"], stored["xquad"][lang]["negatives"]).items():
                print(f"XQuAD {lang}: false refusals <= {cap}: at best {b['negatives_refused']:.3f} of negatives refused ({b})")
        return
    settings = Settings.load()
    contexts, questions = load_pairs(Path(args.xquad))
    held_out = {q["id"] for q in sample(questions, 100)}  # the end-to-end sample is never calibrated on
    pool = [q for q in questions if q["id"] not in held_out]
    random.Random(SAMPLE_SEED + 1).shuffle(pool)
    pool = pool[: args.per_language]
    retriever = get_retriever(xquad_index(contexts, settings))
    rows, data = [], {}
    for lang in ("ar", "en"):
        texts = [q[lang] for q in pool]
        own = [f"ctx{q['context']:03d}.txt" for q in pool]
        pos = signals(retriever, texts, [None] * len(texts), settings.min_score)
        neg = signals(retriever, texts, own, settings.min_score)
        false_refusals = sum(not s["answer"] for s in pos) / len(pos)
        refused_negatives = sum(not s["answer"] for s in neg) / len(neg)
        rows.append((f"XQuAD {lang}: false refusals / negatives refused", f"{false_refusals:.3f} / {refused_negatives:.3f}"))
        best = frontier(pos, neg)
        for cap, b in best.items():
            rows.append((f"XQuAD {lang}: best rule with false refusals <= {cap} refuses", f"{b['negatives_refused']:.3f} of negatives"))
        data[lang] = {"false_refusals": false_refusals, "negatives_refused": refused_negatives, "frontier": best, "positives": pos, "negatives": neg}
    dev = get_retriever(settings)
    dev_rows = []
    for q in load_questions(ROOT / "rag" / "data" / "seed_dev.jsonl"):
        s = signals(dev, [q.question], [None], settings.min_score)[0]
        dev_rows.append({"id": q.id, "answerable": q.answerable, **s})
    wrong = [r["id"] for r in dev_rows if r["answer"] != r["answerable"]]
    rows.append(("dev set: decisions wrong", f"{len(wrong)} {wrong}"))
    constants = {"min_score": settings.min_score, **{k: getattr(answerability, k) for k in ("ANSWER_ABOVE", "MIN_COVERAGE")}}
    report("answerability", rows, {"constants": constants, "per_language": args.per_language, "xquad": data, "dev": dev_rows})
    print(json.dumps(constants, ensure_ascii=False))


if __name__ == "__main__":
    main()
