"""Subcommands beyond models/index/search: eval (and ask, chat, serve as they arrive)."""
from __future__ import annotations

import argparse
import json
from importlib import resources
from pathlib import Path

from index.settings import Settings
from rag import backends
from rag.cli import _settings

DEV_SET = "rag/data/seed_dev.jsonl"


def _question_set(args: argparse.Namespace) -> Path:
    """The question set named on the command line, else the bundled dev set."""
    return Path(args.questions) if args.questions else Path(str(resources.files("rag").joinpath("data", "seed_dev.jsonl")))


def _modes(text: str) -> list[str]:
    from index.errors import InputError
    from rag.retrieval import MODES

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
    path = _question_set(args)
    questions = load_questions(path)
    result = retrieval.evaluate_retrieval(get_retriever(settings), questions, _modes(args.compare), settings.min_score)
    header, rows = retrieval.rows(result)
    print(f"retrieval on {path} (threshold {settings.min_score})\n")
    print(table(header, rows))
    write_reports(result, header, rows, args.json, args.markdown, f"Retrieval: {path.name}")
    return 0


def cmd_eval_answers(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rag.evaluation import answers
    from rag.evaluation.report import load_questions, table, write_reports

    settings = _settings(args, backend=args.backend)
    path = _question_set(args)
    questions = load_questions(path)
    with tqdm(total=len(questions), desc="answering", unit="q") as bar:
        result = answers.evaluate_answers(questions, settings, bar.update)
    header, rows = answers.rows(result)
    for r in result["questions"]:
        flag = "" if r["grounded"] else "  [flagged: " + "; ".join(r["reasons"]) + "]"
        print(f"{r['id']} ({r['lang']}) {r['answer'][:160]!r}{flag}")
    print(f"\nanswers on {path} with backend {settings.backend}\n")
    print(table(header, rows))
    write_reports(result, header, rows, args.json, args.markdown, f"Answers ({settings.backend}): {path.name}")
    return 0


def cmd_eval_xquad(args: argparse.Namespace) -> int:
    from rag.evaluation import xquad
    from rag.evaluation.report import table, write_reports

    settings = _settings(args, backend=args.backend)
    if args.answers:
        from tqdm import tqdm

        from rag.evaluation import xquad_answers

        limit = args.limit or 100
        with tqdm(total=2 * limit, desc="answering", unit="q") as bar:
            result = xquad_answers.evaluate_xquad_answers(Path(args.dir), settings, limit, bar.update)
        header, rows = xquad_answers.rows(result)
        print(table(header, rows))
        write_reports(result, header, rows, args.json, args.markdown, f"XQuAD end to end ({settings.backend})")
        return 0
    result = xquad.evaluate_xquad(Path(args.dir), settings, _modes(args.compare), args.limit)
    header, rows = xquad.rows(result)
    print(table(header, rows))
    write_reports(result, header, rows, args.json, args.markdown, "XQuAD retrieval")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    import sys

    from rag.answer import ask_stream
    from rag.types import Answer

    settings = _settings(args)
    answer = None
    for piece in ask_stream(" ".join(args.question), top_k=args.k, backend=args.backend, settings=settings):
        if isinstance(piece, Answer):
            answer = piece
        elif not args.json:
            sys.stdout.write(piece)
            sys.stdout.flush()
    assert answer is not None
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=1))
        return 0
    print()
    if answer.notice:
        print(f"\nnote: {answer.notice}")
    if answer.backend == "extractive" or answer.notice:
        print(f"\nanswer: {answer.text}")
    elif answer.replaced:  # a check withdrew part of what was streamed: the answer as it stands
        print(f"\ncorrected answer: {answer.text}")
    if not answer.grounded:
        print("\ncheck: " + "; ".join(answer.reasons))
    for c in answer.citations:
        print(f"\n[{c.n}] {c.passage.title} — {c.passage.source}\n    «{c.quote or c.passage.text[:200]}»")
    t = answer.timings
    print(f"\n({answer.backend}; first token {t.get('first_token_s', 0):.1f} s, total {t.get('total_s', 0):.1f} s)")
    return 0


def _ensure_index(settings: Settings) -> None:
    """Build the index of the default corpus first when there is none (with progress)."""
    import sys

    from index.build import build_index
    from index.errors import IndexMismatchError
    from index.store import read_manifest
    from rag.cli import default_corpus

    try:
        manifest = read_manifest(settings.index_dir)
    except IndexMismatchError as exc:  # damaged: the server starts, /readyz says why, a rebuild is picked up live
        print(f"warning: {exc}", file=sys.stderr, flush=True)
        return
    if manifest is None:
        root = default_corpus(settings)
        print(f"no index yet at {settings.index_dir}; indexing {root} first…", flush=True)
        report = build_index(root, settings)
        print(f"indexed {report.documents} documents, {report.chunks} chunks in {report.seconds:.0f} s", flush=True)


def cmd_chat(args: argparse.Namespace) -> int:
    from rag.api import require_token_off_loopback

    settings = _settings(args, backend=args.backend)
    require_token_off_loopback(settings, args.host, "the chat UI", "--insecure-no-auth", args.insecure_no_auth)  # before any indexing
    _ensure_index(settings)
    from ui.app import launch  # the UI is the outermost layer; imported only here

    launch(settings, args.host, args.port, insecure_no_auth=args.insecure_no_auth)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from rag.api import serve

    settings = _settings(args, backend=args.backend)
    _ensure_index(settings)
    serve(settings, args.host, args.port)
    return 0


def _port(text: str) -> int:
    from index.errors import ConfigError
    from index.settings import check_port

    try:
        return check_port(int(text), "the port")
    except (ValueError, ConfigError) as exc:
        raise argparse.ArgumentTypeError(str(exc) if isinstance(exc, ConfigError) else f"not a port number: {text!r}") from None


def _server_args(p: argparse.ArgumentParser, port: int, host_help: str) -> None:
    p.add_argument("--host", default="127.0.0.1", help=host_help)
    p.add_argument("--port", type=_port, default=port, help=f"TCP port, 1-65535 (default {port})")
    p.add_argument("--backend", choices=backends.names(), help="default answering backend")
    p.add_argument("--index-dir", help="index to use")


def register(add) -> None:
    """Add the later subcommands to the parser (``add(name, func, help, examples)``)."""
    p = add("ask", cmd_ask, "answer a question with numbered citations to the articles",
            'examples:\n  rag ask "من هو وزير الخارجية العراقي الذي التقى بلينكن؟"\n'
            '  rag ask "How many US soldiers are in Iraq?" --backend extractive --json\n')
    p.add_argument("question", nargs="+", help="the question, in Arabic or English")
    p.add_argument("-k", type=int, default=None, help="passages to retrieve (default: setting top_k)")
    p.add_argument("--backend", choices=backends.names(), help="answering backend (default: setting backend)")
    p.add_argument("--json", action="store_true", help="print the whole Answer as JSON")
    p.add_argument("--index-dir", help="index to use")

    p = add("chat", cmd_chat, "start the chat UI (Gradio) on localhost",
            "examples:\n  rag chat\n  rag chat --port 8080 --backend extractive\n")
    _server_args(p, 7860, "address to bind (default 127.0.0.1); anything but loopback needs RAG_API_TOKEN (the UI's password)")
    p.add_argument("--insecure-no-auth", action="store_true",
                   help="serve the UI beyond loopback WITHOUT any password (anyone who can reach it can use it)")

    p = add("serve", cmd_serve, "start the HTTP API (JSON + OpenAI-compatible chat)",
            "examples:\n  rag serve --port 8000\n  RAG_API_TOKEN=secret rag serve --host 0.0.0.0\n")
    _server_args(p, 8000, "address to bind; anything but loopback needs RAG_API_TOKEN")

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

    q = sub.add_parser("answers", help="answer a JSONL question set and score citations, language, numbers, refusals")
    q.add_argument("questions", nargs="?", help=f"JSONL question set (default: the bundled {DEV_SET})")
    q.add_argument("--backend", choices=backends.names(), help="answering backend (default: setting backend)")
    common(q)
    q.set_defaults(func=cmd_eval_answers)

    q = sub.add_parser("xquad", help="the XQuAD ar/en benchmark: recall@1/5 and MRR@10 per direction")
    q.add_argument("dir", help="folder with xquad.ar.json and xquad.en.json")
    q.add_argument("--compare", default="dense,bm25,hybrid", help="variants to run (default dense,bm25,hybrid)")
    q.add_argument("--limit", type=int, help="only the first N questions (quick check); with --answers: N sampled questions per direction (default 100)")
    q.add_argument("--answers", action="store_true", help="end to end: index the contexts with the build path, answer a fixed sample with ask()")
    q.add_argument("--backend", choices=backends.names(), help="answering backend for --answers (default: setting backend)")
    common(q)
    q.set_defaults(func=cmd_eval_xquad)
