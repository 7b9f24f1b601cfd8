"""The retriever as a LangChain ``BaseRetriever``, for the answering chain and for users' own chains.

Example::

    >>> retriever = PassageRetriever(settings=RagSettings.load(), top_k=4)
    >>> docs = retriever.invoke("Who met Blinken?")
    >>> docs[0].metadata["title"], docs[0].metadata["score"]
"""
from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from rag.settings import RagSettings
from rag.types import Passage


def to_document(p: Passage) -> Document:
    return Document(page_content=p.text, metadata={k: v for k, v in p.to_dict().items() if k != "text"})


def to_passage(d: Document) -> Passage:
    return Passage(text=d.page_content, **d.metadata)


class PassageRetriever(BaseRetriever):
    """Hybrid search over the index; ``Document.metadata`` carries title, source, offsets, scores, rank."""

    settings: Any = None
    top_k: int | None = None
    mode: str = "hybrid"

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        from rag.service import search

        settings: RagSettings | None = self.settings
        return [to_document(p) for p in search(query, self.top_k, self.mode, settings)]
