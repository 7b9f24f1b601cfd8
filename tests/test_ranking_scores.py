"""The one copy of the ranking scores both retrieval evaluations use (dev set and XQuAD)."""
import pytest

from rag.evaluation.scoring import recall_at, reciprocal_rank


@pytest.mark.parametrize(("ranked", "gold", "k", "expected"), [
    (["a", "b", "c"], {"b"}, 1, 0.0),
    (["a", "b", "c"], {"b"}, 2, 1.0),
    (["a", "b", "c"], {"b", "z"}, 3, 0.5),
    (["a"], set(), 1, 0.0),
])
def test_recall_at(ranked, gold, k, expected) -> None:
    assert recall_at(ranked, gold, k) == expected


@pytest.mark.parametrize(("ranked", "gold", "expected"), [
    (["a", "b", "c"], {"c"}, 1 / 3),
    (["a", "b", "c"], {"a", "c"}, 1.0),
    (["x"] * 10 + ["g"], {"g"}, 0.0),  # past the cutoff
])
def test_reciprocal_rank(ranked, gold, expected) -> None:
    assert reciprocal_rank(ranked, gold, 10) == pytest.approx(expected)
