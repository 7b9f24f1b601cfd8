"""Time to first token and per answer: the evidence pipeline against the earlier ``focused`` one, in one run.

The two prompt modes answer the same dev-set questions alternately (question by question, so
machine noise hits both alike) with the configured LLM backend (default ``local``), with an
empty translation cache. The
target (issue "Answers a reader can trust"): the evidence pipeline's mean time to first token
at most half the focused pipeline's.

    python bench/bench_answer_latency.py [--backend local] [--questions rag/data/seed_dev.jsonl]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from common import ROOT, report

from rag.answer import ask
from rag.evaluation.report import load_questions
from ui.settings import Settings

MODES = ("focused", "evidence")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="local")
    parser.add_argument("--questions", default=str(ROOT / "rag" / "data" / "seed_dev.jsonl"))
    args = parser.parse_args()
    settings = Settings.load(backend=args.backend)
    # translations are cached under HOME/cache: an empty home for this run, so every English answer is
    # translated as a new question's would be (the index and the models stay where they are)
    settings = settings.replace(home=Path(tempfile.mkdtemp(prefix="latency-")), index_dir=settings.index_dir,
                                models_dir=settings.models_dir)
    questions = [q for q in load_questions(Path(args.questions)) if q.answerable]
    ask(questions[0].question, settings=settings.replace(prompt_mode="focused"))  # load both models before timing
    times: dict[str, dict[str, list[float]]] = {m: {"first": [], "total": []} for m in MODES}
    for q in questions:
        for mode in MODES:
            a = ask(q.question, settings=settings.replace(prompt_mode=mode))
            times[mode]["first"].append(a.timings.get("first_token_s", a.timings["total_s"]))
            times[mode]["total"].append(a.timings["total_s"])
            print(f"{q.id} {mode:9s} first {times[mode]['first'][-1]:5.1f} s  total {times[mode]['total'][-1]:5.1f} s", flush=True)
    mean = {m: {k: statistics.fmean(v) for k, v in times[m].items()} for m in MODES}
    ratio = mean["evidence"]["first"] / mean["focused"]["first"]
    rows = [(f"{m}: mean first token / answer", f"{mean[m]['first']:.2f} s / {mean[m]['total']:.2f} s") for m in MODES]
    rows.append(("evidence ÷ focused, first token", f"{ratio:.2f}× (target ≤ 0.5×)"))
    report("answer_latency", rows, {"backend": args.backend, "questions": len(questions), "mean": mean, "ratio_first_token": ratio,
                                    "samples": times})


if __name__ == "__main__":
    main()
