"""``rag eval compare A.json B.json``: what changed between two runs, question by question.

Both files are ``--json`` outputs of ``rag eval answers`` (or ``rag eval xquad --answers``).
Questions are matched by id and language. Each is **fixed** (failed in A, passes in B),
**broken** (passed, now fails), **unchanged**, or only in one run (**added** / **dropped**);
with it go the deltas B − A of every score both runs have for it. The verdict of an
answers-run question is ``html_report.passed``; of an XQuAD question, "gold contained".

Example::

    >>> diff = compare_runs(json.loads(Path("a.json").read_text()), json.loads(Path("b.json").read_text()))
    >>> diff["counts"]
    {'fixed': 2, 'broken': 0, 'unchanged': 18, 'added': 0, 'dropped': 0}
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.evaluation.html_report import passed

STATUSES = ("fixed", "broken", "unchanged", "added", "dropped")
DELTA_KEYS = ["fact_recall", "all_facts", "cited_evidence", "quote_support", "language_match", "numbers_consistent", "refusal_correct",
              "judge_correct", "judge_faithful", "f1", "exact_match", "gold_contained", "top_score", "first_token_s", "total_s"]


def load_run(path: Path) -> dict[str, Any]:
    """A stored run; ``InputError`` naming the file when it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read run {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise InputError(f"{path} is not a stored run: expected the --json output of `rag eval answers` (a \"questions\" list)")
    return data


def verdict(row: dict[str, Any]) -> bool:
    if "gold_contained" in row and "refusal_correct" not in row:  # XQuAD end to end
        return bool(row["gold_contained"])
    return passed(row)


def _key(row: dict[str, Any]) -> tuple[str, str]:
    return str(row.get("id")), str(row.get("lang", ""))


def compare_runs(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Per question: status and score deltas; the counts; the summary deltas per language."""
    rows_a = {_key(r): r for r in a["questions"]}
    rows_b = {_key(r): r for r in b["questions"]}
    out = []
    for key in list(rows_a) + [k for k in rows_b if k not in rows_a]:
        ra, rb = rows_a.get(key), rows_b.get(key)
        if ra is None or rb is None:
            status = "added" if ra is None else "dropped"
            out.append({"id": key[0], "lang": key[1], "status": status, "before": None if ra is None else verdict(ra),
                        "after": None if rb is None else verdict(rb), "deltas": {}})
            continue
        before, after = verdict(ra), verdict(rb)
        status = "unchanged" if before == after else ("fixed" if after else "broken")
        deltas = {k: rb[k] - ra[k] for k in DELTA_KEYS
                  if isinstance(ra.get(k), (int, float)) and isinstance(rb.get(k), (int, float)) and not isinstance(ra.get(k), bool)}
        out.append({"id": key[0], "lang": key[1], "status": status, "before": before, "after": after,
                    "deltas": {k: v for k, v in deltas.items() if v}, "question": rb.get("question", ""),
                    "answer_before": ra.get("answer", ""), "answer_after": rb.get("answer", "")})
    counts = {s: sum(r["status"] == s for r in out) for s in STATUSES}
    summary = {}
    for lang, sa in a.get("summary", {}).items():
        sb = b.get("summary", {}).get(lang, {})
        summary[lang] = {k: sb[k] - v for k, v in sa.items()
                         if isinstance(v, (int, float)) and not isinstance(v, bool) and isinstance(sb.get(k), (int, float))}
    return {"a": {"backend": a.get("backend"), "n": len(rows_a)}, "b": {"backend": b.get("backend"), "n": len(rows_b)},
            "counts": counts, "summary_deltas": summary, "questions": out}


def rows(diff: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The table ``rag eval compare`` prints: changed questions first, then the unchanged ones."""
    order = {s: i for i, s in enumerate(STATUSES)}
    header = ["id", "lang", "status", "before", "after", "score deltas (B − A)"]
    body = []
    for r in sorted(diff["questions"], key=lambda r: (order[r["status"]], r["id"])):
        deltas = ", ".join(f"{k} {v:+.3f}" for k, v in r["deltas"].items())
        mark = {True: "pass", False: "fail", None: "–"}
        body.append([r["id"], r["lang"], r["status"], mark[r["before"]], mark[r["after"]], deltas or "–"])
    return header, body
