"""The library's edge (rag.questions): every question and option checked once, with a clear error."""
import pytest

from rag import MAX_TOP_K_ANSWER, MAX_TOP_K_SEARCH, InputError, InputTooLargeError, InvalidTextError, RagSettings
from rag.questions import check_question, check_top_k


@pytest.mark.parametrize("top_k", [None, 1, MAX_TOP_K_ANSWER])
def test_top_k_within_the_bound_passes(top_k) -> None:
    check_top_k(top_k, MAX_TOP_K_ANSWER)


@pytest.mark.parametrize(("top_k", "most"), [(0, MAX_TOP_K_ANSWER), (MAX_TOP_K_ANSWER + 1, MAX_TOP_K_ANSWER),
                                             (MAX_TOP_K_SEARCH + 1, MAX_TOP_K_SEARCH), ("5", MAX_TOP_K_SEARCH), (2.5, MAX_TOP_K_ANSWER)])
def test_top_k_out_of_bounds_or_not_an_integer_is_refused(top_k, most) -> None:
    with pytest.raises(InputError, match=f"top_k must be an integer between 1 and {most}"):
        check_top_k(top_k, most)


def test_a_question_is_stripped_and_bad_ones_named() -> None:
    settings = RagSettings(max_question_chars=10)
    assert check_question("  سؤال؟ ", settings) == "سؤال؟"
    with pytest.raises(InputError, match="empty"):
        check_question("   ", settings)
    with pytest.raises(InputTooLargeError, match="max_question_chars"):
        check_question("x" * 11, settings)
    with pytest.raises(InvalidTextError, match="not valid Unicode"):
        check_question("a\ud800", settings)
