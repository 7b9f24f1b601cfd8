"""Every threshold of the answering library, named once, with where its value comes from.

Settings a user may change per deployment (``min_score``, ``overrule_refusal_score``) live in
``Settings``; these are the constants the checks and the sentence selector are built around.
Change one here and rerun ``rag eval answers`` and ``rag eval xquad --answers``.
"""
from __future__ import annotations

# How many passages a request may ask for (rag.questions.check_top_k, the API schema, the top_k setting's range)
MAX_TOP_K_ANSWER = 20  # ask(): each passage costs prompt tokens and selection time
MAX_TOP_K_SEARCH = 50  # search(): passages only

# Sentence selection (rag.extractive)
LEXICAL_PICK = 0.5  # share of the question's IDF-weighted words a sentence must hold to be picked for them
SELECT_LEXICAL_BONUS = 0.3  # weight of that word share in a sentence's score (Arabic questions)
SELECT_PASSAGE_BONUS = 0.03  # weight of the passage's retrieval score in a sentence's score
EXTRACTIVE_MARGIN = 0.12  # extractive answers quote sentences within this of the best one
# Evidence sentences an answer is built on, per reader language. English: 3, with the question's words bridged
# to Arabic for the word-share bonus; on 150 held-out XQuAD questions the evidence then holds the gold answer
# 0.853 (1.45 sentences each) against 0.827 (1.38) with 2 and no bridge. Arabic: 3 only adds 0.007 (bench/bench_evidence.py).
EVIDENCE_SENTENCES = {"ar": 2, "en": 3}
EVIDENCE_MARGIN = 0.08  # a further evidence sentence must score within this of the best one

# Citation checks (rag.checks)
MIN_MISSING_CITATION_OVERLAP = 0.35  # an uncited sentence is cited by the passage holding this share of its words
RECITE_WORD_SHARE = 0.6  # an Arabic sentence holding this share of one passage's rare words was taken from it…
RECITE_WORD_RATIO = 0.6  # …when the passages it cites hold less than this ratio of that
RECITE_MEANING = 0.5  # an English sentence this close (cosine) to another passage…
RECITE_MEANING_GAP = 0.15  # …and this much closer than to the cited one is re-cited
MIN_SUPPORT = 0.42  # an English answer sentence this far (cosine) from every passage sentence is flagged
NAME_MATCH = 0.6  # an English name this close (cosine) to an Arabic word or word pair of the cited sentence renders it
MIN_TRANSLATION_SIMILARITY = 0.55  # a machine translation this far (cosine) from its Arabic sentence is flagged

# Refusal (rag.answerability); the floor under which nothing counts is the ``min_score`` setting (0.30).
# Calibrated on 300 held-out XQuAD questions per language and their context-removed negatives
# (bench/bench_answerability.py, bench/results/answerability.json).
ANSWER_ABOVE = 0.45  # a best passage this close (cosine) is clearly about the question
MIN_COVERAGE = {"ar": 0.30, "en": 0.10}  # under ANSWER_ABOVE, the best passages must hold this share of the question's
# words (IDF-weighted); lower for English, whose words reach the Arabic text only through the dictionary bridge
COVERAGE_PASSAGES = 3  # how many of the best passages count for that share

# Retrieval: the hybrid ranking's first passages re-ordered by their best sentence (rag.retrieval). A question
# usually matches one sentence of its paragraph; a neighbouring paragraph on the same topic matches the whole
# passage about as well. XQuAD R@1 ar→ar 0.946 → 0.952, en→ar 0.926 → 0.945 at 1.0 (0.25 / 0.5 / 2.0 gave less;
# bench/results/sentence_rerank.json). The sentence vectors are the ones ask() embeds for its evidence anyway.
SENTENCE_RERANK_WEIGHT = 1.0  # order = fused score + this × the best sentence's cosine to the question
SENTENCE_RERANK_DEPTH = 5  # how many of the first passages are re-ordered
# …+ this × the largest share of the question's words one of a passage's sentences holds (IDF over those sentences;
# an English question's words through the dictionary bridge). Chosen on XQuAD by fitting on one half of the questions
# and scoring on the other, both ways (bench/bench_retrieval.py --sentence-words, bench/results/sentence_words.json).
SENTENCE_LEXICAL_WEIGHT = {"ar": 0.4, "en": 0.1}
