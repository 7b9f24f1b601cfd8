"""Indexing on Ray: the seed corpus built by 2 local Ray workers equals the single-process build."""
from __future__ import annotations

import numpy as np
import pytest

from index.build import build_index
from index.store import IndexStore
from tests.conftest import SEEDS

pytestmark = pytest.mark.slow  # starts a local Ray cluster and loads the model on two workers (~1–2 min on 2 cores)


def test_ray_build_has_the_chunks_and_vectors_of_the_single_process_build(seed_index, tmp_path) -> None:
    import ray

    from rag import embedder

    settings = seed_index.replace(index_dir=tmp_path / "ray-index")
    try:
        report = build_index(SEEDS, settings, embedder(seed_index), workers=2)
        assert ray.is_initialized() and ray.cluster_resources().get("CPU") == 2  # a local cluster of two was started
    finally:
        ray.shutdown()
    single, parallel = IndexStore.load(seed_index.index_dir), IndexStore.load(settings.index_dir)
    assert report.written and report.chunks == len(single.chunks) and report.documents == len(single.manifest.documents)
    assert [c.to_dict() for c in parallel.chunks] == [c.to_dict() for c in single.chunks]
    assert parallel.manifest.identity() == single.manifest.identity() and parallel.manifest.documents == single.manifest.documents
    cosines = np.einsum("ij,ij->i", parallel.vectors, single.vectors)
    assert cosines.min() > 0.999, cosines.min()  # other batches, other padding: bfloat16 rounding differs a little, no more
