"""Retrieval benchmark: quality of dense / BM25 / RRF / hybrid on XQuAD, the fusion weight
sweep, and search latency against the query-embedding baseline, on seeds/ and on a
synthetic 100,000-chunk index (flat vs HNSW, with HNSW's recall@10 against flat).

    python bench/bench_retrieval.py [--xquad ../shared/benchmarks/xquad] [--skip-quality]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import ROOT, percentiles, report

from index.settings import Settings
from index.store import IndexStore, Manifest, faiss_index
from rag.evaluation import xquad
from rag.retrieval import Retriever


def rrf(retriever: Retriever, questions: list[str], gold: list[str], k: int = 60) -> dict[str, float]:
    """Plain reciprocal-rank fusion of the dense and BM25 rankings (the baseline to beat)."""
    dense = retriever.search_many(questions, top_k=50, mode="dense")
    lex = retriever.search_many(questions, top_k=50, mode="bm25")
    r1 = r5 = mrr = 0.0
    for d, l, want in zip(dense, lex, gold):
        score: dict[str, float] = {}
        for ranking in (d, l):
            for rank, p in enumerate(ranking, 1):
                score[p.doc_id] = score.get(p.doc_id, 0.0) + 1.0 / (k + rank)
        ids = sorted(score, key=lambda i: -score[i])[:10]
        r1 += ids[:1] == [want]
        r5 += want in ids[:5]
        mrr += 1.0 / (ids.index(want) + 1) if want in ids else 0.0
    n = len(gold)
    return {"recall@1": r1 / n, "recall@5": r5 / n, "mrr@10": mrr / n}


def quality(folder: Path, settings: Settings) -> tuple[list[tuple[str, str]], dict]:
    contexts, queries = xquad.load_xquad(folder)
    emb = xquad.cached_embedder(settings, show_progress=False)
    retriever = xquad.xquad_retriever(contexts, emb)
    emb.save()
    gold = [contexts[ci][0] for *_, ci in queries]
    sets = {"ar→ar": [q[1] for q in queries], "en→ar": [q[2] for q in queries]}
    rows, data = [], {}
    shipped = dict(retriever.lexical_weight)
    for direction, qs in sets.items():
        lang = direction[:2]
        variants = {"dense": ("dense", None), "bm25": ("bm25", None), "hybrid (shipped)": ("hybrid", None)}
        for w in (0.05, 0.08, 0.12, 0.16, 0.25):
            variants[f"hybrid w={w}"] = ("hybrid", w)
        for name, (mode, w) in variants.items():
            retriever.lexical_weight = {lang: w} if w is not None else shipped
            m = xquad.direction_metrics(retriever, qs, gold, mode)
            data[f"{direction} {name}"] = m
            rows.append((f"{direction} {name}", f"R@1 {m['recall@1']:.3f}  R@5 {m['recall@5']:.3f}  MRR@10 {m['mrr@10']:.3f}"))
        retriever.lexical_weight = shipped
        m = rrf(retriever, qs, gold)
        data[f"{direction} rrf"] = m
        rows.append((f"{direction} plain RRF", f"R@1 {m['recall@1']:.3f}  R@5 {m['recall@5']:.3f}  MRR@10 {m['mrr@10']:.3f}"))
    return rows, data


def latency(retriever: Retriever, queries: list[str], n: int = 200) -> dict[str, dict[str, float]]:
    """Query embedding alone vs the whole search, per query, over ``n`` queries."""
    embed, full = [], []
    for i in range(n):
        q = queries[i % len(queries)]
        # distinct texts for the two timings: the embedder caches questions it has just seen
        t = time.perf_counter(); retriever.embedder.embed([f"{q} (e{i})"], "query"); embed.append(time.perf_counter() - t)
        t = time.perf_counter(); retriever.search(f"{q} (s{i})", 5); full.append(time.perf_counter() - t)
    return {"embed": percentiles(embed), "search": percentiles(full)}


def synthetic(retriever: Retriever, n: int = 100_000, dim: int = 768) -> dict:
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    base = retriever.store.chunks
    chunks = [base[i % len(base)] for i in range(n)]
    out = {}
    # realistic queries have near neighbours: noisy copies of random stored vectors
    queries = vecs[rng.integers(0, n, 200)] + (0.3 / np.sqrt(dim)) * rng.standard_normal((200, dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    results = {}
    for kind in ("flat", "hnsw"):
        t = time.perf_counter()
        index = faiss_index(vecs, kind)
        build = time.perf_counter() - t
        if kind == "hnsw":
            index.hnsw.efSearch = 128
        store = IndexStore(Path("."), Manifest(1, "synthetic", "-", dim, kind, {}, {}), chunks, vecs, index)
        times, ids = [], []
        for q in queries:
            t = time.perf_counter(); hits = store.search(q[None, :], 10)[0]; times.append(time.perf_counter() - t)
            ids.append([i for i, _ in hits])
        results[kind] = ids
        out[kind] = {"build_s": build, **percentiles(times)}
    out["hnsw_recall@10_vs_flat"] = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(results["flat"], results["hnsw"])]))
    # the full hybrid search over 100k chunks (BM25 over repeated seed text) with the flat index
    big = Retriever(IndexStore(Path("."), Manifest(1, "synthetic", "-", dim, "flat", {}, {}), chunks, vecs, faiss_index(vecs, "flat")), retriever.embedder)
    qs = ["ما الملفات التي يتناولها الحوار الاستراتيجي؟", "How many US soldiers are in Iraq?"]
    out["hybrid_100k"] = latency(big, qs, 40)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--xquad", default=str(ROOT.parent / "shared" / "benchmarks" / "xquad"))
    ap.add_argument("--skip-quality", action="store_true")
    args = ap.parse_args()
    settings = Settings.load()
    rows, data = ([], {})
    if not args.skip_quality and Path(args.xquad).exists():
        rows, data = quality(Path(args.xquad), settings)
    from rag.service import get_retriever

    retriever = get_retriever(settings)
    qs = [l for l in (ROOT / "rag" / "data" / "seed_dev.jsonl").read_text(encoding="utf-8").splitlines()]
    import json
    qs = [json.loads(l)["question"] for l in qs if l.strip()]
    retriever.search(qs[0], 5)  # warm-up
    lat = latency(retriever, qs)
    ratio50 = lat["search"]["p50"] / lat["embed"]["p50"]
    ratio95 = lat["search"]["p95"] / lat["embed"]["p95"]
    rows += [
        ("seeds: query embedding p50/p95", f"{lat['embed']['p50'] * 1000:.1f} / {lat['embed']['p95'] * 1000:.1f} ms (baseline)"),
        ("seeds: full hybrid search p50/p95", f"{lat['search']['p50'] * 1000:.1f} / {lat['search']['p95'] * 1000:.1f} ms = {ratio50:.2f}x / {ratio95:.2f}x baseline"),
    ]
    syn = synthetic(retriever)
    for kind in ("flat", "hnsw"):
        s = syn[kind]
        rows.append((f"100k synthetic, {kind} FAISS p50/p95", f"{s['p50'] * 1000:.2f} / {s['p95'] * 1000:.2f} ms (build {s['build_s']:.1f} s)"))
    rows.append(("100k synthetic, HNSW recall@10 vs flat", f"{syn['hnsw_recall@10_vs_flat']:.3f}"))
    h = syn["hybrid_100k"]
    rows.append(("100k synthetic, full hybrid search p50/p95", f"{h['search']['p50'] * 1000:.0f} / {h['search']['p95'] * 1000:.0f} ms = {h['search']['p50'] / h['embed']['p50']:.2f}x embedding"))
    report("retrieval", rows, {"xquad": data, "seed_latency": lat, "search_over_embed_p50": ratio50, "search_over_embed_p95": ratio95, "synthetic": syn})


if __name__ == "__main__":
    main()
