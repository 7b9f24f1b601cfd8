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
from pathlib import Path

import numpy as np

from index.arabic import TATWEEL, fold, strip_diacritics

log = logging.getLogger(__name__)

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
    return fold(text)


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
    for word in _TOKEN.findall(strip_diacritics(text).replace(TATWEEL, "")):
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

    def scores(self, query: str, extra_tokens: list[str] | None = None) -> np.ndarray:
        """BM25 score of every passage for ``query`` (zeros when no query term is known), plus
        ``extra_tokens`` (already tokenized: an English question's Arabic equivalents)."""
        ids = [self._vocab[t] for t in tokenize(query, self.stem) + list(extra_tokens or ()) if t in self._vocab]
        if not ids or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(ids), dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# English questions over Arabic text: a second, LLM-free route into the lexical index.
#
# * names and other capitalised words are matched by their consonant skeleton: "Kadhimi" and
#   "الكاظمي" both read k-d-m, "Blinken" and "بلينكن" b-l-n-k-n (vowels, w/y, ع and ء dropped;
#   letters English and Arabic transliteration confuse share a class: p/b, v/f, z/s, j/g, q/k);
# * other content words get their Arabic equivalents from the FreeDict English→Arabic word list
#   (Debian package dict-freedict-eng-ara, optional: without it only names and numbers bridge);
# * numbers are shared as they are (Arabic-Indic digits are normalised to ASCII).
# ---------------------------------------------------------------------------------------------

FREEDICT_PATHS = (Path("/usr/share/dictd/freedict-eng-ara"),)
_AR_SKELETON = str.maketrans({
    "ب": "b", "پ": "b", "ت": "t", "ث": "t", "ط": "t", "ج": "g", "غ": "g", "گ": "g", "ح": "h", "ه": "h",
    "خ": "k", "ك": "k", "ق": "k", "د": "d", "ذ": "d", "ض": "d", "ظ": "d", "ر": "r", "ز": "s", "س": "s",
    "ص": "s", "ش": "s", "ف": "f", "ڤ": "f", "ل": "l", "م": "m", "ن": "n",
    **{c: None for c in "اأإآٱءؤئىيوةعـ"},
})
_EN_DIGRAPHS = (("sch", "s"), ("tch", "s"), ("ch", "s"), ("sh", "s"), ("th", "t"), ("dh", "d"), ("kh", "k"),
                ("gh", "g"), ("ph", "f"), ("ck", "k"), ("qu", "k"), ("x", "ks"))
_EN_SKELETON = str.maketrans({"p": "b", "v": "f", "z": "s", "j": "g", "q": "k", "c": "k",
                              **{c: None for c in "aeiouyw'"}})
MIN_SKELETON = 3  # shorter skeletons (two consonants) match too many unrelated words
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*|\d+(?:[.,]\d+)?")


def _collapse(s: str) -> str:
    return re.sub(r"(.)\1+", r"\1", s)


def arabic_skeleton(word: str) -> str:
    """Consonant skeleton of an Arabic word (diacritics, long vowels, ع and ء dropped)."""
    return _collapse(strip_diacritics(word).translate(_AR_SKELETON))


def english_skeleton(word: str) -> str:
    """Consonant skeleton of a Latin-script name, in the classes of ``arabic_skeleton``."""
    w = word.lower().replace("-", "").replace("'", "")
    w = re.sub(r"c(?=[eiy])", "s", w)
    for a, b in _EN_DIGRAPHS:
        w = w.replace(a, b)
    return _collapse(w.translate(_EN_SKELETON))


class FreeDict:
    """English headword (lower case) → Arabic equivalents, read on demand from FreeDict's eng-ara
    dictd files (``apt-get install dict-freedict-eng-ara``); empty when they are not installed."""

    def __init__(self, paths: tuple[Path, ...] = FREEDICT_PATHS) -> None:
        import gzip

        self._blob = b""
        self._index: dict[str, list[tuple[int, int]]] = {}
        for base in paths:
            index, data = base.with_suffix(".index"), base.with_suffix(".dict.dz")
            if not (index.exists() and data.exists()):
                continue
            try:
                self._blob = gzip.open(data).read()
                for line in index.read_text(encoding="utf-8").splitlines():
                    head, off, size = line.split("\t")
                    if not head.startswith("00database"):
                        self._index.setdefault(head.lower(), []).append((_b64(off), _b64(size)))
                log.info("FreeDict eng-ara: %d headwords", len(self._index))
                return
            except (OSError, ValueError, EOFError) as exc:
                log.warning("FreeDict eng-ara at %s unreadable (%s); English words are not translated", base, exc)
                self._index = {}

    def __bool__(self) -> bool:
        return bool(self._index)

    def __contains__(self, word: str) -> bool:
        return word in self._index

    @lru_cache(maxsize=4096)
    def __getitem__(self, word: str) -> tuple[str, ...]:
        out: list[str] = []
        for a, size in self._index.get(word, ()):
            for part in self._blob[a:a + size].decode("utf-8", "replace").split("\n")[1:]:
                out.extend(t.strip() for t in re.split(r"[,;،؛]", part) if t.strip() and not t.strip().isascii())
        return tuple(dict.fromkeys(out))


@lru_cache(maxsize=1)
def english_arabic_dictionary() -> FreeDict:
    """The FreeDict English→Arabic word list, loaded once."""
    return FreeDict()


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64(s: str) -> int:
    n = 0
    for ch in s:
        n = n * 64 + _B64.index(ch)
    return n


def _lemmas(word: str) -> list[str]:
    """The word and its likely dictionary forms (plural, past, gerund, adverb stripped)."""
    out = [word]
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ied", "y"), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"), ("ly", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.append(word[: -len(suffix)] + repl)
    return out


class EnglishBridge:
    """Arabic lexical tokens for an English question, from the corpus it will be searched in.

    ``names`` maps consonant skeletons of the corpus's Arabic words to their BM25 tokens;
    ``tokens(question)`` gives the question's numbers, its names' transliteration matches and
    its content words' dictionary equivalents, each as BM25 tokens of that corpus.
    """

    def __init__(self, texts: list[str], use_dictionary: bool = True, use_names: bool = True, stem: bool = True) -> None:
        self.stem = stem
        self.use_dictionary, self.use_names = use_dictionary, use_names
        self.names: dict[str, set[str]] = {}
        if use_names:
            words = {w for t in texts for w in _TOKEN.findall(t) if not w.isascii()}
            for w in words:
                toks = tokenize(w, stem)
                if not toks:
                    continue
                for variant in {w, _strip_prefix(w), w[1:] if w[:1] in "وبلف" and len(w) > 4 else w}:
                    sk = arabic_skeleton(variant)
                    if len(sk) >= MIN_SKELETON:
                        self.names.setdefault(sk, set()).update(toks)
        self.dictionary = english_arabic_dictionary() if use_dictionary else {}

    def tokens(self, question: str) -> list[str]:
        words = _EN_WORD.findall(question)
        out: list[str] = []
        for i, word in enumerate(words):
            low = word.lower()
            if word[0].isdigit():
                out.append(normalize_arabic(word))
                continue
            if low in STOPWORDS or len(low) < 3:
                continue
            translated = False
            if self.dictionary:
                for lemma in _lemmas(low):
                    if lemma in self.dictionary:
                        for ar in self.dictionary[lemma][:3]:
                            out.extend(tokenize(ar, self.stem))
                        translated = True
                        break
            if self.use_names and (word[0].isupper() or not translated):
                for form in {low, re.sub(r"^(?:al|el|ad|as|an|ar)-", "", low)}:
                    out.extend(sorted(self.names.get(english_skeleton(form), ())))
        return out
