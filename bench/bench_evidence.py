"""Evidence sentence selection on held-out XQuAD questions: does the evidence hold the answer?

The answer of the evidence pipeline is built only on the few sentences the selector picks
(``rag.answer._evidence``); a gold answer outside them is lost whatever the model does. For
held-out questions (never the ``rag eval xquad --answers`` sample) of each direction, this
reports how often the retrieved passages hold the Arabic gold answer, and how often the
selected sentences do, for several (max sentences, margin, English words bridged to Arabic)
settings, with the mean number of sentences (each is one translation call for an English reader).

    python bench/bench_evidence.py [--questions 150]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import ROOT, report

sys.path.insert(0, str(ROOT))
from bench_translate import held_out  # noqa: E402

from rag.answer import retrieve  # noqa: E402
from rag.evaluation.scoring import normalize  # noqa: E402
from rag.evaluation.xquad_answers import load_pairs, xquad_index  # noqa: E402
from rag.extractive import select_sentences  # noqa: E402
from rag.service import get_retriever  # noqa: E402
from rag.settings import RagSettings  # noqa: E402

VARIANTS = {"2 / 0.08": (2, 0.08, False), "3 / 0.08": (3, 0.08, False), "2 / 0.15": (2, 0.15, False), "3 / 0.15": (3, 0.15, False),
            "2 / 0.08, bridged": (2, 0.08, True), "3 / 0.08, bridged": (3, 0.08, True), "2 / 0.15, bridged": (2, 0.15, True)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=150)
    ap.add_argument("--xquad", default=str(ROOT.parent / "shared" / "benchmarks" / "xquad"))
    args = ap.parse_args()
    contexts, questions = load_pairs(Path(args.xquad))
    indexed = xquad_index(contexts, RagSettings.load())
    qs = held_out(questions, args.questions)
    engine = get_retriever(indexed)
    data: dict = {}
    rows = []
    for lang in ("ar", "en"):
        counts = {k: [0, 0] for k in VARIANTS}
        in_passages = 0
        for q in qs:
            passages = retrieve(q[lang], indexed)
            if not passages:
                continue
            golds = [normalize(g) for g in q["ar_gold"]]
            in_passages += any(g in normalize(p.text) for g in golds for p in passages)
            terms = engine.question_terms(q[lang])
            for name, (most, margin, bridged) in VARIANTS.items():
                picked = select_sentences(q[lang], passages, engine.embedder, max_sentences=most, margin=margin,
                                          terms=terms if bridged else None)
                joined = normalize(" ".join(s.text for s in picked))
                counts[name][0] += any(g in joined for g in golds)
                counts[name][1] += len(picked)
        n = len(qs)
        data[lang] = {"questions": n, "passages_hold_gold": in_passages / n,
                      "evidence_holds_gold": {k: v[0] / n for k, v in counts.items()}, "sentences": {k: v[1] / n for k, v in counts.items()}}
        rows.append((f"{lang}: the retrieved passages hold the gold", f"{in_passages / n:.3f}"))
        rows += [(f"{lang}: evidence {k} (max sentences / margin)", f"{v[0] / n:.3f} ({v[1] / n:.2f} sentences)") for k, v in counts.items()]
    report("evidence", rows, data)


if __name__ == "__main__":
    main()
