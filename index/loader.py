"""Read a folder of articles (``.txt``, ``.md``, ``.html``) into raw text.

Decodes UTF-8, UTF-8 with BOM and Windows-1256; skips empty, binary and undecodable
files with one warning each. HTML is reduced to its visible text, one block per line.

Example::

    >>> files, skipped = read_corpus(Path("seeds"))
    >>> files[0].rel_path
    '000_7e8f134315a61b1b.txt'
"""
from __future__ import annotations

import hashlib
import html
import logging
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

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


def decode(data: bytes) -> str:
    """Decode article bytes: UTF-8 (with or without BOM), else Windows-1256.

    Raises ``ValueError`` for binary data or text that decodes in neither.
    """
    if b"\x00" in data[:8192]:
        raise ValueError("binary file (contains NUL bytes)")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1256")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 nor Windows-1256 text") from None
    # cp1256 maps almost every byte, so require that the result actually looks like Arabic text.
    arabic = sum(1 for ch in text if "\u0600" <= ch <= "\u06ff")
    letters = sum(1 for ch in text if ch.isalpha())
    if letters == 0 or arabic / letters < 0.5:
        raise ValueError("not UTF-8, and not Arabic Windows-1256 text either")
    return text


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


def read_file(path: Path) -> str:
    """Read one article file to text (HTML reduced to text). Raises ``ValueError`` when unusable."""
    data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    text = decode(data)
    if path.suffix.lower() in (".html", ".htm"):
        text = html_to_text(text)
    if not text.strip():
        raise ValueError("empty file")
    return text


def read_corpus(root: Path) -> tuple[list[RawFile], list[Skipped]]:
    """All readable articles under ``root`` (recursively, sorted), and the files skipped with reasons."""
    root = Path(root)
    if not root.exists():
        raise CorpusError(f"articles folder {root} does not exist; pass a folder of .txt/.md/.html files")
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    base = root.parent if root.is_file() else root
    files: list[RawFile] = []
    skipped: list[Skipped] = []
    for path in paths:
        rel = path.relative_to(base).as_posix()
        if any(part.startswith(".") for part in Path(rel).parts):
            continue
        try:
            data_hash = hashlib.sha256(path.read_bytes()).hexdigest()
            text = read_file(path)
        except (OSError, ValueError) as exc:
            log.warning("skipped %s: %s", rel, exc)
            skipped.append(Skipped(rel, str(exc)))
            continue
        files.append(RawFile(rel, path, text, data_hash))
    return files, skipped
