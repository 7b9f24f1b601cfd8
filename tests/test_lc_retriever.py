"""The LangChain retriever (rag.lc_retriever) for users' own chains, and the cold path without it."""
import subprocess
import sys

import pytest

from rag.service import search


@pytest.mark.slow
def test_the_langchain_retriever_returns_what_search_returns(seed_index) -> None:
    from rag.lc_retriever import PassageRetriever, to_passage

    question = "من هو وزير الخارجية العراقي الذي التقى بلينكن؟"
    docs = PassageRetriever(settings=seed_index, top_k=4).invoke(question)
    assert [to_passage(d) for d in docs] == search(question, 4, settings=seed_index)
    assert docs and docs[0].metadata["title"] and docs[0].metadata["rank"] == 1


def test_answering_does_not_import_langchain_core_until_a_model_is_used() -> None:
    # bench_coldstart: importing langchain_core through rag.lc_retriever cost a cold `rag ask` 1.0–1.3 s
    code = "import sys, rag.answer; print(any(m.startswith('langchain') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
