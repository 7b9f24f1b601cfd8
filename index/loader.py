"""Read a folder of articles (``.txt``, ``.md``, ``.html``) into raw text.

Decodes UTF-8, UTF-8 with BOM, UTF-16 with BOM and Windows-1256, and keeps only what
decodes cleanly *and* looks like text (few control characters, mostly letters); skips
empty, binary and undecodable files, and symlinks leading out of the folder, with one
warning each. HTML is reduced to its visible text, one block per line. File names are
shown through ``printable()``, so a name holding ESC or a newline cannot drive the terminal.

Example::

    >>> files, skipped = read_corpus(Path("seeds"))
    >>> files[0].rel_path
    '000_7e8f134315a61b1b.txt'
"""
from __future__ import annotations

import codecs
import hashlib
import html
import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from index.arabic import is_arabic
from index.errors import CorpusError

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".html", ".htm")
MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class RawFile:
    rel_path: str
    path: Path
    text: str
    sha256: str


@dataclass(frozen=True)
class Skipped:
    rel_path: str
    reason: str
    kind: str = ""  # a short category for the summary line ("binary", "not text", …); default: the reason

    @property
    def category(self) -> str:
        return self.kind or self.reason


MAX_CONTROL_SHARE = 0.001  # real articles have (almost) no control characters; random bytes have ~12%
MIN_LETTER_SHARE = 0.5  # letters among the non-space characters: text ~0.85+, random bytes ~0.45
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")


def printable(name: str) -> str:
    """``name`` with control, format (bidi) and undecodable characters escaped, safe to print."""
    out = []
    for ch in name:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            out.append(ascii(ch)[1:-1])
        else:
            out.append(ch)
    return "".join(out)


def looks_like_text(text: str) -> str:
    """Why ``text`` does not look like article text ("" when it does): control characters or too few letters."""
    if "\x00" in text:
        return "binary file (contains NUL bytes)"
    controls = sum(1 for ch in text if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) == "Cc")
    if controls > max(1, MAX_CONTROL_SHARE * len(text)):
        return f"not text ({controls} control characters)"
    visible = [ch for ch in text if not ch.isspace()]
    letters = sum(1 for ch in visible if ch.isalpha())
    if visible and letters < MIN_LETTER_SHARE * len(visible):
        return f"not text (only {letters / len(visible):.0%} letters)"
    return ""


def decode(data: bytes) -> str:
    """Decode article bytes: UTF-16 with a BOM, UTF-8 (with or without BOM), else Windows-1256.

    Raises ``ValueError`` for binary data, text that decodes in none of them, or a result that
    does not look like text (``looks_like_text``).
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise ValueError("not valid UTF-16 text (it starts with a UTF-16 byte-order mark)") from None
    else:
        if b"\x00" in data:
            raise ValueError("binary file (contains NUL bytes)")
        if data.startswith(codecs.BOM_UTF8):
            data = data[3:]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1256")
            except UnicodeDecodeError:
                raise ValueError("not UTF-8 nor Windows-1256 text") from None
            # cp1256 maps almost every byte, so require that the result actually looks like Arabic text.
            arabic = sum(map(is_arabic, text))  # every Arabic-script character (marks, digits, punctuation) counts
            letters = sum(1 for ch in text if ch.isalpha())
            if letters == 0 or arabic / letters < 0.5:
                raise ValueError("not UTF-8, and not Arabic Windows-1256 text either")
    problem = looks_like_text(text)
    if problem:
        raise ValueError(problem)
    return text


def _kind(reason: str) -> str:
    """The summary category of a skip reason."""
    for key in ("binary", "not text", "empty", "larger than", "symlink", "file name"):
        if reason.startswith(key):
            return {"larger than": "too large"}.get(key, key)
    if reason.startswith("not "):
        return "undecodable"
    return "unreadable"


def summarize_skipped(skipped: list[Skipped]) -> str:
    """``3 (2 binary, 1 symlink)``: the count and its reasons, for a summary line."""
    counts = Counter(s.category for s in skipped)
    if not counts:
        return "0"
    return f"{len(skipped)} (" + ", ".join(f"{n} {kind}" for kind, n in counts.most_common()) + ")"


class _TextExtractor(HTMLParser):
    _BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article", "header", "footer", "title", "figcaption", "blockquote"}
    _SKIP = {"script", "style", "noscript", "template", "svg"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML page, one block element per line."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    text = html.unescape("".join(parser.parts))
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def read_file(path: Path, data: bytes | None = None) -> str:
    """Read one article file (or its ``data``) to text, HTML reduced to text. Raises ``ValueError`` when unusable."""
    data = path.read_bytes() if data is None else data
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    text = decode(data)
    if path.suffix.lower() in (".html", ".htm"):
        text = html_to_text(text)
    if not text.strip():
        raise ValueError("empty file")
    return text


def _problem(path: Path, rel: str, inside: Path | None) -> str:
    """Why ``path`` must not be read ("" when it may): a name that is not text, a link leading out."""
    if any(unicodedata.category(ch) == "Cs" for ch in rel):
        return "file name is not valid UTF-8; rename the file"
    if inside is not None and not path.resolve().is_relative_to(inside):
        return "symlink to a file outside the folder (not followed)"
    return ""


def read_corpus(root: Path) -> tuple[list[RawFile], list[Skipped]]:
    """All readable articles under ``root`` (recursively, sorted), and the files skipped with reasons.

    Hidden files and folders are ignored; files of other types are not articles and are not
    counted. A symlink whose target lies outside ``root`` is skipped with a warning.
    """
    root = Path(root)
    if not root.exists():
        raise CorpusError(f"articles folder {printable(str(root))} does not exist; pass a folder of .txt/.md/.html files")
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    base = root.parent if root.is_file() else root
    inside = None if root.is_file() else root.resolve()
    files: list[RawFile] = []
    skipped: list[Skipped] = []
    for path in paths:
        rel = path.relative_to(base).as_posix()
        if any(part.startswith(".") for part in Path(rel).parts):
            continue
        try:
            problem = _problem(path, rel, inside)
            if problem:
                raise ValueError(problem)
            data = path.read_bytes()
            data_hash = hashlib.sha256(data).hexdigest()
            text = read_file(path, data)
        except (OSError, ValueError) as exc:
            reason = str(exc) if isinstance(exc, ValueError) else f"unreadable ({exc.strerror or exc})"
            log.warning("skipped %s: %s", printable(rel), reason)
            skipped.append(Skipped(rel, reason, _kind(reason)))
            continue
        files.append(RawFile(rel, path, text, data_hash))
    return files, skipped
