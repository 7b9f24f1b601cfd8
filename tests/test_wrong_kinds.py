"""Each kind of wrong answer seen in the held-out trial (issue "Answers a reader can trust") is flagged.

Fast tier: the checks called on the model's text as it came back (no model needed). The slow
tests in tests/test_evidence_answers.py send the same texts through ``ask()`` from a scripted
OpenAI-compatible endpoint.
"""
import pytest

from rag.checks import check_adds_something, check_answer, check_slots, check_translation
from rag.types import Passage


def codes(findings) -> set[str]:
    return {f.code for f in findings}


# (Arabic evidence sentence, the wrong English rendering seen, the finding it must raise)
WRONG_TRANSLATIONS = [
    ("ورأى المحلل أن انسحاب القوات الأمريكية من العراق مستبعد في الوقت الحالي.",
     "The analyst said that the withdrawal of US forces from Iraq is expected to occur at present.", "translation_negation_lost"),
    ("وقدمت الوكالة الدولية لضمان الاستثمار (ميغا) ضمانات للمستثمرين في العراق.",
     "Make America Great Again provided guarantees to investors in Iraq.", "translation_name_unmatched"),
    ("وشارك الشباب في احتجاجات تشرين 2019 للمطالبة بالإصلاح.",
     "Young people took part in the Tunisian Revolution in 2019 to demand reform.", "translation_name_unmatched"),
    ("وعقد الاجتماع في تموز 2024 في بغداد.", "The meeting was held in September 2024 in Baghdad.", "translation_month"),
    ("وأكد رئيس الوزراء محمد شياع السوداني دعم الحكومة للاتفاق.",
     "Prime Minister Mohammed Shia Sheikani affirmed the government's support for the agreement.", "translation_name_unmatched"),
    ("وانتشرت قوات البيشمركة على طول الحدود.", "The Kurdish Border Guard forces were deployed along the border.", "translation_name_unmatched"),
    ("وفي عام 1800 أنتج مصنع على نهر تاين مؤشر المحرك البخاري.",
     "In 1800 a factory on the River Tiber produced the steam engine indicator.", "translation_name_unmatched"),
    ("وتعهدت 8 دول أعضاء بتأمين نصف هذا المبلغ.", "Eighteen member states pledged to secure half of this amount, 18 in all.", "translation_number_added"),
    ("وينتشر في العراق نحو 2500 جندي أمريكي.", "Some American soldiers are deployed in Iraq.", "translation_number_lost"),
]


@pytest.mark.parametrize("arabic,english,code", WRONG_TRANSLATIONS)
def test_a_wrong_translation_is_flagged(arabic: str, english: str, code: str) -> None:
    assert code in codes(check_translation(arabic, english))


# The same sentences rendered right raise nothing (false alarms cost trust too).
RIGHT_TRANSLATIONS = [
    ("ورأى المحلل أن انسحاب القوات الأمريكية من العراق مستبعد في الوقت الحالي.",
     "The analyst considered that a withdrawal of US forces from Iraq is ruled out for now."),
    ("وقدمت الوكالة الدولية لضمان الاستثمار (ميغا) ضمانات للمستثمرين في العراق.",
     "The Multilateral Investment Guarantee Agency (MIGA) provided guarantees to investors in Iraq."),
    ("وعقد الاجتماع في تموز 2024 في بغداد.", "The meeting was held in July 2024 in Baghdad."),
    ("وأكد رئيس الوزراء محمد شياع السوداني دعم الحكومة للاتفاق.",
     "Prime Minister Mohammed Shia al-Sudani affirmed the government's support for the agreement."),
    ("وانتشرت قوات البيشمركة على طول الحدود.", "Peshmerga forces were deployed along the border."),
    ("وتعهدت ثماني دول أعضاء بتأمين نصف هذا المبلغ.", "Eight member states pledged to secure half of this amount."),
    ("وقال الخبير العسكري إياد الطوفان إن المحادثات تهدف إلى علاقة مستدامة.",
     "Military expert Ayad al-Tufan said the talks aim at a sustainable relationship."),
]


@pytest.mark.parametrize("arabic,english", RIGHT_TRANSLATIONS)
def test_a_right_translation_raises_nothing(arabic: str, english: str) -> None:
    assert check_translation(arabic, english) == []


def P(text: str) -> Passage:
    return Passage("a.txt", "عنوان", "seeds/a.txt", 0, len(text), text, 0.8, 0.8)


def test_two_places_for_one_where_is_a_slot_conflict() -> None:
    assert "slot_conflict" in codes(check_slots("Where were the consultations held?",
                                                "The consultations were held in Washington [1] and in Baghdad [1].", "en"))
    assert "slot_conflict" in codes(check_slots("أين عقدت المشاورات؟", "عقدت المشاورات في واشنطن وفي بغداد [1]", "ar"))
    assert check_slots("أين عقدت المشاورات؟", "عقدت المشاورات في بغداد [1]", "ar") == []


def test_two_dates_for_one_when_is_a_slot_conflict() -> None:
    assert "slot_conflict" in codes(check_slots("When did the talks start?", "The talks started in January 2024 and in March 2024 [1].", "en"))
    assert check_slots("When did the talks start?", "The talks started on 27 January 2024 [1].", "en") == []


def test_an_answer_line_dropping_a_ruling_out_is_flagged() -> None:
    passages = [P("ورأى المحلل أن انسحاب القوات الأمريكية من العراق مستبعد في الوقت الحالي.")]
    flagged = check_answer("يتوقع المحلل انسحاب القوات الأمريكية من العراق [1]", passages, "ar", question="ماذا قال المحلل عن الانسحاب؟")
    assert "negation_lost" in codes(flagged.findings)
    kept = check_answer("رأى المحلل أن انسحاب القوات الأمريكية مستبعد [1]", passages, "ar", question="ماذا قال المحلل عن الانسحاب؟")
    assert kept.grounded, kept.reasons


def test_an_answer_repeating_the_question_answers_nothing() -> None:
    question = "من هو وزير الخارجية العراقي الذي التقى أنتوني بلينكن في واشنطن؟"
    assert "restates_question" in codes(check_adds_something("أنتوني بلينكن هو وزير الخارجية العراقي الذي التقى أنتوني بلينكن في واشنطن. [1]", question))
    assert check_adds_something("وزير الخارجية العراقي هو فؤاد حسين [1]", question) == []


def test_an_english_name_absent_from_the_cited_sentence_is_flagged() -> None:
    passages = [P("وأكد رئيس الوزراء مصطفى الكاظمي أن العراق لا يحتاج إلى قوات قتالية أمريكية.")]
    wrong = check_answer("The Iraqi prime ministers mentioned are Saddam Hussein and Muqtada al-Sadr [1].", passages, "en")
    assert "name_unmatched" in codes(wrong.findings)
    right = check_answer("Prime Minister Mustafa al-Kadhimi said Iraq does not need US combat forces [1].", passages, "en")
    assert "name_unmatched" not in codes(right.findings), right.reasons


def test_month_words_are_whole_words_and_capitalised_in_english() -> None:
    """False alarms seen on the dev set: "the president may have responded" read as the month May."""
    from rag.answer_text import months_in

    assert months_in("the president may have responded") == set() and months_in("ويعود الآباء") == set()
    assert months_in("in May 2024") == {"May"} and months_in("في آب 2024") == {"August"} and months_in("وفي تموز") == {"July"}
    assert check_translation("وقد يكون الرئيس استجاب لذلك.", "The president may have responded to this.") == []


# False alarms the review found: right texts the checks must leave alone.
RIGHT_RENDERINGS = [
    ("لا تزال الحكومة تدعم الخطة.", "The government still supports the plan."),
    ("لا بد من إصلاح القطاع.", "The sector must be reformed."),
    ("أدى عدم الاستقرار إلى تراجع الاستثمار.", "Instability led to a decline in investment."),
    ("غادر دون أن يدفع.", "He left without paying."),
    ("وأعلن الرئيس الرفض القاطع للمقترح.", "The president announced a categorical rejection of the proposal."),
    ("وقالت وزارة الخارجية إن الاجتماع عقد في بغداد.", "The Ministry of Foreign Affairs said the meeting was held in Baghdad."),
    ("وقرر مجلس الوزراء الموافقة على الخطة.", "The Council of Ministers decided to approve the plan."),
    ("وزار الوفد إقليم كردستان.", "The delegation visited the Kurdistan Region."),
    ("وقاتلت القوات تنظيم داعش.", "The forces fought the Islamic State."),
]


@pytest.mark.parametrize("arabic,english", RIGHT_RENDERINGS)
def test_review_false_alarms_stay_quiet(arabic: str, english: str) -> None:
    assert check_translation(arabic, english) == []


def test_a_city_named_in_passing_is_no_second_place() -> None:
    assert check_slots("أين التقى الوزير بلينكن؟", "التقى الوزير بلينكن في واشنطن لبحث العلاقات بين بغداد وواشنطن [1]", "ar") == []


def test_dates_and_numbers_code_states_are_whole_words_and_whole_numbers() -> None:
    from rag.slots import lead, values

    assert lead("متى انتهت الأزمة؟", "ساهمت ممارسة الضغوط في إنهاء الأزمة", "en") is None  # مارس inside ممارسة
    assert values("عثر على الآبار", "date", "en") == []  # آب inside الآبار
    assert lead("كم شخصا قتل؟", "قتل ثلاثة آلاف شخص", "en") is None  # not "3"
    assert lead("كم دولة تعهدت بتأمين نصف المبلغ؟", "وتعهدت ثماني دول بتأمين نصف المبلغ", "en") == "8"


def test_a_count_keeps_its_time_unit() -> None:
    # XQuAD: "How old are the fossils?" was answered "515 million", the gold is "515 million years"
    from rag.slots import lead

    assert lead("How old are the fossils?", "وتعود إلى أوائل العصر الكمبري منذ حوالي 515 مليون سنة.", "en") == "515 million years"
    assert lead("كم سنة استمرت الحرب؟", "استمرت الحرب 8 سنوات", "ar") == "8 سنوات"
    assert lead("What percentage ran out?", "نفد الوقود في 20% من المحطات", "en") == "20%"


def test_a_one_word_answer_is_not_a_restated_question() -> None:
    assert check_adds_something("عقدت المشاورات في بغداد [1]", "أين عقدت المشاورات الأمريكية العراقية؟") == []


def test_a_number_written_as_a_word_supports_its_digits() -> None:
    passages = [P("وتعهدت ثماني دول أعضاء بتأمين نصف المبلغ.")]
    assert "number_unsupported" not in codes(check_answer("تعهدت 8 دول بتأمين نصف المبلغ [1]", passages, "ar").findings)
