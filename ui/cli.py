"""The ``rag`` console script: one entry point, one subcommand per job.

Example::

    $ rag models                 # provision the default models (idempotent)
    $ rag index seeds/           # build or update the index
    $ rag search "Who met Blinken in Washington?"
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from importlib import resources
from pathlib import Path

from index.errors import RagError
from rag import backends
from ui.errors import exit_code
from ui.settings import Settings

log = logging.getLogger("rag")

EXAMPLES = """examples:
  rag models                                   provision the embedding model and the local LLM
  rag index                                    index the bundled seed articles (or the last folder indexed)
  rag index ~/news --rebuild                   index another folder from scratch
  rag search "ما الملفات التي يتناولها الحوار الاستراتيجي؟"
  rag search "Who did Blinken meet?" -k 3 --json
  rag search                                   interactive search prompt
"""
REPO_SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def _settings(args: argparse.Namespace, **extra) -> Settings:
    return Settings.load(
        args.config,
        home=args.home,
        index_dir=getattr(args, "index_dir", None),
        **extra,
    )


def cmd_models(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from index import models
    from index.embedder import wants_openvino_ir

    settings = _settings(args)
    specs = [models.EMBEDDING] if args.embedding_only else [models.EMBEDDING, models.LLM]
    for spec in specs:
        if args.verify and models.is_verified(spec, settings.models_dir):
            problems = models.verify(spec, settings.models_dir / spec.name)
            print(f"{spec.name}: {'OK' if not problems else 'CORRUPT: ' + '; '.join(problems)}")
            if problems:
                models.provision(spec, settings.models_dir, force=True)
            copy = models.bf16_path(spec, settings.models_dir)
            if spec.unzip and copy.exists():  # the bfloat16 copy the embedder loads (after the original: it links its small files)
                problems = models.verify_bf16(spec, settings.models_dir)
                print(f"{copy.name}: {'OK' if not problems else 'CORRUPT: ' + '; '.join(problems) + '; rebuilt from the verified original'}")
                if problems:
                    models.ensure_bf16(spec, settings.models_dir, force=True)
            continue
        if models.is_verified(spec, settings.models_dir) and not args.force:
            print(f"{spec.name}: already installed and verified ({settings.models_dir / spec.name})")
            continue
        with tqdm(total=len(spec.requirements), desc=f"{spec.name}: pieces", unit="piece") as bar:
            path = models.provision(spec, settings.models_dir, force=args.force, progress=bar.update)
        print(f"{spec.name}: verified and installed at {path}")
    if wants_openvino_ir(settings):  # converted here, once, rather than inside the first question
        from index.embedder import embedder_class
        from index.settings import IndexSettings

        try:
            embedder = embedder_class("openvino").from_settings(settings.section(IndexSettings), show_progress=False)
            print(f"OpenVINO IR: checking {embedder.ir_dir} (a conversion, when none is there, takes about 1.5 minutes on 2 cores)", flush=True)
            embedder.compiled  # converts when missing or damaged, then compiles
        except Exception as exc:  # noqa: BLE001 - under "auto" any failure only means torch runs the embedder
            if settings.embed_runtime == "openvino":
                raise
            print(f"OpenVINO IR: not made ({exc}); the embedder runs on torch (embed_runtime auto)", file=sys.stderr)
            return 0
        print(f"OpenVINO IR: ready at {embedder.ir_dir}")
    return 0


def default_corpus(settings: Settings) -> Path:
    """The folder to index when none is given: the last one indexed, else the bundled seeds."""
    from index.store import read_manifest

    try:
        manifest = read_manifest(settings.index_dir)
    except RagError:
        manifest = None
    if manifest and manifest.corpus_root and Path(manifest.corpus_root).exists():
        return Path(manifest.corpus_root)
    return Path("seeds") if Path("seeds").is_dir() else REPO_SEEDS


def cmd_index(args: argparse.Namespace) -> int:
    from index.build import build_index
    from index.settings import IndexSettings

    settings = _settings(args, index_kind=args.kind, chunk_tokens=args.chunk_tokens)
    root = Path(args.path) if args.path else default_corpus(settings)
    from rag import lexical_terms

    report = build_index(root, settings.section(IndexSettings), rebuild=args.rebuild, terms=lexical_terms,  # the index layer gets its section only
                         workers=args.workers, ray_address=args.ray)
    from index.loader import printable, summarize_skipped

    state = "written" if report.written else "already up to date"
    for s in report.skipped:
        print(f"  skipped {printable(s.rel_path)}: {s.reason}")
    for doc in report.removed_documents:
        print(f"  removed {printable(doc)} (no longer in the folder)")
    print(f"indexed {report.documents}, skipped {summarize_skipped(report.skipped)}: {printable(str(root))}, "
          f"{report.chunks} chunks (embedded {report.embedded}, reused {report.reused}), "
          f"{report.seconds:.1f} s; index {state} at {printable(str(report.index_dir))}")
    return 0


def _print_passages(passages, as_json: bool) -> None:
    if as_json:
        print(json.dumps([p.to_dict() for p in passages], ensure_ascii=False, indent=1))
        return
    if not passages:
        print("no passage above the relevance threshold")
    for p in passages:
        snippet = " ".join(p.text.split())
        print(f"[{p.rank}] score {p.score:.3f} (dense {p.dense_score:.3f}, bm25 {p.lexical_score:.2f})  {p.title}\n"
              f"    {p.source} [{p.start}:{p.end}]\n    {snippet[:300]}{'…' if len(snippet) > 300 else ''}\n")


def cmd_search(args: argparse.Namespace) -> int:
    from rag import search

    settings = _settings(args)
    if args.query:
        _print_passages(search(" ".join(args.query), args.k, args.mode, settings), args.json)
        return 0
    print("Search the articles (Arabic or English); an empty line or Ctrl-D quits.")
    while True:
        try:
            query = input("search> ").strip()
        except EOFError:
            return 0
        if not query:
            return 0
        try:
            _print_passages(search(query, args.k, args.mode, settings), args.json)
        except RagError as exc:
            print(f"error: {exc}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Cited question answering over Arabic news articles, offline.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help="TOML config file (default: $RAG_CONFIG)")
    parser.add_argument("--home", help="data home for models and index (default: $RAG_HOME or ~/.cache/arabic-news-rag)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func, help_text: str, examples: str = "") -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=examples,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        if func is not None:
            p.set_defaults(func=func)
        return p

    p = add("models", cmd_models, "download, assemble and verify the default models (idempotent)",
            "examples:\n  rag models\n  rag models --verify      rehash the installed files and the embedder's bfloat16 copy\n"
            "  rag models --embedding-only   the embedder only; with OpenVINO installed it is converted once\n"
            "                                (embed_runtime auto; RAG_EMBED_RUNTIME=torch skips the conversion)\n")
    p.add_argument("--force", action="store_true", help="reinstall even when a verified copy exists")
    p.add_argument("--verify", action="store_true", help="rehash installed files (the embedder's bfloat16 copy too) and repair them if corrupt")
    p.add_argument("--embedding-only", action="store_true", help="skip the local LLM (1.1 GB)")

    p = add("index", cmd_index, "build or update the index of a folder of articles",
            "examples:\n  rag index                 bundled seeds, or the folder indexed last\n  rag index ~/news --kind hnsw\n")
    p.add_argument("path", nargs="?", help="folder (or file) of .txt/.md/.html articles")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything instead of reusing vectors")
    p.add_argument("--kind", choices=["flat", "hnsw"], help="FAISS index type (default: setting index_kind, flat)")
    p.add_argument("--chunk-tokens", type=int, help="target chunk size in tokens (default: setting chunk_tokens)")
    p.add_argument("--index-dir", help="where the index lives (default: $RAG_INDEX_DIR or HOME/index)")
    p.add_argument("--workers", type=int, default=1, help="clean, chunk and embed on a local Ray cluster of N workers (the cluster extra)")
    p.add_argument("--ray", metavar="ADDRESS", help="join the Ray cluster at ADDRESS instead (e.g. ray://head:10001)")

    p = add("search", cmd_search, "print the passages that best match a question (no LLM)",
            'examples:\n  rag search "من هو وزير الخارجية العراقي؟"\n  rag search "Who met Blinken?" --mode dense -k 3\n')
    p.add_argument("query", nargs="*", help="the question; omit it for an interactive prompt")
    p.add_argument("-k", type=int, default=None, help="number of passages (default: setting top_k)")
    p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--index-dir", help="index to search")

    _register_answering(add)
    return parser


DEV_SET = "rag/data/seed_dev.jsonl"


def _question_set(args: argparse.Namespace) -> Path:
    """The question set named on the command line, else the bundled dev set."""
    return Path(args.questions) if args.questions else Path(str(resources.files("rag").joinpath("data", "seed_dev.jsonl")))


def _modes(text: str) -> list[str]:
    from rag import RETRIEVAL_MODES as MODES
    from rag import InputError

    modes = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise InputError(f"--compare takes a comma-separated list of {', '.join(MODES)}; got {text!r}")
    return modes


def cmd_eval_retrieval(args: argparse.Namespace) -> int:
    from rag import get_retriever
    from rag.evaluation import retrieval
    from rag.evaluation.report import load_questions, table, write_reports

    settings = _settings(args)
    path = _question_set(args)
    questions = load_questions(path)
    result = retrieval.evaluate_retrieval(get_retriever(settings), questions, _modes(args.compare), settings.min_score, settings.top_k)
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
        result = answers.evaluate_answers(questions, settings, bar.update, question_set=path.name)
    header, rows = answers.rows(result)
    for r in result["questions"]:
        flag = "" if r["grounded"] else "  [flagged: " + "; ".join(r["reasons"]) + "]"
        print(f"{r['id']} ({r['lang']}) {r['answer'][:160]!r}{flag}")
    print(f"\nanswers on {path} with backend {settings.backend}\n")
    print(table(header, rows))
    if args.ragas:
        from rag.evaluation import ragas_bridge

        result["ragas"] = ragas_bridge.run_ragas(result, settings)
        print("\nragas" + (" (judge: " + settings.judge_base_url + ")" if result["ragas"]["judge"] else " (no judge: offline metrics only)") + "\n")
        print(table(*ragas_bridge.rows(result["ragas"])))
    write_reports(result, header, rows, args.json, args.markdown, f"Answers ({settings.backend}): {path.name}")
    if args.ragas_export:
        from rag.evaluation import ragas_bridge

        count = ragas_bridge.write_ragas_jsonl(result, Path(args.ragas_export))
        print(f"ragas dataset: {count} samples in {args.ragas_export} (ragas.EvaluationDataset.from_jsonl reads it)")
    if args.html:
        from rag.evaluation.html_report import render_html

        Path(args.html).write_text(render_html(result, f"Answers ({settings.backend}): {path.name}"), encoding="utf-8")
        print(f"HTML report: {args.html}")
    return 0


def cmd_eval_compare(args: argparse.Namespace) -> int:
    from rag.evaluation import compare
    from rag.evaluation.report import table, write_reports

    diff = compare.compare_runs(compare.load_run(Path(args.a)), compare.load_run(Path(args.b)))
    header, rows = compare.rows(diff)
    print(table(header, rows))
    counts = diff["counts"]
    print(f"\n{args.a} → {args.b}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for lang, deltas in diff["summary_deltas"].items():
        shown = ", ".join(f"{k} {v:+.3f}" for k, v in deltas.items() if v and k not in ("n",))
        print(f"  {lang}: {shown or 'no change in the averages'}")
    write_reports(diff, header, rows, args.json, args.markdown, f"Compare: {Path(args.a).name} → {Path(args.b).name}")
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

    from rag import Answer, ask_stream, check_question, preload

    settings = _settings(args)
    # the models load side by side (the local LLM in the background) once the question is known to be valid
    check_question(" ".join(args.question), settings)
    preload(settings.replace(backend=args.backend))
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
    from index.settings import IndexSettings
    from index.stores import read_store_manifest, store_config
    from rag import lexical_terms

    try:
        manifest = read_store_manifest(store_config(settings))  # the FAISS folder or the Qdrant collection
    except IndexMismatchError as exc:  # damaged: the server starts, /readyz says why, a rebuild is picked up live
        print(f"warning: {exc}", file=sys.stderr, flush=True)
        return
    if manifest is None:
        root = default_corpus(settings)
        print(f"no index yet at {store_config(settings).where}; indexing {root} first…", flush=True)
        report = build_index(root, settings.section(IndexSettings), terms=lexical_terms)
        print(f"indexed {report.documents} documents, {report.chunks} chunks in {report.seconds:.0f} s", flush=True)


# The long-running faces `rag chat` and `rag serve` start, named like console entry points: the CLI
# knows their entry functions by name, never their modules' code (faces do not import faces), and
# Gradio or FastAPI load only for the command that needs them.
SERVERS = {"chat": "ui.chat:launch", "serve": "ui.api:serve"}


def _server(command: str):
    module, _, function = SERVERS[command].partition(":")
    return getattr(importlib.import_module(module), function)


def cmd_chat(args: argparse.Namespace) -> int:
    from ui.security import require_token_off_loopback

    settings = _settings(args, backend=args.backend)
    require_token_off_loopback(settings, args.host, "the chat UI", "--insecure-no-auth", args.insecure_no_auth)  # before any indexing
    _ensure_index(settings)
    _server("chat")(settings, args.host, args.port, insecure_no_auth=args.insecure_no_auth)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args, backend=args.backend)
    _ensure_index(settings)
    _server("serve")(settings, args.host, args.port)
    return 0


def _port(text: str) -> int:
    from index.errors import ConfigError
    from ui.settings import check_port

    try:
        return check_port(int(text), "the port")
    except (ValueError, ConfigError) as exc:
        raise argparse.ArgumentTypeError(str(exc) if isinstance(exc, ConfigError) else f"not a port number: {text!r}") from None


def _server_args(p: argparse.ArgumentParser, port: int, host_help: str) -> None:
    p.add_argument("--host", default="127.0.0.1", help=host_help)
    p.add_argument("--port", type=_port, default=port, help=f"TCP port, 1-65535 (default {port})")
    p.add_argument("--backend", choices=backends.names(), help="default answering backend")
    p.add_argument("--index-dir", help="index to use")


def _register_answering(add) -> None:
    """Add ask, chat, serve and eval to the parser (``add(name, func, help, examples)``)."""
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
            "  rag eval answers my_questions.csv --backend extractive --json run.json --html run.html\n"
            "  rag eval answers ~/.cache/arabic-news-rag/feedback/feedback.jsonl   readers' feedback as test questions\n"
            "  rag eval compare before.json after.json\n"
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

    q = sub.add_parser("answers", help="answer a question set (JSONL, CSV or a feedback file) and score citations, facts, language, numbers, refusals")
    q.add_argument("questions", nargs="?", help=f"question set: JSONL, CSV, or HOME/feedback/feedback.jsonl (default: the bundled {DEV_SET})")
    q.add_argument("--backend", choices=backends.names(), help="answering backend (default: setting backend)")
    q.add_argument("--html", metavar="FILE", help="write a self-contained HTML report (charts, every question with its citations)")
    q.add_argument("--ragas", action="store_true", help="also score with ragas (optional extra): offline metrics; judge metrics too when judge_base_url is set")
    q.add_argument("--ragas-export", metavar="FILE", help="write the run as a ragas dataset (JSONL: user_input, retrieved_contexts, response, reference)")
    common(q)
    q.set_defaults(func=cmd_eval_answers)

    q = sub.add_parser("compare", help="what changed between two --json runs of `rag eval answers`: fixed, broken, unchanged, score deltas")
    q.add_argument("a", help="the earlier run (JSON)")
    q.add_argument("b", help="the later run (JSON)")
    q.add_argument("--json", metavar="FILE", help="write the comparison as JSON")
    q.add_argument("--markdown", metavar="FILE", help="write the comparison table as Markdown")
    q.set_defaults(func=cmd_eval_compare)

    q = sub.add_parser("xquad", help="the XQuAD ar/en benchmark: recall@1/5 and MRR@10 per direction")
    q.add_argument("dir", help="folder with xquad.ar.json and xquad.en.json")
    q.add_argument("--compare", default="dense,bm25,hybrid", help="variants to run (default dense,bm25,hybrid)")
    q.add_argument("--limit", type=int, help="only the first N questions (quick check); with --answers: N sampled questions per direction (default 100)")
    q.add_argument("--answers", action="store_true", help="end to end: index the contexts with the build path, answer a fixed sample with ask()")
    q.add_argument("--backend", choices=backends.names(), help="answering backend for --answers (default: setting backend)")
    common(q)
    q.set_defaults(func=cmd_eval_xquad)


class _SafeFormatter(logging.Formatter):
    """Log lines with control characters (ESC, newlines from file names) escaped."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        from index.loader import printable

        record.message = printable(record.message)
        return super().formatMessage(record)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # file names in messages must not drive the terminal
        handler.setFormatter(_SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    for noisy in ("httpx", "sentence_transformers", "faiss", "bm25s", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_code(exc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
