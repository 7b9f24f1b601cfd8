"""Sentence translation (rag.translate) against a scripted OpenAI-compatible endpoint on loopback (fast)."""
from rag.translate import prepare, translate
from tests.servers import ScriptedLLM
from ui.settings import Settings


def test_what_the_model_misreads_is_written_out_before_it_translates() -> None:
    prepared = prepare("أكد السوداني في تموز ٢٠٢٤ أن انسحاب البيشمركة مستبعد")
    assert "2024" in prepared and "٢٠٢٤" not in prepared
    names = prepared.split("\nNames: ")[1]
    assert "تموز = July" in names and "السوداني = al-Sudani" in names and "البيشمركة = Peshmerga" in names
    assert "مستبعد = ruled out" in names
    assert "\nNames:" not in prepare("جملة بلا أسماء صعبة")


def test_a_translation_is_one_line_and_is_cached(tmp_path) -> None:
    reply = "The talks were held in Baghdad.\nNames: بغداد = Baghdad"
    with ScriptedLLM(reply) as llm:
        settings = Settings(home=tmp_path, backend="openai", openai_base_url=llm.base_url)
        assert translate("عقدت المباحثات في بغداد.", settings) == "The talks were held in Baghdad."
    # the server is gone: the same sentence comes from the cache (memory, and the JSONL file for the next process)
    assert translate("عقدت المباحثات في بغداد.", settings) == "The talks were held in Baghdad."
    assert (tmp_path / "cache" / "translations.jsonl").exists()
