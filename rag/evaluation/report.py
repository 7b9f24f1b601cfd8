"""Question-set loading and result tables (terminal, Markdown, JSON) shared by the eval commands.

Example::

    >>> questions = load_questions(Path("rag/data/seed_dev.jsonl"))
    >>> print(table(["metric", "ar"], [["recall@5", 1.0]]))
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import InputError


@dataclass
class Question:
    """One line of a question set (the format of ``rag/data/seed_dev.jsonl``)."""

    id: str
    lang: str
    question: str
    answer: str = ""
    docs: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    answerable: bool = True
    facts: list[list[str]] = field(default_factory=list)  # key facts, each a list of acceptable forms


def load_questions(path: Path) -> list[Question]:
    """Parse a JSONL question set; a bad line is an ``InputError`` naming the line."""
    out = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read question set {path}: {exc}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            out.append(Question(
                id=str(data.get("id", n)), lang=data.get("lang") or "", question=data["question"],
                answer=data.get("answer", ""), docs=list(data.get("docs", [])), evidence=list(data.get("evidence", [])),
                answerable=bool(data.get("answerable", True)), facts=_facts(data.get("facts")),
            ))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
            raise InputError(f"{path}, line {n}: not a question record ({exc}); expected JSON with at least \"question\"") from None
    if not out:
        raise InputError(f"{path} holds no questions")
    return out


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
