"""EmbeddingGemma run by OpenVINO: the same vectors as the torch embedder, without torch at load.

``OpenVINOEmbedder`` satisfies ``index.embedder.Embedder`` with the same ``name`` and
``fingerprint`` as ``SentenceTransformerEmbedder`` (its vectors agree with the torch ones to
cosine ≥ 0.999, bench/bench_onnx.py, so an index serves both). The whole sentence-transformers
pipeline (transformer, mean pooling, the two dense layers, normalisation) is converted ONCE from
the PyTorch model with ``torch.export`` + ``openvino.convert_model`` and saved as an OpenVINO IR
under ``models_dir/openvino/<name>-<fingerprint>-v<IR_FORMAT>-<f16|f32>/``. Later loads read only that IR
and ``tokenizer.json`` (the ``tokenizers`` library): neither torch nor sentence-transformers is
imported, which is the point for a cold ``rag ask``.

Scope: folder models in sentence-transformers layout whose modules are a Transformer, Pooling,
Dense and Normalize (EmbeddingGemma's), with a ``tokenizer.json``. The ``openvino`` package is
optional (``pip install '.[openvino]'``) and imported only here, on first use.

Example::

    >>> from index.embedder import embedder_from_settings
    >>> emb = embedder_from_settings(IndexSettings.load(embed_runtime="openvino"))
    >>> emb.embed(["ما هو الحوار الاستراتيجي؟"], "query").shape
    (1, 768)
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from index.embedder import Kind, model_fingerprint, resolve_dtype, resolve_model, titled_prompt, titles_for
from index.errors import ModelMissingError
from index.settings import IndexSettings

log = logging.getLogger(__name__)

IR_FORMAT = 1  # bump when the conversion changes: older IRs are then rebuilt beside them
IR_MARKER = "ir.json"  # written last inside the IR folder: its absence means an unfinished IR
INSTALL_HINT = "pip install openvino (a dependency of the project: reinstall it with pip install -e .)"


def _import_openvino():
    try:
        import openvino as ov
    except ImportError as exc:
        raise ModelMissingError(
            f"embed_runtime 'openvino' needs the openvino package, which is not installed: {INSTALL_HINT} "
            "(or set RAG_EMBED_RUNTIME=torch)") from exc
    return ov


class OpenVINOEmbedder:
    """The sentence-transformers model at ``location`` compiled by OpenVINO for the CPU, loaded on first use.

    ``dtype`` is the project's ``embed_dtype``: bfloat16 sets OpenVINO's ``INFERENCE_PRECISION_HINT``
    to bf16, float32 to f32; ``auto`` is bf16 where the CPU has native bf16 (as for torch).
    ``ir_root`` is the folder that holds converted IRs (default: beside the model, ``openvino/``).
    """

    def __init__(self, name: str, location: Path | str, batch_size: int = 16, show_progress: bool = True,
                 dtype: str = "auto", ir_root: Path | None = None) -> None:
        self.name = name
        self.location = Path(location)
        if not self.location.is_dir():
            raise ModelMissingError(f"embed_runtime 'openvino' needs a local model folder; {name!r} resolved to {location}")
        # the same fingerprint as the torch embedder: the runtime, like the dtype, is not part of it
        self.fingerprint = model_fingerprint(self.location)
        self.dtype = dtype  # "auto" is resolved at load, by OpenVINO's CPU probe (not torch's)
        self.batch_size = batch_size
        self.show_progress = show_progress
        root = Path(ir_root) if ir_root is not None else self.location.parent / "openvino"
        self.ir_root = root
        self._compiled: Any = None
        self._tokenizer: Any = None
        self._prompts: dict[str, str] | None = None
        self._lock = threading.Lock()  # one load
        self._infer_lock = threading.Lock()  # one inference at a time: a CompiledModel's own request is not re-entrant

    @classmethod
    def from_settings(cls, settings: IndexSettings, show_progress: bool = True) -> "OpenVINOEmbedder":
        """The embedder ``settings`` describe, its IR cached under ``settings.models_dir / 'openvino'``."""
        location = resolve_model(settings.embedding_model, settings.models_dir)
        return cls(settings.embedding_model, location, settings.embed_batch_size, show_progress, settings.embed_dtype,
                   ir_root=Path(settings.models_dir) / "openvino")

    @property
    def weights(self) -> str:
        """The IR's weight format: ``f16`` for bfloat16 inference, ``f32`` for float32.

        Why f16 for bf16: OpenVINO keeps fp16 weights compressed in memory, so a load peaks at
        0.6 GB instead of 1.7 GB (float32 IR plus its bf16 copy), reads half the bytes, and the
        vectors still agree with the torch bf16 index to cosine ≥ 0.999 (bench/bench_onnx.py)."""
        return "f32" if self.dtype == "float32" else "f16"

    @property
    def ir_dir(self) -> Path:
        """This model's IR folder (by fingerprint, conversion format and weight format)."""
        return self._ir_dir_for(self.weights)

    def _ir_dir_for(self, weights: str) -> Path:
        return self.ir_root / f"{Path(self.name).name}-{self.fingerprint}-v{IR_FORMAT}-{weights}"

    @property
    def ir_ready(self) -> bool:
        """Whether a converted IR of this model is in place, cheaply (no hashing, nothing removed; a load
        verifies it fully): its marker readable, made from this model, every file at its recorded size.
        While ``dtype`` is "auto" either weight format counts: the load picks one by the CPU (f32 where it
        has no bf16), and ``rag models`` converted into that one."""
        for weights in (("f16", "f32") if self.dtype == "auto" else (self.weights,)):
            folder = self._ir_dir_for(weights)
            try:
                record = json.loads((folder / IR_MARKER).read_text())
                if record.get("fingerprint") == self.fingerprint and all(
                        (folder / f).stat().st_size == size for f, size in record["sizes"].items()):
                    return True
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
        return False

    # -- loading -----------------------------------------------------------------------------------

    @property
    def compiled(self) -> Any:
        """The compiled model (converted to an IR first if none is cached), loaded once, thread-safely."""
        with self._lock:
            if self._compiled is None:
                ov = _import_openvino()
                core = ov.Core()
                if self.dtype == "auto":
                    # OpenVINO's own probe: no torch import just to read a CPU flag
                    caps = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
                    self.dtype = "bfloat16" if "BF16" in caps else "float32"
                else:
                    self.dtype = resolve_dtype(self.dtype)
                precision = "bf16" if self.dtype == "bfloat16" else "f32"
                config = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"}
                t = time.perf_counter()
                if not self._ir_ok():
                    self._convert(ov)
                try:
                    self._compiled = core.compile_model(str(self.ir_dir / "model.xml"), "CPU", config)
                except Exception as exc:  # a damaged IR whose sizes still look right: rebuild it once
                    log.warning("OpenVINO IR at %s does not load (%s); converting it again", self.ir_dir, exc)
                    shutil.rmtree(self.ir_dir, ignore_errors=True)
                    self._convert(ov)
                    self._compiled = core.compile_model(str(self.ir_dir / "model.xml"), "CPU", config)
                log.info("OpenVINO embedder %s compiled (%s) in %.1f s", self.ir_dir.name, precision, time.perf_counter() - t)
            return self._compiled

    def _ir_ok(self) -> bool:
        """True when a finished IR made from this model is in place, each file at its recorded size
        and the graph file's hash unchanged. A folder that fails the check is removed (logged)."""
        if not self.ir_dir.exists():
            return False
        try:
            record = json.loads((self.ir_dir / IR_MARKER).read_text())
            ok = (record.get("fingerprint") == self.fingerprint
                  and all((self.ir_dir / f).stat().st_size == size for f, size in record["sizes"].items())
                  and hashlib.sha256((self.ir_dir / "model.xml").read_bytes()).hexdigest() == record["xml_sha256"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            ok = False
        if not ok:
            log.warning("OpenVINO IR at %s is incomplete or damaged; converting the model again", self.ir_dir)
            shutil.rmtree(self.ir_dir, ignore_errors=True)
        return ok

    def _convert(self, ov: Any) -> None:
        """Convert the float32 PyTorch pipeline to an IR, written to a temporary folder and renamed
        into place (a crash never leaves half an IR; a second process's finished IR wins).

        Needs torch and sentence-transformers (once): ~1.5 min and ~3 GB of memory on 2 cores."""
        import torch

        from index.embedder import SentenceTransformerEmbedder

        log.info("converting %s to an OpenVINO IR at %s (once)", self.location, self.ir_dir)
        t = time.perf_counter()
        st = SentenceTransformerEmbedder(self.name, self.location, show_progress=False, dtype="float32").model

        class Pipeline(torch.nn.Module):  # the tokenised batch in, the normalised sentence embedding out
            def __init__(self, model: Any) -> None:
                super().__init__()
                self.model = model

            def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
                return self.model({"input_ids": input_ids, "attention_mask": attention_mask})["sentence_embedding"]

        sample = self._tokenize(["export sample text", "a second, longer sample text"])
        batch = torch.export.Dim("batch", min=1, max=4096)
        length = torch.export.Dim("length", min=2, max=max(self.max_tokens, 3))
        with torch.no_grad():
            # torch.export, not jit tracing: transformers builds Gemma's attention masks with vmap,
            # which torch.jit.trace (convert_model's default path) cannot trace
            program = torch.export.export(
                Pipeline(st).eval(), (torch.from_numpy(sample["input_ids"]), torch.from_numpy(sample["attention_mask"])),
                dynamic_shapes={"input_ids": {0: batch, 1: length}, "attention_mask": {0: batch, 1: length}})
            model = ov.convert_model(program)
        self.ir_dir.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.ir_dir.parent, prefix=".ir-") as tmp:
            built = Path(tmp) / "ir"
            ov.save_model(model, str(built / "model.xml"), compress_to_fp16=self.weights == "f16")
            record = {"fingerprint": self.fingerprint, "format": IR_FORMAT, "weights": self.weights, "openvino": ov.__version__,
                      "sizes": {f.name: f.stat().st_size for f in built.iterdir()},
                      "xml_sha256": hashlib.sha256((built / "model.xml").read_bytes()).hexdigest()}
            (built / IR_MARKER).write_text(json.dumps(record, indent=1))
            try:
                built.rename(self.ir_dir)
            except OSError:  # another process renamed its IR in first: use that one
                if not self.ir_dir.exists():
                    raise
        del model, program, st
        log.info("OpenVINO IR written in %.0f s", time.perf_counter() - t)

    @property
    def tokenizer(self) -> Any:
        """The model's own fast tokenizer (``tokenizer.json``; adds <bos> and <eos> like the torch path)."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(self.location / "tokenizer.json"))
            tok.no_truncation()  # truncation is done per text in _tokenize; count_tokens counts everything
            tok.no_padding()
            self._tokenizer = tok
        return self._tokenizer

    @property
    def prompts(self) -> dict[str, str]:
        """The query/document prompts of ``config_sentence_transformers.json`` (as sentence-transformers uses them)."""
        if self._prompts is None:
            path = self.location / "config_sentence_transformers.json"
            self._prompts = json.loads(path.read_text()).get("prompts", {}) if path.exists() else {}
        return self._prompts

    # -- the Embedder protocol -----------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return int(self.compiled.outputs[0].get_partial_shape()[-1].get_length())

    @cached_property
    def max_tokens(self) -> int:
        """The model's maximum sequence length (sentence_bert_config.json, else the tokenizer's)."""
        path = self.location / "sentence_bert_config.json"
        if path.exists():
            return int(json.loads(path.read_text())["max_seq_length"])
        return int(json.loads((self.location / "tokenizer_config.json").read_text()).get("model_max_length", 512))

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` for this model's own tokenizer (special tokens included)."""
        return len(self.tokenizer.encode(text, add_special_tokens=True).ids)

    def embed(self, texts: Sequence[str], kind: Kind, titles: Sequence[str] | None = None) -> np.ndarray:
        """L2-normalised float32 rows, one forward pass per ``batch_size`` texts (sorted by length,
        as sentence-transformers does, so a batch pads little), in the order given.

        ``titles``: one per text, put in the document prompt's title slot (as the torch embedder does)."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prompt = self.prompts.get(kind, "")
        titles = titles_for(texts, titles)
        prompts = [prompt] * len(texts) if titles is None else [titled_prompt(prompt, t) for t in titles]
        compiled = self.compiled
        encoded = self._tokenize([p + t for p, t in zip(prompts, texts)])
        lengths = encoded["attention_mask"].sum(axis=1)
        order = np.argsort(-lengths, kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for idx in self._batches(order, lengths):
            out[idx] = self._infer(compiled, encoded, idx, int(lengths[idx].max()))
        for i in np.flatnonzero(~np.isfinite(out).all(axis=1)):  # never seen after _batches' rule; a last guard
            out[[i]] = self._infer(compiled, encoded, np.array([i]), int(lengths[i]))
        # normalised again in float32: bfloat16 rounding leaves norms off by up to 1e-3
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def _batches(self, order: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
        """``order`` (longest first) cut into batches of at most ``batch_size`` whose padding stays
        within half the sliding attention window. Why: Gemma's sliding layers mask keys farther than
        the window, so a pad position more than a window past a text's end sees no key at all;
        torch's SDPA returns zeros for such a row, OpenVINO returns NaN, which the next layer
        spreads to the whole text (seen: a short text batched with a 2048-token one)."""
        gap = self.sliding_window // 2 if self.sliding_window else None
        batches: list[np.ndarray] = []
        start = 0
        while start < len(order):
            end = min(start + self.batch_size, len(order))
            if gap is not None:
                longest = lengths[order[start]]
                end = start + 1 + int(np.sum(lengths[order[start + 1:end]] >= longest - gap))
            batches.append(order[start:end])
            start = end
        return batches

    def _infer(self, compiled: Any, encoded: dict[str, np.ndarray], idx: np.ndarray, width: int) -> np.ndarray:
        feed = {"input_ids": encoded["input_ids"][idx, :width], "attention_mask": encoded["attention_mask"][idx, :width]}
        with self._infer_lock:
            result = compiled(feed)
        return np.asarray(result[compiled.outputs[0]], dtype=np.float32)

    @cached_property
    def sliding_window(self) -> int | None:
        """The transformer's sliding attention window (config.json), None when it has none."""
        try:
            value = json.loads((self.location / "config.json").read_text()).get("sliding_window")
        except (OSError, ValueError):
            return None
        return int(value) if value else None

    def _tokenize(self, texts: list[str]) -> dict[str, np.ndarray]:
        """int64 ``input_ids``/``attention_mask``, right-padded with <pad>, each text cut to
        ``max_tokens`` keeping its final <eos> (what the HF tokenizer's truncation gives)."""
        tok = self.tokenizer
        limit = self.max_tokens
        pad_id = tok.token_to_id("<pad>") or 0
        rows = []
        for enc in tok.encode_batch(texts, add_special_tokens=True):
            ids = enc.ids
            if len(ids) > limit:  # <bos> text <eos>: keep <bos> + the first limit-2 tokens + the <eos>
                ids = ids[:limit - 1] + ids[-1:]
            rows.append(ids)
        width = max(len(r) for r in rows)
        input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, ids in enumerate(rows):
            input_ids[i, :len(ids)] = ids
            mask[i, :len(ids)] = 1
        return {"input_ids": input_ids, "attention_mask": mask}

