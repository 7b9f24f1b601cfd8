"""``rag eval answers --html FILE``: one self-contained HTML page a team can read and act on.

No script, no CDN, no web font: the charts are inline SVG drawn here, so the file opens offline
and can be mailed or attached to a ticket. The page holds

* per-language bars of each 0–1 score (fact recall, cited evidence, refusals right, …);
* the best passage's cosine of answerable and unanswerable questions, binned, against the
  refusal threshold (``min_score``) and the level above which a question is always answered;
* the time per answer (first token and total);
* a table with every question: its answer, the citations with the cited text (the quote marked),
  the facts found and missed, the checks that fired, its scores.

Example::

    >>> Path("report.html").write_text(render_html(result, title="dev set, extractive"), encoding="utf-8")
"""
from __future__ import annotations

import html
import math
from typing import Any

SCORE_METRICS = ["fact_recall", "all_facts", "cited_evidence", "quote_support", "language_match", "numbers_consistent",
                 "refusal_correct", "judge_correct", "judge_faithful"]
LANG_COLOURS = {"ar": "#2b6cb0", "en": "#c05621", "all": "#4a5568"}
OTHER_COLOURS = ["#2f855a", "#6b46c1", "#b83280", "#2c7a7b"]
ANSWERABLE, UNANSWERABLE = "#2b6cb0", "#c53030"
BIN_WIDTH = 0.05  # cosine bins of the score distribution
PER_QUESTION_BARS = 80  # above this many answers the time chart is a histogram

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Naskh Arabic", sans-serif; margin: 24px; color: #1a202c; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #e2e8f0; }
.meta { color: #4a5568; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #e2e8f0; padding: 4px 8px; vertical-align: top; text-align: left; }
th { background: #f7fafc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.fail > td:first-child { border-left: 4px solid #c53030; } tr.pass > td:first-child { border-left: 4px solid #2f855a; }
.txt { unicode-bidi: plaintext; max-width: 38em; white-space: pre-wrap; }
details { margin: 2px 0; } summary { cursor: pointer; }
mark { background: #fefcbf; }
.found { color: #276749; } .missed { color: #c53030; } .check { color: #975a16; }
.chart { margin: 8px 0 16px; }
svg text { font-size: 11px; fill: #2d3748; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: middle; }
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return "–" if value is None else esc(value)


def _legend(items: list[tuple[str, str]]) -> str:
    return '<div class="legend">' + "".join(f'<span><i style="background:{c}"></i>{esc(t)}</span>' for t, c in items) + "</div>"


def score_bars(summary: dict[str, Any]) -> str:
    """Grouped bars: one group per 0–1 metric, one bar per language (and all)."""
    langs = [l for l in summary if isinstance(summary[l], dict)]
    metrics = [m for m in SCORE_METRICS if any(isinstance(summary[l].get(m), (int, float)) for l in langs)]
    if not metrics:
        return "<p>No scores.</p>"
    bar, gap, left, top, height = 14, 18, 40, 10, 180
    group = bar * len(langs) + gap
    width = left + group * len(metrics) + 90  # room for the last rotated label
    parts = [f'<svg class="chart" id="chart-scores" role="img" aria-label="scores per language" width="{width}" height="{height + 110}" '
             '>']
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = top + height * (1 - tick)
        parts.append(f'<line x1="{left}" x2="{width - 5}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>')
    for i, metric in enumerate(metrics):
        x0 = left + i * group + gap / 2
        for j, lang in enumerate(langs):
            value = summary[lang].get(metric)
            if not isinstance(value, (int, float)):
                continue
            h = height * max(0.0, min(1.0, float(value)))
            colour = LANG_COLOURS.get(lang, OTHER_COLOURS[j % len(OTHER_COLOURS)])
            parts.append(f'<rect class="bar" x="{x0 + j * bar:.1f}" y="{top + height - h:.1f}" width="{bar - 2}" height="{max(h, 0.5):.1f}" '
                         f'fill="{colour}"><title>{esc(metric)} ({esc(lang)}): {value:.3f}</title></rect>')
        cx = x0 + bar * len(langs) / 2
        parts.append(f'<text x="{cx:.1f}" y="{top + height + 12}" transform="rotate(35 {cx:.1f} {top + height + 12})">{esc(metric)}</text>')
    parts.append("</svg>")
    return _legend([(l, LANG_COLOURS.get(l, OTHER_COLOURS[j % len(OTHER_COLOURS)])) for j, l in enumerate(langs)]) + "".join(parts)


def score_distribution(rows: list[dict[str, Any]], min_score: float | None, answer_above: float | None) -> str:
    """Histogram of the best passage's cosine, answerable vs unanswerable, with the thresholds as lines."""
    scored = [r for r in rows if isinstance(r.get("top_score"), (int, float))]
    if not scored:
        return "<p>No retrieval scores in this run.</p>"
    lo = min(0.0, math.floor(min(r["top_score"] for r in scored) / BIN_WIDTH) * BIN_WIDTH)
    hi = max(1.0, math.ceil(max(r["top_score"] for r in scored) / BIN_WIDTH) * BIN_WIDTH)
    bins = max(1, round((hi - lo) / BIN_WIDTH))
    counts = {True: [0] * bins, False: [0] * bins}
    for r in scored:
        k = min(bins - 1, int((r["top_score"] - lo) / BIN_WIDTH))
        counts[bool(r["answerable"])][k] += 1
    peak = max(max(counts[True]), max(counts[False]), 1)
    left, top, height, width = 40, 10, 160, 640
    step = (width - left - 10) / bins
    sx = lambda v: left + (v - lo) / (hi - lo) * (width - left - 10)
    parts = [f'<svg class="chart" id="chart-distribution" role="img" aria-label="best passage score, answerable vs unanswerable" '
             f'width="{width}" height="{height + 50}">']
    for tick in range(0, peak + 1, max(1, peak // 4)):
        y = top + height * (1 - tick / peak)
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
    for k in range(bins):
        for offset, answerable in ((0.0, True), (0.5, False)):
            n = counts[answerable][k]
            if n:
                h = height * n / peak
                parts.append(f'<rect class="bar" x="{left + k * step + offset * step:.1f}" y="{top + height - h:.1f}" width="{step / 2 - 1:.1f}" '
                             f'height="{h:.1f}" fill="{ANSWERABLE if answerable else UNANSWERABLE}"><title>{"answerable" if answerable else "unanswerable"} '
                             f'{lo + k * BIN_WIDTH:.2f}–{lo + (k + 1) * BIN_WIDTH:.2f}: {n}</title></rect>')
    for v in [lo + i * 0.1 for i in range(int(round((hi - lo) / 0.1)) + 1)]:
        parts.append(f'<text x="{sx(v):.1f}" y="{top + height + 14}" text-anchor="middle">{v:.1f}</text>')
    for row, (value, label, dash) in enumerate(((min_score, "refusal threshold", "6 3"), (answer_above, "always answered", "2 3"))):
        if isinstance(value, (int, float)) and lo <= value <= hi:
            parts.append(f'<line class="threshold" x1="{sx(value):.1f}" x2="{sx(value):.1f}" y1="{top}" y2="{top + height}" stroke="#1a202c" '
                         f'stroke-width="1.5" stroke-dasharray="{dash}"/><text x="{sx(value) + 4:.1f}" y="{top + 10 + 14 * row}">{esc(label)} {value:g}</text>')
    parts.append(f'<text x="{(left + width) / 2:.0f}" y="{top + height + 34}" text-anchor="middle">cosine of the best passage</text></svg>')
    return _legend([("answerable", ANSWERABLE), ("unanswerable", UNANSWERABLE)]) + "".join(parts)


def time_chart(rows: list[dict[str, Any]]) -> str:
    """Seconds per answer: one bar per question (first token darker), or a histogram for long runs."""
    timed = [r for r in rows if isinstance(r.get("total_s"), (int, float))]
    if not timed:
        return "<p>No timings in this run.</p>"
    peak = max(max(r["total_s"] for r in timed), 1e-3)
    if len(timed) > PER_QUESTION_BARS:
        bins = 20
        counts = [0] * bins
        for r in timed:
            counts[min(bins - 1, int(r["total_s"] / peak * bins))] += 1
        top_n = max(counts)
        w = 30
        parts = [f'<svg class="chart" id="chart-time" role="img" aria-label="seconds per answer" width="{bins * w + 60}" height="200" '
                 '>']
        for k, n in enumerate(counts):
            h = 150 * n / top_n
            parts.append(f'<rect class="bar" x="{40 + k * w}" y="{160 - h:.1f}" width="{w - 2}" height="{h:.1f}" fill="#4a5568">'
                         f'<title>{k * peak / bins:.1f}–{(k + 1) * peak / bins:.1f} s: {n}</title></rect>')
        parts.append(f'<text x="40" y="180">0 s</text><text x="{40 + bins * w}" y="180" text-anchor="end">{peak:.1f} s</text></svg>')
        return "".join(parts)
    row_h, left, width = 16, 90, 640
    parts = [f'<svg class="chart" id="chart-time" role="img" aria-label="seconds per answer" width="{width}" height="{row_h * len(timed) + 30}" '
             '>']
    scale = (width - left - 60) / peak
    for i, r in enumerate(timed):
        y = 5 + i * row_h
        first = r.get("first_token_s") if isinstance(r.get("first_token_s"), (int, float)) else None
        parts.append(f'<text x="{left - 6}" y="{y + 11}" text-anchor="end">{esc(r["id"])}</text>'
                     f'<rect class="bar" x="{left}" y="{y}" width="{max(r["total_s"] * scale, 0.5):.1f}" height="{row_h - 4}" fill="#a0aec0">'
                     f'<title>{esc(r["id"])}: {r["total_s"]:.2f} s</title></rect>')
        if first is not None:
            parts.append(f'<rect x="{left}" y="{y}" width="{max(first * scale, 0.5):.1f}" height="{row_h - 4}" fill="#2d3748">'
                         f'<title>first token {first:.2f} s</title></rect>')
        parts.append(f'<text x="{left + r["total_s"] * scale + 4:.1f}" y="{y + 11}">{r["total_s"]:.2f} s</text>')
    parts.append("</svg>")
    return _legend([("first token", "#2d3748"), ("whole answer", "#a0aec0")]) + "".join(parts)


def _marked(text: str, quote: str) -> str:
    if quote and quote in text:
        a = text.index(quote)
        return esc(text[:a]) + f"<mark>{esc(quote)}</mark>" + esc(text[a + len(quote):])
    return esc(text)


def passed(row: dict[str, Any]) -> bool:
    """The verdict of one question (also ``rag eval compare``'s): right refusal, and for an answerable
    question all its facts held (or, without facts, the evidence cited) and no unflagged wrong number."""
    if not row.get("refusal_correct"):
        return False
    if not row.get("answerable"):
        return True
    if row.get("all_facts") is not None:
        ok = bool(row["all_facts"])
    elif row.get("cited_evidence") is not None:
        ok = bool(row["cited_evidence"])
    else:
        ok = not row.get("refused")
    return ok and not row.get("unsupported_unflagged")


def question_table(rows: list[dict[str, Any]]) -> str:
    head = ("<tr><th>id</th><th>lang</th><th>question</th><th>answer</th><th>citations (cited text)</th><th>facts</th>"
            "<th>checks fired</th><th>scores</th><th>s</th></tr>")
    body = []
    for r in rows:
        cites = "".join(
            f'<details><summary>[{esc(c.get("n"))}] {esc(c.get("title") or c.get("doc"))}</summary>'
            f'<div class="txt">{_marked(str(c.get("text") or ""), str(c.get("quote") or ""))}</div>'
            + (f'<div class="txt"><i>{esc(c["translation"])}</i></div>' if c.get("translation") else "") + "</details>"
            for c in r.get("citations", []))
        facts = "".join(f'<div class="found">✓ {esc(f)}</div>' for f in r.get("facts_found", []))
        facts += "".join(f'<div class="missed">✗ {esc(f)}</div>' for f in r.get("facts_missed", []))
        checks = "".join(f'<div class="check">{esc(c.get("code"))}: {esc(c.get("message"))}</div>' for c in r.get("findings", []))
        if not checks and r.get("reasons"):
            checks = "".join(f'<div class="check">{esc(m)}</div>' for m in r["reasons"])
        scores = "<br>".join(f"{esc(k)} {fmt(r[k])}" for k in SCORE_METRICS if r.get(k) is not None)
        flags = (" · refused" if r.get("refused") else "") + ("" if r.get("answerable", True) else " · unanswerable")
        body.append(f'<tr class="{"pass" if passed(r) else "fail"}" id="q-{esc(r.get("id"))}"><td>{esc(r.get("id"))}{esc(flags)}</td>'
                    f'<td>{esc(r.get("lang"))}</td><td class="txt" dir="auto">{esc(r.get("question", ""))}</td>'
                    f'<td class="txt" dir="auto">{esc(r.get("answer", ""))}</td><td>{cites}</td><td>{facts}</td><td>{checks}</td>'
                    f'<td>{scores}</td><td class="num">{fmt(r.get("total_s"))}</td></tr>')
    return f'<table id="questions">{head}{"".join(body)}</table>'


def summary_table(summary: dict[str, Any]) -> str:
    langs = list(summary)
    keys = [k for k in dict.fromkeys(k for l in langs for k in summary[l])]
    head = "<tr><th>metric</th>" + "".join(f"<th>{esc(l)}</th>" for l in langs) + "</tr>"
    body = "".join(f"<tr><td>{esc(k)}</td>" + "".join(f'<td class="num">{fmt(summary[l].get(k))}</td>' for l in langs) + "</tr>" for k in keys)
    return f'<table id="summary">{head}{body}</table>'


def render_html(result: dict[str, Any], title: str = "Answers") -> str:
    """The whole report page for a ``rag eval answers`` result (``evaluate_answers``' dict)."""
    rows = result.get("questions", [])
    thresholds = result.get("thresholds", {})
    ok = sum(passed(r) for r in rows)
    meta = (f"backend <b>{esc(result.get('backend'))}</b> · {len(rows)} questions · {ok} passed · "
            f"question set {esc(result.get('question_set', ''))} · index {esc(result.get('index_version', ''))} · {esc(result.get('time', ''))}")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1><p class='meta'>{meta}</p>"
        "<h2>Scores per language</h2>" + score_bars(result.get("summary", {})) + summary_table(result.get("summary", {})) +
        "<h2>Best passage score: answerable vs unanswerable</h2>"
        "<p class='meta'>A question whose best passage scores under the refusal threshold is refused without a model; "
        "over the second line it is always answered; in between the question's words decide.</p>"
        + score_distribution(rows, thresholds.get("min_score"), thresholds.get("answer_above")) +
        "<h2>Time per answer</h2>" + time_chart(rows) +
        "<h2>Every question</h2><p class='meta'>Green edge: passed (right refusal, all facts held or evidence cited); "
        "red: failed. Open a citation to read the cited passage with the quote marked.</p>" + question_table(rows) +
        "</body></html>")
