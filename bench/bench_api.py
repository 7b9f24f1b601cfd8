"""HTTP API load benchmark on loopback: N concurrent clients for D seconds against /v1/ask,
served by `rag serve` in its own process.

Baseline (same run): one client, sequential requests. Reports requests/s, p50/p95/p99
latency, errors, and p95 under load as a ratio to the single-client p95; then the same
with the local LLM at 2 concurrent clients.

    python bench/bench_api.py [--clients 16] [--seconds 60] [--llm-seconds 120]
"""
from __future__ import annotations

import argparse
import sys
import threading
import time

import httpx
from common import ROOT, percentiles, report

sys.path.insert(0, str(ROOT))
from ui.settings import Settings  # noqa: E402
from tests.servers import ServeProcess  # noqa: E402

QUESTIONS = ["من هو وزير الخارجية العراقي الذي التقى بلينكن؟", "How many American soldiers are deployed in Iraq?",
             "ما الملفات التي يتناولها الحوار الاستراتيجي؟", "What did Joe Wilson's campaign call for?"]


def load(url: str, clients: int, seconds: float, backend: str) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    stop = time.time() + seconds
    lock = threading.Lock()

    def client(i: int) -> None:
        with httpx.Client(timeout=600) as http:
            n = 0
            while time.time() < stop:
                t = time.perf_counter()
                try:
                    # a distinct text per request, so no cache answers for the model
                    question = f"{QUESTIONS[(i + n) % len(QUESTIONS)]} ({i}-{n})"
                    r = http.post(url + "/v1/ask", json={"question": question, "backend": backend})
                    ok = r.status_code == 200
                except httpx.HTTPError as exc:
                    ok, r = False, exc
                with lock:
                    (latencies.append(time.perf_counter() - t) if ok else errors.append(str(getattr(r, "status_code", r))))
                n += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"clients": clients, "requests": len(latencies), "errors": len(errors), "rps": len(latencies) / wall,
            **(percentiles(latencies) if latencies else {})}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--llm-seconds", type=float, default=120, help="0 skips the local LLM run")
    args = ap.parse_args()
    settings = Settings.load()
    env = {"RAG_HOME": str(settings.home), "RAG_INDEX_DIR": str(settings.index_dir), "RAG_MODELS_DIR": str(settings.models_dir),
           "RAG_MAX_CONCURRENT": str(max(16, args.clients))}
    rows, data = [], {}
    # the server runs as `rag serve` in its own process, as deployed; the clients run here
    with ServeProcess(env, "--backend", "extractive") as server:
        load(server.url, 1, 5, "extractive")  # warm-up: sentence cache, threads
        single = load(server.url, 1, min(args.seconds, 30), "extractive")
        many = load(server.url, args.clients, args.seconds, "extractive")
        data.update(single=single, concurrent=many, p95_ratio=many["p95"] / single["p95"])
        rows += [
            ("extractive, 1 client (baseline)",
             f"{single['rps']:.1f} req/s, p50 {single['p50'] * 1000:.0f} ms, p95 {single['p95'] * 1000:.0f} ms, {single['errors']} errors"),
            (f"extractive, {args.clients} clients, {args.seconds:.0f} s",
             f"{many['rps']:.1f} req/s, p50 {many['p50'] * 1000:.0f} / p95 {many['p95'] * 1000:.0f} / p99 {many['p99'] * 1000:.0f} ms, "
             f"{many['errors']} errors"),
            ("p95 under load / single-client p95", f"{data['p95_ratio']:.2f}x (target < 3x)"),
        ]
        if args.llm_seconds > 0:
            llm = load(server.url, 2, args.llm_seconds, "local")
            data["local_llm_2_clients"] = llm
            rows.append(("local LLM, 2 clients",
                         f"{llm['requests']} answers, p50 {llm.get('p50', 0):.1f} s, p95 {llm.get('p95', 0):.1f} s, {llm['errors']} errors"))
    report("api", rows, data)


if __name__ == "__main__":
    main()
