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

The project's own OpenVINO runtime (``embed_runtime = "openvino"``, ``index.embed_openvino``: the
IR converted from the PyTorch model, loaded without torch) is timed the same way; the ONNX export
and the graph runners over it (``--with-onnx``) are the earlier experiment, kept for comparison.
XQuAD recall is computed over the whole benchmark by default (240 contexts, 1,190 questions each
way; vectors cached per runtime under ``HOME/cache``). ``--coldstart-rounds N`` also times, in
fresh processes taking turns, the floor of bench/bench_coldstart.py and ``rag ask --backend
extractive`` with ``RAG_EMBED_RUNTIME=torch`` and ``=openvino`` (wall time and peak RSS).

ONNX Runtime and OpenVINO are optional (``pip install onnxruntime`` / ``pip install '.[openvino]'``;
the ONNX export needs ``onnx`` and ``onnxscript``): a missing one is reported, not fatal.

    python bench/bench_onnx.py [--rounds 30] [--processes 4] [--contexts 240] [--coldstart-rounds 3] [--with-onnx]
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


TORCH = "torch bfloat16 (the project's)"
OPENVINO = "OpenVINO bfloat16 (embed_runtime=openvino)"
RUNTIMES = {  # name: (kind, precision)
    TORCH: ("torch", "bfloat16"),
    OPENVINO: ("openvino-ir", "bf16"),
}
ONNX_RUNTIMES = {  # the earlier experiment over an ONNX export (--with-onnx)
    "ONNX Runtime float32": ("onnxruntime", "f32"),
    "OpenVINO float32 (ONNX graph)": ("openvino", "f32"),
    "OpenVINO bfloat16 (ONNX graph)": ("openvino", "bf16"),
}
ALL_RUNTIMES = {**RUNTIMES, **ONNX_RUNTIMES}


class OpenVINORunner:
    """The project's OpenVINO embedder (``index.embed_openvino``), as ``rag`` loads it: no torch import."""

    def __init__(self, settings: RagSettings) -> None:
        from index.embedder import embedder_from_settings

        self.emb = embedder_from_settings(settings.replace(embed_runtime="openvino", embed_dtype="bfloat16"), show_progress=False)

    def embed(self, texts: list[str], kind: str) -> np.ndarray:
        return self.emb.embed(texts, kind)


def speed_texts(rounds: int) -> dict[str, list]:
    """The texts every child times, the same for each runtime: ``rounds`` single questions and
    ``rounds`` batches of 16 distinct questions."""
    return {"warm": [f"{q} (w{j})" for j, q in enumerate(QUESTIONS * 4)],
            "single": [f"{QUESTIONS[i % 4]} ({i})" for i in range(rounds)],
            "batches": [[f"{q} ({i}-{j})" for j, q in enumerate(QUESTIONS * 4)] for i in range(rounds)]}


def make_runner(name: str, settings: RagSettings, onnx_path: Path, threads: int):
    """The runner of ``RUNTIMES[name]``; graph runners borrow the bfloat16 embedder's tokenizer and prompts."""
    kind, precision = ALL_RUNTIMES[name]
    if kind == "openvino-ir":
        return OpenVINORunner(settings)
    base = TorchRunner(settings, "bfloat16")
    if kind == "torch":
        return base
    return GraphRunner(kind, onnx_path, base.model, threads, precision)


def child(name: str, texts_file: str, onnx_path: str, threads: int) -> None:
    """In a fresh process: time one runtime on the texts in ``texts_file``; one JSON line on stdout."""
    texts = json.loads(Path(texts_file).read_text(encoding="utf-8"))
    t = time.perf_counter()
    runner = make_runner(name, RagSettings.load(), Path(onnx_path), threads)
    runner.embed(texts["warm"][:1], "query")
    load_s = time.perf_counter() - t  # import, load and the first question (what a cold process pays)
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
    print(json.dumps({"load_and_first_s": load_s, "single_s": statistics.median(single), "batched_per_question_s": statistics.median(batch),
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
            # how far the processes' own medians lie apart, relative to their median: the runs agree when small
            timing[name]["spread"] = {key: (max(r[key] for r in got) - min(r[key] for r in got)) / timing[name][key] for key in got[0]}
            timing[name]["processes"] = got
    return timing, failed


def xquad_recall(runner, name: str, runtime: str, folder: Path, settings: RagSettings, contexts_limit: int) -> dict:
    """Dense recall@1 on XQuAD, exact search (argmax of dot products) over the first ``contexts_limit``
    Arabic contexts, for their Arabic (ar→ar) and English (en→ar) questions. Vectors are cached per
    model, dtype and runtime under ``HOME/cache`` (the torch file is the one ``rag eval xquad`` fills)."""
    from rag.evaluation.xquad import CachingEmbedder, load_xquad

    contexts, queries = load_xquad(folder)
    contexts = contexts[:contexts_limit]
    queries = [q for q in queries if q[3] < len(contexts)]
    suffix = "" if runtime == "torch" else f"-{runtime}-{runner.emb.weights}"  # the IR's weight format changes the vectors
    emb = CachingEmbedder(runner.emb, settings.home / "cache" / f"xquad-{runner.emb.name}-{runner.emb.fingerprint}-bfloat16{suffix}.npz")
    docs = emb.embed([text for _, text in contexts], "document")
    out = {"contexts": len(contexts), "questions_per_direction": len(queries)}
    gold = np.array([q[3] for q in queries])
    for direction, column in (("ar→ar", 1), ("en→ar", 2)):
        qv = emb.embed([q[column] for q in queries], "query")
        out[direction] = float(np.mean((qv @ docs.T).argmax(axis=1) == gold))
    emb.save()
    return out


def coldstart(rounds: int, settings: RagSettings) -> dict:
    """bench/bench_coldstart.py's floor and ``rag ask --backend extractive`` with each runtime, in fresh
    processes taking turns (floor, torch, openvino) ``rounds`` times: wall time and peak RSS."""
    import os

    from bench_coldstart import AR, FLOOR, cli, run

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAG_HOME": str(settings.home), "RAG_MODELS_DIR": str(settings.models_dir),
           "RAG_INDEX_DIR": str(settings.index_dir), "RAG_EMBED_DTYPE": "bfloat16", "PYTHONPATH": str(ROOT)}
    runs: dict[str, list[dict]] = {"floor": [], "torch": [], "openvino": []}
    for _ in range(rounds):
        runs["floor"].append(run([sys.executable, "-c", FLOOR, str(settings.models_dir / "embeddinggemma-300m"), AR], ROOT, env))
        for runtime in ("torch", "openvino"):
            got = run(cli(ROOT) + ["ask", "--backend", "extractive", AR], ROOT, {**env, "RAG_EMBED_RUNTIME": runtime})
            if got["rc"] != 0:
                raise SystemExit(f"rag ask with RAG_EMBED_RUNTIME={runtime} failed (exit {got['rc']})")
            runs[runtime].append(got)
    return runs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30, help="single questions and batches of 16 timed in each process")
    ap.add_argument("--processes", type=int, default=4, help="fresh processes per runtime, the runtimes taking turns")
    ap.add_argument("--contexts", type=int, default=240, help="XQuAD contexts searched (240: all of them)")
    ap.add_argument("--xquad", default=str(ROOT.parent / "shared" / "benchmarks" / "xquad"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--coldstart-rounds", type=int, default=3, help="rounds of the cold-start comparison (0: skip it)")
    ap.add_argument("--with-onnx", action="store_true", help="also the ONNX export run by ONNX Runtime and OpenVINO")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--texts", help=argparse.SUPPRESS)
    ap.add_argument("--onnx", help=argparse.SUPPRESS)
    ap.add_argument("--prepare-ir", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.texts, args.onnx, args.threads)
        return
    if args.prepare_ir:
        OpenVINORunner(RagSettings.load()).embed(["warm"], "query")
        return
    settings = RagSettings.load()
    notes: dict[str, str] = {}
    # the IR is converted (once) before any timing, in a child, so no timed process pays for the conversion
    t = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--prepare-ir"], check=True)
    notes["openvino IR"] = f"ready in {time.perf_counter() - t:.0f} s in this run (a fresh process: load and one question)"
    # the cold starts first, while this process is small: a child forked from a process holding the models
    # reports that process's resident size as its own peak (ru_maxrss survives fork and exec)
    cold = coldstart(args.coldstart_rounds, settings) if args.coldstart_rounds else None
    base = TorchRunner(settings, "bfloat16")
    onnx_path = settings.home / "cache" / "onnx" / f"{base.emb.name}-{base.emb.fingerprint}-v2.onnx"
    names = list(RUNTIMES)
    if args.with_onnx:
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
        if onnx_path.exists():
            names += list(ONNX_RUNTIMES)
    ov_runner = OpenVINORunner(settings)
    notes["openvino IR"] = f"{ov_runner.emb.ir_dir.name} ({ov_runner.emb.weights} weights); " + notes["openvino IR"]
    timing, failed = speed(names, args.rounds, args.processes, onnx_path, args.threads)
    notes.update(failed)
    runners: dict = {TORCH: base, OPENVINO: ov_runner}
    for name in timing:
        if name not in runners:
            runners[name] = GraphRunner(ALL_RUNTIMES[name][0], onnx_path, base.model, args.threads, ALL_RUNTIMES[name][1])
    # agreement with the index: the seed index's own chunk vectors (built by torch bfloat16), re-embedded
    from index.store import IndexStore

    store = IndexStore.load(settings.index_dir)
    chunk_texts = [c.text for c in store.chunks][:256]
    index_vectors = np.asarray(store.vectors[:len(chunk_texts)], dtype=np.float32)
    queries = [f"{q} ({i})" for i, q in enumerate(QUESTIONS * 4)]
    ref_q = base.embed(queries, "query")
    data: dict = {"notes": notes, "timing": timing, "rounds": args.rounds, "processes": args.processes, "runtimes": {}}
    ref_t = timing[TORCH]
    rows = [(k, v) for k, v in notes.items()]
    for name, runner in runners.items():
        if name not in timing:
            continue
        t = timing[name]
        docs = runner.embed(chunk_texts, "document")
        cos_docs = (docs * index_vectors).sum(axis=1)
        cos_q = (runner.embed(queries, "query") * ref_q).sum(axis=1)
        faster = t["single_s"] < ref_t["single_s"] and t["batched_per_question_s"] < ref_t["batched_per_question_s"]
        lossless = float(cos_docs.min()) >= COSINE_MIN
        entry = {**t, "cosine_index_min": float(cos_docs.min()), "cosine_index_mean": float(cos_docs.mean()),
                 "cosine_query_min": float(cos_q.min()), "index_chunks_compared": len(chunk_texts), "faster": faster, "cosine_ok": lossless}
        if Path(args.xquad).exists() and name in (TORCH, OPENVINO):
            entry["xquad_recall@1"] = xquad_recall(runner, name, "torch" if name == TORCH else "openvino", Path(args.xquad), settings, args.contexts)
        data["runtimes"][name] = entry
        sp = t["spread"]
        rows.append((f"{name}: one question / batch of 16 per question (median of {len(t['processes'])} processes)",
                     f"{t['single_s'] * 1000:.0f} / {t['batched_per_question_s'] * 1000:.1f} ms = "
                     f"{t['single_s'] / ref_t['single_s']:.2f}x / {t['batched_per_question_s'] / ref_t['batched_per_question_s']:.2f}x torch bf16"))
        rows.append((f"{name}: per-process medians, one question / batched (spread)",
                     " ".join(f"{r['single_s'] * 1000:.0f}" for r in t["processes"]) + " / "
                     + " ".join(f"{r['batched_per_question_s'] * 1000:.1f}" for r in t["processes"])
                     + f" ms ({sp['single_s']:.0%} / {sp['batched_per_question_s']:.0%})"))
        rows.append((f"{name}: fresh process to its first vector (import, load, one question)", f"{t['load_and_first_s']:.1f} s"))
        rows.append((f"{name}: batch of 16 beside a GIL-holding Python thread, per question",
                     f"{t['contended_batched_per_question_s'] * 1000:.1f} ms = "
                     f"{t['contended_batched_per_question_s'] / t['batched_per_question_s']:.2f}x its quiet figure"))
        rows.append((f"{name}: cosine with the index's vectors ({len(chunk_texts)} chunks), min / mean (queries min)",
                     f"{cos_docs.min():.5f} / {cos_docs.mean():.5f} ({cos_q.min():.5f}); target ≥ {COSINE_MIN}"))
        if "xquad_recall@1" in entry:
            x = entry["xquad_recall@1"]
            rows.append((f"{name}: XQuAD dense R@1 ar→ar / en→ar ({x['contexts']} contexts, {x['questions_per_direction']} questions each)",
                         f"{x['ar→ar']:.4f} / {x['en→ar']:.4f}"))
    base_x = data["runtimes"][TORCH].get("xquad_recall@1")
    for name, entry in data["runtimes"].items():
        if name == TORCH:
            continue
        x = entry.get("xquad_recall@1")
        deltas = {d: x[d] - base_x[d] for d in ("ar→ar", "en→ar")} if x and base_x else None
        entry["xquad_delta"] = deltas
        entry["kept"] = bool(entry["faster"] and entry["cosine_ok"] and deltas and all(abs(v) <= RECALL_DELTA_MAX for v in deltas.values()))
        why = [w for w, bad in (("faster in this run", not entry["faster"]), (f"cosine ≥ {COSINE_MIN}", not entry["cosine_ok"])) if bad]
        if deltas:
            delta_text = ", ".join(f"{d} Δ {v:+.4f}" for d, v in deltas.items())
            if any(abs(v) > RECALL_DELTA_MAX for v in deltas.values()):
                why.append(f"XQuAD R@1 within {RECALL_DELTA_MAX} ({delta_text})")
        else:
            delta_text = "XQuAD not run"
        rows.append((f"{name}: passes the issue's three conditions?",
                     ("yes: faster, cosine ok, " + delta_text) if entry["kept"] else "no: fails " + "; ".join(why or [delta_text])))
    if cold:
        data["coldstart"] = cold
        floor = statistics.median(r["wall_s"] for r in cold["floor"])
        for key, label in (("floor", "floor (bench_coldstart: sentence-transformers, bf16, one question)"),
                           ("torch", "rag ask --backend extractive, RAG_EMBED_RUNTIME=torch"),
                           ("openvino", "rag ask --backend extractive, RAG_EMBED_RUNTIME=openvino")):
            walls = [r["wall_s"] for r in cold[key]]
            rss = statistics.median(r["peak_rss_mb"] for r in cold[key])
            rows.append((f"cold start: {label}",
                         f"{statistics.median(walls):.1f} s = {statistics.median(walls) / floor:.2f}x the floor "
                         f"(rounds {', '.join(f'{w:.1f}' for w in walls)}); peak RSS {rss:.0f} MB"))
    report("onnx", rows, data)

if __name__ == "__main__":
    main()
