"""Calibrate the refusal decision (rag.answerability) on XQuAD, away from the evaluation sample.

Positives: XQuAD questions (not in the fixed end-to-end sample) over the 240 Arabic contexts
indexed with the build path. Negatives: the same questions with their own context removed
from the results, so the corpus holds no answer (XQuAD-derived negatives). For each, the
signals are computed once: the best dense cosine, the coverage of the question's words, and,
for a question whose expected answer type code can tell (a date for "when", a number for
"how many", ``rag.slots.question_kind``), whether the passages hold a value of that type
(``asked_value_found``) in the best passage, the best three, or the evidence
sentences an answer would be built on. Then the current constants are scored: refusal rate on
negatives, false refusals on positives, per language, and the dev set's answerable/unanswerable
questions; and the frontier of each rule form (``frontier``), with and without the answer type,
on the whole calibration pool and fitted on half of it, tested on the other half.

    python bench/bench_answerability.py [--per-language 0]   # 0: the whole held-out pool (1,090)
    python bench/bench_answerability.py --frontier-only       # from the stored signals, no model
"""
from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

import numpy as np
from common import ROOT, report

from rag import answerability, slots
from rag.answer_text import ascii_digits
from rag.evaluation.report import load_questions
from rag.evaluation.xquad_answers import SAMPLE_SEED, load_pairs, sample, xquad_index
from rag.extractive import select_sentences
from rag.language import detect_language
from rag.service import get_retriever
from rag.thresholds import EVIDENCE_MARGIN, EVIDENCE_SENTENCES
from ui.settings import Settings

XQUAD = ROOT.parent / "shared" / "benchmarks" / "xquad"
RESULTS = ROOT / "bench" / "results" / "answerability.json"
VARIANTS = ("value_best", "value_top3", "value_evidence")  # where the asked-for value is looked for
CAPS = (0.05, 0.10, 0.20)
FIRST = 300  # the earlier calibration set: the first 300 of the shuffled pool


# A date question's answer in an encyclopaedic text is often a year before 1900 ("1519"), a century
# (القرن التاسع عشر) or a decade (التسعينيات); rag.slots reads only the years a news lead states (19xx, 20xx).
_LOOSE_DATE = re.compile(r"(?<![\d.,،])(?P<n>\d{3,4})(?![\d.,،])|(?<![\w])(?:[وبل]?ال)?قرن|ينيات(?![\w])")


def asked_value_found(question: str, texts: list[str]) -> bool | None:
    """Whether ``texts`` hold a value of the kind ``question`` asks for (a date for "when …?" /
    "متى …؟", a number for "how many …?" / "كم …؟", ``rag.slots.question_kind``) other than
    the values the question names itself; None when code cannot tell the kind asked for."""
    kind = slots.question_kind(question)
    if kind is None:
        return None
    named = set(re.findall(r"\d+", ascii_digits(question)))
    for text in texts:
        found = slots.values(text, kind, "ar")
        if kind == "date":
            found += [m.group(0) for m in _LOOSE_DATE.finditer(ascii_digits(text))]
        for value in found:
            digits = set(re.findall(r"\d+", value))
            if not digits or not digits <= named:
                return True
    return False



def row(q: str, kept: list, retriever, floor: float) -> dict:
    d = answerability.decide(q, kept, retriever, floor)
    out = {"dense": d.dense, "coverage": answerability.coverage(q, kept, retriever) if kept else None, "answer": d.answer}
    if slots.question_kind(q) is None or not kept:
        return out
    terms = retriever.question_terms(q) if detect_language(q) == "en" else None
    evidence = select_sentences(q, kept, retriever.embedder, max_sentences=EVIDENCE_SENTENCES[detect_language(q)],
                                margin=EVIDENCE_MARGIN, terms=terms)
    return out | {"value_best": asked_value_found(q, [kept[0].text]),
                  "value_top3": asked_value_found(q, [p.text for p in kept[:3]]),
                  "value_evidence": asked_value_found(q, [s.text for s in evidence] or [kept[0].text])}


def signals(retriever, questions: list[str], own: list[str], floor: float) -> tuple[list[dict], list[dict]]:
    """(positives, negatives): each question over its ranked passages, then with its own context removed."""
    pos, neg = [], []
    for q, mine, ps in zip(questions, own, retriever.search_many(questions, top_k=10, mode="hybrid")):
        pos.append(row(q, ps[:5], retriever, floor))
        neg.append(row(q, [p for p in ps if p.doc_id != mine][:5], retriever, floor))
    return pos, neg


def _arrays(rows: list[dict], variant: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dense = np.array([r["dense"] for r in rows])
    cov = np.array([1.0 if r["coverage"] is None else r["coverage"] for r in rows])
    missing = np.array([variant is not None and r.get(variant) is False for r in rows])  # typed, and no value of the type
    return dense, cov, missing


LOS = [x / 100 for x in range(20, 60, 2)]
CS = np.array([x / 20 for x in range(21)])
TS = np.array([x / 100 for x in range(30, 80, 2)] + [9.0])  # 9.0: a typed question without its value is always refused


def _grid(rows: list[dict], variant: str | None):
    """Refusal counts of every rule over ``rows``: {(lo, hi): array (len(CS), len(TS))}.

    The rule: answer when dense >= hi, or dense >= lo and coverage >= c; and, with a ``variant``,
    refuse a typed question whose passages hold no value of its type unless dense >= t."""
    dense, cov, missing = _arrays(rows, variant)
    ts = TS if variant else TS[-1:]
    covered = cov[:, None] >= CS[None, :]  # (n, c)
    blocked = missing[:, None] & (dense[:, None] < ts[None, :])  # (n, t)
    out = {}
    for lo in LOS:
        for hi in [x / 100 for x in range(int(round(lo * 100)), 80, 2)]:
            base = (dense >= hi)[:, None] | ((dense >= lo)[:, None] & covered)  # (n, c)
            answers = base[:, :, None] & ~blocked[:, None, :]  # (n, c, t)
            out[(lo, hi)] = (~answers).sum(axis=0)
    return out, ts


def _rules(pos: list[dict], neg: list[dict], variant: str | None):
    """Every rule as (false refusals, negatives refused, lo, hi, c, t)."""
    gp, ts = _grid(pos, variant)
    gn, _ = _grid(neg, variant)
    out = []
    for key in gp:
        fr, nr = gp[key] / len(pos), gn[key] / len(neg)
        for ci, c in enumerate(CS):
            for ti, t in enumerate(ts):
                out.append((float(fr[ci, ti]), float(nr[ci, ti]), key[0], key[1], float(c), float(t) if variant else None))
    return out


def _answers(s: dict, rule: tuple, variant: str | None) -> bool:
    _, _, lo, hi, c, t = rule
    cov = 1.0 if s["coverage"] is None else s["coverage"]
    ok = s["dense"] >= hi or (s["dense"] >= lo and cov >= c)
    return ok and not (variant and s.get(variant) is False and s["dense"] < t)


def _best(rules: list[tuple], cap: float) -> tuple:
    # most negatives refused within the cap; among ties, fewest false refusals
    return max((r for r in rules if r[0] <= cap), key=lambda r: (r[1], -r[0]))


def frontier(pos: list[dict], neg: list[dict], caps=CAPS, variant: str | None = None) -> dict[str, dict]:
    """The most negatives any rule of the form refuses within each false-refusal cap.

    The rule: answer when dense >= hi, or dense >= lo and coverage >= c; with a ``variant``
    (``VARIANTS``), also refuse a typed question whose passages hold no value of its type unless
    dense >= t. Searched over a grid, *on the calibration set itself* (an upper bound: held-out
    figures can only be worse). It shows how far the signals can go, whatever the constants.
    """
    rules = _rules(pos, neg, variant)
    out = {}
    for cap in caps:
        fr, nr, lo, hi, c, t = _best(rules, cap)
        out[f"{cap:.2f}"] = {"negatives_refused": nr, "false_refusals": fr, "min_score": lo, "ANSWER_ABOVE": hi, "MIN_COVERAGE": c,
                             **({"ANSWER_TYPE_ABOVE": t} if variant else {})}
    return out


def held_out(pos: list[dict], neg: list[dict], variant: str | None, cap: float = 0.05, splits: int = 3) -> list[dict]:
    """Fit the rule on half of the questions (most negatives refused within ``cap``), score it on the other half."""
    out = []
    for seed in range(splits):
        idx = list(range(len(pos)))
        random.Random(seed).shuffle(idx)
        fit, test = idx[: len(idx) // 2], idx[len(idx) // 2:]
        rule = _best(_rules([pos[i] for i in fit], [neg[i] for i in fit], variant), cap)
        out.append({"rule": rule[2:], "fit": rule[:2],
                    "false_refusals": sum(not _answers(pos[i], rule, variant) for i in test) / len(test),
                    "negatives_refused": sum(not _answers(neg[i], rule, variant) for i in test) / len(test)})
    return out


def _with_type(s: dict, variant: str, t: float) -> bool:
    """The shipped decision, plus: a typed question whose passages hold no value of its type is refused unless dense >= t."""
    return s["answer"] and not (s.get(variant) is False and s["dense"] < t)


def shipped_with_type(pos: list[dict], neg: list[dict], variant: str, t: float, base_rules: list[tuple]) -> dict:
    """The shipped constants with the answer type added at ``t``, over all questions and the typed ones; beside it the
    most negatives the shipped rule form refuses at the same false refusals with its constants re-fitted (no type)."""
    rows = {}
    for name, sel in (("all", lambda s: True), ("typed", lambda s: variant in s)):
        p = [s for s in pos if sel(s)]
        n = [s for s in neg if sel(s)]
        rows[name] = {"n": len(p), "false_refusals": sum(not _with_type(s, variant, t) for s in p) / len(p),
                      "negatives_refused": sum(not _with_type(s, variant, t) for s in n) / len(n),
                      "false_refusals_before": sum(not s["answer"] for s in p) / len(p),
                      "negatives_refused_before": sum(not s["answer"] for s in n) / len(n)}
    best = _best(base_rules, rows["all"]["false_refusals"])
    rows["refitted_without_type"] = {"false_refusals": best[0], "negatives_refused": best[1], "rule": best[2:5]}
    return rows


def held_out_type(pos: list[dict], neg: list[dict], variant: str, splits: int = 5, extra: float = 0.01) -> list[dict]:
    """The shipped constants plus the answer type, t fitted on half of the questions (most negatives refused for at
    most ``extra`` more false refusals), scored on the other half, before and after."""
    ts = [0.0] + [x / 100 for x in range(46, 80, 2)] + [9.0]
    out = []
    for seed in range(splits):
        idx = list(range(len(pos)))
        random.Random(seed).shuffle(idx)
        fit, test = idx[: len(idx) // 2], idx[len(idx) // 2:]

        def score(ids: list[int], t: float) -> tuple[float, float]:
            return (sum(not _with_type(pos[i], variant, t) for i in ids) / len(ids),
                    sum(not _with_type(neg[i], variant, t) for i in ids) / len(ids))
        fr0 = score(fit, 0.0)[0]
        t = max((t for t in ts if score(fit, t)[0] - fr0 <= extra), key=lambda t: (score(fit, t)[1], -score(fit, t)[0]))
        (fr_b, nr_b), (fr_a, nr_a) = score(test, 0.0), score(test, t)
        out.append({"t": t, "false_refusals_before": fr_b, "negatives_refused_before": nr_b, "false_refusals": fr_a, "negatives_refused": nr_a})
    return out


def analyse(data: dict, lines: list[tuple[str, str]]) -> dict:
    """Frontiers with and without the answer type, held-out fits, and the shipped rule with the type added."""
    out = {}
    for lang in ("ar", "en"):
        pos, neg = data[lang]["positives"], data[lang]["negatives"]
        typed = [i for i, s in enumerate(pos) if "value_best" in s]
        tp, tn = [pos[i] for i in typed], [neg[i] for i in typed]
        res = {"n": len(pos), "typed": len(typed),
               "typed_missing_value": {v: {"positives": sum(s[v] is False for s in tp) / len(tp),
                                           "negatives": sum(s[v] is False for s in tn) / len(tn)} for v in VARIANTS},
               "frontier": {}, "held_out": {}, "shipped_with_type": {}, "held_out_type": {}}
        lines.append((f"XQuAD {lang}: typed questions (date/number)", f"{len(typed)} of {len(pos)}"))
        for v, m in res["typed_missing_value"].items():
            lines.append((f"XQuAD {lang}: typed, no value of the type ({v})", f"positives {m['positives']:.3f} / negatives {m['negatives']:.3f}"))
        for variant in (None,) + VARIANTS:
            name = variant or "without type"
            res["frontier"][name] = f = frontier(pos, neg, variant=variant)
            res["held_out"][name] = h = held_out(pos, neg, variant)
            lines.append((f"XQuAD {lang} frontier ({name}): negatives refused at FR <= 0.05 / 0.10 / 0.20",
                          " / ".join(f"{f[k]['negatives_refused']:.3f}" for k in f)))
            lines.append((f"XQuAD {lang} half-fit, half-test ({name}): FR / negatives refused",
                          ", ".join(f"{x['false_refusals']:.3f} / {x['negatives_refused']:.3f}" for x in h)))
        base_rules = _rules(pos, neg, None)
        for variant in VARIANTS:
            for t in (0.5, 0.55, 0.6, 9.0):
                r = shipped_with_type(pos, neg, variant, t, base_rules)
                res["shipped_with_type"][f"{variant} t={t}"] = r
                if variant == "value_top3" or t == 0.6:
                    continue
                lines.append((f"XQuAD {lang} shipped + type ({variant}, t={t}): FR / neg all; typed; refitted, no type",
                               f"{r['all']['false_refusals_before']:.3f}/{r['all']['negatives_refused_before']:.3f} → "
                               f"{r['all']['false_refusals']:.3f}/{r['all']['negatives_refused']:.3f}; "
                               f"{r['typed']['false_refusals_before']:.3f}/{r['typed']['negatives_refused_before']:.3f} → "
                               f"{r['typed']['false_refusals']:.3f}/{r['typed']['negatives_refused']:.3f}; "
                               f"{r['refitted_without_type']['false_refusals']:.3f}/{r['refitted_without_type']['negatives_refused']:.3f}"))
            res["held_out_type"][variant] = h = held_out_type(pos, neg, variant)
            lines.append((f"XQuAD {lang} shipped + type ({variant}), t fitted on half: test FR / neg before → after",
                          ", ".join(f"{x['false_refusals_before']:.3f}/{x['negatives_refused_before']:.3f} → "
                                    f"{x['false_refusals']:.3f}/{x['negatives_refused']:.3f} (t={x['t']})" for x in h)))
        out[lang] = res
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-language", type=int, default=0, help="calibration questions per language (0: the whole held-out pool)")
    parser.add_argument("--xquad", default=str(XQUAD))
    parser.add_argument("--frontier-only", action="store_true", help="recompute the frontiers from the stored results, no model")
    args = parser.parse_args()
    if args.frontier_only:
        stored = json.loads(RESULTS.read_text(encoding="utf-8"))
        lines: list[tuple[str, str]] = []
        analyse(stored["xquad"], lines)
        for k, v in lines:
            print(f"{k}: {v}")
        return
    settings = Settings.load()
    contexts, questions = load_pairs(Path(args.xquad))
    held = {q["id"] for q in sample(questions, 100)}  # the end-to-end sample is never calibrated on
    pool = [q for q in questions if q["id"] not in held]
    random.Random(SAMPLE_SEED + 1).shuffle(pool)
    pool = pool[: args.per_language or None]
    indexed = xquad_index(contexts, settings)
    retriever = get_retriever(indexed)
    rows, data = [], {}
    for lang in ("ar", "en"):
        texts = [q[lang] for q in pool]
        pos, neg = signals(retriever, texts, [f"ctx{q['context']:03d}.txt" for q in pool], settings.min_score)
        false_refusals = sum(not s["answer"] for s in pos) / len(pos)
        refused_negatives = sum(not s["answer"] for s in neg) / len(neg)
        first = {"false_refusals": sum(not s["answer"] for s in pos[:FIRST]) / len(pos[:FIRST]),
                 "negatives_refused": sum(not s["answer"] for s in neg[:FIRST]) / len(neg[:FIRST])}
        rows.append((f"XQuAD {lang}: false refusals / negatives refused ({len(pos)} questions)", f"{false_refusals:.3f} / {refused_negatives:.3f}"))
        rows.append((f"XQuAD {lang}: the same, first {FIRST}", f"{first['false_refusals']:.3f} / {first['negatives_refused']:.3f}"))
        data[lang] = {"false_refusals": false_refusals, "negatives_refused": refused_negatives, f"first_{FIRST}": first,
                      "ids": [q["id"] for q in pool], "positives": pos, "negatives": neg}
    # The end-to-end sample (never calibrated on): its questions' decisions, to see what a rule would do to its refusals
    e2e = sample(questions, 60)
    e2e_rows = {}
    for lang in ("ar", "en"):
        texts = [q[lang] for q in e2e]
        ranked = retriever.search_many(texts, top_k=indexed.top_k, mode="hybrid", min_score=-1.0)  # as rag.answer.retrieve
        e2e_rows[lang] = [row(q, ps, retriever, settings.min_score) for q, ps in zip(texts, ranked)]
        rows.append((f"end-to-end sample ({len(texts)}) {lang}: refused by the shipped rule", f"{sum(not s['answer'] for s in e2e_rows[lang])}"))
    dev = get_retriever(settings)
    dev_rows = []
    for q in load_questions(ROOT / "rag" / "data" / "seed_dev.jsonl"):
        ps = dev.search_many([q.question], top_k=10, mode="hybrid")[0][:5]
        dev_rows.append({"id": q.id, "answerable": q.answerable, **row(q.question, ps, dev, settings.min_score)})
    wrong = [r["id"] for r in dev_rows if r["answer"] != r["answerable"]]
    rows.append(("dev set: decisions wrong", f"{len(wrong)} {wrong}"))
    constants = {"min_score": settings.min_score, **{k: getattr(answerability, k) for k in ("ANSWER_ABOVE", "MIN_COVERAGE")}}
    analysis = analyse(data, rows)
    for t in (0.5, 0.55):  # what the answer-type rule would do to the end-to-end sample and the dev set
        for variant in ("value_best", "value_evidence"):
            rows.append((f"{variant}, t={t}: end-to-end sample refused ar / en; dev decisions wrong",
                         " / ".join(str(sum(not _with_type(s, variant, t) for s in e2e_rows[lang])) for lang in ("ar", "en"))
                         + f"; {[r['id'] for r in dev_rows if _with_type(r, variant, t) != r['answerable']]}"))
    report("answerability", rows, {"constants": constants, "per_language": len(pool), "xquad": data, "analysis": analysis,
                                   "end_to_end_sample": e2e_rows, "dev": dev_rows})
    print(json.dumps(constants, ensure_ascii=False))


if __name__ == "__main__":
    main()
