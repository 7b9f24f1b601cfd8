"""Arabic-aware lexical retrieval: normalisation, stopwords, light stemming, BM25 (bm25s).

The same pipeline runs over passages and queries; the raw text is kept for display.

Example::

    >>> tokenize("وأكدت الولايات المتحدة الأمريكية")
    ['اكد', 'ولاي', 'متحد', 'امريك']
"""
from __future__ import annotations

import logging
import math
import re
from functools import lru_cache

import numpy as np

_DIACRITICS = re.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_TRANSLATE = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ـ": None, "ی": "ي", "ک": "ك",
     **{chr(0x0660 + d): str(d) for d in range(10)}, **{chr(0x06F0 + d): str(d) for d in range(10)}}
)
_TOKEN = re.compile(r"[\w]+", re.UNICODE)

# Common Arabic function words (normalised spelling) and English ones.
STOPWORDS = frozenset(
    """
    في من على الى عن مع ان او ثم حتى اذا لكن بل قد لقد لم لن ما ماذا متي اين كيف كم هل لماذا اي
    هذا هذه ذلك تلك هو هي هم هن انا نحن انت انتم الذي التي الذين اللذين اللتين كان كانت يكون تكون
    كل بعض غير بين عند عندما بعد قبل حيث حول خلال منذ دون ضد لدي لا نعم كما وقد وان وفي ومن وعلى
    الا ايضا به بها له لها لهم فيه فيها منه منها عليه عليها اليه اليها التى الي علي هناك هنا وهو وهي
    the a an of in on at to for from by with and or is are was were be been has have had do does did
    what which who whom whose when where why how that this these those it its as about into than
    """.split()
)


def normalize_arabic(text: str) -> str:
    """Strip diacritics and tatweel, unify alef/ya/ta-marbuta forms, ASCII digits, lower-case Latin."""
    return _DIACRITICS.sub("", text).translate(_TRANSLATE).lower()


@lru_cache(maxsize=1)
def _stemmers():
    import Stemmer

    return Stemmer.Stemmer("arabic"), Stemmer.Stemmer("english")


def tokenize(text: str, stem: bool = True) -> list[str]:
    """Normalised, stopword-free, light-stemmed tokens (Snowball Arabic/English stemmers).

    The stemmer sees the word before letter unification (it needs ة and أ to find
    affixes); its output is normalised afterwards so both sides meet in one spelling.
    """
    ar, en = _stemmers()
    out = []
    for word in _TOKEN.findall(_DIACRITICS.sub("", text).replace("ـ", "")):
        norm = normalize_arabic(word)
        if norm in STOPWORDS:
            continue
        if stem:
            if not word.isascii():
                word = _strip_prefix(word)
            norm = normalize_arabic((en if word.isascii() else ar).stemWord(word.lower()))
        if norm and norm not in STOPWORDS:
            out.append(norm)
    return out


def idf_shares(words: set[str], token_sets: list[set[str]]) -> list[float]:
    """For each set, the share of ``words``' weight it holds, a word weighing more the fewer sets
    have it (a rare ملفات says more than a common الحوار); zeros when ``words`` is empty."""
    idf = {w: math.log(1 + len(token_sets) / (1 + sum(w in t for t in token_sets))) for w in words}
    total = sum(idf.values()) or 1.0
    return [sum(idf[w] for w in words & t) / total for t in token_sets]


_PREFIXES = ("وبال", "وكال", "وال", "بال", "كال", "فال", "ولل", "لل", "ال")


def _strip_prefix(word: str) -> str:
    """Drop a conjunction/preposition + article prefix (light10-style) the stemmer leaves on."""
    for prefix in _PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 3:
            return word[len(prefix):]
    return word


class BM25Index:
    """BM25 over a fixed list of passages."""

    def __init__(self, texts: list[str], stem: bool = True) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
        self.stem = stem
        self.size = len(texts)
        self._bm25 = bm25s.BM25()
        corpus = [tokenize(t, stem) or ["∅"] for t in texts]
        self._bm25.index(corpus, show_progress=False)
        self._vocab = self._bm25.vocab_dict

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for ``query`` (zeros when no query term is known)."""
        ids = [self._vocab[t] for t in tokenize(query, self.stem) if t in self._vocab]
        if not ids or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(ids), dtype=np.float32)
