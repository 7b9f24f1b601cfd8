"""Chunking: offsets, token limits, sentence boundaries in Arabic and English."""
import pytest

from index.chunking import Chunker, count_tokens, sentence_spans
from index.clean import clean_text
from index.types import Document
from tests.conftest import SEEDS


def _doc(text: str) -> Document:
    return Document("d.txt", "t", "d.txt", text, "h")


def test_sentences_split_on_arabic_and_latin_punctuation_but_not_numbers() -> None:
    text = "قال د. أحمد إن النسبة 24.5 في المئة يوم 17.3.2024. ثم غادر؟ نعم! أولا؛ ثانيا\nU.S. forces left. End"
    parts = [text[a:b] for a, b in sentence_spans(text)]
    assert parts == ["قال د. أحمد إن النسبة 24.5 في المئة يوم 17.3.2024.", "ثم غادر؟", "نعم!", "أولا؛", "ثانيا",
                     "U.S. forces left.", "End"]


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.txt")), ids=lambda p: p.stem[:3])
def test_seed_chunks_have_exact_offsets_and_respect_the_target(path) -> None:
    _, text, _ = clean_text(path.read_text(encoding="utf-8"))
    chunks = Chunker(target_tokens=120).chunk(_doc(text))
    assert len(chunks) > 3
    for i, c in enumerate(chunks):
        assert text[c.start:c.end] == c.text
        assert c.ordinal == i
        assert count_tokens(c.text) <= 120
    # every sentence is covered by some chunk
    for a, b in sentence_spans(text):
        assert any(c.start <= a and b <= c.end for c in chunks) or count_tokens(text[a:b]) > 120


def test_one_sentence_overlap_between_neighbours() -> None:
    text = " ".join(f"هذه هي الجملة رقم {i} في النص الطويل." for i in range(40))
    chunks = Chunker(target_tokens=130, overlap_sentences=1).chunk(_doc(text))
    for prev, nxt in zip(chunks, chunks[1:]):
        last_sentence = [prev.text[a:b] for a, b in sentence_spans(prev.text)][-1]
        assert nxt.text.startswith(last_sentence)


def test_a_sentence_longer_than_the_target_is_split_at_words() -> None:
    text = " ".join(["كلمة"] * 400)
    chunks = Chunker(target_tokens=50).chunk(_doc(text))
    assert all(count_tokens(c.text) <= 50 for c in chunks)
    assert all(text[c.start:c.end] == c.text for c in chunks)
    assert chunks[-1].end == len(text)


def test_model_maximum_is_never_exceeded() -> None:
    text = " ".join(f"الجملة {i} هنا." for i in range(100))
    words = lambda s: len(s.split())  # a "model tokenizer" that counts words
    chunks = Chunker(target_tokens=400, overlap_sentences=0, model_tokens=words, model_max=20).chunk(_doc(text))
    assert all(words(c.text) <= 20 for c in chunks) and len(chunks) >= 15
    assert all(text[c.start:c.end] == c.text for c in chunks)


def test_chunk_hash_is_content_based() -> None:
    a = Chunker(60).chunk(_doc("جملة أولى. جملة ثانية."))
    b = Chunker(60).chunk(_doc("جملة أولى. جملة ثانية."))
    assert [c.hash for c in a] == [c.hash for c in b]
