"""``rag eval answers`` through the OpenAI-compatible backend against a real model server.

With no server given, the embedded llama.cpp server (the same Qwen GGUF) is started on
loopback and addressed only through its OpenAI-compatible HTTP API, as vLLM, Ollama or a
llama.cpp server would be: the path users with a real model server take.

    python bench/eval_openai_backend.py [--base-url URL --model NAME --api-key KEY]
"""
from __future__ import annotations

import argparse
import json

from common import RESULTS, ROOT

from rag.evaluation import answers
from rag.evaluation.report import load_questions, table
from rag.llm import LocalServer
from ui.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url")
    parser.add_argument("--model", default="local")
    parser.add_argument("--api-key", default="none")
    args = parser.parse_args()
    settings = Settings.load()
    if not args.base_url:
        server = LocalServer.get(settings)
        args.base_url, args.api_key = server.base_url, server.api_key
    settings = settings.replace(backend="openai", openai_base_url=args.base_url, openai_model=args.model, openai_api_key=args.api_key)
    result = answers.evaluate_answers(load_questions(ROOT / "rag" / "data" / "seed_dev.jsonl"), settings)
    print(table(*answers.rows(result)))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "eval_answers_openai.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
