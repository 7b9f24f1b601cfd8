"""A million chunks: FAISS flat, FAISS HNSW, FAISS IVF-PQ and Qdrant (embedded edge engine), in one run.

The vectors have the structure of real ones: the "atoms" are real EmbeddingGemma vectors (the
XQuAD contexts, their sentences and the seed chunks, as documents; the XQuAD questions, as
queries), embedded once and cached under ``HOME/cache``. Each synthetic chunk is a mixture of two
document atoms plus a random direction, re-normalised:

    v = normalize(a·x_i + (1 − a)·x_j + t·u),   a ~ U(MIX_LOW, 1), u a random unit vector, t = NOISE

so chunks cluster around real topics the way a large archive's chunks do (many near-duplicates
of a story, each story near its neighbours), instead of uniform random vectors, on which graph
indexes look falsely bad. The queries are real question vectors (not in the base set).

Reported per index, as ratios to exact search (flat) where it makes sense: build time, memory per
million chunks (resident growth while building, and the index's own bytes), search latency p50/p95
(one query at a time), recall@10 against the exact top 10.

Usage::

    nice .venv/bin/python bench/bench_scale.py                 # 1,000,000 chunks, ~25 min on 2 cores
    nice .venv/bin/python bench/bench_scale.py --n 50000 --name scale_small   # a quick look
    nice .venv/bin/python bench/bench_scale.py --fusion --qdrant-path /tmp/q   # Qdrant RRF vs our fusion (XQuAD)
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, percentiles  # noqa: E402

SEED = 20261201
MIX_LOW, NOISE = 0.55, 0.35  # mixture weight of the main atom, length of the random direction added
BLOCK = 100_000  # vectors generated (and added) per block, to bound transient memory
LATENCY_QUERIES = 200  # single-query timings per index
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 16, 40, 128
IVF_LISTS, PQ_BYTES, IVF_NPROBE = 1024, 96, 32  # 96 bytes per vector (8 dimensions per byte-code)
EDGE_BATCH = 5_000
ATOM_SENTENCES = 2_000  # extra real document vectors: XQuAD context sentences


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def atoms(settings, xquad_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(document atoms, query atoms)``: real EmbeddingGemma vectors, cached after the first run."""
    cache = settings.home / "cache" / "scale-atoms.npz"
    if cache.exists():
        data = np.load(cache)
        return data["docs"], data["queries"]
    from index.chunking import sentence_spans
    from rag.evaluation.xquad import cached_embedder, load_xquad

    contexts, queries = load_xquad(xquad_dir)
    emb = cached_embedder(settings)
    sentences = [c[s:e] for _, c in contexts for s, e in sentence_spans(c) if e - s > 40][:ATOM_SENTENCES]
    docs = emb.embed([c for _, c in contexts] + sentences, "document")
    seed_vectors = settings.home / "index" / "vectors.npy"
    if seed_vectors.exists():
        docs = np.concatenate([docs, np.load(seed_vectors)])
    qs = emb.embed([q[1] for q in queries] + [q[2] for q in queries if q[2]], "query")
    emb.save()
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, docs=docs.astype(np.float32), queries=qs.astype(np.float32))
    return docs.astype(np.float32), qs.astype(np.float32)


def synthetic(n: int, docs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``n`` unit vectors mixed from the document atoms (see the module docstring)."""
    out = np.empty((n, docs.shape[1]), dtype=np.float32)
    for start in range(0, n, BLOCK):
        m = min(BLOCK, n - start)
        i, j = rng.integers(0, len(docs), m), rng.integers(0, len(docs), m)
        a = rng.uniform(MIX_LOW, 1.0, (m, 1)).astype(np.float32)
        u = rng.standard_normal((m, docs.shape[1]), dtype=np.float32)
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        v = a * docs[i] + (1 - a) * docs[j] + NOISE * u
        out[start:start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f[:10]) & set(t[:10])) / 10 for f, t in zip(found, truth)]))


def latencies(search_one, queries: np.ndarray) -> dict[str, float]:
    """Milliseconds per query, one query at a time on one thread (as a server thread answers one question;
    FAISS's OpenMP threads only add spin-up noise for a single query)."""
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    times = []
    for q in queries[:LATENCY_QUERIES]:
        t = time.perf_counter()
        search_one(q)
        times.append((time.perf_counter() - t) * 1000)
    faiss.omp_set_num_threads(threads)
    return percentiles(times)


def bench_faiss(kind: str, base: np.ndarray, queries: np.ndarray, truth: np.ndarray | None) -> tuple[dict, np.ndarray]:
    import faiss

    d = base.shape[1]
    before = rss_mb()
    t = time.perf_counter()
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        index = faiss.IndexIVFPQ(faiss.IndexFlatIP(d), d, IVF_LISTS, PQ_BYTES, 8, faiss.METRIC_INNER_PRODUCT)
        sample = base[np.random.default_rng(SEED).choice(len(base), min(len(base), 40 * IVF_LISTS), replace=False)]
        index.train(sample)
    for start in range(0, len(base), BLOCK):
        index.add(base[start:start + BLOCK])
    build_s = time.perf_counter() - t
    grown = rss_mb() - before
    if kind == "hnsw":
        index.hnsw.efSearch = HNSW_EF_SEARCH
    if kind == "ivfpq":
        index.nprobe = IVF_NPROBE
    own_bytes = len(faiss.serialize_index(index)) if kind != "flat" else base.nbytes
    _, ids = index.search(queries, 10)

    lat = latencies(lambda q: index.search(q[None, :], 10), queries)
    row = {"index": f"FAISS {kind}", "build_s": build_s, "rss_growth_mb": grown, "index_mb": own_bytes / 2**20,
           "p50_ms": lat["p50"], "p95_ms": lat["p95"], "recall@10": recall_at_10(ids, truth) if truth is not None else 1.0}
    index = None
    gc.collect()
    return row, ids


def bench_edge(base: np.ndarray, queries: np.ndarray, truth: np.ndarray, folder: Path) -> dict:
    """Qdrant's embedded engine (qdrant-edge-py): the same HNSW settings, vectors in RAM, built by ``optimize()``."""
    import qdrant_edge as qe

    shutil.rmtree(folder, ignore_errors=True)
    before = rss_mb()
    t = time.perf_counter()
    config = qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(size=base.shape[1], distance=qe.Distance.Dot),
        hnsw_config=qe.HnswIndexConfig(m=HNSW_M, ef_construct=HNSW_EF_CONSTRUCTION, full_scan_threshold=10_000),
        wal_enabled=False,
        max_search_threads=1,  # one query, one thread, as for FAISS
    )
    shard = qe.EdgeShard.create(str(folder), config)
    for start in range(0, len(base), EDGE_BATCH):
        block = base[start:start + EDGE_BATCH]
        shard.update(qe.UpdateOperation.upsert_points([qe.Point(start + i, v) for i, v in enumerate(block.tolist())]))
    load_s = time.perf_counter() - t
    while shard.optimize():  # merges segments and builds the HNSW graph; True while there is more to do
        pass
    shard.flush()
    build_s = time.perf_counter() - t
    grown = rss_mb() - before
    disk = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    params = qe.SearchParams(hnsw_ef=HNSW_EF_SEARCH)

    def one(q: np.ndarray) -> list[int]:
        return [p.id for p in shard.query(qe.QueryRequest(limit=10, query=qe.Query.Nearest(q.tolist()), params=params))]

    found = np.array([one(q) for q in queries])
    lat = latencies(one, queries)
    shard.close()
    return {"index": "Qdrant edge HNSW", "build_s": build_s, "load_s": load_s, "rss_growth_mb": grown, "index_mb": disk / 2**20,
            "p50_ms": lat["p50"], "p95_ms": lat["p95"], "recall@10": recall_at_10(found, truth)}


def fusion(args) -> int:
    """``--fusion``: on XQuAD in a local-mode Qdrant collection, Qdrant's own hybrid (prefetch dense top 50 +
    BM25 sparse top 50, fused by RRF) against the project's fusion (``rag.retrieval``), same store, same vectors."""
    import dataclasses

    from qdrant_client import models

    from index.stores.qdrant import DENSE, SPARSE, query_sparse
    from rag.evaluation.xquad import cached_embedder, direction_metrics, load_xquad, xquad_retriever
    from rag.lexical import tokenize
    from rag.settings import RagSettings

    settings = dataclasses.replace(RagSettings.load(), store="qdrant", qdrant_path=Path(args.qdrant_path))
    contexts, queries = load_xquad(Path(args.xquad))
    emb = cached_embedder(settings)
    retriever = xquad_retriever(contexts, emb, settings)
    store = retriever.store
    gold = [contexts[ci][0] for *_, ci in queries]
    out = {}
    for direction, qs in (("ar→ar", [q[1] for q in queries]), ("en→ar", [q[2] for q in queries])):
        vecs = emb.embed(qs, "query")
        r1 = r5 = mrr = 0.0
        for q, v, want in zip(qs, vecs, gold):
            terms = tokenize(q) + retriever._bridged(q)
            prefetch = [models.Prefetch(query=v.tolist(), using=DENSE, limit=50)]
            if terms:
                prefetch.append(models.Prefetch(query=query_sparse(terms), using=SPARSE, limit=50))
            hits = store.client.query_points(store.name, prefetch=prefetch, query=models.FusionQuery(fusion=models.Fusion.RRF),
                                             limit=10, with_payload=["doc_id"]).points
            ids = [h.payload["doc_id"] for h in hits]
            r1 += ids[:1] == [want]
            r5 += want in ids[:5]
            mrr += 1.0 / (ids.index(want) + 1) if want in ids else 0.0
        n = len(qs)
        out[direction] = {"qdrant_rrf": {"recall@1": r1 / n, "recall@5": r5 / n, "mrr@10": mrr / n},
                          "project_fusion": direction_metrics(retriever, qs, gold, "hybrid")}
        print(direction, json.dumps(out[direction]), flush=True)
    (RESULTS / "scale_fusion.json").write_text(json.dumps({"benchmark": "scale_fusion", "when": time.strftime("%Y-%m-%d %H:%M:%S"), **out}, indent=1))
    print("(written to bench/results/scale_fusion.json)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--xquad", default=str(Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "xquad"))
    parser.add_argument("--skip", default="", help="comma separated: hnsw, ivfpq, qdrant")
    parser.add_argument("--name", default="scale")
    parser.add_argument("--fusion", action="store_true", help="instead: Qdrant's RRF hybrid vs the project's fusion on XQuAD")
    parser.add_argument("--qdrant-path", default="/tmp/qdrant-fusion", help="local-mode Qdrant folder for --fusion")
    args = parser.parse_args()
    if args.fusion:
        return fusion(args)
    skip = set(filter(None, args.skip.split(",")))

    from rag.settings import RagSettings

    settings = RagSettings.load()
    rng = np.random.default_rng(SEED)
    docs, qatoms = atoms(settings, Path(args.xquad))
    queries = np.ascontiguousarray(qatoms[rng.choice(len(qatoms), min(args.queries, len(qatoms)), replace=False)])
    t = time.perf_counter()
    base = synthetic(args.n, docs, rng)
    print(f"{args.n:,} chunks of dimension {base.shape[1]} mixed from {len(docs):,} real document vectors in {time.perf_counter() - t:.0f} s; "
          f"{len(queries)} real question vectors as queries", flush=True)

    rows = []
    partial = RESULTS / f"{args.name}.partial.jsonl"  # each row as it is measured (a long run can be read before it ends)
    RESULTS.mkdir(parents=True, exist_ok=True)
    partial.write_text("")

    def done(row: dict) -> None:
        rows.append(row)
        print(json.dumps(row), flush=True)
        with partial.open("a") as fh:
            fh.write(json.dumps(row) + "\n")

    flat, truth = bench_faiss("flat", base, queries, None)
    done(flat)
    for kind in ("ivfpq", "hnsw"):
        if kind not in skip:
            done(bench_faiss(kind, base, queries, truth)[0])
    if "qdrant" not in skip:
        with tempfile.TemporaryDirectory(prefix="edge-", dir=settings.home / "cache") as tmp:
            done(bench_edge(base, queries, truth, Path(tmp) / "shard"))

    per_million = 1_000_000 / args.n
    for r in rows:
        r["mb_per_million"] = r["index_mb"] * per_million
        r["build_x_flat"] = r["build_s"] / max(flat["build_s"], 1e-9)
        r["p50_x_flat"], r["p95_x_flat"] = r["p50_ms"] / flat["p50_ms"], r["p95_ms"] / flat["p95_ms"]
        r["memory_x_flat"] = r["index_mb"] / flat["index_mb"]
    header = f"{'index':<18} {'build s':>9} {'×flat':>7} {'MB/1M':>8} {'×flat':>6} {'p50 ms':>8} {'×flat':>6} {'p95 ms':>8} {'×flat':>6} {'recall@10':>9}"
    print(f"\n{args.n:,} chunks × {base.shape[1]} dims, {len(queries)} queries, {os.cpu_count()} CPUs\n{header}")
    for r in rows:
        print(f"{r['index']:<18} {r['build_s']:>9.1f} {r['build_x_flat']:>7.1f} {r['mb_per_million']:>8.0f} {r['memory_x_flat']:>6.2f} "
              f"{r['p50_ms']:>8.2f} {r['p50_x_flat']:>6.2f} {r['p95_ms']:>8.2f} {r['p95_x_flat']:>6.2f} {r['recall@10']:>9.3f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"benchmark": args.name, "when": time.strftime("%Y-%m-%d %H:%M:%S"), "n": args.n, "dim": int(base.shape[1]), "queries": len(queries),
           "cpus": os.cpu_count(), "atoms": len(docs), "mix_low": MIX_LOW, "noise": NOISE,
           "hnsw": {"m": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION, "ef_search": HNSW_EF_SEARCH},
           "ivfpq": {"lists": IVF_LISTS, "bytes": PQ_BYTES, "nprobe": IVF_NPROBE}, "rows": rows}
    (RESULTS / f"{args.name}.json").write_text(json.dumps(out, indent=1))
    print(f"(written to bench/results/{args.name}.json)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
