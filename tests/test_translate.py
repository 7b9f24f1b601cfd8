"""Sentence translation (rag.translate) against a scripted OpenAI-compatible endpoint on loopback (fast)."""
import rag.translate
from rag.checks import check_translation
from rag.translate import echoes_instructions, prepare, translate, translate_stream
from tests.servers import ScriptedLLM
from ui.settings import Settings


def test_what_the_model_misreads_is_written_out_before_it_translates() -> None:
    prepared = prepare("أكد السوداني في تموز ٢٠٢٤ أن انسحاب البيشمركة مستبعد")
    assert "2024" in prepared and "٢٠٢٤" not in prepared
    for arabic, english in (("تموز", "July"), ("السوداني", "al-Sudani"), ("البيشمركة", "Peshmerga"), ("مستبعد", "ruled out")):
        assert english in prepared and arabic not in prepared  # in the sentence itself: a line of hints was ignored
    assert prepare("وقال والكاظمي") == "وقال و al-Kadhimi"  # the clitic kept apart from the English name
    assert prepare("جملة بلا أسماء صعبة") == "جملة بلا أسماء صعبة"


def test_the_preposition_of_a_lam_lam_form_is_kept() -> None:
    """للكاظمي is ل ("to") + الكاظمي with its alif dropped: the name was written out over the whole
    word, and "to" was lost from the translation."""
    assert prepare("وقال للكاظمي") == "وقال ل al-Kadhimi"
    assert prepare("وللكاظمي") == "ول al-Kadhimi"


def test_a_translation_is_one_line_and_is_cached(tmp_path) -> None:
    reply = "The talks were held in Baghdad.\nNames: بغداد = Baghdad"
    with ScriptedLLM(reply) as llm:
        settings = Settings(home=tmp_path, backend="openai", openai_base_url=llm.base_url)
        assert translate("عقدت المباحثات في بغداد.", settings) == "The talks were held in Baghdad."
    # the server is gone: the same sentence comes from the cache (memory, and the JSONL file for the next process)
    assert translate("عقدت المباحثات في بغداد.", settings) == "The talks were held in Baghdad."
    assert (tmp_path / "cache" / "translations.jsonl").exists()


def test_a_lead_in_line_is_skipped_not_taken_for_the_translation(tmp_path) -> None:
    # seen from the embedded model: "Here are the English translations of the Arabic sentence:" was shown as the answer
    reply = "Here is the English translation of the sentence:\nThe talks were held in Baghdad.\nNames: بغداد = Baghdad"
    with ScriptedLLM(reply) as llm:
        settings = Settings(home=tmp_path, backend="openai", openai_base_url=llm.base_url)
        pieces = list(translate_stream("عقدت المباحثات في بغداد.", settings))
    assert "".join(pieces) == "The talks were held in Baghdad."


def test_a_reply_that_repeats_the_instructions_is_not_a_translation(tmp_path) -> None:
    # seen on XQuAD: 6 of 104 translations were the prompt's Names instruction translated back
    reply = 'The line "Names:" under the sentence gives the English form of some of its words: use those forms.'
    assert echoes_instructions(reply) and not echoes_instructions("The talks were held in Baghdad.")
    with ScriptedLLM(reply) as llm:
        settings = Settings(home=tmp_path, backend="openai", openai_base_url=llm.base_url)
        translate("تم نفي طغرل إلى الدولة القراخطائية.", settings)
    assert not (tmp_path / "cache" / "translations.jsonl").exists()  # never cached: the next ask tries again
    codes = [f.code for f in check_translation("تم نفي طغرل إلى الدولة القراخطائية.", reply)]
    assert "translation_instructions" in codes


def test_a_changed_prompt_does_not_serve_old_translations(tmp_path, monkeypatch) -> None:
    with ScriptedLLM("The talks were held in Baghdad.") as llm:
        settings = Settings(home=tmp_path, backend="openai", openai_base_url=llm.base_url)
        translate("عقدت المباحثات في بغداد.", settings)
    monkeypatch.setattr(rag.translate, "SYSTEM", rag.translate.SYSTEM + " Be brief.")
    with ScriptedLLM("Talks took place in Baghdad.") as llm:
        settings = Settings(home=tmp_path, backend="openai", openai_base_url=llm.base_url)
        assert translate("عقدت المباحثات في بغداد.", settings) == "Talks took place in Baghdad."


def test_only_words_with_one_meaning_in_news_are_replaced_before_translating() -> None:
    # XQuAD: "كرة القاعدة" (baseball) came back as "the al-Qaeda national team" once القاعدة was written as al-Qaeda
    assert prepare("ودوري كرة القاعدة قرب القاعدة الأمريكية") == "ودوري كرة القاعدة قرب القاعدة الأمريكية"
    assert prepare("طريق الحرير ومسيرة احتجاجية") == "طريق الحرير ومسيرة احتجاجية"
    assert prepare("وطائرة مسيرة") == "و drone"  # the clitic kept apart


def test_a_month_after_two_clitics_is_written_out() -> None:
    """وبتموز ("and in July"): the month pattern took one clitic only, so the model saw تموز, which it
    misreads (as September, in the issue's example)."""
    from rag.answer_text import arabic_months, month_spans

    assert prepare("وبتموز ٢٠٢١ انسحبت القوات") == "وب July 2021 انسحبت القوات"
    assert arabic_months("فلأيار وبآب") == [("أيار", "May"), ("آب", "August")]
    assert month_spans("ولآذار") == [(2, 6, "March")]
    assert arabic_months("الآباء وبلاد") == []  # a month name's letters inside other words are none


def test_a_bare_organisation_noun_becomes_the_group_the_article_named_last() -> None:
    from rag.glossary import resolve_references

    before = "أكد أوستن أن الطرفين سيبحثان كيفية إلحاق الهزيمة بداعش."
    assert resolve_references("التهديد الذي يشكله التنظيم ومتطلبات العمليات", before) == "التهديد الذي يشكله داعش ومتطلبات العمليات"
    assert prepare(resolve_references("وقال إن للتنظيم خلايا", "عن تنظيم الدولة الإسلامية")) == "وقال إن ل Islamic State (ISIS) خلايا"
    assert resolve_references("والتنظيم الإرهابي خسر", "حزب الله ثم داعش") == "وداعش الإرهابي خسر"  # the one named last
    # not a group: another ال-word after it, or no group named before
    assert resolve_references("إعادة التنظيم الإداري للوزارة", before) == "إعادة التنظيم الإداري للوزارة"
    assert resolve_references("التهديد الذي يشكله التنظيم", "لا ذكر لأي جماعة هنا") == "التهديد الذي يشكله التنظيم"


def test_group_nouns_found_by_the_review() -> None:
    from rag.glossary import resolve_references

    # a relative clause after it: still the group
    assert resolve_references("وقال إن التنظيم الذي يقوده البغدادي خسر", "هزيمة داعش") == "وقال إن داعش الذي يقوده البغدادي خسر"
    # بحماس is "with enthusiasm", not Hamas; حركة حماس is the group
    assert resolve_references("التنظيم مسؤول", "استقبل الجمهور اللاعبين بحماس كبير") == "التنظيم مسؤول"
    assert resolve_references("التنظيم مسؤول", "بيان من حركة حماس") == "حركة حماس مسؤول"
    assert resolve_references("التنظيم مسؤول", "قال للدولة الإسلامية") == "الدولة الإسلامية مسؤول"  # named after لل
    # many occurrences (a hostile upload): each one resolved, from one scan of the text before
    assert resolve_references("قال التنظيم " * 2000, "داعش " * 3000).count("داعش") == 2000
