"""The evaluation commands end to end: `rag eval retrieval|answers|xquad` on the real index and model."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
SHARED_XQUAD = ROOT.parent / "shared" / "benchmarks" / "xquad"
QUESTIONS = [
    {"id": "a1", "lang": "ar", "question": "من هو وزير الخارجية العراقي الذي التقى أنتوني بلينكن في واشنطن؟",
     "docs": ["001_855d7bddcf291e5e.txt"], "evidence": ["نظيره العراقي فؤاد حسين"], "answerable": True},
    {"id": "e1", "lang": "en", "question": "Where and on which day were the high-level US-Iraqi consultations held?",
     "docs": ["004_007ff8f57a8682c6.txt"], "evidence": ["وعُقدت المباحثات في بغداد يوم الخميس"], "answerable": True},
    {"id": "u1", "lang": "en", "question": "What is the current exchange rate of the Iraqi dinar?", "answerable": False},
]


def rag(seed_index, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAG_HOME": str(seed_index.home), "RAG_MODELS_DIR": str(seed_index.models_dir)}
    return subprocess.run([sys.executable, "-m", "ui.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)


@pytest.fixture
def question_set(tmp_path) -> Path:
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in QUESTIONS) + "\n", encoding="utf-8")
    return path


def test_eval_answers_scores_each_question_and_writes_reports(seed_index, question_set, tmp_path) -> None:
    out = rag(seed_index, "eval", "answers", str(question_set), "--backend", "extractive",
              "--json", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md"))
    assert out.returncode == 0, out.stderr
    assert "cited_evidence" in out.stdout and "refused_unanswerable" in out.stdout
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    rows = {r["id"]: r for r in data["questions"]}
    assert rows["a1"]["cited_evidence"] == 1.0 and rows["a1"]["language_match"] == 1.0
    assert rows["e1"]["cited_evidence"] == 1.0 and rows["e1"]["quote_support"] == 1.0
    assert rows["u1"]["refused"] and rows["u1"]["refusal_correct"] == 1.0
    assert data["summary"]["all"]["refused_unanswerable"] == "1/1" and data["summary"]["all"]["extractive_fallbacks"] == 0
    assert "| cited_evidence | 1.000 | 1.000 | 1.000 |" in (tmp_path / "r.md").read_text(encoding="utf-8")


def test_eval_retrieval_reports_hits_per_language(seed_index, question_set, tmp_path) -> None:
    out = rag(seed_index, "eval", "retrieval", str(question_set), "--json", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stderr
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    rows = {r["id"]: r for r in data["hybrid"]["questions"]}
    assert "evidence_hit@5" in out.stdout
    assert rows["a1"]["evidence_hit@5"] == 1.0 and rows["e1"]["evidence_hit@5"] == 1.0
    assert rows["a1"]["retrieved"][0] == "001_855d7bddcf291e5e.txt" and rows["u1"]["top_score"] < 0.40
    # refusals as ask() decides them (rag.answerability), for the answerable questions too
    assert rows["u1"]["rejected"] == 1.0 and rows["a1"]["refused"] == 0.0 and rows["e1"]["refused"] == 0.0
    assert data["hybrid"]["all"]["answerable_refused"] == 0.0 and "answerable_refused" in out.stdout


def test_a_malformed_question_set_is_a_clear_error(seed_index, tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "سؤال"}\n{not json\n', encoding="utf-8")
    out = rag(seed_index, "eval", "answers", str(bad), "--backend", "extractive")
    assert out.returncode != 0 and "line 2" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.skipif(not SHARED_XQUAD.exists(), reason="../shared/benchmarks/xquad is not beside the checkout")
def test_eval_xquad_runs_on_a_slice_of_the_benchmark(seed_index, tmp_path) -> None:
    # the first three articles of each file (15 contexts): the command end to end without embedding all 240 contexts
    for lang in ("ar", "en"):
        data = json.loads((SHARED_XQUAD / f"xquad.{lang}.json").read_text(encoding="utf-8"))
        data["data"] = data["data"][:3]
        (tmp_path / f"xquad.{lang}.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    out = rag(seed_index, "eval", "xquad", str(tmp_path), "--limit", "30", "--compare", "dense,hybrid", "--json", str(tmp_path / "x.json"))
    assert out.returncode == 0, out.stderr
    lines = [l for l in out.stdout.splitlines() if l.startswith(("dense", "hybrid"))]
    assert len(lines) == 4 and all(float(l.split()[2]) > 0.6 for l in lines)  # recall@1 on 30 questions
    # the refusal decision on the questions and on their negatives (own context out of the ranking): the
    # negatives, which nothing answers, are refused more often than the questions
    assert "false refusals" in out.stdout and "negatives refused" in out.stdout
    result = json.loads((tmp_path / "x.json").read_text(encoding="utf-8"))
    for direction in ("ar→ar", "en→ar"):
        m = result["hybrid"][direction]
        assert m["negatives_refused"] > m["false_refusals"], m
