"""Question-set loading (JSONL, CSV, or a feedback file) and result tables (terminal, Markdown, JSON).

A question set is a JSONL file (one JSON object a line) or a CSV file with a header line. Fields
(README, "Question sets"): ``question`` (required), ``lang`` (``ar``/``en``; detected when
absent), ``answerable`` (default true), ``evidence`` (strings a cited passage should contain),
``facts`` (key facts, each a list of acceptable forms), ``reference`` (the reference answer;
``answer`` is the older name), ``id`` and ``docs``. In CSV, several evidence strings are separated
by ``|``; facts by ``;`` and a fact's forms by ``|`` (``baghdad|بغداد; thursday``); a cell that
starts with ``[`` is read as JSON. A feedback file (``HOME/feedback/feedback.jsonl``) is read as
a question set too (``feedback_question``). Every problem is an ``InputError`` naming the line.

Example::

    >>> questions = load_questions(Path("rag/data/seed_dev.jsonl"))
    >>> print(table(["metric", "ar"], [["recall@5", 1.0]]))
"""
from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.feedback import expected_facts, is_feedback
from rag.language import detect_language

log = logging.getLogger(__name__)
LANGUAGES = ("ar", "en")
FIELDS = ("id", "question", "lang", "answerable", "evidence", "facts", "reference", "answer", "docs")
_TRUE, _FALSE = ("true", "yes", "1", "y"), ("false", "no", "0", "n")


@dataclass
class Question:
    """One line of a question set (the format of ``rag/data/seed_dev.jsonl``)."""

    id: str
    lang: str
    question: str
    answer: str = ""  # the reference answer
    docs: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    answerable: bool = True
    facts: list[list[str]] = field(default_factory=list)  # key facts, each a list of acceptable forms


def load_questions(path: Path) -> list[Question]:
    """Parse a JSONL or CSV question set (or a feedback file); a bad line is an ``InputError`` naming the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read question set {path}: {exc}") from None
    records = _csv_records(path, text) if path.suffix.lower() == ".csv" else _jsonl_records(path, text)
    versions = {str(data.get("id")): n for n, data in records if is_feedback(data)}
    records = [(n, data) for n, data in records if not is_feedback(data) or versions[str(data.get("id"))] == n]  # feedback: its last version
    out: list[Question] = []
    seen: dict[str, int] = {}
    skipped = 0
    for n, data in records:
        try:
            q = feedback_question(data) if is_feedback(data) else question(data, n, csv_cells=path.suffix.lower() == ".csv")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{path}, line {n}: {exc}") from None
        if q is None:
            skipped += 1
            continue
        if q.id in seen:
            raise InputError(f"{path}, line {n}: id {q.id!r} is already used on line {seen[q.id]}")
        seen[q.id] = n
        out.append(q)
    if skipped:
        log.info("%s: %d feedback entr(y/ies) with nothing to test (a thumbs down without an expected answer) skipped", path, skipped)
    if not out:
        raise InputError(f"{path} holds no questions")
    return out


def _jsonl_records(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}, line {n}: not valid JSON ({exc.msg}); each line must be one JSON object with at least \"question\"") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}, line {n}: a JSON object is expected, with at least \"question\"")
        out.append((n, data))
    return out


def _csv_records(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    if "question" not in header:
        raise InputError(f"{path}, line 1: the header must name a \"question\" column (columns: {', '.join(FIELDS)})")
    out = []
    for row in reader:
        n = reader.line_num
        if None in row:
            raise InputError(f"{path}, line {n}: more cells than header columns (quote cells that hold commas)")
        data = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        if any(data.values()):
            out.append((n, {k: v for k, v in data.items() if v != ""} | {"question": data.get("question", "")}))
    return out


def _cell_list(value: Any, sep: str) -> Any:
    """A CSV cell as a list: JSON when it starts with ``[``, else split at ``sep``."""
    if isinstance(value, str):
        if value.startswith("["):
            return json.loads(value)
        return [part.strip() for part in value.split(sep) if part.strip()]
    return value


def _strings(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, str) and x.strip() for x in value):
        raise ValueError(f"{name} must be a list of non-empty strings")
    return list(value)


def question(data: dict[str, Any], n: int, csv_cells: bool = False) -> Question:
    """One validated question from a record of a question set (``n``: its line, the default id)."""
    unknown = set(data) - set(FIELDS)
    if unknown:
        log.debug("line %d: fields %s ignored", n, ", ".join(sorted(unknown)))
    text = data.get("question")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("\"question\" must be a non-empty string")
    lang = data.get("lang") or detect_language(text)
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {', '.join(LANGUAGES)} (or absent, to detect it), got {lang!r}")
    answerable = data.get("answerable", True)
    if csv_cells and isinstance(answerable, str):
        if answerable.lower() not in _TRUE + _FALSE:
            raise ValueError(f"answerable must be true or false, got {answerable!r}")
        answerable = answerable.lower() in _TRUE
    if not isinstance(answerable, bool):
        raise ValueError(f"answerable must be true or false, got {answerable!r}")
    evidence, facts, docs = data.get("evidence"), data.get("facts"), data.get("docs")
    if csv_cells:
        evidence, docs = _cell_list(evidence, "|"), _cell_list(docs, "|")
        if isinstance(facts, str):
            facts = json.loads(facts) if facts.startswith("[") else [[f.strip() for f in fact.split("|") if f.strip()] for fact in facts.split(";")]
            facts = [f for f in facts if f]
    reference = data.get("reference", data.get("answer", ""))
    if not isinstance(reference, str):
        raise ValueError("reference must be a string")
    q = Question(id=str(data.get("id", n)), lang=lang, question=text.strip(), answer=reference, docs=_strings(docs, "docs"),
                 evidence=_strings(evidence, "evidence"), answerable=answerable, facts=_facts(facts))
    if not answerable and (q.facts or q.evidence):
        raise ValueError("an unanswerable question (answerable: false) cannot have facts or evidence")
    return q


def feedback_question(record: dict[str, Any]) -> Question | None:
    """The test question a feedback entry (``rag.feedback``) makes, or None when it says nothing testable.

    * thumbs down with an expected answer: answered, holding the expected facts (split at ``;``/``؛``/lines);
    * thumbs down on a refusal, nothing expected: answered (the reader says the articles hold it);
    * thumbs up on an answer: answered, citing the same evidence (its quotes); on a refusal: refused;
    * thumbs down on an answer with nothing expected: nothing to test (None).
    """
    rating, expected = record.get("rating"), str(record.get("expected") or "").strip()
    refused = bool(record.get("refused"))
    text = record.get("question")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("feedback entry without its question")
    if rating not in ("up", "down"):
        raise ValueError(f"feedback rating must be up or down, got {rating!r}")
    base = dict(id=str(record.get("id") or record.get("answer_id")), lang=record.get("language") or detect_language(text), question=text)
    if rating == "down" and expected:
        return Question(**base, answer=expected, facts=expected_facts(expected), answerable=True)
    if rating == "down" and refused:
        return Question(**base, answerable=True)
    if rating == "up" and refused:
        return Question(**base, answerable=False)
    if rating == "up":
        quotes = [c["quote"] for c in record.get("citations", []) if c.get("quote")]
        return Question(**base, answer=str(record.get("answer", "")), evidence=quotes, answerable=True)
    return None


def _facts(value: Any) -> list[list[str]]:
    """``facts``: a list of facts, each a list of acceptable forms (a bare string is one form)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("facts must be a list of lists of strings")
    out = [[f] if isinstance(f, str) else f for f in value]
    if not all(isinstance(f, list) and f and all(isinstance(x, str) and x for x in f) for f in out):
        raise ValueError("facts must be a list of lists of non-empty strings")
    return out


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "–" if value is None else str(value)


def table(header: list[str], rows: list[list[Any]]) -> str:
    """A plain-text table with aligned columns."""
    cells = [header] + [[fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(header: list[str], rows: list[list[Any]]) -> str:
    """The same table in GitHub Markdown."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def write_reports(result: dict[str, Any], header: list[str], rows: list[list[Any]], json_path: str | None, md_path: str | None, title: str) -> None:
    """Write the ``--json`` and ``--markdown`` reports when asked for."""
    if json_path:
        Path(json_path).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    if md_path:
        Path(md_path).write_text(f"## {title}\n\n{markdown(header, rows)}\n", encoding="utf-8")
