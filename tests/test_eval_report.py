"""Evaluation a team can act on: question sets (JSONL/CSV, validated), the HTML report in Chromium,
`rag eval compare` on two stored runs, and the ragas export loaded by ragas' own dataset class."""
from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from rag.errors import InputError
from rag.evaluation.compare import compare_runs, load_run
from rag.evaluation.report import load_questions
from tests.conftest import ROOT

RESULTS = ROOT / "bench" / "results"
QUESTIONS = [
    {"id": "a1", "lang": "ar", "question": "من هو وزير الخارجية العراقي الذي التقى أنتوني بلينكن في واشنطن؟",
     "evidence": ["نظيره العراقي فؤاد حسين"], "facts": [["فؤاد حسين"]], "reference": "فؤاد حسين"},
    {"id": "e1", "lang": "en", "question": "Where and on which day were the high-level US-Iraqi consultations held?",
     "evidence": ["وعُقدت المباحثات في بغداد يوم الخميس"], "facts": [["baghdad", "بغداد"], ["thursday"]]},
    {"id": "u1", "lang": "en", "question": "What is the current exchange rate of the Iraqi dinar?", "answerable": False},
]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_compare_two_stored_runs_names_fixed_broken_and_deltas(tmp_path, capsys) -> None:
    # the runs behind the README's answers table: the `focused` pipeline (before) and `evidence` (after), local model
    before, after = RESULTS / "eval_answers_local_focused_before.json", RESULTS / "eval_answers_local.json"
    diff = compare_runs(load_run(before), load_run(after))
    counts = diff["counts"]
    assert sum(counts.values()) == 20 and counts["added"] == counts["dropped"] == 0
    # README: answers holding all their facts 10/17 → 16/17, the 3 unanswerable refused in both
    assert counts["fixed"] - counts["broken"] == 6
    fixed = [r for r in diff["questions"] if r["status"] == "fixed"]
    assert all(r["before"] is False and r["after"] is True for r in fixed)
    assert all(r["deltas"].get("fact_recall", 0) > 0 or r["deltas"].get("all_facts", 0) > 0 for r in fixed)
    assert diff["summary_deltas"]["en"]["fact_recall"] > 0.25  # 0.46 → 0.94

    from ui.cli import main

    assert main(["eval", "compare", str(before), str(after), "--json", str(tmp_path / "d.json")]) == 0
    assert f"fixed {counts['fixed']}, broken {counts['broken']}" in capsys.readouterr().out
    assert json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))["counts"] == counts
    assert main(["eval", "compare", str(before), str(RESULTS / "eval_answers_local.md")]) == 2
    err = capsys.readouterr().err
    assert "eval_answers_local.md" in err and "Traceback" not in err


def test_question_sets_in_jsonl_and_csv_with_errors_naming_the_line(tmp_path) -> None:
    csv_path = tmp_path / "q.csv"
    csv_path.write_text("question,lang,answerable,evidence,facts,reference\n"
                        "من التقى بلينكن؟,ar,true,نظيره العراقي فؤاد حسين,فؤاد حسين|فؤاد,فؤاد حسين\n"
                        "Where were the talks held?,en,yes,وعُقدت المباحثات في بغداد,baghdad|بغداد; thursday,\n"
                        "What is the dinar rate?,en,false,,,\n", encoding="utf-8")
    qs = load_questions(csv_path)
    assert [q.lang for q in qs] == ["ar", "en", "en"] and [q.answerable for q in qs] == [True, True, False]
    assert qs[0].facts == [["فؤاد حسين", "فؤاد"]] and qs[1].facts == [["baghdad", "بغداد"], ["thursday"]] and qs[0].answer == "فؤاد حسين"
    assert qs[1].evidence == ["وعُقدت المباحثات في بغداد"] and qs[0].id == "2"  # the CSV line number when there is no id column

    jsonl = tmp_path / "q.jsonl"
    jsonl.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in QUESTIONS), encoding="utf-8")
    assert [q.id for q in load_questions(jsonl)] == ["a1", "e1", "u1"]

    cases = [
        ('{"question": "x", "lang": "fr"}', "line 2", "lang"),
        ('{"question": "", "lang": "ar"}', "line 2", "question"),
        ('{"question": "x", "answerable": "maybe"}', "line 2", "answerable"),
        ('{"question": "x", "facts": "baghdad"}', "line 2", "facts"),
        ('{"question": "x", "evidence": [1]}', "line 2", "evidence"),
        ('{"question": "x", "answerable": false, "facts": [["a"]]}', "line 2", "unanswerable"),
        ('{not json', "line 2", "JSON"),
    ]
    for bad_line, where, what in cases:
        path = tmp_path / "bad.jsonl"
        path.write_text('{"question": "سؤال"}\n' + bad_line + "\n", encoding="utf-8")
        with pytest.raises(InputError) as err:
            load_questions(path)
        assert where in str(err.value) and what in str(err.value), (bad_line, str(err.value))
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("question,lang\nسؤال,ar\n,en\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 3.*question"):
        load_questions(bad_csv)
    no_question = tmp_path / "cols.csv"
    no_question.write_text("q,lang\nسؤال,ar\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 1.*question"):
        load_questions(no_question)


@pytest.fixture(scope="module")
def run(seed_index):
    """A real run: the three questions answered by the extractive backend over the seed index."""
    from rag.evaluation.answers import evaluate_answers
    from rag.evaluation.report import Question

    qs = [Question(id=q["id"], lang=q["lang"], question=q["question"], answer=q.get("reference", ""), evidence=q.get("evidence", []),
                   answerable=q.get("answerable", True), facts=q.get("facts", [])) for q in QUESTIONS]
    return evaluate_answers(qs, seed_index.replace(backend="extractive"))


@pytest.mark.slow
def test_a_run_row_holds_what_the_report_shows(run) -> None:
    rows = {r["id"]: r for r in run["questions"]}
    a1 = rows["a1"]
    assert a1["question"].startswith("من هو") and a1["facts_found"] == ["فؤاد حسين"] and a1["facts_missed"] == []
    assert a1["citations"] and "فؤاد حسين" in a1["citations"][0]["text"] and a1["contexts"]
    assert a1["top_score"] > 0.45 and rows["u1"]["top_score"] < 0.45
    assert rows["e1"]["facts_missed"] == ["baghdad", "thursday"]  # extractive English answers quote Arabic: nothing an English reader can read
    assert run["thresholds"]["min_score"] == 0.30


@pytest.mark.slow
@pytest.mark.browser
def test_the_html_report_opens_offline_and_its_charts_render(run, tmp_path, artifacts) -> None:
    from rag.evaluation.html_report import render_html

    page_html = render_html(run, title="seed questions, extractive")
    assert not re.search(r"<script|<link|(src|href)=[\"']?https?:", page_html, re.I)  # self-contained: nothing to fetch
    path = tmp_path / "report.html"
    path.write_text(page_html, encoding="utf-8")
    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is missing: scripts/test.sh installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox", "--disable-gpu"])
        context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
        requests: list[str] = []
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        for chart in ("#chart-scores", "#chart-distribution", "#chart-time"):
            box = page.locator(chart).bounding_box()
            assert box and box["width"] > 200 and box["height"] > 50, chart
            drawn = page.evaluate(f"() => [...document.querySelectorAll('{chart} rect.bar')].filter(r => r.getBBox().height > 0).length")
            assert drawn >= 2, chart
        assert page.locator("#chart-distribution line.threshold").count() == 2
        assert page.locator("#questions tr.pass").count() >= 2 and page.locator("#questions tr.fail").count() >= 1  # e1: no English facts
        page.locator("#q-a1 details summary").first.click()
        assert "فؤاد حسين" in page.locator("#q-a1 details mark").first.inner_text()
        page.screenshot(path=str(artifacts / "eval-report.png"), full_page=True)
        browser.close()
    assert requests == [path.as_uri()]  # nothing but the file itself was fetched


@pytest.mark.slow
def test_the_ragas_export_loads_with_ragas_and_its_offline_metrics_run(run, tmp_path) -> None:
    from rag.evaluation.ragas_bridge import run_ragas, write_ragas_jsonl

    path = tmp_path / "run.ragas.jsonl"
    assert write_ragas_jsonl(run, path) == 3
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
    from ragas import EvaluationDataset, SingleTurnSample

    dataset = EvaluationDataset.from_jsonl(str(path))
    assert len(dataset) == 3 and all(isinstance(s, SingleTurnSample) for s in dataset.samples)
    first = dataset.samples[0]
    assert first.user_input.startswith("من هو") and "فؤاد حسين" in first.response and first.reference == "فؤاد حسين"
    assert first.retrieved_contexts and first.reference_contexts == ["نظيره العراقي فؤاد حسين"]

    scores = run_ragas(run)
    assert scores["judge"] is False and set(scores["metrics"]) == {"non_llm_context_precision_with_reference", "non_llm_context_recall", "string_present"}
    per_q = {r["id"]: r for r in scores["questions"]}
    assert set(per_q) == {"a1", "e1"}  # the unanswerable question has no reference
    assert per_q["a1"]["string_present"] == 1.0 and per_q["e1"]["string_present"] == 0.0
