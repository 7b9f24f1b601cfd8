"""Configuration, layer by layer: this module owns the indexing section and the loading rules.

Each layer declares the settings it reads in its own frozen dataclass, each extending the one
below: ``index.settings.IndexSettings`` (paths, embedding model, chunking, store) ←
``rag.settings.RagSettings`` (retrieval, backends, answering) ← ``ui.settings.Settings`` (token,
CORS, concurrency, request limits). The faces build the outermost one; a library function types
its parameter with its own layer's class and reads only the fields that class declares.

Every setting has a default that works offline and is loaded the same way: defaults < config file
< environment < explicit overrides. A setting ``foo_bar`` is read from the environment variable
``RAG_FOO_BAR`` and from the key ``foo_bar`` of one TOML config file (``RAG_CONFIG`` or
``--config``) shared by all layers. Numeric settings are range-checked (``RANGES``), choices are
checked (``CHOICES``), each in the class that declares them.

Example::

    >>> s = IndexSettings.load(chunk_tokens=300)
    >>> s.chunk_tokens
    300
"""
from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from index.errors import ConfigError

DEFAULT_EMBEDDING_MODEL = "embeddinggemma-300m"

_KNOWN_KEYS: set[str] = set()  # every layer's setting names: one config file may hold them all
S = TypeVar("S", bound="IndexSettings")


def _default_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "arabic-news-rag"


@dataclass(frozen=True)
class IndexSettings:
    """What the indexing library reads: where things live, the embedding model, chunking, the store."""

    # The allowed range of each numeric setting and the choices of each enumerated one, checked when
    # settings are made (``rag`` refuses to start otherwise). Subclasses declare their own.
    RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "embed_batch_size": (1, 1024),
        "chunk_tokens": (16, 8192),
        "chunk_overlap_sentences": (0, 20),
        "hnsw_m": (4, 256),
        "max_upload_bytes": (1024, 1024 * 1024 * 1024),
    }
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        "index_kind": ("flat", "hnsw"),
        "embed_dtype": ("auto", "float32", "bfloat16"),
        "embed_runtime": ("auto", "torch", "openvino"),
        "store": ("faiss", "qdrant"),
    }

    home: Path = field(default_factory=_default_home)
    index_dir: Path | None = None  # default: home / "index"
    models_dir: Path | None = None  # default: home / "models"

    embedding_model: str = DEFAULT_EMBEDDING_MODEL  # a provisioned name, a local path or a sentence-transformers id
    embed_batch_size: int = 16
    embed_dtype: str = "auto"  # "auto" (bfloat16 where the CPU has native bf16, else float32) | "float32" | "bfloat16"
    # "auto" (OpenVINO when installed and the model converted by `rag models`, else torch) | "torch" (sentence-transformers)
    # | "openvino" (the same model converted once to an OpenVINO IR under models_dir/openvino). Same vectors to
    # cosine >= 0.999, so both serve one index; OpenVINO takes 0.43-0.63x torch's time (index.embedder.resolve_runtime).
    embed_runtime: str = "auto"
    chunk_tokens: int = 220  # target chunk size in cl100k tokens
    chunk_overlap_sentences: int = 1
    # Each chunk embedded with its document's title in the model's document prompt ("title: {title} | text: "
    # for EmbeddingGemma) instead of "title: none". Recorded in the manifest: changing it re-embeds everything.
    chunk_titles: bool = False
    index_kind: str = "flat"  # "flat" (exact) or "hnsw" (approximate, for large corpora)
    hnsw_m: int = 32
    max_upload_bytes: int = 2 * 1024 * 1024  # one article file added through the UI or the API (index.corpus)

    # The store (index.stores): the FAISS folder at index_dir, or a Qdrant collection (the qdrant extra)
    store: str = "faiss"  # "faiss" | "qdrant"
    qdrant_url: str = ""  # a Qdrant server or cluster, e.g. http://qdrant:6333 (any number of processes)
    qdrant_path: Path | None = None  # local mode when qdrant_url is empty: default home / "qdrant" (one process at a time)
    qdrant_collection: str = "arabic_news"
    qdrant_api_key: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _KNOWN_KEYS.update(cls.__annotations__)  # a subclass's own fields (dataclass() runs after this)

    def __post_init__(self) -> None:
        home = Path(self.home).expanduser()
        object.__setattr__(self, "home", home)
        object.__setattr__(self, "index_dir", Path(self.index_dir).expanduser() if self.index_dir else home / "index")
        object.__setattr__(self, "models_dir", Path(self.models_dir).expanduser() if self.models_dir else home / "models")
        if not isinstance(self.chunk_titles, bool):
            raise ConfigError(f"setting chunk_titles must be true or false, got {self.chunk_titles!r}")
        for klass in reversed(type(self).__mro__):
            for name, allowed in vars(klass).get("CHOICES", {}).items():
                if getattr(self, name) not in allowed:
                    raise ConfigError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}, got {getattr(self, name)!r}")
            for name, (low, high) in vars(klass).get("RANGES", {}).items():
                value = getattr(self, name)
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not low <= value <= high:
                    raise ConfigError(f"setting {name} must be between {low:g} and {high:g}, got {value!r} "
                                      f"(from RAG_{name.upper()}, the config file or an option)")

    @classmethod
    def load(cls: type[S], config_file: str | Path | None = None, **overrides: Any) -> S:
        """Build settings from defaults, a TOML file, ``RAG_*`` env vars and ``overrides`` (None values ignored).

        A key of the config file that belongs to another layer is skipped; one no layer knows is an error.
        """
        values: dict[str, Any] = {}
        known = {f.name: f for f in fields(cls)}
        path = config_file or os.environ.get("RAG_CONFIG")
        if path:
            try:
                with open(path, "rb") as fh:
                    data = tomllib.load(fh)
            except FileNotFoundError:
                raise ConfigError(f"config file {path} does not exist") from None
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
            unknown = set(data) - set(known) - _KNOWN_KEYS
            if unknown:
                raise ConfigError(f"unknown setting(s) in {path}: {', '.join(sorted(unknown))}")
            values.update({k: v for k, v in data.items() if k in known})
        for name in known:
            env = os.environ.get(f"RAG_{name.upper()}")
            if env is not None and env != "":
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - set(known)
        if unknown:
            raise ConfigError(f"unknown setting(s) for {cls.__name__}: {', '.join(sorted(unknown))}")
        return cls(**{k: _coerce(known[k], v) for k, v in values.items()})

    def replace(self: S, **changes: Any) -> S:
        """A copy with some settings changed (None values ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def section(self, cls: type[S]) -> S:
        """Only the part of these settings that ``cls`` (a layer below) declares.

        >>> ui_settings.section(IndexSettings)   # what the face hands to index.build.build_index
        """
        return cls(**{f.name: getattr(self, f.name) for f in fields(cls) if f.init})


_KNOWN_KEYS.update(IndexSettings.__annotations__)


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    kind = str(f.type)
    try:
        if "Path" in kind:
            return Path(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            word = str(value).strip().lower()
            if word in ("1", "true", "yes", "on"):
                return True
            if word in ("0", "false", "no", "off"):
                return False
            raise ValueError(word)
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        return str(value) if not isinstance(value, str) else value
    except (TypeError, ValueError):
        raise ConfigError(f"setting {f.name} should be {kind}, got {value!r}") from None
