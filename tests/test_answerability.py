"""Refusing from two signals (rag.answerability) on the real seed index."""
import pytest

from rag import answerability, lexical
from rag.answer import ask
from rag.service import get_retriever

pytestmark = pytest.mark.slow

HAS_FREEDICT = bool(lexical.english_arabic_dictionary())
NEEDS_DICTIONARY = pytest.mark.skipif(not HAS_FREEDICT, reason="English words reach the Arabic text through dict-freedict-eng-ara")
UNANSWERABLE = [pytest.param("What is the current exchange rate of the Iraqi dinar?", marks=NEEDS_DICTIONARY),
                "من هو مدرب المنتخب العراقي لكرة القدم؟", pytest.param("How many F-16 jets did Iraq receive in 2015?", marks=NEEDS_DICTIONARY)]


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_questions_the_articles_do_not_answer_are_refused_without_a_model(seed_index, question) -> None:
    a = ask(question, settings=seed_index.replace(backend="local"))  # refused before any model is needed
    assert a.refused and "first_token_s" not in a.timings


@NEEDS_DICTIONARY
def test_a_weak_cosine_with_the_question_words_present_is_answered(seed_index) -> None:
    """d17 scores under ANSWER_ABOVE; its words (prime minister, Iraqi) carry it."""
    retriever = get_retriever(seed_index)
    question = "Which Iraqi prime ministers are mentioned across the articles?"
    passages = retriever.search(question, 5, "hybrid", seed_index.min_score)
    decision = answerability.decide(question, passages, retriever, seed_index.min_score)
    assert decision.answer, decision
    dinar = "What is the current exchange rate of the Iraqi dinar?"
    refused = answerability.decide(dinar, retriever.search(dinar, 5, "hybrid", seed_index.min_score), retriever, seed_index.min_score)
    assert not refused.answer and refused.coverage is not None and refused.coverage < answerability.MIN_COVERAGE["en"]


def test_ask_decides_on_the_ranked_passages_none_dropped_under_the_floor_first(seed_index, monkeypatch) -> None:
    """The decision was calibrated on passages as ranked (bench_answerability.signals); ask() used to drop
    those under min_score first, so a lexically matching passage with a weak cosine could not count."""
    seen = {}
    decide = answerability.decide

    def spy(question, passages, retriever, floor):
        seen["passages"], seen["floor"] = passages, floor
        return decide(question, passages, retriever, floor)

    monkeypatch.setattr(answerability, "decide", spy)
    settings = seed_index.replace(backend="extractive", min_score=0.6)  # a floor above most passages' cosine
    ask("من هو وزير الخارجية العراقي الذي التقى بلينكن؟", settings=settings)
    assert seen["floor"] == 0.6 and len(seen["passages"]) == settings.top_k
    assert any(p.dense_score < 0.6 for p in seen["passages"])
