"""Remove web-page chrome from scraped articles, keeping every real article body.

General rules, not per-site lists; every removed line is reported with the rule that
removed it (``clean_page(raw).removed``) and the facts it carried that the kept text lacks:

* ``head/tail``: short lines (masthead, names, breadcrumbs, section labels, widgets) before
  the first and after the last body paragraph;
* ``dateline`` ("بغداد اليوم - بغداد") and ``byline`` ("أنس البار |") anywhere;
* ``label``: label lines ("كلمات دلالية: …", "Tags: …");
* ``repeat``: a line printed again — an image caption printed twice in a row keeps its
  first copy (a caption is content), a headline shown again later keeps its first copy;
* ``related list``: a trailing list of headlines ("مقالات مشابهة" and the bullets under it);
* ``read-also``: the "إقرأ أيضاً" marker; the article under it, when it has a headline and
  body paragraphs of its own, becomes a separate article (``clean_page(raw).articles[1:]``).

The short-line rules (``head/tail``, ``dateline``, ``byline``) never remove a line carrying
a number or a date that the kept text lacks: such a line stays.

Example::

    >>> title, text, removed = clean_text("رئيس مجلس الإدارة\\n\\nنص المقال الطويل ...")
    >>> page = clean_page(raw); [a.title for a in page.articles], [(r.rule, r.line) for r in page.removed]
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from index.arabic import fold

SENTENCE_END = (".", "!", "?", "؟", "؛", ":", "…", '"', "»", ")")
BULLET = re.compile(r"^\s*[•·▪►◦*\-–]\s+")
LABEL = re.compile(r"^(كلمات دلالية|الكلمات المفتاحية|كلمات مفتاحية|الوسوم|وسوم|مواضيع|Tags|Keywords|Topics)\s*[:：]", re.IGNORECASE)
DATELINE = re.compile(r"^[^.؟?!:]{1,40}\s[-–—]\s+[^.؟?!:]{1,25}$")
BYLINE = re.compile(r"^\s*\|.*|.*\|\s*$")
READ_ALSO = re.compile(r"^\s*(?:[إا]قر[أا]\s+(?:[أا]يض[اً]+|المزيد)|Read\s+(?:also|more)|See\s+also)\s*[:：]?\s*$", re.IGNORECASE)
HEADLINE_TAG = re.compile(r"\s+[-–—|]\s*(?:عاجل|خاص|فيديو|صور|Breaking|Exclusive)\s*$", re.IGNORECASE)
SHORT_WORDS = 6  # a line of at most this many words is "short" (navigation, widget, label)
LIST_HEADING_WORDS = 4
HEURISTIC_RULES = ("head/tail", "dateline", "byline")  # rules that may not remove an unseen number or date

MONTHS = frozenset("""
يناير فبراير مارس ابريل مايو يونيو يوليو اغسطس سبتمبر اكتوبر نوفمبر ديسمبر
كانون شباط اذار نيسان ايار حزيران تموز اب ايلول تشرين
january february march april may june july august september october november december
""".split())
_PREFIXES = ("وبال", "وال", "بال", "كال", "فال", "لل", "ال", "و", "ب", "ل")


@dataclass(frozen=True)
class Removed:
    """One line the cleaner dropped, the rule that dropped it, and what it carried that the
    kept text lacks (numbers, month names, words that appear nowhere in the kept text)."""

    line: str
    rule: str
    facts: tuple[str, ...] = ()

    @property
    def numbers_or_dates(self) -> tuple[str, ...]:
        return tuple(f for f in self.facts if f.isdigit() or f in MONTHS)


@dataclass(frozen=True)
class Article:
    title: str
    text: str


@dataclass
class CleanPage:
    """``articles[0]`` is the page's own article; any more are articles embedded under "إقرأ أيضاً"."""

    articles: list[Article]
    removed: list[Removed] = field(default_factory=list)


def normalize(raw: str) -> str:
    """Unicode NFC, LF line ends, no BOM, non-breaking and zero-width spaces made plain, lines stripped."""
    text = unicodedata.normalize("NFC", raw.lstrip("\ufeff"))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[\u00a0\u2007\u202f]", " ", text)
    text = re.sub(r"[\u200b\u200e\u200f\ufeff]", "", text)
    return "\n".join(re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n"))


def _words(line: str) -> int:
    return len(line.split())


def _is_body(line: str) -> bool:
    """A paragraph of running text, as opposed to a headline, label or widget."""
    n = _words(line)
    return n >= 25 or (n >= 12 and line.endswith(SENTENCE_END))


def _is_list_item(line: str) -> bool:
    return bool(line) and _words(line) < 40 and (bool(BULLET.match(line)) or not line.endswith(SENTENCE_END))


def _stem(word: str) -> str:
    return next((word[len(p):] for p in _PREFIXES if word.startswith(p) and len(word) - len(p) >= 3), word)


def _unseen_facts(line: str, kept_folded: str) -> tuple[str, ...]:
    """Numbers, month names and words of ``line`` that the kept text does not contain (a word
    counts as present when a kept word has its stem, or starts with a stem of 4+ letters)."""
    kept_words = set(re.findall(r"\w+", kept_folded))
    kept_stems = {_stem(w) for w in kept_words}
    out = []
    for word in re.findall(r"\w+", fold(line)):
        if word.isdigit():
            found = word in kept_words
        else:
            stem = _stem(word)
            if len(stem) < 3 and word not in MONTHS:
                continue
            found = stem in kept_stems or (len(stem) >= 4 and any(k.startswith(stem) for k in kept_stems))
        if not found and word not in out:
            out.append(word)
    return tuple(out)


def _trailing_headline_list(lines: list[str]) -> set[int]:
    """Indices of a trailing list of headlines: 3+ adjacent list-like lines with only
    short lines (or other such lists) after them, plus the short heading above them."""
    drop: set[int] = set()
    i = len(lines) - 1
    while i >= 0:
        if not lines[i] or (i not in drop and _words(lines[i]) <= SHORT_WORDS and not BULLET.match(lines[i])):
            i -= 1
            continue
        j = i
        while j >= 0 and _is_list_item(lines[j]):
            j -= 1
        if i - j < 3:
            break
        drop.update(range(j + 1, i + 1))
        k = j
        while k >= 0 and not lines[k]:
            k -= 1
        if k >= 0 and _words(lines[k]) <= LIST_HEADING_WORDS:
            drop.add(k)
        i = k - 1
    return drop


def _has_unseen_number(line: str, lines: list[str], drop: dict[int, str], i: int) -> bool:
    """Whether ``line`` carries a number or a date that no line kept so far carries."""
    if not re.search(r"\d", fold(line)) and not (set(re.findall(r"\w+", fold(line))) & MONTHS):
        return False
    kept = fold("\n".join(l for j, l in enumerate(lines) if l and j != i and j not in drop))
    return any(f.isdigit() or f in MONTHS for f in _unseen_facts(line, kept))


def clean_page(raw: str) -> CleanPage:
    """Clean one page: its article(s), and every removed line with its rule (see the module doc)."""
    lines = normalize(raw).split("\n")
    drop: dict[int, str] = {i: "related list" for i in _trailing_headline_list(lines)}
    body = [i for i, line in enumerate(lines) if line and i not in drop and _is_body(line)]
    first_body = body[0] if body else len(lines)
    last_body = body[-1] if body else len(lines) - 1

    seen: dict[str, int] = {}
    counts: dict[str, int] = {}
    for i, line in enumerate(lines):
        if not line:
            continue
        counts[line] = counts.get(line, 0) + 1
        if line in seen and i not in drop:
            drop[i] = "repeat"  # a caption printed twice under its image, or a headline shown again
        seen.setdefault(line, i)

    for i, line in enumerate(lines):
        if not line or i in drop:
            continue
        short = _words(line) <= SHORT_WORDS
        if LABEL.match(line):
            drop[i] = "label"
        elif READ_ALSO.match(line):
            drop[i] = "read-also"
        elif (i < first_body or i > last_body) and short:
            drop[i] = "head/tail"
        elif short and BYLINE.match(line):
            drop[i] = "byline"
        elif short and DATELINE.match(line):
            drop[i] = "dateline"
    dated: set[int] = set()
    for i in [i for i, rule in drop.items() if rule in HEURISTIC_RULES]:
        if _has_unseen_number(lines[i], lines, drop, i):
            del drop[i]  # a date or a number is content, wherever it stands
            dated.add(i)

    if not any(i < first_body for i in range(len(lines)) if lines[i] and i not in drop and i not in dated):
        rescued = _short_headline(lines, first_body, drop)
        if rescued is not None:
            del drop[rescued]

    kept = [(i, line) for i, line in enumerate(lines) if line and i not in drop]
    kept_folded = fold("\n".join(line for _, line in kept))
    removed = [Removed(line, drop[i], _unseen_facts(line, kept_folded)) for i, line in enumerate(lines) if line and i in drop]

    head = [line for i, line in kept if i < first_body and i not in dated]
    repeated = [line for line in head if counts.get(line, 0) > 1]
    if repeated:
        title = repeated[0]
    elif head:
        title = head[0]
    else:
        title = _first_words(kept[0][1]) if kept else ""
    articles = []
    for n, part in enumerate(_split_embedded(lines, kept, drop)):
        text = "\n".join(line for _, line in part)
        if n == 0:
            articles.append(Article(title.lstrip("# ").strip(), text))
        else:
            articles.append(Article(HEADLINE_TAG.sub("", part[0][1]).lstrip("# ").strip(), text))
    return CleanPage(articles or [Article(title.lstrip("# ").strip(), "")], removed)


def _split_embedded(lines: list[str], kept: list[tuple[int, str]], drop: dict[int, str]) -> list[list[tuple[int, str]]]:
    """The kept lines cut at each "إقرأ أيضاً" marker followed by a headline and body paragraphs
    (an embedded article); a marker followed by anything else cuts nothing."""
    cuts = []
    for i, rule in sorted(drop.items()):
        if rule != "read-also":
            continue
        after = [(j, line) for j, line in kept if j > i]
        nxt = [j for j in sorted(drop) if drop[j] == "read-also" and j > i]
        if nxt:
            after = [(j, line) for j, line in after if j < nxt[0]]
        if len(after) >= 2 and not _is_body(after[0][1]) and sum(_is_body(line) for _, line in after[1:]) >= 2:
            cuts.append(i)
    parts, start = [], -1
    for cut in cuts + [len(lines)]:
        part = [(j, line) for j, line in kept if start < j < cut]
        if part:
            parts.append(part)
        start = cut
    return parts


def clean_text(raw: str) -> tuple[str, str, list[str]]:
    """Clean one page. Returns ``(title, cleaned_text, removed_lines)``; the text holds all the
    page's articles (``clean_page`` gives them apart, with the rule behind each removed line).

    The cleaned text keeps one article line per line; the title is the headline
    (a line the page repeats, or the first headline-like line), or the start of the
    first sentence when the page has no headline.
    """
    page = clean_page(raw)
    text = "\n".join(a.text for a in page.articles if a.text)
    return page.articles[0].title, text, [r.line for r in page.removed]


def _short_headline(lines: list[str], first_body: int, drop: dict[int, str]) -> int | None:
    """The longest short head line (3+ words, not a dateline/byline/label): a brief headline."""
    best = None
    for i in range(first_body):
        line = lines[i]
        if not line or i not in drop or _words(line) < 3 or LABEL.match(line) or BYLINE.match(line) or DATELINE.match(line):
            continue
        if sum(1 for j in range(first_body) if lines[j] == line) > 1 and i != lines.index(line):
            continue
        if best is None or _words(line) > _words(lines[best]):
            best = i
    return best


def _first_words(line: str, limit: int = 12) -> str:
    first = re.split(r"(?<=[.!?؟])\s", line, maxsplit=1)[0]
    words = first.split()
    return " ".join(words[:limit]) + ("…" if len(words) > limit else "")
