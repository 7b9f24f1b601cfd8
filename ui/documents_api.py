"""The API's corpus and feedback routes, included by ``ui.api.create_app`` (token-protected like all of ``/v1``).

* ``POST /v1/documents`` — multipart upload (``files``: one or more .txt/.md/.html, optional
  ``source``) or JSON ``{"title", "text", "source"}``: stores the articles and queues one index
  build; 202 with the documents, the files refused (with the loader's reason) and the job.
* ``GET /v1/documents``, ``GET /v1/documents/{id}``, ``DELETE /v1/documents/{id}`` (202 + job).
* ``POST /v1/reindex`` (``{"rebuild": false}``) and ``GET /v1/jobs/{id}``: progress of a build.
* ``POST /v1/feedback`` — ``{"answer_id", "rating": "up"|"down", "comment", "expected"}`` about an
  answer this server gave (``/v1/ask`` returns its ``answer_id``).

The two routes that add work (``POST /v1/documents``, ``POST /v1/reindex``) are left out of
``/openapi.json``: a client generated from the schema, or a schema fuzzer, must not fill the corpus
or start builds by exploring it. They are described here and in the README.

Example::

    $ curl -s localhost:8000/v1/documents -F files=@report.txt -F source=Reuters
    {"documents": [{"id": "doc-3f…", …}], "rejected": [], "job": {"id": "job-1-…", "state": "queued", …}}
"""
from __future__ import annotations

import logging
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from index.corpus import Corpus, open_corpus
from index.errors import DocumentNotFoundError, DocumentRejectedError
from rag import FeedbackStore, InputError, check_unicode, embedder
from ui.settings import Settings

log = logging.getLogger(__name__)

MAX_UPLOAD_FILES = 20  # files in one multipart upload
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers on top of the files themselves


def upload_body_limit(settings: Settings) -> int:
    """The most bytes a ``POST /v1/documents`` body may hold (the guard's limit for that route)."""
    return MAX_UPLOAD_FILES * settings.max_upload_bytes + MULTIPART_OVERHEAD


class DocumentText(BaseModel):
    """An article given as text (the JSON form of ``POST /v1/documents``)."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field("", max_length=300, description="The headline")
    text: str = Field(min_length=1, description="The article's text")
    source: str = Field("", max_length=500, description="Where it comes from: a publication, a URL")


class ReindexRequest(BaseModel):
    rebuild: bool = Field(False, description="re-embed every article instead of reusing the vectors of unchanged text")


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer_id: str = Field(min_length=1, max_length=100, description="The answer_id of a /v1/ask answer")
    rating: Literal["up", "down"]
    comment: str = Field("", max_length=2000)
    expected: str = Field("", max_length=2000, description="The answer the reader expected; becomes the test question's facts")


ERROR_STATUSES = {
    400: "Text that is not valid Unicode, a body that is not UTF-8",
    401: "Missing or wrong bearer token",
    404: "No document, job or answer with that id",
    408: "The request body did not arrive within body_timeout_s",
    413: "Body over the limit",
    422: "Malformed body or id, or every file refused (the reasons are in the message)",
    503: "The index is missing or damaged",
}


def _errors(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """Every error these routes can answer, in the API's one shape (also replaces FastAPI's own 422 schema)."""
    return {code: {"model": model, "description": text} for code, text in ERROR_STATUSES.items()}


def documents_router(settings: Settings, error_model: type[BaseModel]) -> APIRouter:
    """The routes above, over the managed corpus of ``settings``' index; ``error_model``: the API's one error shape."""
    router = APIRouter()
    errors = _errors(error_model)

    def corpus() -> Corpus:
        return open_corpus(settings, lambda: embedder(settings))

    @router.post("/v1/documents", include_in_schema=False, status_code=202)
    async def add_documents(request: Request):
        kind = request.headers.get("content-type", "")
        if kind.startswith("multipart/form-data"):
            form = await request.form(max_files=MAX_UPLOAD_FILES, max_fields=20, max_part_size=settings.max_upload_bytes + 1)
            uploads = [f for name in ("files", "file") for f in form.getlist(name) if hasattr(f, "read")]
            if not uploads:
                raise InputError("no file in the upload: send one or more 'files' parts (.txt, .md, .html)")
            files = [(f.filename or "article.txt", await f.read()) for f in uploads]
            source = str(form.get("source") or "")
            check_unicode(source, "source")
            added, rejected = await anyio.to_thread.run_sync(lambda: corpus().add_files(files, source))
        else:
            try:
                body = DocumentText.model_validate_json(await request.body())
            except ValidationError as exc:
                where = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5])
                raise InputError(f"send multipart files, or JSON {{\"title\", \"text\", \"source\"}} ({where})") from None
            for name in ("title", "text", "source"):
                check_unicode(getattr(body, name), name)
            added, rejected = [], []
            try:
                added = [await anyio.to_thread.run_sync(lambda: corpus().add_text(body.title, body.text, body.source))]
            except DocumentRejectedError as exc:
                rejected = exc.rejected
        if not added:
            reasons = "; ".join(f"{r.filename}: {r.reason}" for r in rejected)
            raise DocumentRejectedError(f"nothing added: {reasons}", rejected)
        job = corpus().reindex([d.id for d in added])
        return JSONResponse({"documents": [d.to_dict() for d in added], "rejected": [{"filename": r.filename, "reason": r.reason} for r in rejected],
                             "job": job.to_dict()}, status_code=202)

    @router.get("/v1/documents", summary="The managed articles: title, source, date added, chunks; and the builds under way",
                responses=errors)
    def list_documents() -> dict[str, Any]:
        c = corpus()
        return {"documents": [d.to_dict() for d in c.documents()], "jobs": [j.to_dict() for j in c.jobs.jobs() if j.state in ("queued", "running")]}

    @router.get("/v1/documents/{doc_id}", summary="One managed article", responses=errors)
    def get_document(doc_id: str) -> dict[str, Any]:
        return corpus().get(doc_id).to_dict()

    @router.delete("/v1/documents/{doc_id}", summary="Delete an article; its passages leave the index when the queued build swaps in",
                   status_code=202, responses=errors)
    def delete_document(doc_id: str) -> dict[str, Any]:
        c = corpus()
        doc = c.delete(doc_id)
        return {"document": doc.to_dict(), "job": c.reindex([doc.id]).to_dict()}

    @router.post("/v1/reindex", include_in_schema=False, status_code=202)
    def reindex(req: ReindexRequest | None = None) -> dict[str, Any]:
        return {"job": corpus().reindex(rebuild=bool(req and req.rebuild)).to_dict()}

    @router.get("/v1/jobs/{job_id}", summary="An index build: state (queued, running, done, failed), progress 0–1, result",
                responses=errors)
    def get_job(job_id: str) -> dict[str, Any]:
        job = corpus().jobs.get(job_id)
        if job is None:
            raise DocumentNotFoundError(f"no job {job_id!r} on this server (jobs are remembered until it restarts)")
        return job.to_dict()

    @router.post("/v1/feedback", summary="Thumbs up or down on an answer (by its answer_id), with a comment or the expected answer",
                 status_code=201, responses=errors)
    def feedback(req: FeedbackRequest) -> dict[str, Any]:
        for name in ("answer_id", "comment", "expected"):
            check_unicode(getattr(req, name), name)
        entry = FeedbackStore.for_settings(settings).add(req.answer_id, req.rating, req.comment, req.expected)
        return {"feedback": entry.to_dict()}

    return router
