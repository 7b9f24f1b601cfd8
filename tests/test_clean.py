"""Cleaning: golden titles per seed, and the rules on synthetic pages (the removed lines and
their rules are audited against goldens in test_clean_audit.py)."""
from pathlib import Path

import pytest

from index.clean import clean_text
from tests.conftest import SEEDS

GOLDENS = Path(__file__).parent / "goldens"
SEED_FILES = sorted(SEEDS.glob("*.txt"))


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.stem[:3])
def test_seed_golden_title_and_removed_lines_gone(path: Path) -> None:
    title, text, removed = clean_text(path.read_text(encoding="utf-8"))
    assert title == (GOLDENS / f"{path.stem}.title.txt").read_text(encoding="utf-8").strip()
    raw_lines = path.read_text(encoding="utf-8").splitlines()
    for line in removed:
        if raw_lines.count(line) == 1:
            assert line not in text.split("\n")


def test_seed_chrome_is_gone_and_bodies_stay() -> None:
    texts = {p.stem[:3]: clean_text(p.read_text(encoding="utf-8"))[1] for p in SEED_FILES}
    everything = "\n".join(texts.values())
    for chrome in ["رئيس مجلس الإدارة", "الرئيسية مقالات", "تعليقات الموقع", "هل أعجبك هذا المقال",
                   "يرجى إدخال الأرقام", "كلمات دلالية", "مقالات مشابهة", "جامعة حلوان", "ليبيا وإيطاليا"]:
        assert chrome not in everything, chrome
    assert "\nمميز\n" not in f"\n{everything}\n"
    # the second article embedded under "إقرأ أيضاً" (Iraqi lobbies in Washington) is kept whole
    # (as its own document: test_clean_audit.py)
    assert "نشطت جماعات ضغط عراقية في الولايات المتحدة" in texts["002"]
    assert "أعلن السيناتور الأمريكي جو ويلسون" in texts["002"]
    assert "مما يجعل العراق ملفًا حاضرًا بقوة في السياسة الأمريكية" in texts["002"]
    # captions printed twice keep one copy, the article around them stays
    assert texts["003"].count("حمولة إمدادات") == 1
    assert "وقال خبراء عراقيون تحدثوا إلى موقع الفاصل" in texts["003"]
    # body sizes: nothing big was lost (the chrome removed is 0-13% of a seed's characters)
    for key, path in zip(texts, SEED_FILES):
        raw = path.read_text(encoding="utf-8")
        assert len(texts[key]) > 0.8 * len(raw), (key, len(texts[key]), len(raw))


def test_rules_on_a_synthetic_page() -> None:
    body = "هذا نص طويل عن التعاون الأمني بين البلدين يتحدث عن تفاصيل كثيرة ومهمة جدا في سياق الحوار الاستراتيجي بين الطرفين في العاصمة."
    page = "\n".join([
        "الرئيسية أخبار سياسة", "", "عنوان الخبر الرئيسي عن التعاون الأمني", "", body, "",
        "صورة الاجتماع في بغداد يوم الخميس الماضي", "صورة الاجتماع في بغداد يوم الخميس الماضي", "",
        "عنوان فرعي", "", body.replace("هذا", "ذلك"), "", "Tags: Iraq, USA", "", "أخبار ذات صلة",
        "• خبر أول عن شيء آخر", "• خبر ثان عن موضوع مختلف", "• خبر ثالث بلا علاقة", "", "شارك",
    ])
    title, text, removed = clean_text(page)
    assert title == "عنوان الخبر الرئيسي عن التعاون الأمني"
    assert text.split("\n") == ["عنوان الخبر الرئيسي عن التعاون الأمني", body, "صورة الاجتماع في بغداد يوم الخميس الماضي",
                                 "عنوان فرعي", body.replace("هذا", "ذلك")]  # the caption keeps one copy
    assert "Tags: Iraq, USA" in removed and "أخبار ذات صلة" in removed and "شارك" in removed


def test_crlf_bom_and_nbsp_are_normalised() -> None:
    body = "نص المقال الطويل الذي يتحدث عن أشياء كثيرة ومهمة في سياق الأخبار اليومية للمنطقة العربية كلها اليوم."
    title, text, _ = clean_text("\ufeffعنوان المقال القصير\r\n\r\n" + body.replace(" ", "\u00a0", 3) + "\r\n")
    assert title == "عنوان المقال القصير"
    assert "\r" not in text and "\u00a0" not in text and body in text
