"""Adding and deleting one article through the managed corpus (index/corpus.py) over the seed index.

Measures, on a private copy of the seed index (the real one is never touched): the time from the
upload to the new index being served, how many passages were embedded and reused, and whether
questions asked during the build were answered (from the old index) without an error.

Usage::

    nice .venv/bin/python bench/bench_corpus.py        # writes bench/results/corpus.json
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ARTICLE = ("افتتاح مكتبة عامة جديدة في البصرة\n\n"
           "افتتحت محافظة البصرة يوم السبت مكتبة عامة جديدة تضم 42 ألف كتاب في مبنى تاريخي على ضفاف شط العرب. "
           "وقال المحافظ إن المكتبة العامة الجديدة ستفتح أبوابها للطلاب مجانا طوال أيام الأسبوع.\n")
QUESTION = "كم كتابا تضم المكتبة العامة الجديدة التي افتتحت في البصرة؟"


def main() -> None:
    from index.build import build_index
    from index.corpus import open_corpus
    from rag import ask, embedder
    from ui.settings import Settings

    base = Settings.load()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        settings = Settings(home=home, models_dir=base.models_dir, index_dir=home / "index", backend="extractive")
        folder = home / "seeds"
        shutil.copytree(ROOT / "seeds", folder)
        model = embedder(settings)
        build_index(folder, settings, model)
        ask(QUESTION, settings=settings)  # warm: model and index loaded
        corpus = open_corpus(settings, model)

        answered, errors, stop = [], [], threading.Event()

        def keep_asking() -> None:
            while not stop.is_set():
                try:
                    answered.append(ask(QUESTION, settings=settings).refused)
                except Exception as exc:  # counted: a question must never fail during a build
                    errors.append(repr(exc))

        asker = threading.Thread(target=keep_asking)
        asker.start()
        started = time.perf_counter()
        added, _ = corpus.add_files([("library.txt", ARTICLE.encode("utf-8"))])
        job = corpus.jobs.wait(corpus.reindex([added[0].id]).id)
        upload_s = time.perf_counter() - started
        stop.set()
        asker.join()
        after = ask(QUESTION, settings=settings)

        started = time.perf_counter()
        corpus.delete(added[0].id)
        deleted = corpus.jobs.wait(corpus.reindex().id)
        delete_s = time.perf_counter() - started
        result = {"upload_to_served_s": round(upload_s, 2), "embedded": job.result["embedded"], "reused": job.result["reused"],
                  "build_s": job.result["seconds"], "questions_during_build": len(answered), "refused_during_build": sum(answered),
                  "errors_during_build": errors, "answered_after": not after.refused,
                  "cited_after": [c.passage.doc_id for c in after.citations][:1], "delete_to_served_s": round(delete_s, 2),
                  "delete_embedded": deleted.result["embedded"], "refused_after_delete": ask(QUESTION, settings=settings).refused}
    print(json.dumps(result, ensure_ascii=False, indent=1))
    (ROOT / "bench" / "results" / "corpus.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
