"""Sentence translation prompts compared on XQuAD, on questions held out from the evaluation sample.

For each held-out English XQuAD question (never one of ``rag eval xquad --answers``' fixed sample),
the evidence sentences the answering path would translate are found once (retrieval and the
sentence selector on the XQuAD index), and the Arabic gold answer is looked up in them: only
questions whose evidence holds the Arabic gold are scored, so a miss is the translation's fault.
Each prompt variant then translates those sentences with the local model, uncached, and the
table gives per variant: the English gold contained in the translations, translations that
echo the instructions instead of translating (``leaked``), Arabic script left, and seconds per
sentence. Variants run interleaved (question by question) so machine drift hits all alike.

    python bench/bench_translate.py [--questions 60] [--variants shipped,names_line,fewshot]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from common import ROOT, report

sys.path.insert(0, str(ROOT))
from rag import translate  # noqa: E402
from rag.evaluation.scoring import gold_contained, normalize  # noqa: E402
from rag.evaluation.xquad_answers import load_pairs, sample, xquad_index  # noqa: E402
from rag.language import arabic_ratio  # noqa: E402
from rag.settings import RagSettings  # noqa: E402

TUNE_SEED = 7  # a different draw from the evaluation's SAMPLE_SEED; the evaluation ids are excluded anyway


def held_out(questions: list[dict], n: int) -> list[dict]:
    evaluation = {q["id"] for q in sample(questions, 100)}
    rest = [q for q in questions if q["id"] not in evaluation]
    return random.Random(TUNE_SEED).sample(rest, n)


def evidence_rows(questions: list[dict], settings: RagSettings, cache: Path) -> list[dict]:
    """Per question: the evidence sentences (Arabic) and whether they hold the Arabic gold."""
    if cache.exists():
        rows = json.loads(cache.read_text(encoding="utf-8"))
        if [r["id"] for r in rows] == [q["id"] for q in questions]:
            return rows
    from rag.answer import _evidence, retrieve

    rows = []
    for q in questions:
        passages = retrieve(q["en"], settings)
        sentences = [s.text for s in _evidence(q["en"], passages, settings)] if passages else []
        joined = normalize(" ".join(sentences))
        rows.append({"id": q["id"], "question": q["en"], "en_gold": q["en_gold"], "ar_gold": q["ar_gold"], "sentences": sentences,
                     "holds_gold": bool(sentences) and any(normalize(g) in joined for g in q["ar_gold"])})
    cache.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return rows


def leaked(text: str) -> bool:
    """The model wrote (part of) its instructions instead of a translation."""
    t = text.casefold()
    return any(m in t for m in ("names:", "english form", "translation of the sentence", "here are the", "here is the", "use those forms"))


def run_variant(name: str, sentence: str, settings: RagSettings) -> tuple[str, float]:
    messages = translate.messages(sentence) if name == "shipped" else VARIANTS[name](sentence)
    chat = translate.backends.get(settings.backend).chat_model(settings, max_tokens=translate.MAX_TOKENS, temperature=0.0)
    t = time.perf_counter()
    text = str(chat.invoke(messages).content)
    return translate.clean(text), time.perf_counter() - t


NAMES_LINE = """You translate sentences from Arabic news articles into English.
Translate the whole sentence faithfully. Keep every name, number and date, and keep negations (not, no, never, ruled out).
A line "Names:" under the sentence gives the English form of some of its words: use those forms.
Reply with the English translation of the sentence only."""
EXAMPLE_AR = "وأكد رئيس الوزراء محمد شياع السوداني في تموز 2023 أن انسحاب القوات الأمريكية من العراق مستبعد."
EXAMPLE_EN = "Prime Minister Mohammed Shia al-Sudani stressed in July 2023 that a withdrawal of US forces from Iraq is ruled out."


def names_line(sentence: str) -> list[tuple[str, str]]:
    """The earlier prompt: the sentence, then a line "Names: تموز = July; …" (the shipped one until this bench)."""
    from rag.answer_text import arabic_months
    from rag.glossary import spelled_spans
    from rag.prompt import neutralize

    text = neutralize(translate.ascii_digits(" ".join(sentence.split())))
    names = [f"{ar} = {en}" for ar, en in arabic_months(text)] + [f"{text[a:b]} = {en}" for a, b, en in spelled_spans(text)]
    return [("system", NAMES_LINE), ("human", text + (f"\nNames: {'; '.join(dict.fromkeys(names))}" if names else ""))]


def fewshot(sentence: str) -> list[tuple[str, str]]:
    """The shipped prompt after one worked example (the shared prefix is cached by llama.cpp)."""
    system, human = translate.messages(sentence)
    return [system, ("human", translate.prepare(EXAMPLE_AR)), ("ai", EXAMPLE_EN), human]


VARIANTS: dict = {"names_line": names_line, "fewshot": fewshot}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=60)
    ap.add_argument("--variants", default="shipped,names_line")
    ap.add_argument("--xquad", default=str(ROOT.parent / "shared" / "benchmarks" / "xquad"))
    args = ap.parse_args()
    settings = RagSettings.load().replace(backend="local")
    contexts, questions = load_pairs(Path(args.xquad))
    indexed = xquad_index(contexts, settings)
    rows = evidence_rows(held_out(questions, args.questions), indexed, settings.home / "cache" / "bench-translate-evidence.json")
    scored = [r for r in rows if r["holds_gold"]]
    names = args.variants.split(",")
    out = {n: {"contained": 0, "leaked": 0, "arabic": 0, "seconds": 0.0, "sentences": 0, "rows": []} for n in names}
    for i, r in enumerate(scored, 1):
        for n in names:
            texts = []
            for s in r["sentences"]:
                text, secs = run_variant(n, s, indexed)
                texts.append(text)
                o = out[n]
                o["seconds"] += secs
                o["sentences"] += 1
                o["leaked"] += leaked(text)
                o["arabic"] += arabic_ratio(text) > 0.2
            hit = any(gold_contained(" ".join(texts), g) for g in r["en_gold"])
            out[n]["contained"] += hit
            out[n]["rows"].append({"id": r["id"], "gold": r["en_gold"], "translations": texts, "contained": hit})
        print(f"[{i}/{len(scored)}] " + "  ".join(f"{n}: {out[n]['contained']}" for n in names), flush=True)
    table = [("held-out questions / evidence holds the Arabic gold", f"{len(rows)} / {len(scored)}")]
    for n in names:
        o = out[n]
        table.append((f"{n}: gold contained / leaked / Arabic left / s per sentence",
                      f"{o['contained'] / max(1, len(scored)):.3f} / {o['leaked']} / {o['arabic']} of {o['sentences']} / "
                      f"{o['seconds'] / max(1, o['sentences']):.1f}"))
    report("translate", table, {"questions": len(rows), "scored": len(scored), "variants": out})


if __name__ == "__main__":
    main()
