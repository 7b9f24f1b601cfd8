"""Faster embeddings only if lossless: EmbeddingGemma exported to ONNX here (none ships) and run by
ONNX Runtime (float32) and by OpenVINO (float32, and bfloat16 inference on CPUs with native bf16),
against the project's torch bfloat16 embedder, in one run.

A runtime is kept only if, in this run, it is faster than torch bfloat16 (one question, and per
question in batches of 16) **and** its vectors agree with the index's (cosine ≥ 0.999 for the
seed index's own chunks, re-embedded) **and** XQuAD dense recall@1 moves by ≤ 0.005 (first
``--contexts`` contexts as the search space, their questions in both directions). The recall
check runs only for a runtime that passed the first two.

ONNX Runtime and OpenVINO are optional (``pip install onnxruntime openvino``; the export needs
``onnx`` and ``onnxscript``): a missing one is reported, not fatal.

    python bench/bench_onnx.py [--rounds 20] [--contexts 60]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from common import ROOT, report

sys.path.insert(0, str(ROOT))
from rag.settings import RagSettings  # noqa: E402

COSINE_MIN = 0.999
RECALL_DELTA_MAX = 0.005
QUESTIONS = ["من هو وزير الخارجية العراقي الذي التقى بلينكن؟", "How many American soldiers are deployed in Iraq?",
             "ما الملفات التي يتناولها الحوار الاستراتيجي؟", "What did Joe Wilson's campaign call for?"]


class TorchRunner:
    """The project's embedder (sentence-transformers, torch) in ``dtype``."""

    def __init__(self, settings: RagSettings, dtype: str) -> None:
        from index.embedder import SentenceTransformerEmbedder

        self.emb = SentenceTransformerEmbedder.from_settings(settings.replace(embed_dtype=dtype), show_progress=False)
        self.model = self.emb.model

    def embed(self, texts: list[str], kind: str) -> np.ndarray:
        return self.emb.embed(texts, kind)


def export(model, path: Path) -> Path:
    """The float32 sentence-transformers pipeline (transformer, mean pooling, two dense layers,
    normalisation) as one ONNX graph with dynamic batch and length."""
    import torch

    class Pipeline(torch.nn.Module):
        def __init__(self, st) -> None:
            super().__init__()
            self.st = st

        def forward(self, input_ids, attention_mask):
            return self.st({"input_ids": input_ids, "attention_mask": attention_mask})["sentence_embedding"]

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    features = model.tokenize(["export sample text", "another"])
    args = (features["input_ids"], features["attention_mask"])
    batch, length = torch.export.Dim("batch", min=1, max=256), torch.export.Dim("length", min=2, max=2048)
    torch.onnx.export(Pipeline(model).eval(), args, str(path), input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                      dynamic_shapes={"input_ids": {0: batch, 1: length}, "attention_mask": {0: batch, 1: length}},
                      dynamo=True, external_data=True)
    return path


class GraphRunner:
    """An exported graph run by ONNX Runtime or OpenVINO, fed by the model's own tokenizer."""

    def __init__(self, kind: str, onnx_path: Path, model, threads: int, precision: str = "f32") -> None:
        self.model, self.kind = model, kind
        if kind == "onnxruntime":
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        else:
            import openvino as ov

            self.compiled = ov.Core().compile_model(str(onnx_path), "CPU", {"INFERENCE_PRECISION_HINT": precision,
                                                                            "INFERENCE_NUM_THREADS": threads})

    def embed(self, texts: list[str], kind: str) -> np.ndarray:
        prompt = self.model.prompts.get(kind, "")
        f = self.model.tokenize([prompt + t for t in texts])
        feed = {"input_ids": f["input_ids"].numpy(), "attention_mask": f["attention_mask"].numpy()}
        if self.kind == "onnxruntime":
            out = self.session.run(None, feed)[0]
        else:
            out = self.compiled(feed)[0]
        out = np.asarray(out, dtype=np.float32)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def speed(runners: dict, rounds: int) -> dict:
    """One question and batches of 16, the runners interleaved round by round (drift hits all alike)."""
    single = {n: [] for n in runners}
    batch = {n: [] for n in runners}
    for r in runners.values():
        r.embed([f"{q} (w)" for q in QUESTIONS * 4], "query")  # warm-up
    for i in range(rounds):
        for name, r in runners.items():
            t = time.perf_counter()
            r.embed([f"{QUESTIONS[i % 4]} ({i})"], "query")
            single[name].append(time.perf_counter() - t)
            texts = [f"{q} ({i}-{j})" for j, q in enumerate(QUESTIONS * 4)]
            t = time.perf_counter()
            r.embed(texts, "query")
            batch[name].append((time.perf_counter() - t) / len(texts))
    return {n: {"single_s": statistics.median(single[n]), "batched_per_question_s": statistics.median(batch[n])} for n in runners}


def recall_at_1(runner, contexts: list[str], questions: list[tuple[str, int]]) -> float:
    docs = np.concatenate([runner.embed(contexts[i:i + 16], "document") for i in range(0, len(contexts), 16)])
    qv = np.concatenate([runner.embed([q for q, _ in questions[i:i + 16]], "query") for i in range(0, len(questions), 16)])
    best = (qv @ docs.T).argmax(axis=1)
    return float(np.mean([b == gold for b, (_, gold) in zip(best, questions)]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--contexts", type=int, default=60)
    ap.add_argument("--xquad", default=str(ROOT.parent / "shared" / "benchmarks" / "xquad"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    settings = RagSettings.load()
    base = TorchRunner(settings, "bfloat16")
    f32 = TorchRunner(settings, "float32")
    runners: dict = {"torch bfloat16 (the project's)": base}
    notes: dict[str, str] = {}
    onnx_path = settings.home / "cache" / "onnx" / f"{base.emb.name}-{base.emb.fingerprint}.onnx"
    try:
        t = time.perf_counter()
        export(f32.model, onnx_path)
        notes["export"] = f"{onnx_path.name}, {time.perf_counter() - t:.0f} s (cached after the first run)"
    except Exception as exc:  # no exporter installed, or the graph does not export: reported, not fatal
        notes["export"] = f"failed: {type(exc).__name__}: {str(exc)[:300]}"
    if onnx_path.exists():
        for name, kind, precision in (("ONNX Runtime float32", "onnxruntime", "f32"), ("OpenVINO float32", "openvino", "f32"),
                                      ("OpenVINO bfloat16", "openvino", "bf16")):
            try:
                runners[name] = GraphRunner(kind, onnx_path, f32.model, args.threads, precision)
            except Exception as exc:  # not installed here
                notes[name] = f"not run: {type(exc).__name__}: {str(exc)[:200]}"
    del f32
    timing = speed(runners, args.rounds)
    # agreement with the index: the seed index's own chunk vectors (built by torch bfloat16), re-embedded
    from index.store import IndexStore

    store = IndexStore.load(settings.index_dir)
    chunk_texts = [c.text for c in store.chunks][:64]
    index_vectors = np.asarray(store.vectors[:len(chunk_texts)], dtype=np.float32)
    queries = [f"{q} ({i})" for i, q in enumerate(QUESTIONS * 4)]
    ref_q = base.embed(queries, "query")
    data: dict = {"notes": notes, "timing": timing, "rounds": args.rounds, "runtimes": {}}
    xq = None
    if Path(args.xquad).exists():
        ar = json.loads((Path(args.xquad) / "xquad.ar.json").read_text(encoding="utf-8"))
        en = json.loads((Path(args.xquad) / "xquad.en.json").read_text(encoding="utf-8"))
        en_q = {qa["id"]: qa["question"] for a in en["data"] for p in a["paragraphs"] for qa in p["qas"]}
        contexts, questions = [], []
        for a in ar["data"]:
            for p in a["paragraphs"]:
                if len(contexts) < args.contexts:
                    questions += [(qa["question"], len(contexts)) for qa in p["qas"]] + [(en_q[qa["id"]], len(contexts)) for qa in p["qas"]]
                    contexts.append(p["context"])
        xq = (contexts, questions)
    ref_t = timing["torch bfloat16 (the project's)"]
    rows = [("export", notes["export"])]
    for name, runner in runners.items():
        t = timing[name]
        docs = runner.embed(chunk_texts, "document")
        cos_docs = (docs * index_vectors).sum(axis=1)
        cos_q = (runner.embed(queries, "query") * ref_q).sum(axis=1)
        faster = t["single_s"] < ref_t["single_s"] and t["batched_per_question_s"] < ref_t["batched_per_question_s"]
        lossless = float(cos_docs.min()) >= COSINE_MIN
        entry = {**t, "cosine_index_min": float(cos_docs.min()), "cosine_index_mean": float(cos_docs.mean()),
                 "cosine_query_min": float(cos_q.min()), "faster": faster, "cosine_ok": lossless}
        if xq and (faster and lossless or runner is base):
            entry["xquad_recall@1"] = recall_at_1(runner, *xq)
        data["runtimes"][name] = entry
        rows.append((f"{name}: one question / batch of 16 per question",
                     f"{t['single_s'] * 1000:.0f} / {t['batched_per_question_s'] * 1000:.1f} ms = "
                     f"{t['single_s'] / ref_t['single_s']:.2f}x / {t['batched_per_question_s'] / ref_t['batched_per_question_s']:.2f}x torch bf16"))
        rows.append((f"{name}: cosine with the index's vectors, min / mean (queries min)",
                     f"{cos_docs.min():.5f} / {cos_docs.mean():.5f} ({cos_q.min():.5f}); target ≥ {COSINE_MIN}"))
    base_recall = data["runtimes"]["torch bfloat16 (the project's)"].get("xquad_recall@1")
    for name, entry in data["runtimes"].items():
        if name.startswith("torch"):
            continue
        if "xquad_recall@1" in entry:
            delta = entry["xquad_recall@1"] - base_recall
            entry["kept"] = abs(delta) <= RECALL_DELTA_MAX
            why = f"XQuAD R@1 {entry['xquad_recall@1']:.3f} vs {base_recall:.3f} (Δ {delta:+.3f})"
        else:
            entry["kept"] = False
            why = ", ".join(w for w, bad in (("not faster", not entry["faster"]), (f"cosine < {COSINE_MIN}", not entry["cosine_ok"])) if bad)
        rows.append((f"{name}: kept?", ("yes: " if entry["kept"] else "no: ") + why))
    for name, note in notes.items():
        if name != "export":
            rows.append((name, note))
    if base_recall is not None:
        rows.append((f"torch bfloat16: XQuAD dense R@1 ({args.contexts} contexts, {len(xq[1])} questions)", f"{base_recall:.3f}"))
    report("onnx", rows, data)


if __name__ == "__main__":
    main()
