"""Faster embeddings only if lossless: EmbeddingGemma exported to ONNX here (none ships) and run by
ONNX Runtime (float32) and by OpenVINO (float32, and bfloat16 inference on CPUs with native bf16),
against the project's torch bfloat16 embedder, in one run.

A runtime is kept only if, in this run, it is faster than torch bfloat16 (one question, and per
question in batches of 16) **and** its vectors agree with the index's (cosine ≥ 0.999 for the
seed index's own chunks, re-embedded) **and** XQuAD dense recall@1 moves by ≤ 0.005 (first
``--contexts`` contexts as the search space, their questions in both directions). The recall
check runs only for a runtime that passed the first two.

Speed is timed with each runtime in a fresh process of its own (``--child``), one after the other
and repeated ``--processes`` times, on the same texts: two runtimes in one process compete for the
two cores with their own thread pools (torch's OpenMP, OpenVINO's TBB), which made an earlier run's
figures meaningless. Each child also times a batch while a Python thread of its process holds the
GIL between short sleeps, as the API server's request threads do (``contended``): torch runs its
forward pass op by op from Python and needs the GIL between ops; a compiled graph does not.
The vectors (cosine, XQuAD) are compared in the parent process, untimed.

ONNX Runtime and OpenVINO are optional (``pip install onnxruntime openvino``; the export needs
``onnx`` and ``onnxscript``): a missing one is reported, not fatal.

    python bench/bench_onnx.py [--rounds 10] [--processes 3] [--contexts 60]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
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
    # The output is not called "embedding": the exporter names the token-embedding lookup's value so, and ONNX Runtime
    # refuses a graph that defines a name twice ("Duplicate definition of name (embedding)"; OpenVINO accepts it).
    torch.onnx.export(Pipeline(model).eval(), args, str(path), input_names=["input_ids", "attention_mask"], output_names=["sentence_embedding"],
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


RUNTIMES = {  # name: (kind, precision)
    "torch bfloat16 (the project's)": ("torch", "bfloat16"),
    "ONNX Runtime float32": ("onnxruntime", "f32"),
    "OpenVINO float32": ("openvino", "f32"),
    "OpenVINO bfloat16": ("openvino", "bf16"),
}


def speed_texts(rounds: int) -> dict[str, list]:
    """The texts every child times, the same for each runtime: ``rounds`` single questions and
    ``rounds`` batches of 16 distinct questions."""
    return {"warm": [f"{q} (w{j})" for j, q in enumerate(QUESTIONS * 4)],
            "single": [f"{QUESTIONS[i % 4]} ({i})" for i in range(rounds)],
            "batches": [[f"{q} ({i}-{j})" for j, q in enumerate(QUESTIONS * 4)] for i in range(rounds)]}


def make_runner(name: str, settings: RagSettings, onnx_path: Path, threads: int):
    """The runner of ``RUNTIMES[name]``; graph runners borrow the bfloat16 embedder's tokenizer and prompts."""
    kind, precision = RUNTIMES[name]
    base = TorchRunner(settings, "bfloat16")
    if kind == "torch":
        return base
    return GraphRunner(kind, onnx_path, base.model, threads, precision)


def child(name: str, texts_file: str, onnx_path: str, threads: int) -> None:
    """In a fresh process: time one runtime on the texts in ``texts_file``; one JSON line on stdout."""
    texts = json.loads(Path(texts_file).read_text(encoding="utf-8"))
    runner = make_runner(name, RagSettings.load(), Path(onnx_path), threads)
    runner.embed(texts["warm"], "query")
    single, batch, contended = [], [], []
    for text in texts["single"]:
        t = time.perf_counter()
        runner.embed([text], "query")
        single.append(time.perf_counter() - t)
    for group in texts["batches"]:
        t = time.perf_counter()
        runner.embed(group, "query")
        batch.append((time.perf_counter() - t) / len(group))
    stop = threading.Event()

    def python_work() -> None:  # what a request thread does beside the pass: pure Python, holding the GIL
        while not stop.is_set():
            sum(i * i for i in range(20000))
            time.sleep(0.002)

    worker = threading.Thread(target=python_work, daemon=True)
    worker.start()
    for group in texts["batches"][: max(2, len(texts["batches"]) // 3)]:
        t = time.perf_counter()
        runner.embed([g + " (c)" for g in group], "query")
        contended.append((time.perf_counter() - t) / len(group))
    stop.set()
    worker.join()
    print(json.dumps({"single_s": statistics.median(single), "batched_per_question_s": statistics.median(batch),
                      "contended_batched_per_question_s": statistics.median(contended)}))


def speed(names: list[str], rounds: int, processes: int, onnx_path: Path, threads: int) -> tuple[dict, dict[str, str]]:
    """Each runtime timed in ``processes`` fresh processes of its own, the runtimes taking turns; the
    median over the children of each one's medians. A runtime whose child fails is reported, not timed."""
    import tempfile

    texts_file = Path(tempfile.mkstemp(suffix=".json")[1])
    texts_file.write_text(json.dumps(speed_texts(rounds), ensure_ascii=False), encoding="utf-8")
    runs: dict[str, list[dict]] = {n: [] for n in names}
    failed: dict[str, str] = {}
    try:
        for _ in range(processes):
            for name in names:
                if name in failed:
                    continue
                out = subprocess.run([sys.executable, __file__, "--child", name, "--texts", str(texts_file), "--onnx", str(onnx_path),
                                      "--threads", str(threads)], capture_output=True, text=True)
                if out.returncode != 0:
                    failed[name] = f"not run: {(out.stderr.strip().splitlines() or ['?'])[-1][:300]}"
                    continue
                runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        texts_file.unlink(missing_ok=True)
    timing = {}
    for name, got in runs.items():
        if got:
            timing[name] = {key: statistics.median(r[key] for r in got) for key in got[0]}
            timing[name]["processes"] = got
    return timing, failed


def recall_at_1(runner, contexts: list[str], questions: list[tuple[str, int]]) -> float:
    docs = np.concatenate([runner.embed(contexts[i:i + 16], "document") for i in range(0, len(contexts), 16)])
    qv = np.concatenate([runner.embed([q for q, _ in questions[i:i + 16]], "query") for i in range(0, len(questions), 16)])
    best = (qv @ docs.T).argmax(axis=1)
    return float(np.mean([b == gold for b, (_, gold) in zip(best, questions)]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10, help="single questions and batches of 16 timed in each process")
    ap.add_argument("--processes", type=int, default=3, help="fresh processes per runtime, the runtimes taking turns")
    ap.add_argument("--contexts", type=int, default=60)
    ap.add_argument("--xquad", default=str(ROOT.parent / "shared" / "benchmarks" / "xquad"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--texts", help=argparse.SUPPRESS)
    ap.add_argument("--onnx", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.texts, args.onnx, args.threads)
        return
    settings = RagSettings.load()
    base = TorchRunner(settings, "bfloat16")
    notes: dict[str, str] = {}
    onnx_path = settings.home / "cache" / "onnx" / f"{base.emb.name}-{base.emb.fingerprint}-v2.onnx"
    older = onnx_path.with_name(onnx_path.name.replace("-v2.onnx", ".onnx"))  # output named "embedding": ONNX Runtime refuses it
    if not onnx_path.exists():
        f32 = TorchRunner(settings, "float32")
        try:
            t = time.perf_counter()
            export(f32.model, onnx_path)
            notes["export"] = f"{onnx_path.name}, {time.perf_counter() - t:.0f} s"
        except Exception as exc:  # no exporter installed, or the graph does not export: reported, not fatal
            notes["export"] = f"failed: {type(exc).__name__}: {str(exc)[:300]}"
            if older.exists():
                onnx_path = older
                notes["export"] += f"; using {older.name}, exported earlier with its output named 'embedding'"
        del f32
    else:
        notes["export"] = f"{onnx_path.name} (exported by an earlier run, cached)"
    names = list(RUNTIMES) if onnx_path.exists() else [next(iter(RUNTIMES))]
    timing, failed = speed(names, args.rounds, args.processes, onnx_path, args.threads)
    notes.update(failed)
    runners: dict = {"torch bfloat16 (the project's)": base}
    for name in timing:
        if name not in runners:
            runners[name] = GraphRunner(RUNTIMES[name][0], onnx_path, base.model, args.threads, RUNTIMES[name][1])
    # agreement with the index: the seed index's own chunk vectors (built by torch bfloat16), re-embedded
    from index.store import IndexStore

    store = IndexStore.load(settings.index_dir)
    chunk_texts = [c.text for c in store.chunks][:64]
    index_vectors = np.asarray(store.vectors[:len(chunk_texts)], dtype=np.float32)
    queries = [f"{q} ({i})" for i, q in enumerate(QUESTIONS * 4)]
    ref_q = base.embed(queries, "query")
    data: dict = {"notes": notes, "timing": timing, "rounds": args.rounds, "processes": args.processes, "runtimes": {}}
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
        rows.append((f"{name}: batch of 16 beside a GIL-holding Python thread, per question",
                     f"{t['contended_batched_per_question_s'] * 1000:.1f} ms = "
                     f"{t['contended_batched_per_question_s'] / t['batched_per_question_s']:.2f}x its quiet figure"))
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
