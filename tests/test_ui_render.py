"""The UI's HTML rendering: direction, citation links, warnings and notices (fast, no browser)."""
from rag.types import Answer, Citation, Finding, Passage
from ui.chat import link_citations, render_answer, render_sources, wrap


def test_direction_follows_the_language() -> None:
    assert 'dir="rtl"' in wrap("ما هذا؟") and 'dir="ltr"' in wrap("What is this?")


def test_citations_become_links_and_text_is_escaped() -> None:
    html = link_citations("<b>x</b> [2]", 3)
    assert "&lt;b&gt;" in html and 'href="#src-3-2"' in html


def test_ungrounded_answer_shows_reasons_and_notice() -> None:
    p = Passage("a.txt", "t", "seeds/a.txt", 0, 5, "نص ما", 0.5, 0.5)
    a = Answer("q", "عقدت في 26 [1]", "ar", [p], [Citation(1, p, "نص")], grounded=False,
               findings=[Finding("number_unsupported", "the number 26 in this answer was not found in the cited passage")], notice="تعذّر الوصول")
    html = render_answer(a, 1)
    assert 'class="warn"' in html and "the number 26" in html and 'class="notice"' in html and 'dir="rtl"' in html
    panel = render_sources([{"turn": 1, "question": "q", "answer": a.text, "passages": [p.to_dict()], "citations": [{"n": 1, "quote": "نص"}]}])
    assert 'id="src-1-1"' in panel and "<mark>نص</mark>" in panel


def test_a_translated_quote_shows_its_translation_beside_the_marked_original() -> None:
    p = Passage("a.txt", "t", "seeds/a.txt", 0, 12, "عقدت في بغداد", 0.5, 0.5)
    panel = render_sources([{"turn": 1, "question": "Where?", "answer": "x", "passages": [p.to_dict()],
                             "citations": [{"n": 1, "quote": "في بغداد", "translation": "in Baghdad"}]}])
    assert "<mark>في بغداد</mark>" in panel and "Machine translation of the marked sentence: in Baghdad" in panel
