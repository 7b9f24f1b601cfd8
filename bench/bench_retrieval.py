"""Retrieval benchmark: quality of dense / BM25 / RRF / hybrid on XQuAD, the fusion weight
sweep, the English routes (names, dictionary) one by one against dense alone on XQuAD and the
dev set in one run, with their query-time cost, and search latency against the query-embedding
baseline, on seeds/ and on a synthetic 100,000-chunk index (flat vs HNSW, with HNSW's
recall@10 against flat).

    python bench/bench_retrieval.py [--xquad ../shared/benchmarks/xquad] [--skip-quality] [--routes-only] [--titles] [--sentence-words]

``--titles``: contextual chunk headers (setting ``chunk_titles``, issue 13): each chunk embedded with its
document's title in the prompt against today's "title: none", dense and shipped hybrid, on XQuAD both
directions and the dev set, with the index-time cost (bench/results/retrieval_titles.json).

``--sentence-words``: the sentence re-ordering's word-share weight (``rag.thresholds.SENTENCE_LEXICAL_WEIGHT``)
swept per language on XQuAD, chosen on the questions of one half of the contexts (even / odd) and scored on the other,
both ways, beside dense and the re-ordering without words; the dev set with the chosen weights; the cost per question
(bench/results/sentence_words.json).
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
from index.embedder import runtime_tag
from index.store import IndexStore, Manifest, faiss_index
from rag.evaluation import xquad
from rag.evaluation.report import load_questions
from rag.evaluation.retrieval import evaluate_retrieval
from rag.extractive import use_disk_cache
from rag.retrieval import BRIDGE, LEXICAL_WEIGHT, Retriever
from rag.thresholds import SENTENCE_LEXICAL_WEIGHT
from ui.settings import Settings

ROUTES = {
    "dense": ("dense", ()),
    "hybrid, no English route": ("hybrid", ()),
    "hybrid + names": ("hybrid", ("names",)),
    "hybrid + dictionary": ("hybrid", ("dictionary",)),
    "hybrid + names + dictionary": ("hybrid", ("names", "dictionary")),
}
DEV_KEYS = ("recall@1", "recall@5", "mrr@10", "evidence_hit@1", "evidence_hit@5", "unanswerable_rejected", "answerable_refused")


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
    xr = xquad.xquad_retriever(contexts, emb, settings)
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


TITLE_MODES = ("dense", "hybrid")


def _without_titles(retriever: Retriever) -> Retriever:
    """The same vectors, BM25 over the text alone: a titled index whose lexical side is today's."""
    s = retriever.store
    store = IndexStore(s.path, s.manifest, [replace(c, title="") for c in s.chunks], s.vectors, s.index)
    return Retriever(store, retriever.embedder)


def _seed_index(settings: Settings, embedder, folder: Path) -> tuple[Retriever, float, int]:
    """A fresh index of seeds/ (no vector cache: the build embeds every chunk), its build seconds and chunks."""
    s = replace(settings, index_dir=folder)
    report_ = build_index(ROOT / "seeds", s, embedder, rebuild=True)
    return Retriever(IndexStore.load(s.index_dir), embedder), report_.seconds, report_.chunks


def _embed_seconds(embedder, chunks: list, rounds: int = 3) -> dict[bool, float]:
    """Seconds to embed ``chunks`` without and with their titles, alternated, the best of ``rounds`` each."""
    texts, names = [c.text for c in chunks], [c.title for c in chunks]
    best = {False: float("inf"), True: float("inf")}
    for _ in range(rounds):
        for titled in (False, True):
            t = time.perf_counter()
            embedder.embed(texts, "document", titles=names if titled else None)
            best[titled] = min(best[titled], time.perf_counter() - t)
    return best


def _decisions(retriever: Retriever, dev: list, settings: Settings) -> dict:
    """``rag.answerability.decide`` on each dev question's ``top_k`` hybrid passages, as ``ask()`` retrieves them."""
    from rag.answerability import decide

    out = {"answerable": 0, "answerable_refused": 0, "unanswerable": 0, "unanswerable_refused": 0, "scores": {}}
    for q in dev:
        passages = retriever.search(q.question, settings.top_k, "hybrid", min_score=-1.0)
        d = decide(q.question, passages, retriever, settings.min_score)
        kind = "answerable" if q.answerable else "unanswerable"
        out[kind] += 1
        out[f"{kind}_refused"] += int(not d.answer)
        out["scores"][q.id] = {"answer": d.answer, "dense": round(d.dense, 3), "coverage": d.coverage}
    return out


def titles(folder: Path, settings: Settings) -> tuple[list, dict]:
    """Chunks embedded with their document's title ("title: {title} | text: ") against "title: none", in one run.

    XQuAD (English Wikipedia titles, "_" → " "): today (no titles anywhere); the titled embedding with
    BM25 unchanged (the setting's own effect); the title in BM25 only; both (what ``rag eval xquad``
    gives with ``chunk_titles`` on). Dev set: a fresh index of seeds/ (Arabic headlines as titles, which
    BM25 reads either way) built without and with titles, each timed (the index-time cost)."""
    contexts, queries = xquad.load_xquad(folder)
    names = xquad.context_titles(folder)
    emb = xquad.cached_embedder(settings, show_progress=False)
    gold = [contexts[ci][0] for *_, ci in queries]
    sets = {"ar→ar": [q[1] for q in queries], "en→ar": [q[2] for q in queries]}
    emb.embed(sets["ar→ar"] + sets["en→ar"], "query")
    off, on = replace(settings, chunk_titles=False), replace(settings, chunk_titles=True)
    t = time.perf_counter()
    # rebuilt from the vector cache: the index on disk may hold another runtime's vectors (same fingerprint)
    today = xquad.xquad_retriever(contexts, emb, off, rebuild=True)
    untitled_s = time.perf_counter() - t
    t = time.perf_counter()
    both = xquad.xquad_retriever(contexts, emb, on, names, rebuild=True)  # embeds the 240 titled contexts unless cached
    titled_s = time.perf_counter() - t
    emb.save()
    lexical_only = xquad.xquad_retriever(contexts, emb, off, names, rebuild=True)
    xquad_variants = {"today (title: none, no titles in BM25)": today, "chunk_titles (BM25 unchanged)": _without_titles(both),
                      "titles in BM25 only": lexical_only, "chunk_titles + titles in BM25": both}
    dev = load_questions(ROOT / "rag" / "data" / "seed_dev.jsonl")
    tok = emb.inner.count_tokens
    inner = emb.inner  # the model is loaded here, before the timed builds
    prompt = (inner.prompts if hasattr(type(inner), "prompts") else inner.model.prompts).get("document", "")
    with tempfile.TemporaryDirectory() as tmp:
        dev_off, off_s, n_chunks = _seed_index(off, emb.inner, Path(tmp) / "off")
        dev_on, on_s, _ = _seed_index(on, emb.inner, Path(tmp) / "on")
    from index.embedder import titled_prompt

    extra = [tok(titled_prompt(prompt, c.title) + c.text) - tok(prompt + c.text) for c in dev_on.store.chunks]
    embed_s = _embed_seconds(inner, dev_on.store.chunks)
    rows, data = [], {"xquad": {}, "dev": {}, "cost": {
        "seeds_chunks": n_chunks, "seeds_build_s_untitled": off_s, "seeds_build_s_titled": on_s,
        "seeds_extra_tokens_per_chunk_mean": float(np.mean(extra)), "seeds_tokens_per_chunk_mean":
        float(np.mean([tok(prompt + c.text) for c in dev_on.store.chunks])),
        "seeds_embed_s_untitled": embed_s[False], "seeds_embed_s_titled": embed_s[True],
        "xquad_index_s_untitled_cached": untitled_s, "xquad_index_s_titled": titled_s,
        "xquad_extra_tokens_per_context_mean": float(np.mean([tok(titled_prompt(prompt, n)) - tok(prompt) for n in names]))}}
    for label, retriever in xquad_variants.items():
        for mode in TITLE_MODES:
            entry = {d: xquad.direction_metrics(retriever, qs, gold, mode) for d, qs in sets.items()}
            data["xquad"][f"{label} / {mode}"] = entry
            rows.append((f"XQuAD {label} / {mode}", f"R@1 ar {entry['ar→ar']['recall@1']:.3f} en {entry['en→ar']['recall@1']:.3f}; "
                                                     f"R@5 {entry['ar→ar']['recall@5']:.3f}/{entry['en→ar']['recall@5']:.3f}; "
                                                     f"MRR {entry['ar→ar']['mrr@10']:.3f}/{entry['en→ar']['mrr@10']:.3f}"))
    for label, retriever in (("title: none (today)", dev_off), ("chunk_titles", dev_on)):
        for mode in TITLE_MODES:
            res = evaluate_retrieval(retriever, dev, [mode], settings.min_score)[mode]
            entry = {lang: {k: res[lang].get(k) for k in DEV_KEYS} for lang in ("ar", "en", "all")}
            entry["misses@1"] = [q["id"] for q in res["questions"] if q["answerable"] and q.get("evidence_hit@1") == 0.0]
            entry["unanswerable_top_scores"] = [round(q["top_score"], 3) for q in res["questions"] if not q["answerable"]]
            entry["answerable_min_top_score"] = min(q["top_score"] for q in res["questions"] if q["answerable"])
            if mode == "hybrid":  # the shipped refusal decision (cosine and the question's words), on what ask() retrieves
                entry["decision"] = _decisions(retriever, dev, settings)
            data["dev"][f"{label} / {mode}"] = entry
            d = entry
            decision = (f"; ask() refuses {d['decision']['unanswerable_refused']}/{d['decision']['unanswerable']} unanswerable, "
                        f"{d['decision']['answerable_refused']}/{d['decision']['answerable']} answerable") if "decision" in d else ""
            rows.append((f"dev {label} / {mode}", f"ev@1 ar {d['ar']['evidence_hit@1']:.3f} en {d['en']['evidence_hit@1']:.3f}; "
                                                  f"ev@5 ar {d['ar']['evidence_hit@5']:.3f} en {d['en']['evidence_hit@5']:.3f}; "
                                                  f"R@1 {d['all']['recall@1']:.3f}; top cosine unanswerable {d['unanswerable_top_scores']}, "
                                                  f"answerable min {d['answerable_min_top_score']:.3f}{decision}"))
    c = data["cost"]
    rows.append(("index-time cost", f"seeds ({c['seeds_chunks']} chunks) embedded in {c['seeds_embed_s_untitled']:.1f} s untitled, "
                                    f"{c['seeds_embed_s_titled']:.1f} s titled (best of 3; whole builds {c['seeds_build_s_untitled']:.1f} / "
                                    f"{c['seeds_build_s_titled']:.1f} s); +{c['seeds_extra_tokens_per_chunk_mean']:.1f} tokens per chunk "
                                    f"(of {c['seeds_tokens_per_chunk_mean']:.0f}); XQuAD +{c['xquad_extra_tokens_per_context_mean']:.1f} tokens per context"))
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


WORD_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7)


def sentence_words(folder: Path, settings: Settings) -> tuple[list, dict]:
    """XQuAD R@1 per language for each word-share weight, half-fit both ways; the dev set; the cost."""
    contexts, queries = xquad.load_xquad(folder)
    emb = xquad.cached_embedder(settings, show_progress=False)
    base = xquad.xquad_retriever(contexts, emb, settings)
    # the contexts' sentences, embedded once for every rerun (beside, not inside, the user's sentence cache)
    use_disk_cache(settings.home / "cache" / f"xquad-sentences{runtime_tag(settings)}.npz")
    gold = [contexts[ci][0] for *_, ci in queries]
    half_of = [ci % 2 for *_, ci in queries]  # halves by context: a context's questions never in both
    by_lang = {"ar": [q[1] for q in queries], "en": [q[2] for q in queries]}
    emb.embed(by_lang["ar"] + by_lang["en"], "query")
    hits: dict[str, dict[float, list[bool]]] = {}
    data: dict = {"weights": WORD_WEIGHTS, "shipped": SENTENCE_LEXICAL_WEIGHT, "xquad": {}}
    rows = []
    for lang, qs in by_lang.items():
        dense = [r[0].doc_id == g if r else False for r, g in zip(base.search_many(qs, 10, "dense"), gold)]
        hits[lang] = {}
        for w in WORD_WEIGHTS:
            r = Retriever(base.store, emb, sentence_lexical_weight={lang: w})
            started = time.perf_counter()
            ranked = r.search_many(qs, 10, "hybrid")
            seconds = time.perf_counter() - started
            hits[lang][w] = [res[0].doc_id == g if res else False for res, g in zip(ranked, gold)]
            log_w = data["xquad"].setdefault(lang, {"dense": sum(dense) / len(dense), "by_weight": {}})
            log_w["by_weight"][str(w)] = {"recall@1": sum(hits[lang][w]) / len(qs), "seconds": seconds}
        halves = {}
        for fit in (0, 1):
            def r1(w: float, half: int) -> float:
                sel = [h for h, q_half in zip(hits[lang][w], half_of) if q_half == half]
                return sum(sel) / len(sel)
            chosen = max(WORD_WEIGHTS, key=lambda w: (r1(w, fit), -w))
            halves[fit] = {"chosen": chosen, "held_out_recall@1": r1(chosen, 1 - fit), "held_out_without_words": r1(0.0, 1 - fit)}
        data["xquad"][lang]["half_fit"] = halves
        d = "ar→ar" if lang == "ar" else "en→ar"
        rows.append((f"XQuAD {d} R@1: dense / words 0 (before) / " + " / ".join(str(w) for w in WORD_WEIGHTS[1:]),
                     f"{sum(dense) / len(dense):.4f} / " + " / ".join(f"{sum(hits[lang][w]) / len(qs):.4f}" for w in WORD_WEIGHTS)))
        rows.append((f"XQuAD {d}: chosen on one half, R@1 on the other (before)",
                     ", ".join(f"w {h['chosen']}: {h['held_out_recall@1']:.4f} ({h['held_out_without_words']:.4f})" for h in halves.values())))
        shipped = SENTENCE_LEXICAL_WEIGHT.get(lang, 0.0)
        if shipped in hits[lang]:
            rows.append((f"XQuAD {d}: shipped weight {shipped}", f"R@1 {sum(hits[lang][shipped]) / len(qs):.4f}"))
    emb.save()
    dev = load_questions(ROOT / "rag" / "data" / "seed_dev.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        dev_settings = replace(settings, index_dir=Path(tmp) / "index")
        build_index(ROOT / "seeds", dev_settings, emb.inner)
        store = IndexStore.load(dev_settings.index_dir)
        data["dev"] = {}
        for name, weights in (("words 0 (before)", {"ar": 0.0, "en": 0.0}), ("shipped", None)):
            r = Retriever(store, emb.inner, sentence_lexical_weight=weights)
            res = evaluate_retrieval(r, dev, ["hybrid"], settings.min_score)["hybrid"]
            data["dev"][name] = {lang: {k: res[lang][k] for k in DEV_KEYS} for lang in ("ar", "en", "all")}
            rows.append((f"dev, {name}: evidence hit@1 ar / en, hit@5 ar / en; unanswerable rejected, answerable refused (all)",
                         f"{res['ar']['evidence_hit@1']:.3f} / {res['en']['evidence_hit@1']:.3f}, "
                         f"{res['ar']['evidence_hit@5']:.3f} / {res['en']['evidence_hit@5']:.3f}; "
                         f"{res['all']['unanswerable_rejected']:.3f}, {res['all']['answerable_refused']:.3f}"))
    data["seconds"] = {}
    for lang, qs in by_lang.items():  # every sentence vector cached by now: what the word share adds to a search
        spent = {}
        for name, weights in (("without words", {lang: 0.0}), ("shipped", None)):
            r = Retriever(base.store, emb, sentence_lexical_weight=weights)
            started = time.perf_counter()
            r.search_many(qs, 10, "hybrid")
            spent[name] = (time.perf_counter() - started) / len(qs)
        data["seconds"][lang] = spent
        rows.append((f"XQuAD {lang}: search per question, sentence vectors cached, without words / shipped",
                     f"{spent['without words'] * 1000:.2f} / {spent['shipped'] * 1000:.2f} ms"))
    return rows, data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--xquad", default=str(ROOT.parent / "shared" / "benchmarks" / "xquad"))
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--routes-only", action="store_true", help="only the English routes comparison (bench/results/retrieval_routes.json)")
    ap.add_argument("--titles", action="store_true", help="only the chunk titles comparison (bench/results/retrieval_titles.json)")
    ap.add_argument("--sentence-words", action="store_true", help="only the sentence word-share sweep (bench/results/sentence_words.json)")
    args = ap.parse_args()
    settings = Settings.load()
    if args.sentence_words:
        word_rows, word_data = sentence_words(Path(args.xquad), settings)
        report("sentence_words", word_rows, word_data)
        return
    if args.titles:
        title_rows, title_data = titles(Path(args.xquad), settings)
        report("retrieval_titles", title_rows, title_data)
        return
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
