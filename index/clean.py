"""Remove web-page chrome from scraped articles, keeping every real article body.

General rules, not per-site lists:

* head/tail: short lines (masthead, names, breadcrumbs, section labels, widgets) before
  the first and after the last body paragraph;
* datelines ("بغداد اليوم - بغداد") and bylines ("أنس البار |") anywhere;
* label lines ("كلمات دلالية: …", "Tags: …");
* image captions: a line repeated verbatim on the next line (both copies go);
  a line repeated later (a headline shown twice) keeps its first copy;
* a trailing list of headlines ("مقالات مشابهة" and the bullets under it).

Example::

    >>> title, text, removed = clean_text("رئيس مجلس الإدارة\\n\\nنص المقال الطويل ...")
"""
from __future__ import annotations

import re
import unicodedata

SENTENCE_END = (".", "!", "?", "؟", "؛", ":", "…", '"', "»", ")")
BULLET = re.compile(r"^\s*[•·▪►◦*\-–]\s+")
LABEL = re.compile(r"^(كلمات دلالية|الكلمات المفتاحية|كلمات مفتاحية|الوسوم|وسوم|مواضيع|Tags|Keywords|Topics)\s*[:：]", re.IGNORECASE)
DATELINE = re.compile(r"^[^.؟?!:]{1,40}\s[-–—]\s+[^.؟?!:]{1,25}$")
BYLINE = re.compile(r"^\s*\|.*|.*\|\s*$")
SHORT_WORDS = 6  # a line of at most this many words is "short" (navigation, widget, label)
LIST_HEADING_WORDS = 4


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


def clean_text(raw: str) -> tuple[str, str, list[str]]:
    """Clean one article. Returns ``(title, cleaned_text, removed_lines)``.

    The cleaned text keeps one article line per line; the title is the headline
    (a line the page repeats, or the first headline-like line), or the start of the
    first sentence when the page has no headline.
    """
    lines = normalize(raw).split("\n")
    headline_list = _trailing_headline_list(lines)
    body = [i for i, line in enumerate(lines) if line and i not in headline_list and _is_body(line)]
    first_body = body[0] if body else len(lines)
    last_body = body[-1] if body else len(lines) - 1
    drop: set[int] = set(headline_list)

    seen: dict[str, int] = {}
    counts: dict[str, int] = {}
    prev = -1
    for i, line in enumerate(lines):
        if not line:
            continue
        counts[line] = counts.get(line, 0) + 1
        if prev >= 0 and lines[prev] == line and _words(line) >= 5:
            drop.update((prev, i))  # caption under an image, printed twice
        elif line in seen:
            drop.add(i)
        seen.setdefault(line, i)
        prev = i

    for i, line in enumerate(lines):
        if not line or i in drop:
            continue
        short = _words(line) <= SHORT_WORDS
        if (i < first_body or i > last_body) and short:
            drop.add(i)
        elif LABEL.match(line) or (short and (BYLINE.match(line) or DATELINE.match(line))):
            drop.add(i)

    if not any(i < first_body for i in range(len(lines)) if lines[i] and i not in drop):
        rescued = _short_headline(lines, first_body, drop)
        if rescued is not None:
            drop.discard(rescued)
    kept = [(i, line) for i, line in enumerate(lines) if line and i not in drop]
    removed = [line for i, line in enumerate(lines) if line and i in drop]
    head = [line for i, line in kept if i < first_body]
    repeated = [line for line in head if counts.get(line, 0) > 1]
    if repeated:
        title = repeated[0]
    elif head:
        title = head[0]
    else:
        title = _first_words(kept[0][1]) if kept else ""
    text = "\n".join(line for _, line in kept)
    return title.lstrip("# ").strip(), text, removed


def _short_headline(lines: list[str], first_body: int, drop: set[int]) -> int | None:
    """The longest short head line (3+ words, not a dateline/byline/label): a brief headline."""
    best = None
    for i in range(first_body):
        line = lines[i]
        if not line or _words(line) < 3 or LABEL.match(line) or BYLINE.match(line) or DATELINE.match(line):
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
