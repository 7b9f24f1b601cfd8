"""Several readers on the embedded local LLM: llama.cpp slots with continuous batching, measured
against the same server with one slot (the old set-up) in the same run.

Every client streams one answer to the project's real answer-line prompt (the shared system
prompt, then its own question and evidence sentence), exactly ``--tokens`` tokens each
(``ignore_eos``), so every run decodes the same work. Reported per set-up: one client's decode
rate; with ``--clients`` at once, the aggregate rate (all tokens / the wall time from the first
request to the last token) and each client's time to first token beside the others' ends (does
anyone wait for another's whole answer?); the prompt tokens served from the slot cache.

The physical limit beside it, measured on the same server after the rounds: the decode ceiling,
i.e. the tokens a second llama.cpp produces with ``--clients`` sequences in one batch against one
sequence alone, every prompt already in its slot's cache (the sum of llama.cpp's own decode rates,
no prompt evaluated, no wait counted): the aggregate of the rounds cannot exceed it. And one
client's decode rate with llama.cpp on 1 thread and on 2 (``llm_threads``). Batching several
sequences pays when a decode step waits on memory (the weights read once serve every sequence);
when one sequence's step already keeps both cores busy computing (2 threads ≈ 2× one thread),
four sequences cost about four times the compute and the aggregate cannot rise much above one
client's rate.

    python bench/bench_llm_concurrency.py [--clients 4] [--tokens 48] [--rounds 2] [--prompt line|translation]

``--prompt translation``: every client asks for the translation of one sentence instead (the prompt an English
reader's first words come from; an Arabic reader's first words are the quoted sentences, the answer line follows),
into ``bench/results/llm_concurrency_translation.json``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time

import httpx
from common import ROOT, report

sys.path.insert(0, str(ROOT))
from rag.llm import LocalServer  # noqa: E402
from rag.prompt import answer_line_messages  # noqa: E402
from rag.service import warm_prompts  # noqa: E402
from rag.settings import RagSettings  # noqa: E402
from rag.translate import messages as translation_messages  # noqa: E402

TARGET_AGGREGATE = 1.5  # × one client's decode rate
EVIDENCE = [
    ("من هو وزير الخارجية العراقي الذي التقى بلينكن؟",
     "وقد أكد وزير الخارجية الأمريكي، أنتوني بلينكن، خلال لقائه نظيره العراقي فؤاد حسين بواشنطن الجمعة الماضية أن الشراكة بين البلدين أوسع وأعمق."),
    ("كم عدد الجنود الأمريكيين في العراق؟", "وينتشر في العراق نحو 2500 جندي أمريكي في إطار التحالف الدولي لمحاربة تنظيم داعش."),
    ("ما الملفات التي يتناولها الحوار الاستراتيجي؟", "ويتناول الحوار الاستراتيجي ملفات عدة؛ منها السياسية والاقتصادية والأمنية والثقافية."),
    ("متى عقدت الجولة الأولى من الحوار؟", "وعقدت الجولة الأولى من الحوار الاستراتيجي في يونيو حزيران من العام الماضي عبر الفيديو."),
]


PROMPT = "line"  # or "translation" (--prompt)


def one(server: LocalServer, i: int, tokens: int, out: dict, start: float) -> None:
    question, sentence = EVIDENCE[i % len(EVIDENCE)]
    role = {"system": "system", "human": "user"}
    chat = answer_line_messages(question, [(1, sentence)], "ar") if PROMPT == "line" else translation_messages(sentence)
    messages = [{"role": role[r], "content": c} for r, c in chat]
    body = {"messages": messages, "max_tokens": tokens, "ignore_eos": True, "stream": True, "temperature": 0,
            "stream_options": {"include_usage": True}}
    first, n, timings, usage = None, 0, {}, {}
    with httpx.stream("POST", server.base_url + "/chat/completions", json=body, timeout=600,
                      headers={"Authorization": f"Bearer {server.api_key}"}) as r:
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            timings = chunk.get("timings", timings)
            usage = chunk.get("usage") or usage
            if chunk.get("choices") and chunk["choices"][0]["delta"].get("content"):
                first = first or time.perf_counter()
                n += 1
    end = time.perf_counter()
    out[i] = {"first_s": first - start, "end_s": end - start, "pieces": n, "tokens": usage.get("completion_tokens", n),
              "cached_prompt": (usage.get("prompt_tokens_details") or {}).get("cached_tokens", timings.get("cache_n", 0)),
              "prompt_tokens": usage.get("prompt_tokens", 0), "decode_tps": timings.get("predicted_per_second")}


def run(server: LocalServer, clients: int, tokens: int) -> dict:
    out: dict[int, dict] = {}
    start = time.perf_counter()
    def guarded(i: int) -> None:
        try:
            one(server, i, tokens, out, start)
        except Exception as exc:  # reported as a failed client, the others still count
            out[i] = {"error": f"{type(exc).__name__}: {exc}"[:200], "end_s": time.perf_counter() - start}

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed = [out[i] for i in range(clients) if "error" in out[i]]
    if failed:
        raise RuntimeError(f"{len(failed)} of {clients} clients failed: {failed[0]['error']}")
    rows = [out[i] for i in range(clients)]
    wall = max(r["end_s"] for r in rows)
    total = sum(r["tokens"] for r in rows)
    waited = [r["first_s"] > min(o["end_s"] for j, o in enumerate(rows) if o is not r) for r in rows] if clients > 1 else [False]
    decode_wall = wall - min(r["first_s"] for r in rows)
    return {"clients": rows, "wall_s": wall, "tokens": total, "aggregate_tps": total / wall, "aggregate_decode_tps": (total - clients) / decode_wall,
            "first_token_max_s": max(r["first_s"] for r in rows), "any_waited_for_a_whole_answer": any(waited)}


def decode_ceiling(server: LocalServer, clients: int, tokens: int, rounds: int) -> dict:
    """Decode alone: ``clients`` sequences in one batch against one, by llama.cpp's own decode rates.

    Every request repeats a prompt the rounds already put in the slots (a first pass makes sure of
    it and is not counted), so no prompt is evaluated; each client's rate is llama.cpp's
    ``predicted_per_second`` over its own decode, summed over the clients that decode together."""
    run(server, clients, 2)  # every slot holds its prompt
    singles, batched = [], []
    for _ in range(rounds):
        singles.append(run(server, 1, tokens)["clients"][0]["decode_tps"])
        batched.append(sum(c["decode_tps"] for c in run(server, clients, tokens)["clients"]))
    one, many = statistics.median(singles), statistics.median(batched)
    return {"single_decode_tps": singles, "batched_decode_tps": batched, "ratio": many / one}


def threads_scaling(slots: int, tokens: int, rounds: int) -> dict:
    """One client's decode rate with llama.cpp on 1 thread and on 2 (the same slots otherwise)."""
    out = {}
    for threads in (1, 2):
        LocalServer.shutdown()
        server = LocalServer.get(RagSettings.load(backend="local", llm_parallel=slots, llm_threads=threads))
        run(server, 1, 8)  # warm-up
        out[threads] = statistics.median(run(server, 1, tokens)["aggregate_decode_tps"] for _ in range(rounds))
    LocalServer.shutdown()
    return {"decode_tps_1_thread": out[1], "decode_tps_2_threads": out[2], "speedup": out[2] / out[1]}


def setup(slots: int, clients: int, tokens: int, rounds: int) -> dict:
    settings = RagSettings.load(backend="local", llm_parallel=slots)
    LocalServer.shutdown()
    server = LocalServer.get(settings)
    started = time.perf_counter()
    server.warm(warm_prompts())  # as a server warms its slots after a start (rag.service.start_llm)
    warm_s = time.perf_counter() - started
    results = []
    for _ in range(rounds):
        single = run(server, 1, tokens)
        many = run(server, clients, tokens)
        results.append({"single": single, "many": many, "ratio": many["aggregate_tps"] / single["aggregate_tps"],
                        "decode_ratio": many["aggregate_decode_tps"] / single["aggregate_decode_tps"]})
    ceiling = decode_ceiling(server, clients, tokens, rounds) if slots > 1 else None
    LocalServer.shutdown()
    return {"slots": slots, "warm_s": warm_s, "rounds": results, "decode_ceiling": ceiling}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--prompt", choices=("line", "translation"), default="line",
                    help="the answer line of an Arabic answer (default) or an English answer's sentence translation")
    args = ap.parse_args()
    global PROMPT
    PROMPT = args.prompt
    data = {"clients": args.clients, "tokens": args.tokens, "prompt": args.prompt}
    rows = []
    for name, slots in (("1 slot (before)", 1), (f"{args.clients} slots (after)", args.clients)):
        result = setup(slots, args.clients, args.tokens, args.rounds)
        data[f"slots_{slots}"] = result
        rows.append((f"{name}: warming the slots after the start (2 prompts)", f"{result['warm_s']:.1f} s"))
        for i, r in enumerate(result["rounds"], 1):
            s, m = r["single"], r["many"]
            firsts = ", ".join(f"{c['first_s']:.1f}" for c in m["clients"])
            waited = "a client waited for a whole answer" if m["any_waited_for_a_whole_answer"] else "nobody waited for a whole answer"
            ends = ", ".join(f"{c['end_s']:.1f}" for c in m["clients"])
            rows += [
                (f"{name} [{i}]: 1 client", f"{s['aggregate_tps']:.1f} tok/s end to end, decode {s['aggregate_decode_tps']:.1f} tok/s, "
                                            f"first token {s['first_token_max_s']:.2f} s, prompt {s['clients'][0]['prompt_tokens']} tokens "
                                            f"({s['clients'][0]['cached_prompt']} from the slot cache)"),
                (f"{name} [{i}]: {args.clients} clients", f"{m['aggregate_tps']:.1f} tok/s end to end = {r['ratio']:.2f}x one client "
                                                           f"(decode {m['aggregate_decode_tps']:.1f} = {r['decode_ratio']:.2f}x; target ≥ {TARGET_AGGREGATE})"),
                (f"{name} [{i}]: first tokens / ends (s)", f"{firsts} / {ends}; {waited}"),
                (f"{name} [{i}]: prompt tokens from the slot cache, {args.clients} clients", ", ".join(str(c["cached_prompt"]) for c in m["clients"])),
            ]
        ratios = [r["ratio"] for r in result["rounds"]]
        rows.append((f"{name}: aggregate / one client, median (spread)",
                     f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}–{max(ratios):.2f})"))
        if result["decode_ceiling"]:
            c = result["decode_ceiling"]
            verdict = "the target is above what this CPU can decode" if c["ratio"] < TARGET_AGGREGATE else "the target is within reach"
            rows.append((f"{name}: decode ceiling, {args.clients} sequences in one batch / one (the limit beside the target)",
                         f"{statistics.median(c['batched_decode_tps']):.1f} / {statistics.median(c['single_decode_tps']):.1f} tok/s "
                         f"= {c['ratio']:.2f}x ({verdict})"))
    scaling = threads_scaling(args.clients, args.tokens, args.rounds)
    data["threads_scaling"] = scaling
    rows.append(("1 client, decode on 1 / 2 llama.cpp threads (the limit beside the target)",
                 f"{scaling['decode_tps_1_thread']:.1f} / {scaling['decode_tps_2_threads']:.1f} tok/s = {scaling['speedup']:.2f}x "
                 f"({'one sequence keeps both cores computing' if scaling['speedup'] >= 1.7 else 'decode leaves compute to spare'})"))
    report("llm_concurrency" if args.prompt == "line" else "llm_concurrency_translation", rows, data)


if __name__ == "__main__":
    main()
