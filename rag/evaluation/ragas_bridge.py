"""ragas interoperability: export a run as a ragas dataset, and score it with ragas' own metrics.

``to_ragas_rows`` turns a ``rag eval answers`` result into ragas' single-turn samples
(``user_input``, ``retrieved_contexts``, ``response``, ``reference``, ``reference_contexts``);
``write_ragas_jsonl`` writes them one per line, which ``ragas.EvaluationDataset.from_jsonl``
loads as is. ``run_ragas`` scores them offline with the metrics that need no judge model
(non-LLM context precision and recall, string presence) and, when ``judge_base_url`` is set (any
OpenAI-compatible server), also faithfulness and answer correctness, that judge writing the
verdicts and the project's own embedding model measuring answer similarity.

ragas is an optional extra (``pip install -e '.[ragas]'``): it is imported only here, inside the
functions that use it.

Field mapping: ``reference`` is the question set's reference answer (``reference``/``answer``), or
its facts' first forms joined with "; " when it has none; ``reference_contexts`` are its
``evidence`` strings. Unanswerable questions have no reference and are left out of the metrics
that need one.

Example::

    >>> write_ragas_jsonl(result, Path("run.ragas.jsonl"))
    >>> scores = run_ragas(result, settings)
    >>> scores["summary"]["non_llm_context_recall"]
"""
from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import InputError

if TYPE_CHECKING:
    from rag.settings import RagSettings

log = logging.getLogger(__name__)

NO_JUDGE_METRICS = ("non_llm_context_precision_with_reference", "non_llm_context_recall", "string_present")
JUDGE_METRICS = ("faithfulness", "answer_correctness")


def to_ragas_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One ragas single-turn sample per question of the run (ids kept beside, under ``id``/``lang``)."""
    out = []
    for r in result.get("questions", []):
        reference = r.get("reference") or "; ".join(f[0] for f in r.get("facts", []) if f)
        out.append({"user_input": r.get("question", ""), "retrieved_contexts": list(r.get("contexts", [])),
                    "response": r.get("answer", ""), "reference": reference, "reference_contexts": list(r.get("evidence", [])),
                    "id": r.get("id"), "lang": r.get("lang"), "answerable": r.get("answerable", True)})
    return out


SAMPLE_FIELDS = ("user_input", "retrieved_contexts", "response", "reference", "reference_contexts")


def write_ragas_jsonl(result: dict[str, Any], path: Path) -> int:
    """Write the run as ragas JSONL (only ragas' own fields, so its loader accepts every line); the count."""
    rows = to_ragas_rows(result)
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps({k: row[k] for k in SAMPLE_FIELDS}, ensure_ascii=False) + "\n")
    return len(rows)


def _import_ragas():
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # no usage analytics from an offline tool
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import ragas
            from ragas import metrics
    except ImportError as exc:
        raise InputError(f"--ragas needs the optional ragas extra: pip install -e '.[ragas]' ({exc})") from None
    return ragas, metrics


class _LocalEmbeddings:
    """The project's own embedding model as a LangChain ``Embeddings`` (answer similarity, offline)."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed(list(texts), "document").tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed([text], "query")[0].tolist()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)


def _judge(settings: "RagSettings"):
    from langchain_core.embeddings import Embeddings
    from langchain_openai import ChatOpenAI
    from ragas.embeddings import LangchainEmbeddingsWrapper
    from ragas.llms import LangchainLLMWrapper

    from rag.service import get_retriever

    chat = ChatOpenAI(base_url=settings.judge_base_url, model=settings.judge_model or "judge", api_key=settings.judge_api_key,
                      temperature=0, timeout=settings.llm_timeout_s, max_retries=1)
    local = type("LocalEmbeddings", (_LocalEmbeddings, Embeddings), {})(get_retriever(settings).embedder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LangchainLLMWrapper(chat), LangchainEmbeddingsWrapper(local)


def run_ragas(result: dict[str, Any], settings: "RagSettings | None" = None) -> dict[str, Any]:
    """ragas' scores of the run: per question and averaged; the judge metrics only with ``judge_base_url``."""
    ragas, metrics = _import_ragas()
    rows = [r for r in to_ragas_rows(result) if r["answerable"] and r["reference"]]
    if not rows:
        raise InputError("no answerable question with a reference or facts in this run: nothing for ragas to score")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chosen = [metrics.NonLLMContextPrecisionWithReference(), metrics.NonLLMContextRecall(), metrics.StringPresence()]
        llm = embeddings = None
        if settings is not None and settings.judge_base_url:
            llm, embeddings = _judge(settings)
            chosen += [metrics.Faithfulness(), metrics.AnswerCorrectness()]
        dataset = ragas.EvaluationDataset.from_list([{k: r[k] for k in SAMPLE_FIELDS} for r in rows])
        scored = ragas.evaluate(dataset, metrics=chosen, llm=llm, embeddings=embeddings, show_progress=False, raise_exceptions=False)
    names = [n for n in NO_JUDGE_METRICS + JUDGE_METRICS if n in scored.scores[0]] if scored.scores else []
    per_q = [{"id": r["id"], "lang": r["lang"], **{n: _number(s.get(n)) for n in names}} for r, s in zip(rows, scored.scores)]
    summary = {}
    for lang in sorted({r["lang"] for r in per_q}) + ["all"]:
        sel = [r for r in per_q if lang in ("all", r["lang"])]
        summary[lang] = {n: _mean([r[n] for r in sel]) for n in names} | {"n": len(sel)}
    return {"metrics": names, "summary": summary, "questions": per_q, "judge": bool(llm)}


def _number(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if v != v else v  # NaN: the metric failed on this sample


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def rows(scores: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    langs = list(scores["summary"])
    return ["ragas metric"] + langs, [[m] + [scores["summary"][l].get(m) for l in langs] for m in scores["metrics"] + ["n"]]
