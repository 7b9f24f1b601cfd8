"""The name check with the real multilingual embedder: transliterated names pass, wrong renderings stay flagged."""
import pytest

from rag import service
from rag.checks import check_translation
from tests.test_wrong_kinds import RIGHT_TRANSLATIONS, WRONG_TRANSLATIONS

pytestmark = pytest.mark.slow

TRANSLITERATED = [  # right renderings the spelling rules alone missed on XQuAD
    ("ولد في ماساتشوستس ثم انتقل إلى مانهاتن.", "He was born in Massachusetts and then moved to Manhattan."),
    ("وتنافست سامسونج مع أبل في سوق الهواتف.", "Samsung competed with Apple in the phone market."),
    ("وغزت إنجلترا المدينة.", "England invaded the city."),
]


@pytest.fixture(scope="module")
def embedder(seed_index):
    return service.get_retriever(seed_index).embedder


@pytest.mark.parametrize("arabic,english", TRANSLITERATED + RIGHT_TRANSLATIONS)
def test_right_renderings_of_names_pass(embedder, arabic, english) -> None:
    assert not [f for f in check_translation(arabic, english, embedder) if f.code == "translation_name_unmatched"]


@pytest.mark.parametrize("arabic,english,code", [w for w in WRONG_TRANSLATIONS if w[2] == "translation_name_unmatched"])
def test_wrong_names_stay_flagged_with_the_embedder(embedder, arabic, english, code) -> None:
    assert code in {f.code for f in check_translation(arabic, english, embedder)}
