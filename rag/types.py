"""The records that flow out of the library: passages, citations, answers.

Example::

    >>> answer = ask("من هو وزير الخارجية العراقي؟")
    >>> answer.citations[0].passage.title
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class Passage:
    """A retrieved piece of an article, with its offsets into the cleaned text and its scores."""

    doc_id: str
    title: str
    source: str
    start: int
    end: int
    text: str
    score: float  # the fused score used for ranking
    dense_score: float  # cosine similarity of query and passage
    lexical_score: float = 0.0  # BM25, 0 when unused
    rank: int = 0

    def to_dict(self) -> dict[str, Any]:
        # every field is a str or a number: no deep copy (dataclasses.asdict's was 0.3 ms of a served answer)
        return {name: getattr(self, name) for name in _PASSAGE_FIELDS}


_PASSAGE_FIELDS = tuple(f.name for f in fields(Passage))


@dataclass(frozen=True)
class Finding:
    """One thing a check found wrong: a stable ``code`` to decide on, a ``message`` to show."""

    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass
class Citation:
    """Answer marker ``[n]`` pointing at a passage, with the quoted span when one was found.

    ``translation`` is the English rendering of the quote shown to an English reader (machine
    translation, labelled as such); ``quote`` stays the Arabic original.
    """

    n: int
    passage: Passage
    quote: str = ""
    quote_start: int = -1  # offsets of the quote inside passage.text
    quote_end: int = -1
    translation: str = ""

    def to_dict(self) -> dict[str, Any]:
        p = self.passage
        return {"n": self.n, "doc_id": p.doc_id, "title": p.title, "source": p.source, "text": p.text,
                "start": p.start, "end": p.end, "score": p.score, "quote": self.quote,
                "quote_start": self.quote_start, "quote_end": self.quote_end,
                "quote_translation": self.translation, "translation_kind": "machine" if self.translation else ""}


@dataclass
class Answer:
    """The answer to one question, with everything a front end needs to show and check it."""

    question: str
    text: str
    language: str  # "ar" or "en"
    passages: list[Passage] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    grounded: bool = True
    findings: list[Finding] = field(default_factory=list)
    backend: str = ""
    notice: str = ""  # e.g. "the LLM could not be reached; extractive answer"
    refused: bool = False  # said "not in the articles" (or refused an off-topic instruction)
    standalone_question: str = ""  # the follow-up rewritten to stand alone
    timings: dict[str, float] = field(default_factory=dict)
    replaced: bool = False  # the final text differs from what was streamed: clients replace it (README, "Streaming")

    @property
    def reasons(self) -> list[str]:
        """The findings' messages, for people."""
        return [f.message for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question, "answer": self.text, "language": self.language,
            "grounded": self.grounded, "reasons": self.reasons,
            "findings": [f.to_dict() for f in self.findings], "replaced": self.replaced, "backend": self.backend,
            "notice": self.notice, "refused": self.refused, "standalone_question": self.standalone_question,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [p.to_dict() for p in self.passages], "timings": self.timings,
        }
