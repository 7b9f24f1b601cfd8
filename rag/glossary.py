"""Bilingual names: the glossary of general news names (``rag/data/glossary.tsv``) and name romanisation.

A 1.5B model translating one Arabic sentence misreads names (السوداني → "Sheikani",
البيشمركة → "Kurdish Border Guard"). The application writes the English form of every
glossary name into the sentence before the model sees it, and afterwards checks that
each name of the English text corresponds to something in the Arabic one: a glossary
entry, Latin text already in the sentence, or a word whose romanisation
(``arabic-name-romanizer``) sounds like it.

Example::

    >>> [english for _, _, english in spelled_spans("التقى السوداني قادة البيشمركة في بغداد")]
    ['al-Sudani', 'Peshmerga']
    >>> unmatched_names("al-Sudani met Peshmerga leaders", "التقى السوداني قادة البيشمركة")
    []
"""
from __future__ import annotations

import bisect
import logging
import re
import threading
from functools import lru_cache
from importlib import resources

from index.arabic import ARABIC_WORD

log = logging.getLogger(__name__)
_PREFIX = r"(?:و|ف|ب|ل|وب|ول|فب|فل|ك)?"
_LATIN_NAME = re.compile(r"\b(?:[A-Z][a-zA-Z'’\-]+|[a-z]{1,3}-[A-Z][a-zA-Z\-]+)(?:\s+(?:[A-Z][a-zA-Z'’\-]+|of|al-[A-Z][a-z]+|bin|ibn))*")
# Capitalised words that are not names: sentence openers, titles, months, weekdays are checked elsewhere.
_NOT_NAMES = frozenset("""
the a an and but or in on at of for to by with from as after before during while since when where which who whom what why how
this that these those it its he she they we i you his her their our there here however also according meanwhile
mr mrs ms dr sheikh president minister prime foreign defense defence secretary general commander chief army forces
ministry ministers affairs council parliament speaker region government department committee office state states
interior finance security national republic federal court house senate agency forces
river lake sea ocean mountain mountains valley island islands park street road highway route bridge port bay period era age
war battle university college school institute museum gallery library church cathedral company party movement club stadium
hall center centre royal new north south east west northern southern eastern western city county province district empire
kingdom union association organization organisation corporation institution foundation society station airport
business energy development reform trade health education science technology research arts industry
january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday
""".split())


@lru_cache(maxsize=1)
def _rows() -> list[tuple[str, str, bool]]:
    """``(arabic form, english, spell out before translating)``, longest Arabic form first."""
    rows = []
    text = resources.files("rag").joinpath("data", "glossary.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        forms, english, *flag = line.split("\t")
        rows += [(form.strip(), english.strip(), flag == ["+"]) for form in forms.split(",") if form.strip()]
    return sorted(rows, key=lambda r: -len(r[0]))


def entries() -> list[tuple[str, str]]:
    """``(arabic form, english)`` pairs, longest Arabic form first."""
    return [(form, english) for form, english, _ in _rows()]


def _form_pattern(form: str) -> str:
    body = re.escape(form)
    if form.startswith("ال"):  # ل + ال → لل (للعراق)
        body = f"(?:{body}|لل{re.escape(form[2:])})"
    return rf"(?<![\w]){_PREFIX}{body}(?![\w])"


@lru_cache(maxsize=1)
def _matcher() -> tuple[re.Pattern, dict[str, tuple[str, str, bool]]]:
    rows = _rows()
    pattern = re.compile("|".join(f"(?P<g{i}>{_form_pattern(form)})" for i, (form, _, _) in enumerate(rows)))
    return pattern, {f"g{i}": row for i, row in enumerate(rows)}


def _matches(arabic: str) -> list[tuple[int, int, str, str, bool]]:
    """``(start, end, form, english, flag)``; the span includes a clitic before the form (وال…, لل…)."""
    pattern, by_group = _matcher()
    return [(m.start(), m.end(), *by_group[m.lastgroup]) for m in pattern.finditer(arabic)]


def found(arabic: str) -> list[tuple[int, int, str]]:
    """Glossary names in ``arabic``: ``(start, end, english)``, longest match first, no overlaps."""
    return [(a, b, english) for a, b, _, english, _ in _matches(arabic)]


def spelled_spans(arabic: str) -> list[tuple[int, int, str]]:
    """``(start, end, english)`` of each glossary form in ``arabic`` that a small model misreads (third
    column '+'), the clitic before it (و, ب, وال → و) left out of the span, as ``month_spans`` does."""
    # the form is matched as written or as لل + its stem (للعراق), the same length: what precedes it is the clitic
    spans = []
    for _, b, form, english, flag in _matches(arabic):
        if not flag:
            continue
        start = b - len(form)
        if form.startswith("ال") and arabic.startswith("لل", start):
            start += 1  # لل is ل ("to") + ال with its alif dropped: the ل is a clitic too
        spans.append((start, b, english))
    return spans


def _skeleton(word: str) -> str:
    """Consonant skeleton of a Latin word: vowel spellings of one Arabic name vary (Kadhimi/Kazemi)."""
    w = re.sub(r"^(al|el|ad|an|ar|as|at|az)[-\s]", "", word.lower())
    w = w.replace("dh", "z").replace("th", "s").replace("kh", "h").replace("gh", "g").replace("sh", "s").replace("ou", "u")
    w = re.sub(r"[^a-z]", "", w)
    w = w.translate(str.maketrans("qcjdk", "kkgzk"))
    return re.sub(r"(.)\1+", r"\1", re.sub(r"[aeiouyw]", "", w[:1]) + re.sub(r"[aeiouyw]", "", w[1:]) if w else "")


_lock = threading.Lock()


@lru_cache(maxsize=4096)
def romanize(arabic_word: str) -> str:
    """The likely Latin spelling of an Arabic name (``arabic-name-romanizer``), '' when unavailable."""
    try:
        from arabic_name_romanizer import transliterate
    except ImportError:  # optional: without it only the glossary and Latin text count
        return ""
    try:
        with _lock:  # its ONNX session is shared
            return str(transliterate(arabic_word))
    except Exception as exc:  # a name it cannot handle is not an error of the answer
        log.debug("romanizer failed on %r: %s", arabic_word, exc)
        return ""


def _close(a: str, b: str) -> bool:
    if not a or not b:
        return False
    if a == b or (min(len(a), len(b)) >= 3 and (a.startswith(b) or b.startswith(a))):
        return True
    from difflib import SequenceMatcher

    return SequenceMatcher(None, a, b).ratio() >= 0.75


def _arabic_skeletons(word: str) -> set[str]:
    """Consonant skeletons of an Arabic word without its clitics (و، ب، ل، ال) and adjective ending (ي، ية)."""
    from rag.lexical import arabic_skeleton

    stems = {word, re.sub(r"^(?:و|ف)?(?:ب|ل|ك)?(?:ال|ل)?", "", word)}
    stems |= {re.sub(r"(?:ية|ي|يون|يين)$", "", w) for w in stems}
    return {arabic_skeleton(w) for w in stems if w}


def _sounds_like(part: str, arabic_words: list[str]) -> bool:
    """An English name part transliterates one of the Arabic words: by consonant classes (ماساتشوستس ~
    Massachusetts, تشارلز ~ Charles), else by the Arabic-name romanizer (السوداني → al-Sudani)."""
    from rag.lexical import english_skeleton

    mine = english_skeleton(part)
    for w in arabic_words:
        for theirs in _arabic_skeletons(w):
            if mine == theirs or (min(len(mine), len(theirs)) >= 3 and _close(mine, theirs)):
                return True
    skel = _skeleton(part)
    return any(_close(skel, _skeleton(romanize(w))) for w in arabic_words)


def english_names(text: str) -> list[str]:
    """Capitalised names in English ``text`` (sentence openers and common title words left out)."""
    out = []
    for m in _LATIN_NAME.finditer(text):
        opener = not text[:m.start()].strip() or text[:m.start()].rstrip()[-1] in ".!?:;\"“(«"
        if opener and " " not in m.group(0).strip():
            continue  # "Military expert …": a capitalised sentence opener is an ordinary word as often as a name
        words = [w for w in re.split(r"\s+", m.group(0)) if w.lower().strip("'’") not in _NOT_NAMES and w not in ("of", "bin", "ibn")]
        if words:
            out.append(" ".join(words))
    return out


def unmatched_names(english: str, arabic: str, embedder=None) -> list[str]:
    """Names in ``english`` with nothing corresponding in ``arabic`` (glossary, Latin text, romanisation,
    and, given an ``embedder``, an Arabic word close in meaning: ماساتشوستس ~ Massachusetts 0.87, where
    wrong renderings score under 0.45: السوداني ~ "Sheikani" 0.38, البيشمركة ~ "Kurdish Border Guard" 0.17).

    ``unmatched_names("the Tunisian Revolution", "احتجاجات تشرين 2019")`` → ``['Tunisian Revolution']``.
    """
    glossary_en = set(re.findall(r"[a-z]+", " ".join(en for _, _, en in found(arabic)).lower()))
    latin = set(re.findall(r"[a-z]+", " ".join(re.findall(r"[A-Za-z][A-Za-z\-]+", arabic)).lower()))
    arabic_words = [w for w in ARABIC_WORD.findall(arabic)]
    out = []
    for name in english_names(english):
        parts = [p for p in (re.sub(r"['’]s$", "", w) for w in re.split(r"[\s\-]+", name))
                 if len(p) >= 3 and p.lower() not in _NOT_NAMES and p.lower() not in ("al", "el")]
        missing = []
        for part in parts:
            low = part.lower()
            if low in glossary_en or low in latin or any(_close(low[:len(g)], g) for g in glossary_en if len(g) >= 4):
                continue
            if _sounds_like(part, arabic_words):
                continue
            missing.append(part)
        # a name whose last distinctive word (the surname, the place) or half its words find no match
        if missing and (missing[-1] == parts[-1] or len(missing) * 2 >= len(parts)):
            if embedder is None or not _close_in_meaning(missing, arabic_words, embedder):
                out.append(name)
    return out


def _close_in_meaning(parts: list[str], arabic_words: list[str], embedder) -> bool:
    """Every unmatched word of a name means some Arabic word (or word pair) of the sentence to the
    multilingual embedder; word by word, so that a right first name cannot carry a wrong surname."""
    from rag.thresholds import NAME_MATCH

    pairs = [f"{a} {b}" for a, b in zip(arabic_words, arabic_words[1:])]
    candidates = list(dict.fromkeys(arabic_words + pairs))
    if not candidates:
        return False
    vectors = embedder.embed(list(parts) + candidates, "query")
    names, words = vectors[: len(parts)], vectors[len(parts):]
    return bool(((words @ names.T).max(axis=0) >= NAME_MATCH).all())


# A bare noun an article uses for a group it named before: in a piece that named داعش, "التنظيم" (the
# organisation) is ISIS, and a sentence translated on its own comes back "the organisation" (issue 12,
# dev d10). Each anaphor lists the names it can stand for (glossary forms, so ``prepare`` writes them in
# English); the one named last before it, within REFERENT_WINDOW characters before the sentence, replaces it.
ANAPHORS: dict[str, tuple[str, ...]] = {
    "التنظيم": ("داعش", "تنظيم داعش", "تنظيم الدولة", "الدولة الإسلامية", "تنظيم القاعدة", "حزب الله",
                "كتائب حزب الله", "حركة حماس"),  # not a bare حماس: بحماس is "with enthusiasm"
}
REFERENT_WINDOW = 6000  # about two pages of text: further back, the article has moved on
# "التنظيم" followed by one of these is still the group ("التنظيم الإرهابي", "التنظيم الذي يقوده…"); followed
# by another ال-word it is something else ("التنظيم الإداري", the administrative organisation)
_STILL_THE_GROUP = frozenset(("الإرهابي", "الارهابي", "المتطرف", "المسلح", "الذي", "التي", "الذين"))
_ANAPHOR = re.compile(rf"(?<![\w])(?P<clitic>(?:و|ف)?(?:ب|ل)?)(?P<word>{'|'.join(re.escape(a) for a in ANAPHORS)}"
                      rf"|لل(?:{'|'.join(re.escape(a[2:]) for a in ANAPHORS)}))(?![\w])")


@lru_cache(maxsize=None)
def _referents(anaphor: str) -> tuple[re.Pattern, tuple[str, ...]]:
    """One pattern for every name ``anaphor`` can stand for (longest first, clitics and لل allowed)."""
    names = tuple(sorted(ANAPHORS[anaphor], key=len, reverse=True))
    return re.compile("|".join(f"(?P<n{i}>{_form_pattern(n)})" for i, n in enumerate(names))), names


def has_anaphor(arabic: str) -> bool:
    """Whether ``arabic`` holds a bare group noun that ``resolve_references`` could replace (cheap)."""
    return _ANAPHOR.search(arabic) is not None


def resolve_references(sentence: str, before: str) -> str:
    """``sentence`` with each bare group noun replaced by the group named last before it (in ``before``,
    the article's text up to the sentence, or earlier in the sentence).

    >>> resolve_references("التهديد الذي يشكله التنظيم", "الهزيمة بداعش في العراق.")
    'التهديد الذي يشكله داعش'
    >>> resolve_references("إعادة التنظيم الإداري للوزارة", "الهزيمة بداعش.")
    'إعادة التنظيم الإداري للوزارة'
    """
    found = list(_ANAPHOR.finditer(sentence))
    if not found:
        return sentence
    context = before[-REFERENT_WINDOW:] + "\n"
    offset = len(context)
    context += sentence
    named: dict[str, tuple[list[int], list[str]]] = {}  # anaphor -> (ends, names) of the names in context, in order
    out, last = [], 0
    for m in found:
        word = m.group("word")
        anaphor = "ال" + word[2:] if word.startswith("لل") else word
        nxt = sentence[m.end():].split(maxsplit=1)
        if nxt and nxt[0].startswith("ال") and nxt[0].strip(".,،؛:!?؟\"'»«)(") not in _STILL_THE_GROUP:
            continue
        if anaphor not in named:  # one scan of the context per anaphor, however often it occurs
            pattern, names = _referents(anaphor)
            hits = [(h.end(), names[int(h.lastgroup[1:])]) for h in pattern.finditer(context)]
            named[anaphor] = ([e for e, _ in hits], [n for _, n in hits])
        ends, names = named[anaphor]
        k = bisect.bisect_right(ends, offset + m.start()) - 1  # the last name ending before this occurrence
        if k < 0:
            continue
        best = names[k]
        clitic = m.group("clitic") + ("ل" if word.startswith("لل") else "")
        if clitic.endswith("ل") and best.startswith("ال"):
            best = best[1:]  # ل + الدولة → للدولة: the alif drops
        out += [sentence[last:m.start()], clitic, best]
        last = m.end()
    return "".join(out) + sentence[last:]
