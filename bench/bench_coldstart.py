"""Cold start: what a user waits for from a fresh shell, beside the floor measured in the same run.

Each round starts fresh processes, one after the other, in a fixed order:

* the floor: a bare Python that imports sentence-transformers, loads the installed
  EmbeddingGemma in bfloat16 and embeds one question (nothing of this project);
* ``rag ask --backend extractive "…"`` to its exit;
* ``rag ask "…"`` (local LLM) to its first answer word on stdout, for an Arabic question (its
  first words are quotes: they wait for the embedder and the index, not for the LLM) and an
  English one (its first words are the LLM's translation: they wait for both models);
* ``rag index`` of the seeds into a new folder: its peak RSS (bfloat16, the issue's target).

The ``rag ask`` commands run with the settings a user gets (``embed_dtype`` and ``embed_runtime``
``auto``: OpenVINO once ``rag models`` converted the model, in bfloat16 on CPUs with native bf16,
else float32); ``rag index`` runs in bfloat16 as the target asks. Until 2026-12-02 every command ran
in bfloat16, which on a CPU without bf16 meant torch emulating it: not what a user gets there.

``--before DIR`` runs the same commands in another checkout too (e.g. a worktree at the commit
before this work), so before and after are measured side by side. The page cache is warm in every
run (the model files were read moments before): these are process cold starts, not disk cold starts.

    python bench/bench_coldstart.py [--rounds 3] [--before /tmp/wt]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, report

sys.path.insert(0, str(ROOT))
from index.embedder import resolve_dtype, resolve_runtime  # noqa: E402
from ui.settings import Settings  # noqa: E402

AR = "من هو وزير الخارجية العراقي الذي التقى بلينكن؟"
EN = "How many American soldiers are deployed in Iraq?"
TARGET_EXTRACTIVE = 1.15  # × the floor
TARGET_FIRST_TOKEN_S = 12.0
TARGET_INDEX_RSS_MB = 1600

FLOOR = r"""
import sys, torch
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(sys.argv[1], device="cpu", model_kwargs={"dtype": torch.bfloat16})
model.encode_query([sys.argv[2]])
"""


def run(cmd: list[str], cwd: Path, env: dict[str, str], first_output: bool = False) -> dict:
    """Wall time to exit (and to the first non-blank stdout byte), peak RSS, exit code."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    first = None
    while first_output and first is None:
        byte = proc.stdout.read(1)
        if not byte:
            break
        if not byte.isspace():
            first = time.perf_counter() - started
    proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall_s": wall, "first_output_s": first, "peak_rss_mb": usage.ru_maxrss / 1024, "rc": proc.returncode}


def cli(checkout: Path) -> list[str]:
    """The ``rag`` entry point of a checkout (``ui.cli`` after the layer split, ``rag.cli`` before it)."""
    return [sys.executable, "-m", "ui.cli" if (checkout / "ui" / "cli.py").exists() else "rag.cli"]


def one_round(checkout: Path, env: dict[str, str], settings: Settings, rounds_dir: Path, extractive_only: bool = False) -> dict:
    rag = cli(checkout)
    env = {**env, "PYTHONPATH": str(checkout)}
    index_env = {**env, "RAG_EMBED_DTYPE": "bfloat16", "RAG_EMBED_RUNTIME": resolve_runtime(settings.replace(embed_dtype="bfloat16"))}
    out = {}
    model = settings.models_dir / "embeddinggemma-300m"
    out["floor"] = run([sys.executable, "-c", FLOOR, str(model), AR], checkout, env)
    out["extractive"] = run(rag + ["ask", "--backend", "extractive", AR], checkout, env)
    out["extractive_over_floor"] = out["extractive"]["wall_s"] / out["floor"]["wall_s"]
    if extractive_only:
        return out
    out["local_ar"] = run(rag + ["ask", "--backend", "local", AR], checkout, env, first_output=True)
    out["local_en"] = run(rag + ["ask", "--backend", "local", EN], checkout, env, first_output=True)
    with tempfile.TemporaryDirectory(dir=rounds_dir) as tmp:
        out["index"] = run(rag + ["index", str(ROOT / "seeds"), "--index-dir", str(Path(tmp) / "index")], checkout, index_env)
    bad = [k for k, v in out.items() if isinstance(v, dict) and v["rc"] != 0]
    if bad:
        raise SystemExit(f"failed in {checkout}: {bad}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--extractive-only", action="store_true", help="only the floor and `rag ask --backend extractive`")
    ap.add_argument("--before", help="another checkout to measure side by side (e.g. a git worktree of the previous commit)")
    args = ap.parse_args()
    settings = Settings.load()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAG_HOME": str(settings.home), "RAG_MODELS_DIR": str(settings.models_dir),
           "RAG_INDEX_DIR": str(settings.index_dir), "RAG_EMBED_DTYPE": resolve_dtype(settings.embed_dtype),
           # the runtime named, not left to "auto": the results file says which one ran
           "RAG_EMBED_RUNTIME": resolve_runtime(settings)}
    checkouts = {"after": ROOT} | ({"before": Path(args.before).resolve()} if args.before else {})
    results: dict[str, list[dict]] = {name: [] for name in checkouts}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.rounds):
            for name, checkout in checkouts.items():  # interleaved: drift on the machine hits both alike
                results[name].append(one_round(checkout, env, settings, Path(scratch), args.extractive_only))

    def med(name: str, key: str, field: str = "wall_s") -> float:
        return statistics.median(r[key][field] for r in results[name])

    def spread(name: str, key: str, field: str = "wall_s") -> str:
        values = [r[key][field] for r in results[name]] if field else [r[key] for r in results[name]]
        return f"{min(values):.2f}–{max(values):.2f}"

    rows = []
    for name in checkouts:
        ratios = [r["extractive_over_floor"] for r in results[name]]
        rows += [
            (f"{name}: rag ask --backend extractive / floor, per round (in order)", ", ".join(f"{r:.2f}x" for r in ratios)),
        ]
        rows += [
            (f"{name}: floor (import sentence-transformers, load in bf16, embed one question)",
             f"{med(name, 'floor'):.1f} s (spread {spread(name, 'floor')})"),
            (f"{name}: rag ask --backend extractive, to exit",
             f"{med(name, 'extractive'):.1f} s = {statistics.median(ratios):.2f}x floor (spread {min(ratios):.2f}–{max(ratios):.2f}; "
             f"target ≤ {TARGET_EXTRACTIVE})"),
        ]
        if args.extractive_only:
            continue
        rows += [
            (f"{name}: rag ask (local), Arabic, first word / exit",
             f"{med(name, 'local_ar', 'first_output_s'):.1f} / {med(name, 'local_ar'):.1f} s (first word spread {spread(name, 'local_ar', 'first_output_s')})"),
            (f"{name}: rag ask (local), English, first word / exit",
             f"{med(name, 'local_en', 'first_output_s'):.1f} / {med(name, 'local_en'):.1f} s (first word spread {spread(name, 'local_en', 'first_output_s')}; "
             f"target ≤ {TARGET_FIRST_TOKEN_S:.0f} s)"),
            (f"{name}: rag ask (local), first word, Arabic / English, beside the floor",
             f"{med(name, 'local_ar', 'first_output_s') / med(name, 'floor'):.2f}x / {med(name, 'local_en', 'first_output_s') / med(name, 'floor'):.2f}x "
             f"the floor of {med(name, 'floor'):.1f} s: " + (
                 f"the {TARGET_FIRST_TOKEN_S:.0f} s target is met"
                 if max(med(name, 'local_ar', 'first_output_s'), med(name, 'local_en', 'first_output_s')) <= TARGET_FIRST_TOKEN_S else
                 f"the {TARGET_FIRST_TOKEN_S:.0f} s target is below the floor itself on this machine (torch's embedder alone cannot be ready sooner)"
                 if med(name, 'floor') > TARGET_FIRST_TOKEN_S else f"the floor leaves room for the {TARGET_FIRST_TOKEN_S:.0f} s target")),
            (f"{name}: peak RSS, floor / rag ask extractive / rag index (bf16)",
             f"{med(name, 'floor', 'peak_rss_mb'):.0f} / {med(name, 'extractive', 'peak_rss_mb'):.0f} / {med(name, 'index', 'peak_rss_mb'):.0f} MB "
             f"(index target ≤ {TARGET_INDEX_RSS_MB} MB)"),
            (f"{name}: rag index of the seeds, wall", f"{med(name, 'index'):.1f} s"),
        ]
    name = "coldstart_extractive" if args.extractive_only else "coldstart"
    runtime, dtype = env["RAG_EMBED_RUNTIME"], env["RAG_EMBED_DTYPE"]
    if runtime != "torch":  # another runtime's results beside torch's, not over them
        name += "_" + runtime
    if dtype != "bfloat16":  # a CPU without bf16: beside the bf16 machines' results, not over them
        name += "_" + dtype
    report(name, rows, {"embed_runtime": runtime, "embed_dtype": dtype,
                         "rounds": args.rounds, "checkouts": {k: str(v) for k, v in checkouts.items()}, "results": results})


if __name__ == "__main__":
    main()
