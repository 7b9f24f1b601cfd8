"""Subcommands beyond models/index/search: eval (and ask, chat, serve as they arrive)."""
from __future__ import annotations

import argparse
import json
from importlib import resources
from pathlib import Path

from index.settings import Settings

DEV_SET = "rag/data/seed_dev.jsonl"


def _settings(args: argparse.Namespace, **extra) -> Settings:
    return Settings.load(args.config, home=args.home, index_dir=getattr(args, "index_dir", None), **extra)


def _modes(text: str) -> list[str]:
    from rag.retrieval import MODES
    from index.errors import InputError

    modes = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise InputError(f"--compare takes a comma-separated list of {', '.join(MODES)}; got {text!r}")
    return modes


def cmd_eval_retrieval(args: argparse.Namespace) -> int:
    from rag.evaluation import retrieval
    from rag.evaluation.report import load_questions, table, write_reports
    from rag.service import get_retriever

    settings = _settings(args)
    path = Path(args.questions) if args.questions else Path(str(resources.files("rag").joinpath("data", "seed_dev.jsonl")))
    questions = load_questions(path)
    result = retrieval.evaluate_retrieval(get_retriever(settings), questions, _modes(args.compare), settings.min_score)
    header, rows = retrieval.rows(result)
    print(f"retrieval on {path} (threshold {settings.min_score})\n")
    print(table(header, rows))
    write_reports(result, header, rows, args.json, args.markdown, f"Retrieval: {path.name}")
    return 0


def cmd_eval_xquad(args: argparse.Namespace) -> int:
    from rag.evaluation import xquad
    from rag.evaluation.report import table, write_reports

    settings = _settings(args)
    result = xquad.evaluate_xquad(Path(args.dir), settings, _modes(args.compare), args.limit)
    header, rows = xquad.rows(result)
    print(table(header, rows))
    write_reports(result, header, rows, args.json, args.markdown, "XQuAD retrieval")
    return 0


def register(add) -> None:
    """Add the later subcommands to the parser (``add(name, func, help, examples)``)."""
    p = add("eval", None, "evaluate retrieval (and answers) on question sets and XQuAD",
            "examples:\n  rag eval retrieval                          the bundled dev set\n"
            "  rag eval retrieval my_questions.jsonl --compare dense,bm25,hybrid --markdown out.md\n"
            "  rag eval xquad ../shared/benchmarks/xquad --compare dense,hybrid\n")
    sub = p.add_subparsers(dest="eval_command", metavar="KIND")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--json", metavar="FILE", help="write the full results as JSON")
        q.add_argument("--markdown", metavar="FILE", help="write the summary table as Markdown")
        q.add_argument("--index-dir", help="index to evaluate")

    q = sub.add_parser("retrieval", help="recall@k, MRR@10 and evidence hit@k on a JSONL question set")
    q.add_argument("questions", nargs="?", help=f"JSONL question set (default: the bundled {DEV_SET})")
    q.add_argument("--compare", default="hybrid", help="comma-separated variants: dense,bm25,hybrid (default hybrid)")
    common(q)
    q.set_defaults(func=cmd_eval_retrieval)

    q = sub.add_parser("xquad", help="the XQuAD ar/en benchmark: recall@1/5 and MRR@10 per direction")
    q.add_argument("dir", help="folder with xquad.ar.json and xquad.en.json")
    q.add_argument("--compare", default="dense,bm25,hybrid", help="variants to run (default dense,bm25,hybrid)")
    q.add_argument("--limit", type=int, help="only the first N questions (quick check)")
    common(q)
    q.set_defaults(func=cmd_eval_xquad)
