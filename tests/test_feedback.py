"""Feedback on answers (rag/feedback.py) and its round trip into `rag eval answers` as test questions."""
from __future__ import annotations

import json

import pytest

from rag.errors import AnswerNotFoundError, InputError
from rag.evaluation.report import load_questions
from rag.feedback import FeedbackStore, expected_facts, recall, remember
from rag.settings import RagSettings
from rag.types import Answer, Citation, Passage

PASSAGE = Passage("001.txt", "لقاء بلينكن", "seeds/001.txt", 0, 60, "التقى بلينكن نظيره العراقي فؤاد حسين في واشنطن.", 0.7, 0.7)


def answer(text: str, refused: bool = False) -> Answer:
    citations = [] if refused else [Citation(1, PASSAGE, "نظيره العراقي فؤاد حسين", 14, 37)]
    return Answer("من التقى بلينكن؟", text, "ar", [PASSAGE], citations, backend="extractive", refused=refused)


def test_entries_keep_the_answer_and_become_questions(tmp_path) -> None:
    settings = RagSettings(home=tmp_path, index_dir=tmp_path / "no-index")
    store = FeedbackStore(tmp_path / "feedback.jsonl")
    good, wrong, refused, bad_refusal = (remember(answer("«نظيره العراقي فؤاد حسين» [1]"), settings), remember(answer("وزير الدفاع [1]"), settings),
                                         remember(answer("لم أجد الإجابة", refused=True), settings), remember(answer("لم أجد", refused=True), settings))
    assert recall(good).citations[0]["quote"] == "نظيره العراقي فؤاد حسين"
    up = store.add(good, "up")
    down = store.add(wrong, "down", comment="wrong person", expected="فؤاد حسين؛ واشنطن")
    store.add(refused, "up")
    store.add(bad_refusal, "down")
    silent = store.add(wrong, "down", comment="no expected answer")
    store.add(wrong, "down", comment="now with one", expected="فؤاد", entry_id=silent.id)  # a later version of the same entry
    lines = [json.loads(line) for line in store.path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 6 and lines[1]["comment"] == "wrong person" and lines[1]["backend"] == "extractive" and lines[1]["time"]
    assert {"question", "answer", "citations", "backend", "index_version", "time", "rating", "answer_id"} <= set(lines[0])
    assert len(store.entries()) == 5 and store.entries()[-1]["expected"] == "فؤاد"

    questions = {q.id: q for q in load_questions(store.path)}
    assert set(questions) == {up.id, down.id, lines[2]["id"], lines[3]["id"], silent.id}
    assert questions[down.id].facts == [["فؤاد حسين"], ["واشنطن"]] and questions[down.id].answerable and questions[down.id].lang == "ar"
    assert questions[up.id].evidence == ["نظيره العراقي فؤاد حسين"] and questions[up.id].answerable
    assert questions[lines[2]["id"]].answerable is False  # a refusal the reader approved stays a refusal
    assert questions[lines[3]["id"]].answerable is True and not questions[lines[3]["id"]].facts  # "it is in the articles"
    assert questions[silent.id].facts == [["فؤاد"]]
    assert expected_facts("a; b\nc") == [["a"], ["b"], ["c"]]


def test_bad_feedback_is_refused(tmp_path) -> None:
    store = FeedbackStore(tmp_path / "f.jsonl")
    answer_id = remember(answer("x [1]"), RagSettings(home=tmp_path))
    with pytest.raises(InputError, match="rating"):
        store.add(answer_id, "meh")
    with pytest.raises(InputError, match="limit"):
        store.add(answer_id, "down", comment="x" * 5000)
    with pytest.raises(AnswerNotFoundError, match="ans-missing"):
        store.add("ans-missing", "up")
    assert not store.path.exists()


@pytest.mark.slow
def test_a_feedback_entry_round_trips_into_rag_eval_answers(seed_index, tmp_path, monkeypatch) -> None:
    from rag.answer import ask
    from ui.cli import main

    real = ask("من هو وزير الخارجية العراقي الذي التقى أنتوني بلينكن؟", settings=seed_index)
    store = FeedbackStore(tmp_path / "feedback.jsonl")
    entry = store.add(remember(real, seed_index), "down", comment="I wanted the name alone", expected="فؤاد حسين")
    monkeypatch.setenv("RAG_MODELS_DIR", str(seed_index.models_dir))
    out = tmp_path / "run.json"
    code = main(["--home", str(seed_index.home), "eval", "answers", str(store.path), "--backend", "extractive", "--json", str(out),
                 "--html", str(tmp_path / "run.html"), "--ragas-export", str(tmp_path / "run.ragas.jsonl")])
    assert code == 0
    page = (tmp_path / "run.html").read_text(encoding="utf-8")
    assert 'id="chart-scores"' in page and entry.id in page and "I wanted" not in page  # the report shows the question, not the comment
    assert json.loads((tmp_path / "run.ragas.jsonl").read_text(encoding="utf-8"))["reference"] == "فؤاد حسين"
    rows = json.loads(out.read_text(encoding="utf-8"))["questions"]
    assert len(rows) == 1 and rows[0]["id"] == entry.id and rows[0]["question"] == real.question
    assert rows[0]["facts"] == [["فؤاد حسين"]] and rows[0]["facts_found"] == ["فؤاد حسين"] and rows[0]["fact_recall"] == 1.0


def test_index_version_names_the_served_index_in_either_store_and_follows_a_rebuild(corpus, tmp_settings, hash_embedder, tmp_path,
                                                                                    monkeypatch) -> None:
    """An answer record names the index it came from: on FAISS, and on Qdrant (which has no index
    folder: the version was empty there), and a rebuild with another corpus is named anew."""
    from index.build import build_index
    from index.stores import qdrant as qstore
    from rag.feedback import index_version
    from rag.lexical import tokenize
    from tests.test_store_qdrant import qdrant_settings

    build_index(corpus, tmp_settings, hash_embedder, terms=tokenize)
    documents = len(list(corpus.glob("*.txt")))
    first = index_version(tmp_settings)
    assert first.endswith(f"-{documents + 1}docs")  # one page embeds a second article, its own document
    next(p for p in sorted(corpus.glob("*.txt")) if not p.name.startswith("002")).unlink()  # 002 embeds the second article
    build_index(corpus, tmp_settings, hash_embedder, terms=tokenize)
    assert index_version(tmp_settings).endswith(f"-{documents}docs")

    on_qdrant = qdrant_settings(tmp_settings.replace(index_dir=tmp_path / "no FAISS folder"), tmp_path / "qdrant")
    try:
        build_index(corpus, on_qdrant, hash_embedder, terms=tokenize)
        assert index_version(on_qdrant).endswith(f"-{documents}docs")
    finally:
        qstore.close_clients()
