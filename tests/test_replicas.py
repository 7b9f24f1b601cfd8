"""Two `rag serve` replicas share one FAISS index folder while a third process rebuilds it: both
answer from the new index without a restart (atomic swap + reload on manifest change)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import MODELS_DIR, ROOT, SEEDS
from tests.servers import ServeProcess

pytestmark = pytest.mark.slow  # three processes load the embedding model (~1–3 min on 2 busy cores)

NEW_ARTICLE = ("مهرجان الزعفران في قرية تالوين\n\n"
               "افتتح في قرية تالوين المغربية مهرجان الزعفران السنوي بمشاركة مئات المزارعين الذين عرضوا محصول هذا العام "
               "من الزعفران الحر، وقال المنظمون إن الإقبال على زعفران تالوين تضاعف هذا الموسم.\n")
QUESTION = "ما هو مهرجان الزعفران في قرية تالوين؟"


def top_doc(url: str) -> str | None:
    r = httpx.post(f"{url}/v1/search", json={"query": QUESTION, "top_k": 1, "mode": "bm25"}, timeout=60)
    r.raise_for_status()
    passages = r.json().get("passages", r.json()) if isinstance(r.json(), dict) else r.json()
    return passages[0]["doc_id"] if passages else None


def test_two_replicas_see_a_rebuild_by_a_third_process(seed_index, tmp_path) -> None:
    corpus, index_dir, home = tmp_path / "corpus", tmp_path / "shared-index", tmp_path / "home"
    shutil.copytree(SEEDS, corpus)
    shutil.copytree(seed_index.index_dir, index_dir)  # the shared folder: the seed index, reused by the rebuild
    env = {"RAG_HOME": str(home), "RAG_INDEX_DIR": str(index_dir), "RAG_MODELS_DIR": str(MODELS_DIR), "RAG_BACKEND": "extractive"}
    with ServeProcess(env) as a, ServeProcess(env) as b:
        assert top_doc(a.url) != "taliouine.txt" and top_doc(b.url) != "taliouine.txt"
        (corpus / "taliouine.txt").write_text(NEW_ARTICLE, encoding="utf-8")
        rebuilt = subprocess.run([sys.executable, "-m", "ui.cli", "index", str(corpus)], env={**os.environ, **env}, cwd=ROOT,
                                 capture_output=True, text=True, timeout=600)
        assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
        assert "embedded 1," in rebuilt.stdout  # only the new article's chunk: the rest came from the shared folder
        deadline = time.time() + 30
        seen = {}
        while time.time() < deadline and len(seen) < 2:
            for name, server in (("a", a), ("b", b)):
                if top_doc(server.url) == "taliouine.txt":
                    seen[name] = True
            time.sleep(0.5)
        assert seen == {"a": True, "b": True}  # neither replica was restarted
        assert a.proc.poll() is None and b.proc.poll() is None
