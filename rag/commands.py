"""Subcommands beyond models/index/search (ask, chat, serve, eval) register here."""
from __future__ import annotations


def register(add) -> None:
    """Add the later subcommands to the parser (``add(name, func, help, examples)``)."""
