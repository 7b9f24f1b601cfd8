"""Indexing on Ray: seed articles built by 2 local Ray workers equal the single-process build of them."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from index.build import build_index
from index.store import IndexStore
from tests.conftest import SEEDS

pytestmark = pytest.mark.slow  # starts a local Ray cluster and loads the model on two workers (~1–2 min on 2 idle cores)
ARTICLES = 3  # the smallest seed files: lean, and still more than one file per worker


def test_ray_build_has_the_chunks_and_vectors_of_the_single_process_build(seed_index, tmp_path) -> None:
    import ray

    from rag import embedder

    corpus = tmp_path / SEEDS.name  # the same folder name: sources ("seeds/…") match the seed index's
    corpus.mkdir()
    for path in sorted(SEEDS.iterdir(), key=lambda p: p.stat().st_size)[:ARTICLES]:
        shutil.copy(path, corpus)
    settings = seed_index.replace(index_dir=tmp_path / "ray-index")
    try:
        report = build_index(corpus, settings, embedder(seed_index), workers=2)
        assert ray.is_initialized() and ray.cluster_resources().get("CPU") == 2  # a local cluster of two was started
    finally:
        ray.shutdown()
    seed, parallel = IndexStore.load(seed_index.index_dir), IndexStore.load(settings.index_dir)
    files = {p.name for p in corpus.iterdir()}
    mine = [i for i, c in enumerate(seed.chunks) if c.doc_id.split("#")[0] in files]  # the single-process build of these files
    assert report.written and report.chunks == len(mine) and report.documents == len(parallel.manifest.documents) >= ARTICLES
    assert [c.to_dict() for c in parallel.chunks] == [seed.chunks[i].to_dict() for i in mine]
    assert parallel.manifest.identity() == seed.manifest.identity()
    assert parallel.manifest.documents == {d: v for d, v in seed.manifest.documents.items() if d.split("#")[0] in files}
    cosines = np.einsum("ij,ij->i", parallel.vectors, seed.vectors[mine])
    assert cosines.min() > 0.999, cosines.min()  # other batches, other padding: bfloat16 rounding differs a little, no more
