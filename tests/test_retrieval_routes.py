"""The second route for English questions over Arabic text: names by transliteration, content
words by the FreeDict English→Arabic list, numbers as they are — into the Arabic BM25 index."""
from pathlib import Path

import pytest

from index.build import load_documents
from index.chunking import Chunker
from index.store import IndexStore, Manifest, faiss_index
from rag import lexical
from rag.lexical import EnglishBridge, FreeDict, arabic_skeleton, english_skeleton, tokenize
from rag.retrieval import Retriever
from tests.conftest import SEEDS, HashEmbedder

HAS_FREEDICT = bool(lexical.english_arabic_dictionary())


@pytest.mark.parametrize("english,arabic", [
    ("Kadhimi", "الكاظمي"), ("Blinken", "بلينكن"), ("Sudani", "السوداني"), ("Panthers", "بانثرز"),
    ("Denver", "دنفر"), ("Tesla", "تسلا"), ("Hussein", "حسين"), ("Mustafa", "مصطفى"),
])
def test_a_name_and_its_arabic_spelling_share_a_skeleton(english, arabic) -> None:
    bare = arabic[2:] if arabic.startswith("ال") else arabic
    assert english_skeleton(english) == arabic_skeleton(bare)


def _seed_texts() -> list[str]:
    return [d.text for d in load_documents(SEEDS)[0]]


def test_names_and_numbers_of_an_english_question_become_arabic_tokens() -> None:
    bridge = EnglishBridge(_seed_texts(), use_dictionary=False)
    tokens = bridge.tokens("Did Mohammed Shia al-Sudani meet Blinken in 2024?")
    for arabic in ("السوداني", "بلينكن"):
        assert set(tokenize(arabic)) <= set(tokens), arabic
    assert "2024" in tokens


@pytest.mark.skipif(not HAS_FREEDICT, reason="dict-freedict-eng-ara not installed (optional)")
def test_content_words_get_their_dictionary_equivalents() -> None:
    bridge = EnglishBridge(_seed_texts(), use_names=False)
    assert set(tokenize("الجيش")) <= set(bridge.tokens("How large is the army?"))


def test_without_the_dictionary_the_bridge_still_works(tmp_path: Path) -> None:
    assert not FreeDict((tmp_path / "missing",))
    bridge = EnglishBridge(_seed_texts())
    bridge.dictionary = FreeDict((tmp_path / "missing",))
    assert set(tokenize("بلينكن")) <= set(bridge.tokens("What did Blinken say?"))


def test_an_english_question_reaches_the_arabic_passage_through_bm25() -> None:
    docs = load_documents(SEEDS)[0]
    chunks = [c for d in docs for c in Chunker(220).chunk(d)]
    emb = HashEmbedder()  # meaningless across languages: only the lexical route can find it
    vectors = emb.embed([c.text for c in chunks], "document")
    store = IndexStore(Path("."), Manifest(1, emb.name, emb.fingerprint, emb.dim, "flat", {}, {}), chunks, vectors, faiss_index(vectors, "flat"))
    question = "What did the military expert Ayad al-Tufan say about the talks?"
    with_bridge = Retriever(store, emb, bridge=("names", "dictionary")).search(question, top_k=1, mode="bm25")
    assert with_bridge and "الطوفان" in with_bridge[0].text
    assert not Retriever(store, emb, bridge=()).search(question, top_k=1, mode="bm25")
    assert Retriever(store, emb).bridge == ("dictionary",)  # the shipped route
