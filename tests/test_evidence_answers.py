"""The evidence answer through ``ask()``: the real index and embedder, the model's text from a scripted
OpenAI-compatible endpoint on loopback (``tests.servers.ScriptedLLM``), so each wrong kind of model
output is reproduced exactly and shown flagged, dropped or replaced."""
import pytest

from rag.answer import ask_stream
from rag.evaluation.scoring import reader_text
from rag.language import arabic_ratio
from tests.servers import ScriptedLLM

pytestmark = pytest.mark.slow


def run(question: str, reply: str, seed_index):
    with ScriptedLLM(reply) as llm:
        pieces = list(ask_stream(question, settings=seed_index.replace(backend="openai", openai_base_url=llm.base_url)))
    return "".join(pieces[:-1]), pieces[-1]


def codes(answer) -> set[str]:
    return {f.code for f in answer.findings}


def test_an_english_reader_gets_labelled_translations_with_the_originals_in_the_citations(seed_index) -> None:
    shown, a = run("Where and on which day were the high-level US-Iraqi consultations held?",
                   "The consultations were held in Baghdad on Thursday.", seed_index)
    assert a.language == "en" and a.backend == "openai" and "machine translation from Arabic" in a.text
    assert arabic_ratio(a.text) == 0.0 and reader_text(a.text, "en").strip()  # nothing untranslated
    c = a.citations[0]
    assert c.translation == "The consultations were held in Baghdad on Thursday." and arabic_ratio(c.quote) > 0.8
    assert c.quote == c.passage.text[c.quote_start:c.quote_end]
    assert shown == a.text and not a.replaced


def test_a_reply_repeating_the_instructions_is_replaced_by_the_labelled_original(seed_index) -> None:
    # XQuAD: "In what language was most of the statement written?" was answered with the prompt's own line
    echo = 'The line "Names:" under the sentence gives the English form of some of its words: use those forms.'
    shown, a = run("Where and on which day were the high-level US-Iraqi consultations held?", echo, seed_index)
    assert "Names:" not in a.text and "original Arabic" in a.text
    assert a.replaced and "Names:" in shown  # the stream showed it; the final answer withdrew it


def test_an_answer_line_repeating_the_question_is_dropped_and_the_stream_replaced(seed_index) -> None:
    shown, a = run("من هو وزير الخارجية العراقي الذي التقى أنتوني بلينكن في واشنطن؟",
                   "أنتوني بلينكن هو وزير الخارجية العراقي الذي التقى أنتوني بلينكن في واشنطن. [1]", seed_index)
    assert "هو وزير الخارجية العراقي الذي التقى" not in a.text and "فؤاد حسين" in a.text and a.grounded
    assert a.replaced and shown != a.text  # the stream said something the final answer withdrew


def test_a_model_that_declines_leaves_the_quotes_and_refuses_nothing(seed_index) -> None:
    from rag.prompt import NOT_FOUND

    shown, a = run("من هو وزير الخارجية العراقي الذي التقى أنتوني بلينكن في واشنطن؟", NOT_FOUND["ar"], seed_index)
    assert not a.refused and "فؤاد حسين" in a.text and "لم أجد" not in shown and shown == a.text


def test_an_openai_stream_ends_with_the_replacement_when_the_checks_withdrew_text(seed_index) -> None:
    import json

    import httpx

    from tests.servers import ApiServer

    question = "من هو وزير الخارجية العراقي الذي التقى أنتوني بلينكن في واشنطن؟"
    with ScriptedLLM("أنتوني بلينكن هو وزير الخارجية العراقي الذي التقى أنتوني بلينكن في واشنطن. [1]") as llm, \
            ApiServer(seed_index.replace(backend="openai", openai_base_url=llm.base_url)) as api:
        body = {"model": "arabic-news-rag", "stream": True, "messages": [{"role": "user", "content": question}]}
        with httpx.stream("POST", api.url + "/v1/chat/completions", json=body, timeout=300) as r:
            events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    last = events[-1]
    assert last["choices"][0]["finish_reason"] == "stop" and last["rag"]["replaced"] is True
    assert last["replace"] == last["rag"]["answer"] and "فؤاد حسين" in last["replace"]
    streamed = "".join(e["choices"][0]["delta"].get("content") or "" for e in events)
    assert "الذي التقى أنتوني بلينكن في واشنطن." in streamed  # what the client saw before the replacement


def test_the_organisation_an_article_named_before_is_written_into_the_sentence_to_translate(seed_index) -> None:
    # dev d10: "التهديد الذي يشكله التنظيم" came back "the threat posed by the organization"; the
    # article (003) named داعش paragraphs earlier, outside the sentence the model is given
    reply = "Austin said the timetable takes three factors into account: the threat posed by Islamic State (ISIS), " \
            "operational and environmental requirements, and the capability levels of the Iraqi security forces."
    question = "Which factors did Lloyd Austin say the transition timeline would take into account?"
    with ScriptedLLM(reply) as llm:
        a = list(ask_stream(question, settings=seed_index.replace(backend="openai", openai_base_url=llm.base_url)))[-1]
    asked = [m["content"] for body in llm.received for m in body["messages"] if m["role"] == "user"]
    assert any("يشكله Islamic State (ISIS)" in text for text in asked), asked
    assert "Islamic State (ISIS)" in a.text and a.grounded, a.findings  # the name matches what the model was given
    assert "التنظيم" in a.citations[0].quote  # the quote stays the article's own words


# Each wrong kind of model output, through ask(), and the finding that flags it.
WRONG = [
    pytest.param("Where and on which day were the high-level US-Iraqi consultations held?",
                 "The consultations were held in Washington on Thursday.", "translation_name_unmatched", id="another-city"),
    pytest.param("When did Prime Minister al-Sudani oversee the launch of the military talks?",
                 "Prime Minister al-Sudani oversaw the launch of the first round of military talks on 27 September.",
                 "translation_month", id="wrong-month"),
    pytest.param("أين عقدت المشاورات الأمريكية العراقية رفيعة المستوى؟", "عقدت المشاورات في واشنطن وفي بغداد [1]", "slot_conflict",
                 id="two-cities"),
    # "no longer needs combat forces" (لم تعد بحاجة) rendered as needing them
    pytest.param("What did Prime Minister Mustafa al-Kadhimi announce about US combat forces?",
                 "His country needs American combat forces to fight ISIS.", "translation_negation_lost", id="lost-negation"),
]


@pytest.mark.parametrize(("question", "reply", "code"), WRONG)
def test_a_wrong_model_answer_is_flagged(seed_index, question: str, reply: str, code: str) -> None:
    _, a = run(question, reply, seed_index)
    assert not a.grounded and code in codes(a), (a.text, a.reasons)
