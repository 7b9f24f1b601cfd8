"""Audit of the cleaner over every seed: each removed line, the rule that removed it and what it
carried that the kept text lacks, against reviewed goldens (``tests/goldens/<seed>.audit.tsv``).

A change to the cleaner that removes a new line, or removes a line by another rule, fails here
until the golden is reviewed again (regenerate with ``RAG_UPDATE_GOLDENS=1``, then read the diff).
Columns: rule, words in the line, unseen facts (numbers, months, words absent from the kept text), line.
"""
import os
from pathlib import Path

import pytest

from index.build import load_documents
from index.clean import HEURISTIC_RULES, clean_page
from tests.conftest import SEEDS

GOLDENS = Path(__file__).parent / "goldens"
SEED_FILES = sorted(SEEDS.glob("*.txt"))
STRUCTURAL_RULES = {"repeat", "label", "related list"}  # the only rules allowed to remove a line of 8+ words


def audit_lines(raw: str) -> list[str]:
    return [f"{r.rule}\t{len(r.line.split())}\t{' '.join(r.facts) or '-'}\t{r.line}" for r in clean_page(raw).removed]


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.stem[:3])
def test_every_removed_line_matches_the_reviewed_audit(path: Path) -> None:
    got = audit_lines(path.read_text(encoding="utf-8"))
    golden = GOLDENS / f"{path.stem}.audit.tsv"
    if os.environ.get("RAG_UPDATE_GOLDENS"):
        golden.write_text("".join(f"{line}\n" for line in got), encoding="utf-8")
    assert got == golden.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.stem[:3])
def test_no_content_line_is_lost(path: Path) -> None:
    page = clean_page(path.read_text(encoding="utf-8"))
    kept = "\n".join(a.text for a in page.articles)
    for r in page.removed:
        if len(r.line.split()) >= 8:
            assert r.rule in STRUCTURAL_RULES, r
        if r.rule in HEURISTIC_RULES:
            assert not r.numbers_or_dates, r  # a number or a date never goes by a short-line rule
        if r.rule == "repeat":
            assert r.line in kept.split("\n") and not r.facts, r  # its first copy stays


def test_a_short_line_with_a_date_found_nowhere_else_is_kept() -> None:
    body = "هذا نص طويل عن التعاون الأمني بين البلدين يتحدث عن تفاصيل كثيرة ومهمة جدا في سياق الحوار بين الطرفين."
    page = clean_page("\n".join(["الرئيسية أخبار", "عنوان الخبر عن التعاون", "الأربعاء 24 تموز 2024", body, body + " ثانيا", "شارك", "آخر تحديث 2024"]))
    kept = page.articles[0].text.split("\n")
    assert "الأربعاء 24 تموز 2024" in kept
    assert "آخر تحديث 2024" not in kept  # 2024 is in the kept text already
    assert [(r.rule, r.line) for r in page.removed] == [("head/tail", "الرئيسية أخبار"), ("head/tail", "شارك"), ("head/tail", "آخر تحديث 2024")]


def test_the_article_embedded_under_read_also_is_its_own_document() -> None:
    docs = {d.id: d for d in load_documents(SEEDS)[0]}
    host, lobbies = docs["002_c70745ec74b9ea58.txt"], docs["002_c70745ec74b9ea58.txt#2"]
    assert lobbies.title == "اللوبيات العراقية المعارضة في أمريكا.. جو ويلسون وحملة ميغا انموذجًا"
    assert lobbies.source == host.source and lobbies.content_hash == host.content_hash
    assert lobbies.text.startswith("اللوبيات العراقية المعارضة في أمريكا")
    assert "أعلن السيناتور الأمريكي جو ويلسون" in lobbies.text and "جو ويلسون" not in host.text
    assert "إقرأ أيضاً" not in host.text and host.text.endswith("المصدر: وكالة بغداد اليوم")
    assert "وناقشت الوفود الحاجة الملحة المستمرة" in host.text
    assert len(docs) == 6


def test_a_read_also_link_without_an_article_under_it_cuts_nothing() -> None:
    body = "هذا نص طويل عن التعاون الأمني بين البلدين يتحدث عن تفاصيل كثيرة ومهمة جدا في سياق الحوار بين الطرفين."
    page = clean_page("\n".join(["عنوان الخبر عن التعاون", body, "اقرأ أيضا:", "عنوان خبر آخر عن موضوع مختلف تماما", body + " ثانيا"]))
    assert len(page.articles) == 1 and ("read-also", "اقرأ أيضا:") in [(r.rule, r.line) for r in page.removed]
