"""Feedback on answers (thumbs up/down, a comment, the expected answer), kept as JSONL test material.

A face hands every answer it shows to ``remember()``, which gives it an ``answer_id`` and keeps
what feedback needs (question, answer, citations, backend, index version) in memory, for the last
``MAX_REMEMBERED`` answers. ``FeedbackStore.add(answer_id, rating, …)`` appends one line to
``HOME/feedback/feedback.jsonl``. ``rag eval answers HOME/feedback/feedback.jsonl`` reads that file
as a question set (``rag.evaluation.report.feedback_question``): every complaint can become a
regression test.

Example::

    >>> answer_id = remember(answer, settings)
    >>> entry = FeedbackStore.for_settings(settings).add(answer_id, "down", expected="فؤاد حسين")
    >>> entry.expected, expected_facts(entry.expected)
    ('فؤاد حسين', [['فؤاد حسين']])
"""
from __future__ import annotations

import fcntl
import json
import logging
import re
import threading
import uuid
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.errors import RagError
from rag.errors import AnswerNotFoundError, InputError
from rag.types import Answer

if TYPE_CHECKING:
    from rag.settings import RagSettings

log = logging.getLogger(__name__)

MAX_REMEMBERED = 5000  # answers kept in memory for feedback; older ones can no longer be rated
MAX_COMMENT_CHARS = 2000
RATINGS = ("up", "down")
_FACT_SPLIT = re.compile(r"[;؛\n]+")


@dataclass
class AnswerRecord:
    """What feedback keeps of an answer."""

    answer_id: str
    question: str
    language: str
    answer: str
    citations: list[dict[str, Any]]
    backend: str
    index_version: str
    refused: bool
    grounded: bool
    time: str


@dataclass
class Feedback:
    """One line of the feedback file."""

    id: str
    time: str
    rating: str  # "up" | "down"
    answer_id: str
    question: str
    language: str
    answer: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    backend: str = ""
    index_version: str = ""
    refused: bool = False
    grounded: bool = True
    comment: str = ""
    expected: str = ""  # the answer the reader expected: becomes the test question's facts

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def index_version(settings: "RagSettings") -> str:
    """A short name of the index being served, in whichever store holds it: when it was built and
    how many documents it holds. Read once per build (keyed by the store's stamp, one ``stat`` for
    FAISS): every API answer records it, and parsing the manifest each time was 7% of a busy
    extractive server's time (bench/bench_api.py's profile)."""
    from index.stores import store_config, store_stamp

    cfg = store_config(settings)
    return _index_version(cfg, store_stamp(cfg))


@lru_cache(maxsize=8)
def _index_version(cfg: Any, stamp: Any) -> str:
    from index.stores import read_store_manifest

    if stamp is None:  # nothing built there (yet): not cached as such, a build changes the stamp
        return ""
    try:
        manifest = read_store_manifest(cfg)
    except RagError:
        return ""
    if manifest is None:
        return ""
    built = datetime.fromtimestamp(manifest.created, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{built}-{len(manifest.documents)}docs"


_answers: OrderedDict[str, AnswerRecord] = OrderedDict()
_answers_lock = threading.Lock()


def remember(answer: Answer, settings: "RagSettings") -> str:
    """Keep ``answer`` for feedback; its ``answer_id``."""
    answer_id = f"ans-{uuid.uuid4().hex[:16]}"
    citations = [{"n": c.n, "doc_id": c.passage.doc_id, "title": c.passage.title, "source": c.passage.source, "quote": c.quote,
                  "text": c.passage.text} for c in answer.citations]
    record = AnswerRecord(answer_id, answer.question, answer.language, answer.text, citations, answer.backend, index_version(settings),
                          answer.refused, answer.grounded, _now())
    with _answers_lock:
        _answers[answer_id] = record
        while len(_answers) > MAX_REMEMBERED:
            _answers.popitem(last=False)
    return answer_id


def recall(answer_id: str) -> AnswerRecord:
    with _answers_lock:
        record = _answers.get(answer_id)
    if record is None:
        raise AnswerNotFoundError(f"no answer {answer_id!r} on this server (unknown, or older than the last {MAX_REMEMBERED:,} answers)")
    return record


class FeedbackStore:
    """The feedback file of one data home; appends are whole lines, under a lock (threads and processes)."""

    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_settings(cls, settings: "RagSettings") -> "FeedbackStore":
        return cls(feedback_path(settings))

    def add(self, answer_id: str, rating: str, comment: str = "", expected: str = "", entry_id: str = "") -> Feedback:
        """Record a rating of a remembered answer; ``InputError`` for a bad rating or text, ``AnswerNotFoundError`` for an unknown id.

        ``entry_id``: write a new version of an earlier entry (a comment added after the thumbs): readers keep the last line of an id.
        """
        if rating not in RATINGS:
            raise InputError(f"rating must be one of {', '.join(RATINGS)}, got {rating!r}")
        for name, value in (("comment", comment), ("expected", expected)):
            if not isinstance(value, str):
                raise InputError(f"{name} must be a string")
            if len(value) > MAX_COMMENT_CHARS:
                raise InputError(f"{name} is {len(value):,} characters long; the limit is {MAX_COMMENT_CHARS:,}")
        record = recall(answer_id)
        entry = Feedback(entry_id or f"fb-{uuid.uuid4().hex[:12]}", _now(), rating, record.answer_id, record.question, record.language, record.answer,
                         record.citations, record.backend, record.index_version, record.refused, record.grounded, comment.strip(), expected.strip())
        self.append(entry)
        return entry

    def append(self, entry: Feedback) -> None:
        line = json.dumps(entry.to_dict(), ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                fh.write(line)
                fh.flush()
        log.info("feedback %s (%s) on %s", entry.id, entry.rating, entry.answer_id)

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first, the last version of each id (a damaged line is skipped with a warning)."""
        if not self.path.exists():
            return []
        out: dict[str, dict[str, Any]] = {}
        for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    log.warning("%s line %d is not JSON; skipped", self.path, n)
                    continue
                out.pop(entry.get("id"), None)
                out[entry.get("id")] = entry
        return list(out.values())


def feedback_path(settings: "RagSettings") -> Path:
    """Where feedback is kept: ``HOME/feedback/feedback.jsonl``."""
    return Path(settings.home) / "feedback" / "feedback.jsonl"


def is_feedback(record: dict[str, Any]) -> bool:
    """Whether a JSON line is a feedback entry (rather than a question)."""
    return "rating" in record and "answer_id" in record


def expected_facts(expected: str) -> list[list[str]]:
    """The facts of an expected answer: its parts split at ``;``, ``؛`` or line breaks, each one acceptable form."""
    return [[part.strip()] for part in _FACT_SPLIT.split(expected) if part.strip()]
