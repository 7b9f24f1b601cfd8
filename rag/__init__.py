"""Answering over the index: retrieval, cited answers, evaluation, and the CLI and HTTP faces."""
