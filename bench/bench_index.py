"""Indexing benchmark: throughput, index size, load time, peak memory, on seeds/.

Baseline (same run): embedding the same chunk texts with the model directly. The
pipeline figure is reported as a ratio to it, since these machines are noisy.

    python bench/bench_index.py
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from common import ROOT, peak_rss_mb, report, timed

from index.build import build_index, load_documents, make_chunker
from index.embedder import SentenceTransformerEmbedder
from index.store import IndexStore
from ui.settings import Settings


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(index_dir=Path(tmp) / "index")
        embedder = SentenceTransformerEmbedder.from_settings(settings, show_progress=False)
        _, load_model_s = timed(lambda: embedder.model)
        docs, _ = load_documents(ROOT / "seeds")
        chunks = [c for d in docs for c in make_chunker(settings, embedder).chunk(d)]
        _, embed_s = timed(embedder.embed, [c.text for c in chunks], "document")
        rep, build_s = timed(build_index, ROOT / "seeds", settings, embedder, True)
        _, noop_s = timed(build_index, ROOT / "seeds", settings, embedder)
        store, load_s = timed(IndexStore.load, settings.index_dir)
        size = sum(f.stat().st_size for f in settings.index_dir.iterdir())
    data = {
        "documents": rep.documents, "chunks": rep.chunks,
        "model_load_s": load_model_s, "embed_only_s": embed_s, "build_s": build_s,
        "chunks_per_s": rep.chunks / build_s, "build_over_embed_only": build_s / embed_s,
        "noop_rebuild_s": noop_s, "noop_over_build": noop_s / build_s,
        "index_load_s": load_s, "index_bytes": size, "peak_rss_mb": peak_rss_mb(),
    }
    report("index", [
        ("documents / chunks", f"{rep.documents} / {rep.chunks}"),
        ("model load", f"{load_model_s:.1f} s"),
        ("baseline: embed chunks only", f"{embed_s:.1f} s"),
        ("full build (clean+chunk+embed+write)", f"{build_s:.1f} s = {build_s / embed_s:.2f}x baseline, {rep.chunks / build_s:.1f} chunks/s"),
        ("re-run on unchanged corpus", f"{noop_s:.2f} s = {noop_s / build_s:.2f}x full build"),
        ("index load", f"{load_s * 1000:.0f} ms"),
        ("index size on disk", f"{size / 1024:.0f} KiB"),
        ("peak RSS", f"{peak_rss_mb():.0f} MB"),
    ], data)


if __name__ == "__main__":
    main()
