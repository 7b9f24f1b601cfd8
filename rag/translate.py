"""Machine translation of single Arabic sentences into English, for English readers.

There is no translation model to install here, so the answering LLM translates, one
sentence at a time (a small task a 1.5B model does far better than answering in English
from Arabic passages). The application first writes what the model misreads in English
inside the sentence: months and hard glossary names ("في تموز" → "في July", السوداني →
al-Sudani), digits as ASCII; afterwards ``rag.checks.check_translation`` compares the translation with
the sentence (numbers, months, negation, names, meaning). Translations are cached per
sentence and model, in memory and in ``HOME/cache/translations.jsonl``.

Example::

    >>> "".join(translate_stream("وأكد رئيس الوزراء أن الانسحاب مستبعد.", settings))
    'The prime minister stressed that a withdrawal is ruled out.'
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path

from rag import backends
from rag.answer_text import ascii_digits, month_spans
from rag.glossary import spelled_spans
from rag.language import arabic_ratio
from rag.prompt import neutralize
from rag.settings import RagSettings

log = logging.getLogger(__name__)

SYSTEM = """You translate sentences from Arabic news articles into English.
Translate the whole sentence faithfully. Keep every name, number and date, and keep negations (not, no, never, ruled out).
Reply with the English translation only."""
MAX_TOKENS = 160
MT_LABEL = {"en": "machine translation from Arabic"}


def prepare(sentence: str) -> str:
    """The sentence as the model sees it: ASCII digits, and each month and hard name already in English.

    Written into the sentence, not in a line of hints under it: the 1.5B model kept ignoring such
    a line (القتالية = combat came back "military") and sometimes translated the line's instruction
    instead of the sentence. A clitic before a name is kept, set apart ("و al-Kadhimi").

    >>> prepare("وأعلن الكاظمي في تموز ٢٠٢١ أن الانسحاب مستبعد.")
    'وأعلن al-Kadhimi في July 2021 أن الانسحاب ruled out / unlikely.'
    """
    text = neutralize(ascii_digits(" ".join(sentence.split())))
    out, last = [], 0
    for a, b, english in sorted(spelled_spans(text) + month_spans(text)):
        if a < last:
            continue  # a month inside a glossary name, or the reverse: the first (longest) wins
        # the spans leave a clitic out; one left attached before the English is set apart by a space
        out += [text[last:a], " " if a and text[a - 1].isalpha() else "", english]
        last = b
    return "".join(out) + text[last:]


def messages(sentence: str) -> list[tuple[str, str]]:
    """The chat messages that ask for the translation of one Arabic ``sentence``."""
    return [("system", SYSTEM), ("human", prepare(sentence))]


def clean(text: str) -> str:
    """The translation without the wrappers small models add (quotes, "Translation:", a second paragraph)."""
    text = text.strip()
    text = re.sub(r"^(english\s+)?translation\s*:\s*", "", text, flags=re.I)
    text = text.split("\n")[0].strip()
    if len(text) > 1 and text[0] in "\"“'«" and text[-1] in "\"”'»":
        text = text[1:-1].strip()
    return text


class _Cache:
    """Translations by (model, prepared sentence): in memory, appended to a JSONL file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, str] = {}
        self._loaded: set[Path] = set()

    def _file(self, settings: RagSettings) -> Path:
        return settings.home / "cache" / "translations.jsonl"

    def _load(self, path: Path) -> None:
        if path in self._loaded:
            return
        self._loaded.add(path)
        if not path.exists():
            return
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
                self._data[row["key"]] = row["text"]
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a torn last line after a crash loses one translation, nothing else

    def get(self, key: str, settings: RagSettings) -> str | None:
        with self._lock:
            self._load(self._file(settings))
            return self._data.get(key)

    def put(self, key: str, text: str, settings: RagSettings) -> None:
        with self._lock:
            self._data[key] = text
            path = self._file(settings)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"key": key, "text": text}, ensure_ascii=False) + "\n")
            except OSError as exc:  # a read-only home only costs the cache
                log.warning("could not write the translation cache %s: %s", path, exc)


CACHE = _Cache()


def _model_id(settings: RagSettings) -> str:
    return f"{settings.backend}:{settings.llm_model if settings.backend == 'local' else settings.openai_base_url + '/' + settings.openai_model}"


# What small models write instead of, or before, a translation: a lead-in line ("Here is the English
# translation:"), or the prompt's own instructions translated back ("The line "Names:" under the sentence…",
# 6 of 104 cached translations of the first XQuAD run).
_PREAMBLE = re.compile(r"^(?:sure|certainly|okay)?[,!.\s]*"
                       r"(?:here(?:'s| is| are)|below is|the (?:english )?translation|english translation|translation)\b[^\n]*:\s*$", re.I)
_MAY_BE_PREAMBLE = re.compile(r"^(?:sure|certainly|okay|here|below|the english|the translation|english translation|translation)", re.I)
_ECHO = ("names:", "english form of", "use those forms", "translation of the sentence", "english translation of the arabic")


def echoes_instructions(text: str) -> bool:
    """``text`` repeats the translation instructions instead of translating (not a translation at all)."""
    low = text.casefold()
    return any(marker in low for marker in _ECHO) or bool(_PREAMBLE.match(text.strip()))


def _key(prompt: list[tuple[str, str]], settings: RagSettings) -> str:
    """Cache key: the model and the whole prompt (so a changed prompt never serves old translations)."""
    digest = hashlib.sha1(json.dumps(prompt, ensure_ascii=False).encode()).hexdigest()[:16]
    return f"{_model_id(settings)}\x00{digest}"


def translate_stream(sentence: str, settings: RagSettings) -> Iterator[str]:
    """Yield the English translation of one Arabic ``sentence`` as it is written (cached: at once).

    One line is taken: a lead-in line ("Here is the translation:") is skipped and held back while
    it could still be one; what follows the translation's line is chatter. Raises whatever the
    backend raises when it cannot be reached; the caller decides the fallback.
    """
    prompt = messages(sentence)
    key = _key(prompt, settings)
    cached = CACHE.get(key, settings)
    if cached is not None:
        yield cached
        return
    chat = backends.get(settings.backend).chat_model(settings, max_tokens=MAX_TOKENS, temperature=0.0)
    if chat is None:
        raise ValueError(f"backend {settings.backend!r} cannot translate")
    text, shown = "", 0
    for piece in chat.stream(prompt):
        text = (text + str(piece.content)).lstrip()
        line, newline, rest = text.partition("\n")
        if newline and _PREAMBLE.match(line.strip()) and not shown:
            text = rest  # the translation follows its lead-in
            continue
        if not newline and not shown and _MAY_BE_PREAMBLE.match(line) and len(line) < 60:
            continue  # could still turn out to be a lead-in: hold it back
        if len(line) > shown:
            yield line[shown:]
            shown = len(line)
        if newline:  # one sentence in, one line out
            break
    line = text.partition("\n")[0]
    if len(line) > shown and not _PREAMBLE.match(line.strip()):  # a short reply held back to the end
        yield line[shown:]
    final = clean(line)
    if final and arabic_ratio(final) < 0.2 and not echoes_instructions(final):
        CACHE.put(key, final, settings)
    elif final:
        log.info("not a translation, not cached: %s", final[:80])


def translate(sentence: str, settings: RagSettings) -> str:
    """The cleaned English translation of one Arabic ``sentence``."""
    return clean("".join(translate_stream(sentence, settings)))
