"""The OpenVINO embedding runtime (index.embed_openvino): the setting, the registry, and against the
real model: the same vectors as torch, a damaged IR rebuilt, and a load from the IR without torch.

The real tests convert the installed EmbeddingGemma at most once: the IR is cached under
``MODELS_DIR/openvino`` (where ``rag`` keeps it too) and reused by later runs.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.embed_openvino import IR_MARKER, OpenVINOEmbedder
from index.embedder import SentenceTransformerEmbedder, embedder_class, embedder_from_settings, resolve_runtime, wants_openvino_ir
from index.errors import ConfigError, ModelMissingError
from index.settings import IndexSettings
from tests.conftest import MODELS_DIR, ROOT, SEEDS


def fake_model(folder: Path, sliding_window: int | None = 8) -> Path:
    """A model folder with the files the embedder reads before loading (no weights)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"sliding_window": sliding_window}))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 64}))
    return folder


# -- fast ------------------------------------------------------------------------------------------

def test_the_setting_defaults_to_auto_and_rejects_an_unknown_runtime(monkeypatch) -> None:
    assert IndexSettings().embed_runtime == "auto"
    monkeypatch.setenv("RAG_EMBED_RUNTIME", "openvino")
    assert IndexSettings.load().embed_runtime == "openvino"
    monkeypatch.setenv("RAG_EMBED_RUNTIME", "onnx")
    with pytest.raises(ConfigError, match="embed_runtime must be one of 'auto', 'torch', 'openvino'"):
        IndexSettings.load()


def test_auto_is_openvino_only_when_installed_and_converted(tmp_path, monkeypatch) -> None:
    import index.embedder as embedder_module

    fake_model(tmp_path / "models" / "m")
    settings = IndexSettings(models_dir=tmp_path / "models", embedding_model="m")  # embed_runtime "auto"
    assert resolve_runtime(settings.replace(embed_runtime="torch")) == "torch"
    assert resolve_runtime(settings.replace(embed_runtime="openvino")) == "openvino"
    monkeypatch.setattr(embedder_module, "openvino_installed", lambda: True)
    embedder_module._auto_runtime.cache_clear()
    assert resolve_runtime(settings) == "torch"  # installed, not converted: no 1.5-minute conversion in a question
    assert wants_openvino_ir(settings) and not wants_openvino_ir(settings.replace(embed_runtime="torch"))
    emb = OpenVINOEmbedder.from_settings(settings, show_progress=False)
    # a CPU without bf16 loads (and `rag models` converts) the float32 IR: that one counts too under "auto"
    ir = emb.ir_root / emb.ir_dir.name.replace("-f16", "-f32")
    ir.mkdir(parents=True)
    (ir / "model.bin").write_bytes(b"1234")
    (ir / IR_MARKER).write_text(json.dumps({"fingerprint": emb.fingerprint, "sizes": {"model.bin": 5}}))
    embedder_module._auto_runtime.cache_clear()
    assert resolve_runtime(settings) == "torch"  # a file not at its recorded size: an unfinished or damaged IR
    (ir / IR_MARKER).write_text(json.dumps({"fingerprint": emb.fingerprint, "sizes": {"model.bin": 4}}))
    embedder_module._auto_runtime.cache_clear()
    assert resolve_runtime(settings) == "openvino"
    assert not OpenVINOEmbedder.from_settings(settings.replace(embed_dtype="bfloat16"), show_progress=False).ir_ready
    assert isinstance(embedder_from_settings(settings, show_progress=False), OpenVINOEmbedder)
    monkeypatch.setattr(embedder_module, "openvino_installed", lambda: False)
    embedder_module._auto_runtime.cache_clear()
    assert resolve_runtime(settings) == "torch" and not wants_openvino_ir(settings)
    assert isinstance(embedder_from_settings(settings, show_progress=False), SentenceTransformerEmbedder)
    embedder_module._auto_runtime.cache_clear()


def test_the_registry_picks_the_class_by_runtime(tmp_path) -> None:
    assert embedder_class("torch") is SentenceTransformerEmbedder
    assert embedder_class("openvino") is OpenVINOEmbedder
    with pytest.raises(ValueError, match="unknown embed_runtime"):
        embedder_class("onnx")
    location = fake_model(tmp_path / "models" / "m")
    settings = IndexSettings(models_dir=tmp_path / "models", embedding_model="m", embed_runtime="openvino", embed_batch_size=4)
    emb = embedder_from_settings(settings, show_progress=False)
    assert isinstance(emb, OpenVINOEmbedder) and emb.batch_size == 4
    # same identity as the torch embedder of the same files: one index serves both runtimes
    torch_emb = embedder_from_settings(settings.replace(embed_runtime="torch"), show_progress=False)
    assert isinstance(torch_emb, SentenceTransformerEmbedder)
    assert (emb.name, emb.fingerprint) == (torch_emb.name, torch_emb.fingerprint)
    assert emb.ir_dir.parent == tmp_path / "models" / "openvino" and emb.fingerprint in emb.ir_dir.name
    assert location.exists()


def test_a_missing_openvino_package_names_the_extra(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino now raises ImportError
    emb = OpenVINOEmbedder("m", fake_model(tmp_path / "m"))
    with pytest.raises(ModelMissingError, match=r"pip install openvino"):
        emb.embed(["x"], "query")


def test_batches_keep_padding_within_half_the_sliding_window(tmp_path) -> None:
    emb = OpenVINOEmbedder("m", fake_model(tmp_path / "m", sliding_window=8), batch_size=3)
    lengths = np.array([20, 17, 16, 15, 12, 3, 2, 1, 1])
    order = np.argsort(-lengths, kind="stable")
    batches = emb._batches(order, lengths)
    assert [lengths[b].tolist() for b in batches] == [[20, 17, 16], [15, 12], [3, 2, 1], [1]]
    no_window = OpenVINOEmbedder("n", fake_model(tmp_path / "n", sliding_window=None), batch_size=4)
    assert [len(b) for b in no_window._batches(order, lengths)] == [4, 4, 1]


# -- real model --------------------------------------------------------------------------------------

def seed_sentences(n: int = 20) -> list[str]:
    """``n`` sentences of the seed articles, a few of them long (so batches pad)."""
    out: list[str] = []
    for path in sorted(SEEDS.glob("*.txt")):
        out += [s.strip() for s in path.read_text(encoding="utf-8").replace("\n", ".").split(".") if len(s.strip()) > 30]
    picked = out[: n - 2]
    return picked + [" ".join(out[:16]), "How many American soldiers are deployed in Iraq?"]


@pytest.fixture(scope="module")
def ov_embedder() -> OpenVINOEmbedder:
    """The installed model under OpenVINO in bfloat16, its IR converted once into MODELS_DIR/openvino."""
    pytest.importorskip("openvino")
    settings = IndexSettings(models_dir=MODELS_DIR, embed_runtime="openvino", embed_dtype="bfloat16")
    emb = embedder_from_settings(settings, show_progress=False)
    emb.embed(["warm"], "query")  # converts when no IR is cached (~1.5 min on 2 cores), else loads it
    return emb


@pytest.mark.slow
def test_openvino_vectors_match_torch(ov_embedder) -> None:
    # batches of 4: torch pads a batch to its longest text, and the long one would cost minutes beside 15 others
    torch_emb = embedder_from_settings(IndexSettings(models_dir=MODELS_DIR, embed_dtype="bfloat16", embed_batch_size=4), show_progress=False)
    texts = seed_sentences()
    assert ov_embedder.count_tokens(texts[-2]) > ov_embedder.sliding_window  # padding a short text to it passes the window
    for kind in ("query", "document"):
        a, b = ov_embedder.embed(texts, kind), torch_emb.embed(texts, kind)
        assert a.dtype == np.float32 and a.shape == (len(texts), ov_embedder.dim) == b.shape
        assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
        cosine = (a * b).sum(axis=1)
        assert cosine.min() >= 0.999, (kind, cosine.min())
    assert ov_embedder.count_tokens(texts[-2]) == torch_emb.count_tokens(texts[-2])
    assert ov_embedder.max_tokens == torch_emb.max_tokens


@pytest.mark.slow
def test_a_damaged_ir_is_rebuilt(ov_embedder, tmp_path, monkeypatch, caplog) -> None:
    # a private IR folder, hard-linked from the cached one; the "conversion" links it again, so the
    # test checks detection and replacement without a second 1.5-minute conversion
    good = ov_embedder.ir_dir
    root = tmp_path / "openvino"

    def relink(self, ov) -> None:
        shutil.copytree(good, self.ir_dir, copy_function=os.link)

    monkeypatch.setattr(OpenVINOEmbedder, "_convert", relink)
    reference = ov_embedder.embed(["ما هو الحوار الاستراتيجي؟"], "query")
    for damage in ("truncated weights", "no marker (a crash mid-write)", "edited graph"):
        emb = OpenVINOEmbedder(ov_embedder.name, ov_embedder.location, dtype="bfloat16", ir_root=root)
        if not emb.ir_dir.exists():
            shutil.copytree(good, emb.ir_dir, copy_function=os.link)
        bin_file, xml = emb.ir_dir / "model.bin", emb.ir_dir / "model.xml"
        if damage == "truncated weights":
            bin_file.unlink()
            bin_file.write_bytes(b"\0" * 1024)
        elif damage.startswith("no marker"):
            (emb.ir_dir / IR_MARKER).unlink()
        else:
            text = xml.read_text()
            xml.unlink()  # a fresh file: the cached IR's link stays intact
            xml.write_text(text.replace("<layers>", "<layers><broken>", 1))
        with caplog.at_level(logging.WARNING, logger="index.embed_openvino"):
            vec = emb.embed(["ما هو الحوار الاستراتيجي؟"], "query")
        assert "converting the model again" in caplog.text, damage
        caplog.clear()
        assert float((vec * reference).sum()) > 0.99999, damage
        assert (emb.ir_dir / IR_MARKER).exists() and (emb.ir_dir / "model.bin").stat().st_size == (good / "model.bin").stat().st_size


@pytest.mark.slow
def test_loading_from_the_ir_imports_no_torch(ov_embedder) -> None:
    code = (
        "import sys; from index.settings import IndexSettings; from index.embedder import embedder_from_settings\n"
        f"emb = embedder_from_settings(IndexSettings(models_dir={str(MODELS_DIR)!r}, embed_runtime='openvino'), show_progress=False)\n"
        "v = emb.embed(['من هو وزير الخارجية العراقي؟'], 'query')\n"
        "print(v.shape[1], [m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "768 []", out.stdout


@pytest.mark.slow
def test_rag_models_prepares_the_ir_when_openvino_is_chosen(ov_embedder, tmp_path) -> None:
    """`rag models` converts (or checks) the IR, so the first question does not pay the conversion."""
    env = {**os.environ, "RAG_HOME": str(tmp_path), "RAG_MODELS_DIR": str(MODELS_DIR), "RAG_EMBED_RUNTIME": "openvino",
           "RAG_EMBED_DTYPE": "bfloat16"}
    out = subprocess.run([sys.executable, "-m", "ui.cli", "models", "--embedding-only"], capture_output=True, text=True,
                         timeout=600, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert f"OpenVINO IR: ready at {ov_embedder.ir_dir}" in out.stdout
    env["RAG_EMBED_RUNTIME"] = "torch"
    plain = subprocess.run([sys.executable, "-m", "ui.cli", "models", "--embedding-only"], capture_output=True, text=True,
                           timeout=600, env=env, cwd=ROOT)
    assert plain.returncode == 0 and "OpenVINO" not in plain.stdout
