"""Background jobs with progress: one worker thread runs them in order, a registry remembers them.

Index builds must not overlap (``index.store.build_lock``), and an upload must never be lost
because another one was being indexed. So every job goes through one FIFO worker, and a job
submitted while an equal job (same ``key``) is still *waiting* joins that job instead of adding
a second one: the waiting build reads the corpus folder when it starts, so it covers both.

Example::

    >>> queue = JobQueue()
    >>> job = queue.submit("index", lambda job: {"chunks": 3})
    >>> queue.wait(job.id, timeout=10).state
    'done'
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

MAX_JOBS_KEPT = 200  # finished jobs remembered for GET /v1/jobs/{id}; the oldest go first
STATES = ("queued", "running", "done", "failed")


@dataclass
class Job:
    """One unit of background work and how far it got (``done`` of ``total`` steps)."""

    id: str
    kind: str
    key: str = ""
    state: str = "queued"
    message: str = "waiting for the jobs before it"
    done: int = 0
    total: int = 0
    documents: list[str] = field(default_factory=list)  # the corpus documents this job was asked for
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    result: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def progress(self) -> float:
        """0–1: the share of steps done (1 once finished, whatever the steps)."""
        if self.state in ("done", "failed"):
            return 1.0
        return self.done / self.total if self.total else 0.0

    @property
    def finished_ok(self) -> bool:
        return self.state == "done"

    def step(self, done: int, total: int, message: str = "") -> None:
        """Progress report from the running job (thread-safe enough: plain attribute writes)."""
        self.done, self.total = done, total
        if message:
            self.message = message

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "state": self.state, "progress": round(self.progress, 4), "done": self.done,
                "total": self.total, "message": self.message, "documents": list(self.documents), "created": self.created,
                "started": self.started, "finished": self.finished, "result": self.result, "error": self.error}


class JobQueue:
    """A FIFO of jobs run one at a time by a daemon worker thread (started on first submit)."""

    def __init__(self, name: str = "jobs") -> None:
        self.name = name
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._work: dict[str, Callable[[Job], dict[str, Any] | None]] = {}
        self._pending: list[str] = []
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self._counter = itertools.count(1)

    def submit(self, kind: str, work: Callable[[Job], dict[str, Any] | None], documents: list[str] | None = None, key: str = "") -> Job:
        """Queue ``work(job)``; with ``key``, join a job of that key that has not started yet."""
        with self._cond:
            if key:
                for jid in self._pending:
                    job = self._jobs[jid]
                    if job.key == key:
                        job.documents += [d for d in documents or [] if d not in job.documents]
                        return job
            job = Job(f"job-{next(self._counter)}-{uuid.uuid4().hex[:8]}", kind, key, documents=list(documents or []))
            self._jobs[job.id] = job
            self._work[job.id] = work
            self._pending.append(job.id)
            self._forget_old()
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name=f"{self.name}-worker", daemon=True)
                self._worker.start()
            self._cond.notify_all()
            return job

    def get(self, job_id: str) -> Job | None:
        with self._cond:
            return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        """Every remembered job, newest first."""
        with self._cond:
            return list(reversed(self._jobs.values()))

    def busy(self) -> bool:
        """Whether a job is waiting or running."""
        with self._cond:
            return bool(self._pending) or any(j.state == "running" for j in self._jobs.values())

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job has finished (or ``timeout`` seconds passed); the job as it stands."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            job = self._jobs[job_id]
            while job.state not in ("done", "failed"):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(left if left is not None else 1.0)
            return job

    def _forget_old(self) -> None:
        finished = [jid for jid, j in self._jobs.items() if j.state in ("done", "failed")]
        for jid in finished[: max(0, len(self._jobs) - MAX_JOBS_KEPT)]:
            del self._jobs[jid]

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    if not self._cond.wait(timeout=30):
                        if not self._pending:  # idle: the thread ends, the next submit starts another
                            self._worker = None
                            return
                jid = self._pending.pop(0)
                job, work = self._jobs[jid], self._work.pop(jid)
                job.state, job.started, job.message = "running", time.time(), "started"
                self._cond.notify_all()
            try:
                result = work(job) or {}
                job.result, job.state, job.message = result, "done", result.get("message", "done")
            except Exception as exc:  # a failed job is reported through its record, never kills the worker
                log.warning("%s job %s failed: %s", job.kind, job.id, exc)
                job.state, job.error, job.message = "failed", str(exc), "failed"
            with self._cond:
                job.finished = time.time()
                self._cond.notify_all()
