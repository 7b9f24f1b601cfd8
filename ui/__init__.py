"""The faces over the answering library: ``cli`` (the ``rag`` command), ``api`` (FastAPI), ``chat`` (Gradio).

Each imports the library through ``rag`` (its public API) and never another face; ``settings``,
``errors`` and ``security`` are shared helpers, not faces. See docs/architecture.md.
"""
