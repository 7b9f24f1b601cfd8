"""The hybrid ranking's first passages re-ordered by their best sentence (rag.retrieval, issue 13):
a passage with one sentence that is the question beats a passage that matches it only as a whole.
Fast: a bag-of-words embedder stands in for the model (XQuAD figures: README, "Retrieval")."""
from __future__ import annotations

import hashlib
import re

import numpy as np

from index.build import build_index
from index.settings import IndexSettings
from index.store import IndexStore
from index.types import Document, sha256_text
from rag.retrieval import Retriever

QUESTION = "where did the ministers meet"
# every sentence holds two of the question's words: close as a whole, no sentence close on its own
SPREAD = "the ministers zulu. did meet yankee. where often xray."
# one sentence is the question, among unrelated ones: further as a whole
ONE_SENTENCE = "where did the ministers meet. alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo."


class BagOfWords:
    name, fingerprint, dim = "bag", "bag-v1", 1024

    def embed(self, texts, kind, titles=None):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def indexed(tmp_path, texts: dict[str, str]) -> tuple[IndexStore, BagOfWords]:
    """``texts`` (doc id → text) indexed with the bag-of-words embedder: the store and the embedder."""
    docs = [Document(k, k, "test", t, sha256_text(t)) for k, t in texts.items()]
    emb = BagOfWords()
    build_index(tmp_path, IndexSettings(home=tmp_path / "home", index_dir=tmp_path / "index"), emb, documents=docs)
    return IndexStore.load(tmp_path / "index"), emb


def test_the_passage_holding_the_questions_sentence_comes_first(tmp_path) -> None:
    store, emb = indexed(tmp_path, {"spread": SPREAD, "one": ONE_SENTENCE})
    retriever = Retriever(store, emb)
    plain = retriever.search(QUESTION, top_k=2, mode="hybrid-passages")
    assert [p.doc_id for p in plain] == ["spread", "one"] and plain[0].dense_score > plain[1].dense_score
    ranked = retriever.search(QUESTION, top_k=2, mode="hybrid")
    assert [p.doc_id for p in ranked] == ["one", "spread"] and [p.rank for p in ranked] == [1, 2]
    assert {p.doc_id: p.score for p in ranked} == {p.doc_id: p.score for p in plain}  # scores stay the fused ones
    off = Retriever(store, emb, sentence_weight=0.0)
    assert [p.doc_id for p in off.search(QUESTION, top_k=2)] == ["spread", "one"]


# Arabic: one sentence holds the question's rare words in other forms (ويتناول, ملفات), which a bag of
# whole words does not see; the other shares only common words with it
WORDS_QUESTION = "ما الملفات التي يتناولها الحوار"
COMMON_WORDS = "جرى الحوار التي ما تحدثنا عنها أمس. وانتهى اللقاء مساء"
RARE_WORDS = "ويتناول الحوار ملفات عدة منها الأمن. وانتهى اللقاء مساء"


def test_a_sentence_holding_the_questions_words_lifts_its_passage(tmp_path) -> None:
    store, emb = indexed(tmp_path, {"common": COMMON_WORDS, "rare": RARE_WORDS})
    cosine_only = Retriever(store, emb, sentence_lexical_weight={"ar": 0.0})
    assert [p.doc_id for p in cosine_only.search(WORDS_QUESTION, top_k=2)] == ["common", "rare"]
    with_words = Retriever(store, emb, sentence_lexical_weight={"ar": 2.0})
    ranked = with_words.search(WORDS_QUESTION, top_k=2)
    assert [p.doc_id for p in ranked] == ["rare", "common"] and [p.rank for p in ranked] == [1, 2]


# English, no dictionary: the question's words do not reach the Arabic text, only its numbers would, and one
# year must not weigh as much as all its words
YEAR_QUESTION = "what happened at the meeting in 2009"
CLOSE = "what happened at the meeting was long. nothing else was said today."
YEAR_ONLY = "rain fell in 2009 over the city. alpha bravo charlie delta echo."


def test_english_without_the_dictionary_gets_no_word_share(tmp_path) -> None:
    store, emb = indexed(tmp_path, {"close": CLOSE, "year": YEAR_ONLY})
    retriever = Retriever(store, emb, sentence_lexical_weight={"en": 5.0})
    retriever._has_dictionary = lambda query: False  # as on a machine without dict-freedict-eng-ara
    assert retriever.question_terms(YEAR_QUESTION)[-1] == "2009"
    assert [p.doc_id for p in retriever.search(YEAR_QUESTION, top_k=2)] == ["close", "year"]
    with_dictionary = Retriever(store, emb, sentence_lexical_weight={"en": 5.0})
    with_dictionary._has_dictionary = lambda query: True  # the year alone is then a share of the words
    assert [p.doc_id for p in with_dictionary.search(YEAR_QUESTION, top_k=2)][0] == "year"
