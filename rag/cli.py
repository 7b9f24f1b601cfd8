"""The ``rag`` console script: one entry point, one subcommand per job.

Example::

    $ rag models                 # provision the default models (idempotent)
    $ rag index seeds/           # build or update the index
    $ rag search "Who met Blinken in Washington?"
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from index.errors import RagError
from index.settings import Settings

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

    settings = _settings(args)
    specs = [models.EMBEDDING] if args.embedding_only else [models.EMBEDDING, models.LLM]
    for spec in specs:
        if args.verify and models.is_verified(spec, settings.models_dir):
            problems = models.verify(spec, settings.models_dir / spec.name)
            print(f"{spec.name}: {'OK' if not problems else 'CORRUPT: ' + '; '.join(problems)}")
            if problems:
                models.provision(spec, settings.models_dir, force=True)
            continue
        if models.is_verified(spec, settings.models_dir) and not args.force:
            print(f"{spec.name}: already installed and verified ({settings.models_dir / spec.name})")
            continue
        with tqdm(total=len(spec.requirements), desc=f"{spec.name}: pieces", unit="piece") as bar:
            path = models.provision(spec, settings.models_dir, force=args.force, progress=bar.update)
        print(f"{spec.name}: verified and installed at {path}")
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
    from rag import service

    settings = _settings(args, index_kind=args.kind, chunk_tokens=args.chunk_tokens)
    root = Path(args.path) if args.path else default_corpus(settings)
    report = build_index(root, settings, rebuild=args.rebuild)
    service.reset()
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
    from rag.service import search

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
            "examples:\n  rag models\n  rag models --verify      rehash the installed files\n")
    p.add_argument("--force", action="store_true", help="reinstall even when a verified copy exists")
    p.add_argument("--verify", action="store_true", help="rehash installed files and repair them if corrupt")
    p.add_argument("--embedding-only", action="store_true", help="skip the local LLM (1.1 GB)")

    p = add("index", cmd_index, "build or update the index of a folder of articles",
            "examples:\n  rag index                 bundled seeds, or the folder indexed last\n  rag index ~/news --kind hnsw\n")
    p.add_argument("path", nargs="?", help="folder (or file) of .txt/.md/.html articles")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything instead of reusing vectors")
    p.add_argument("--kind", choices=["flat", "hnsw"], help="FAISS index type (default: setting index_kind, flat)")
    p.add_argument("--chunk-tokens", type=int, help="target chunk size in tokens (default: setting chunk_tokens)")
    p.add_argument("--index-dir", help="where the index lives (default: $RAG_INDEX_DIR or HOME/index)")

    p = add("search", cmd_search, "print the passages that best match a question (no LLM)",
            'examples:\n  rag search "من هو وزير الخارجية العراقي؟"\n  rag search "Who met Blinken?" --mode dense -k 3\n')
    p.add_argument("query", nargs="*", help="the question; omit it for an interactive prompt")
    p.add_argument("-k", type=int, default=None, help="number of passages (default: setting top_k)")
    p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--index-dir", help="index to search")

    from rag import commands  # later subcommands register themselves here

    commands.register(add)
    return parser


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
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
