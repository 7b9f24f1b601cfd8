"""Bug: a caption printed twice lost both copies, and with it the only sentence naming al-Sudani."""
from index.clean import clean_text
from tests.conftest import SEEDS

SUDANI = "رئيس الوزراء العراقي محمد شياع السوداني يشرف في 27 كانون الثاني/يناير"


def test_a_caption_printed_twice_keeps_one_copy() -> None:
    body = "هذا نص طويل عن التعاون الأمني بين البلدين يتحدث عن تفاصيل كثيرة ومهمة جدا في سياق الحوار بين الطرفين."
    caption = "صورة الاجتماع في بغداد يوم 27 كانون الثاني الماضي"
    _, text, removed = clean_text("\n".join(["عنوان الخبر عن التعاون", body, caption, caption, body.replace("هذا", "ذلك")]))
    assert text.split("\n").count(caption) == 1
    assert removed == [caption]


def test_the_sudani_caption_of_seed_003_is_kept_once() -> None:
    _, text, _ = clean_text((SEEDS / "003_989b01d71f21a984.txt").read_text(encoding="utf-8"))
    assert text.count(SUDANI) == 1
