"""Indexing stage: load, clean, chunk and embed articles into a FAISS index on disk."""
