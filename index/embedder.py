"""Embedding models behind one small protocol.

``Embedder.embed(texts, kind)`` returns L2-normalised float32 rows; ``kind`` selects
the model's query or document prompt. ``SentenceTransformerEmbedder`` loads lazily,
once, from a provisioned name (``embeddinggemma-300m``), a local path, or any
sentence-transformers id that is already in the local cache (no hub is reachable).

``embedder_from_settings`` picks the class by ``embed_runtime``: ``"torch"`` (this module),
``"openvino"`` (``index.embed_openvino``) or ``"auto"`` (the default: OpenVINO when it is
installed and the model's IR is converted, else torch; ``resolve_runtime``); every caller that
builds an embedder from settings goes through it.

Example::

    >>> emb = embedder_from_settings(IndexSettings.load())
    >>> emb.embed(["ما هو الحوار الاستراتيجي؟"], "query").shape
    (1, 768)
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from index import models
from index.errors import ModelMissingError
from index.settings import IndexSettings

log = logging.getLogger(__name__)

Kind = Literal["query", "document"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit vectors. ``name``/``fingerprint`` identify the model in index manifests."""

    name: str
    fingerprint: str

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray: ...


# EmbeddingGemma's document prompt is "title: none | text: ": the model was trained with the document's
# title in that slot. ``chunk_titles`` (index.settings) fills it in per chunk.
NO_TITLE = "title: none"


def clean_title(title: str | None) -> str:
    """A title as it goes into a prompt (and into cache keys): one line, spaces collapsed; "" for none."""
    return " ".join(str(title or "").replace("\x00", " ").split())


def titled_prompt(prompt: str, title: str | None) -> str:
    """``prompt`` (a model's document prompt) with ``title`` in its title slot; unchanged for an empty title.

    >>> titled_prompt("title: none | text: ", "Super Bowl 50")
    'title: Super Bowl 50 | text: '
    """
    title = clean_title(title)
    if not title:
        return prompt
    if NO_TITLE not in prompt:
        raise ValueError(f"the model's document prompt {prompt!r} has no title slot ({NO_TITLE!r}); "
                         "set chunk_titles = false for this model")
    return prompt.replace(NO_TITLE, f"title: {title}", 1)


def titles_for(texts: Sequence[str], titles: Sequence[str] | None) -> list[str] | None:
    """``titles`` as a list, one per text (a ValueError otherwise); None stays None."""
    if titles is None:
        return None
    titles = list(titles)
    if len(titles) != len(texts):
        raise ValueError(f"{len(titles)} titles for {len(texts)} texts")
    return titles


def accepts_titles(embedder: object) -> bool:
    """Whether ``embedder.embed`` takes per-text ``titles`` (the two runtimes here and the caching wrappers do)."""
    import inspect

    try:
        if "titles" not in inspect.signature(embedder.embed).parameters:  # type: ignore[attr-defined]
            return False
    except (AttributeError, TypeError, ValueError):
        return False
    inner = getattr(embedder, "__dict__", {}).get("inner")  # a wrapper passes titles on: what it wraps must take them
    return inner is None or accepts_titles(inner)


def resolve_model(name: str, models_dir: Path) -> Path | str:
    """A local folder for ``name`` (provisioned or a path), or the id itself for sentence-transformers."""
    if name in models.SPECS:
        return models.require(models.SPECS[name], models_dir)
    path = Path(name).expanduser()
    if path.exists():
        return path
    if (models_dir / name).exists():
        return models_dir / name
    return name


def model_fingerprint(location: Path | str) -> str:
    """A short hash identifying the model files (manifest of a provisioned copy, else names and sizes)."""
    h = hashlib.sha256()
    path = Path(location)
    if not path.is_dir():
        h.update(str(location).encode())
    elif (path / models.MARKER).exists():
        h.update((path / models.MARKER).read_bytes())
    else:
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f"{f.relative_to(path).as_posix()}:{f.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def resolve_dtype(dtype: str) -> str:
    """``auto`` means bfloat16 on CPUs with native bf16 instructions (AVX512-BF16 or AMX), where it
    halves the forward pass (bench/bench_retrieval.py); elsewhere bf16 is emulated and slower."""
    if dtype != "auto":
        return dtype
    try:
        import torch

        native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    except (ImportError, AttributeError):  # an older torch without these probes
        native = False
    return "bfloat16" if native else "float32"


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use."""

    def __init__(self, name: str, location: Path | str, batch_size: int = 16, show_progress: bool = True,
                 dtype: str = "auto") -> None:
        self.name = name
        self.location = location
        # bfloat16 and float32 vectors of this model agree to cosine 0.9999 (bench/bench_dtype.py), so the
        # dtype is deliberately not part of the fingerprint: an index serves both.
        self.fingerprint = model_fingerprint(location)
        self.dtype = resolve_dtype(dtype)
        self.batch_size = batch_size
        self.show_progress = show_progress
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: IndexSettings, show_progress: bool = True) -> "SentenceTransformerEmbedder":
        location = resolve_model(settings.embedding_model, settings.models_dir)
        return cls(settings.embedding_model, location, settings.embed_batch_size, show_progress, settings.embed_dtype)

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # fail fast instead of trying a hub
                from sentence_transformers import SentenceTransformer

                try:
                    import torch

                    # loaded straight in the target dtype: converting afterwards holds both copies at once
                    dtype = torch.bfloat16 if self.dtype == "bfloat16" else torch.float32
                    location = self.load_location()
                    log.info("loading embedding model %s (%s)", location, self.dtype)
                    self._model = SentenceTransformer(str(location), device="cpu", model_kwargs={"dtype": dtype})
                except Exception as exc:  # any loader failure means "this model is not usable here"
                    raise ModelMissingError(
                        f"could not load embedding model {self.name!r} from {self.location}: {exc}. "
                        "Set RAG_EMBEDDING_MODEL to a local sentence-transformers folder, or run: rag models"
                    ) from exc
            return self._model

    def load_location(self) -> Path | str:
        """Where the weights are read from: in bfloat16, the verified bfloat16 copy of a provisioned
        model (``index.models.ensure_bf16``, made on first use: half the bytes to read, and no
        float32 copy held while casting); else the model itself. The fingerprint stays the
        original's: the copy gives the same vectors to the bit (tests/test_bf16_copy.py)."""
        spec = models.SPECS.get(self.name)
        if self.dtype != "bfloat16" or spec is None or not spec.unzip or Path(self.location).name != spec.name:
            return self.location
        try:
            return models.ensure_bf16(spec, Path(self.location).parent)
        except Exception as exc:  # a read-only or full disk: the original still loads, only slower
            log.warning("no bfloat16 copy of %s (%s); loading the float32 files", self.name, exc)
            return self.location

    @property
    def dim(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        """The model's maximum sequence length, read from its config when not yet loaded."""
        if self._model is None and Path(self.location, "sentence_bert_config.json").exists():
            return int(json.loads(Path(self.location, "sentence_bert_config.json").read_text())["max_seq_length"])
        return int(self.model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` for this model's own tokenizer (special tokens included)."""
        if self._tokenizer is None:
            if self._model is not None:
                self._tokenizer = self._model.tokenizer
            else:
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(str(self.location))
        return len(self._tokenizer(text, add_special_tokens=True)["input_ids"])

    def embed(self, texts: Sequence[str], kind: Kind, titles: Sequence[str] | None = None) -> np.ndarray:
        """One forward pass per ``batch_size`` texts. (A server batches single questions across
        requests and caches them with ``rag.batching.BatchedEmbedder`` around this.)

        ``titles``: one per text, each put in the title slot of the document prompt ("title: {title} |
        text: " instead of "title: none | text: "); an empty title leaves the prompt as it is."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(texts, kind, titles_for(texts, titles))

    def _encode(self, texts: list[str], kind: Kind, titles: list[str] | None = None) -> np.ndarray:
        model = self.model
        prompt = model.prompts.get(kind) if getattr(model, "prompts", None) else None
        if titles is not None and any(clean_title(t) for t in titles):
            # the prompt differs per text: prepended here, which is what encode(prompt=…) does (EmbeddingGemma's
            # pooling includes the prompt tokens, so the vectors are the same as with prompt=)
            texts = [titled_prompt(prompt or "", t) + text for t, text in zip(titles, texts)]
            prompt = None
        vectors = model.encode(
            texts,
            prompt=prompt,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=self.show_progress and len(texts) > self.batch_size,
        )
        vectors = np.asarray(vectors, dtype=np.float32)
        # normalised again in float32: bfloat16 rounding leaves norms off by up to 1e-3
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


# embed_runtime -> "module:class" of an embedder with a from_settings(settings, show_progress) constructor;
# imported only when chosen, so the torch path never imports openvino and the openvino path never torch
RUNTIMES: dict[str, str] = {
    "torch": "index.embedder:SentenceTransformerEmbedder",
    "openvino": "index.embed_openvino:OpenVINOEmbedder",
}


OPENVINO_PACKAGE = "openvino"


def openvino_installed() -> bool:
    """Whether the OpenVINO runtime can be imported (found without importing it: ~1 ms)."""
    import importlib.util

    return importlib.util.find_spec(OPENVINO_PACKAGE) is not None


def wants_openvino_ir(settings: IndexSettings) -> bool:
    """Whether ``rag models`` should convert the model for OpenVINO: asked for, or "auto" with OpenVINO installed."""
    return settings.embed_runtime == "openvino" or (settings.embed_runtime == "auto" and openvino_installed())


def runtime_tag(settings: IndexSettings) -> str:
    """A suffix for files whose vectors depend on the runtime (the runtimes share the model's fingerprint,
    their vectors are close but not equal): "" for torch, whose files came first, else "-openvino"."""
    runtime = resolve_runtime(settings)
    return "" if runtime == "torch" else f"-{runtime}"


def resolve_runtime(settings: IndexSettings) -> str:
    """The runtime ``settings`` mean: ``embed_runtime`` itself, or for ``"auto"`` OpenVINO when it is
    installed and this model's IR is already converted (``rag models`` converts it), else torch.

    OpenVINO is the faster of the two on a CPU (0.43× torch's time for one question, 0.63× in
    batches) with the same vectors (cosine ≥ 0.999, bench/bench_onnx.py); an unconverted IR would
    cost a 1.5-minute conversion inside the first question, so "auto" waits for ``rag models``.

    >>> resolve_runtime(IndexSettings(embed_runtime="torch"))
    'torch'
    """
    if settings.embed_runtime != "auto":
        return settings.embed_runtime
    return _auto_runtime(settings.embedding_model, str(settings.models_dir), settings.embed_dtype)


@functools.lru_cache(maxsize=16)
def _auto_runtime(model: str, models_dir: str, dtype: str) -> str:
    if not openvino_installed():
        return "torch"
    try:  # through the registry (imports openvino only when an IR is loaded): embed_openvino imports this module
        ir_ready = embedder_class("openvino").from_settings(IndexSettings(embedding_model=model, models_dir=Path(models_dir),
                                                                embed_dtype=dtype), show_progress=False).ir_ready
    except ModelMissingError:  # not a local folder: only torch can load it (or report it missing)
        return "torch"
    runtime = "openvino" if ir_ready else "torch"
    log.info("embed_runtime auto: %s%s", runtime, "" if ir_ready else " (OpenVINO is installed but the model is not "
             "converted yet: `rag models` converts it once)")
    return runtime


def embedder_class(runtime: str) -> type:
    """The embedder class of ``runtime`` (a key of ``RUNTIMES``), imported now.

    >>> embedder_class("openvino").__name__
    'OpenVINOEmbedder'
    """
    import importlib

    try:
        module, _, attr = RUNTIMES[runtime].partition(":")
    except KeyError:
        raise ValueError(f"unknown embed_runtime {runtime!r}; one of {', '.join(RUNTIMES)}") from None
    return getattr(importlib.import_module(module), attr)


def embedder_from_settings(settings: IndexSettings, show_progress: bool = True) -> Embedder:
    """The embedder ``settings`` ask for: its model, dtype, batch size and runtime (``resolve_runtime``).

    >>> embedder_from_settings(IndexSettings.load(embed_runtime="openvino")).embed(["سؤال"], "query").shape
    (1, 768)
    """
    return embedder_class(resolve_runtime(settings)).from_settings(settings, show_progress)
