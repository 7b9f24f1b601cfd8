"""Helpers shared by the benchmark scripts: timing, peak memory, table printing, results files."""
from __future__ import annotations

import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def percentiles(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    pick = lambda q: s[min(len(s) - 1, int(round(q * (len(s) - 1))))]
    return {"p50": pick(0.5), "p95": pick(0.95), "p99": pick(0.99), "mean": statistics.fmean(s)}


def report(name: str, rows: list[tuple[str, str]], data: dict) -> None:
    """Print a two-column table and write ``bench/results/NAME.json``."""
    width = max(len(k) for k, _ in rows)
    print(f"\n{name}\n" + "-" * (width + 30))
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": name, "when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": platform.platform(), **data}
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=1, ensure_ascii=False))
    print(f"(written to bench/results/{name}.json)")
