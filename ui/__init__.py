"""The Gradio chat face; a thin layer over ``rag.service``."""
