"""Embedding model in float32 vs bfloat16 on this CPU, measured in one run.

Query latency (one question), batched throughput (16 questions, as the API batches
concurrent requests), agreement of the two vectors (cosine), and XQuAD retrieval quality
with each dtype (dense, first ``--limit`` questions per direction).

    python bench/bench_dtype.py [--xquad ../shared/benchmarks/xquad] [--limit 400]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import ROOT, percentiles, report

from index.embedder import SentenceTransformerEmbedder
from rag.evaluation import xquad
from ui.settings import Settings


def timings(emb: SentenceTransformerEmbedder, questions: list[str], rounds: int = 40) -> dict:
    emb._encode(questions[:16], "query")  # warm-up
    single, batch = [], []
    for i in range(rounds):
        t = time.perf_counter()
        emb._encode([f"{questions[i % len(questions)]} ({i})"], "query")
        single.append(time.perf_counter() - t)
    for i in range(rounds // 4):
        texts = [f"{q} ({i})" for q in questions[:16]]
        t = time.perf_counter()
        emb._encode(texts, "query")
        batch.append((time.perf_counter() - t) / len(texts))
    return {"single": percentiles(single), "batched_per_question": percentiles(batch)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--xquad", default=str(ROOT.parent / "shared" / "benchmarks" / "xquad"))
    ap.add_argument("--limit", type=int, default=400)
    args = ap.parse_args()
    base = Settings.load()
    questions = [json.loads(l)["question"] for l in (ROOT / "rag" / "data" / "seed_dev.jsonl").read_text(encoding="utf-8").splitlines() if l.strip()]
    data, vectors = {}, {}
    for dtype in ("float32", "bfloat16"):
        settings = base.replace(embed_dtype=dtype)
        emb = SentenceTransformerEmbedder.from_settings(settings, show_progress=False)
        data[dtype] = timings(emb, questions)
        vectors[dtype] = emb._encode(questions, "query")
        if Path(args.xquad).exists():
            data[dtype]["xquad"] = xquad.evaluate_xquad(Path(args.xquad), settings, ["dense"], args.limit)["dense"]
    f32, b16 = data["float32"], data["bfloat16"]
    cos = (vectors["float32"] * vectors["bfloat16"]).sum(axis=1)
    data["cosine_min"], data["cosine_mean"] = float(cos.min()), float(cos.mean())
    rows = [
        ("float32: one question p50 (baseline)", f"{f32['single']['p50'] * 1000:.0f} ms"),
        ("bfloat16: one question p50", f"{b16['single']['p50'] * 1000:.0f} ms = {b16['single']['p50'] / f32['single']['p50']:.2f}x"),
        ("float32: batch of 16, per question", f"{f32['batched_per_question']['p50'] * 1000:.0f} ms"),
        ("bfloat16: batch of 16, per question",
         f"{b16['batched_per_question']['p50'] * 1000:.0f} ms = {b16['batched_per_question']['p50'] / f32['batched_per_question']['p50']:.2f}x"),
        ("cosine(float32, bfloat16) min / mean", f"{data['cosine_min']:.4f} / {data['cosine_mean']:.4f}"),
    ]
    if "xquad" in f32:
        for d in ("ar→ar", "en→ar"):
            a, b = f32["xquad"][d], b16["xquad"][d]
            rows.append((f"XQuAD dense {d} R@1 / MRR@10 ({args.limit} q)",
                         f"float32 {a['recall@1']:.3f} / {a['mrr@10']:.3f}, bfloat16 {b['recall@1']:.3f} / {b['mrr@10']:.3f}"))
    report("dtype", rows, data)


if __name__ == "__main__":
    main()
