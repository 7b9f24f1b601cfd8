"""The indexing library: load, clean, chunk and embed articles into a store (a FAISS folder by default, or Qdrant).

It knows nothing of answering, HTTP or user interfaces (``rag`` and ``ui`` build on it). See docs/architecture.md.
"""
