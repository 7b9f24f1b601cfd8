"""Retrieval benchmark: quality of dense / BM25 / RRF / hybrid on XQuAD, the fusion weight
sweep, the English routes (names, dictionary) one by one against dense alone on XQuAD and the
dev set in one run, with their query-time cost, and search latency against the query-embedding
baseline, on seeds/ and on a synthetic 100,000-chunk index (flat vs HNSW, with HNSW's
recall@10 against flat).

    python bench/bench_retrieval.py [--xquad ../shared/benchmarks/xquad] [--skip-quality] [--routes-only]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from common import ROOT, percentiles, report

from index.build import build_index
from index.store import IndexStore, Manifest, faiss_index
from rag.evaluation import xquad
from rag.evaluation.report import load_questions
from rag.evaluation.retrieval import evaluate_retrieval
from rag.retrieval import BRIDGE, LEXICAL_WEIGHT, Retriever
from ui.settings import Settings

ROUTES = {
    "dense": ("dense", ()),
    "hybrid, no English route": ("hybrid", ()),
    "hybrid + names": ("hybrid", ("names",)),
    "hybrid + dictionary": ("hybrid", ("dictionary",)),
    "hybrid + names + dictionary": ("hybrid", ("names", "dictionary")),
}
DEV_KEYS = ("recall@1", "recall@5", "mrr@10", "evidence_hit@1", "evidence_hit@5", "unanswerable_rejected")


def _route_cost(retriever: Retriever, questions: list[str]) -> float:
    """Mean ms per English question of the lexical side (bridge tokens + BM25), the route's query-time cost."""
    retriever.english_bridge()
    t = time.perf_counter()
    for q in questions:
        retriever.bm25.scores(q, retriever._bridged(q))
    return (time.perf_counter() - t) * 1000 / len(questions)


def routes(folder: Path, settings: Settings, en_weights: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2),
           ar_weights: tuple[float, ...] = (0.25, 0.3, 0.4)) -> tuple[list, dict]:
    """Every English route alone and together, against dense alone, on XQuAD (both directions)
    and the dev set (a fresh index of seeds/), in one run, with the lexical weights swept."""
    contexts, queries = xquad.load_xquad(folder)
    emb = xquad.cached_embedder(settings, show_progress=False)
    xr = xquad.xquad_retriever(contexts, emb)
    gold = [contexts[ci][0] for *_, ci in queries]
    sets = {"ar→ar": [q[1] for q in queries], "en→ar": [q[2] for q in queries]}
    emb.embed(sets["ar→ar"] + sets["en→ar"], "query")
    emb.save()
    with tempfile.TemporaryDirectory() as tmp:
        dev_settings = replace(settings, index_dir=Path(tmp) / "index")
        build_index(ROOT / "seeds", dev_settings, emb.inner)
        dr = Retriever(IndexStore.load(dev_settings.index_dir), emb.inner)
    dev = load_questions(ROOT / "rag" / "data" / "seed_dev.jsonl")
    variants = [("dense", "dense", (), None, None), ("hybrid before (no English route)", "hybrid", (), 0.25, 0.05),
                ("hybrid shipped", "hybrid", BRIDGE, LEXICAL_WEIGHT["ar"], LEXICAL_WEIGHT["en"])]
    for name, (mode, bridge) in list(ROUTES.items())[2:]:
        variants += [(f"{name} w_en={w}", mode, bridge, 0.25, w) for w in en_weights]
    variants += [(f"hybrid + dictionary w_ar={w} w_en={LEXICAL_WEIGHT['en']}", "hybrid", ("dictionary",), w, LEXICAL_WEIGHT["en"]) for w in ar_weights]
    rows, data = [], {}
    for label, mode, bridge, w_ar, w_en in variants:
        for r in (xr, dr):
            r.bridge = bridge
            r.lexical_weight = {"ar": w_ar or 0.0, "en": w_en or 0.0}
        entry = {d: xquad.direction_metrics(xr, qs, gold, mode) for d, qs in sets.items()}
        res = evaluate_retrieval(dr, dev, [mode], settings.min_score)[mode]
        entry["dev"] = {lang: {k: res[lang].get(k) for k in DEV_KEYS} for lang in ("ar", "en", "all")}
        entry["dev_misses@1"] = [q["id"] for q in res["questions"] if q["answerable"] and q.get("evidence_hit@1") == 0.0]
        entry["ms_per_en_question"] = _route_cost(xr, sets["en→ar"]) if bridge else 0.0
        data[label] = entry
        x, d = entry, entry["dev"]
        rows.append((label, f"XQuAD R@1 ar {x['ar→ar']['recall@1']:.3f} en {x['en→ar']['recall@1']:.3f} "
                            f"(MRR {x['ar→ar']['mrr@10']:.3f}/{x['en→ar']['mrr@10']:.3f}); dev ev@1 ar {d['ar']['evidence_hit@1']:.3f} "
                            f"en {d['en']['evidence_hit@1']:.3f}, ev@5 {d['all']['evidence_hit@5']:.3f}, R@1 {d['all']['recall@1']:.3f}, "
                            f"rejected {d['all']['unanswerable_rejected']:.2f}; +{entry['ms_per_en_question']:.2f} ms/question"))
    for r in (xr, dr):
        r.bridge, r.lexical_weight = BRIDGE, dict(LEXICAL_WEIGHT)
    return rows, data


def latency(retriever: Retriever, queries: list[str], n: int = 200) -> dict[str, dict[str, float]]:
    """Query embedding alone vs the whole search, per query, over ``n`` queries."""
    embed, full = [], []
    for i in range(n):
        q = queries[i % len(queries)]
        # distinct texts for the two timings: the embedder caches questions it has just seen
        t = time.perf_counter()
        retriever.embedder.embed([f"{q} (e{i})"], "query")
        embed.append(time.perf_counter() - t)
        t = time.perf_counter()
        retriever.search(f"{q} (s{i})", 5)
        full.append(time.perf_counter() - t)
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
            t = time.perf_counter()
            hits = store.search(q[None, :], 10)[0]
            times.append(time.perf_counter() - t)
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
    ap.add_argument("--routes-only", action="store_true", help="only the English routes comparison (bench/results/retrieval_routes.json)")
    args = ap.parse_args()
    settings = Settings.load()
    rows, data = ([], {})
    if not args.skip_quality and Path(args.xquad).exists():
        route_rows, route_data = routes(Path(args.xquad), settings)
        report("retrieval_routes", route_rows, route_data)
        if args.routes_only:
            return
        rows, data = list(route_rows), {"routes": route_data}  # the quality comparison is the routes table
    from rag.service import get_retriever

    retriever = get_retriever(settings)
    qs = [l for l in (ROOT / "rag" / "data" / "seed_dev.jsonl").read_text(encoding="utf-8").splitlines()]
    qs = [json.loads(l)["question"] for l in qs if l.strip()]
    retriever.search(qs[0], 5)  # warm-up
    lat = latency(retriever, qs)
    ratio50 = lat["search"]["p50"] / lat["embed"]["p50"]
    ratio95 = lat["search"]["p95"] / lat["embed"]["p95"]
    rows += [
        ("seeds: query embedding p50/p95", f"{lat['embed']['p50'] * 1000:.1f} / {lat['embed']['p95'] * 1000:.1f} ms (baseline)"),
        ("seeds: full hybrid search p50/p95",
         f"{lat['search']['p50'] * 1000:.1f} / {lat['search']['p95'] * 1000:.1f} ms = {ratio50:.2f}x / {ratio95:.2f}x baseline"),
    ]
    syn = synthetic(retriever)
    for kind in ("flat", "hnsw"):
        s = syn[kind]
        rows.append((f"100k synthetic, {kind} FAISS p50/p95", f"{s['p50'] * 1000:.2f} / {s['p95'] * 1000:.2f} ms (build {s['build_s']:.1f} s)"))
    rows.append(("100k synthetic, HNSW recall@10 vs flat", f"{syn['hnsw_recall@10_vs_flat']:.3f}"))
    h = syn["hybrid_100k"]
    rows.append(("100k synthetic, full hybrid search p50/p95",
                 f"{h['search']['p50'] * 1000:.0f} / {h['search']['p95'] * 1000:.0f} ms = {h['search']['p50'] / h['embed']['p50']:.2f}x embedding"))
    report("retrieval", rows, {"xquad": data, "seed_latency": lat, "search_over_embed_p50": ratio50, "search_over_embed_p95": ratio95, "synthetic": syn})


if __name__ == "__main__":
    main()
