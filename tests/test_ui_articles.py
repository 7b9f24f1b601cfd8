"""The Articles tab and the feedback buttons on the real Gradio page in headless Chromium, over a private
data home (a copy of three seed articles, the real embedding model): upload an article, ask a question only
it answers and get a cited answer from it, rate it, delete the article, and the same question is refused."""
from __future__ import annotations

import json

import pytest

from tests.conftest import NEW_ARTICLE, NEW_ARTICLE_QUESTION, NEW_ARTICLE_TITLE, SMALL_CORPUS_FILES, small_corpus
from tests.servers import free_port
from tests.test_ui import ARGS, CHROMIUM

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SEED_FILES = SMALL_CORPUS_FILES
TITLE = NEW_ARTICLE_TITLE
ARTICLE = NEW_ARTICLE
QUESTION = NEW_ARTICLE_QUESTION


@pytest.fixture(scope="module")
def page_url(tmp_path_factory, seed_index):
    from ui.chat import launch

    settings = small_corpus(tmp_path_factory.mktemp("ui-articles"), seed_index)
    port = free_port()
    app = launch(settings, "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}", settings
    app.close()


def ask(page, question: str) -> None:
    before = page.locator("#chat .msg").count()
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    page.wait_for_function(f"() => document.querySelectorAll('#chat .msg').length >= {before + 2}", timeout=120_000)
    page.wait_for_function("() => !document.querySelector('#chat .pending, #chat .generating')", timeout=120_000)


def wait_build(page) -> None:
    page.locator('#articles-status [data-state="done"]').wait_for(timeout=180_000)


def test_upload_ask_rate_delete_and_refused(page_url, tmp_path, artifacts) -> None:
    url, settings = page_url
    article = tmp_path / "basra-library.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    bad = tmp_path / "scan.txt"
    bad.write_bytes(bytes(range(256)) * 8)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(url)

        page.get_by_role("tab", name="Articles").click()
        page.locator("#articles-table").wait_for(timeout=60_000)
        assert page.locator("#articles-table tr").count() == 1 + len(SEED_FILES)
        page.locator("#upload input[type=file]").set_input_files([str(article), str(bad)])
        page.wait_for_function("() => ['basra-library', 'scan'].every(n => document.querySelector('#upload').innerText.includes(n))",
                               timeout=60_000)  # both uploaded (the page shows a name's stem and extension apart)
        page.locator("#upload-source textarea, #upload-source input").first.fill("Basra news")
        page.locator("#add-articles").click()
        wait_build(page)
        assert "scan.txt: binary file" in page.locator("#articles-status").inner_text()
        row = page.locator("#articles-table tr", has_text=TITLE)
        row.wait_for(timeout=30_000)
        assert "Basra news" in row.inner_text() and "indexed" in row.inner_text()
        page.screenshot(path=str(artifacts / "ui-articles-added.png"), full_page=True)

        page.get_by_role("tab", name="Chat").click()
        ask(page, QUESTION)
        link = page.locator("#chat a.cite").first
        link.wait_for(timeout=30_000)
        assert "42" in page.locator("#chat").inner_text()
        assert TITLE in page.locator("#sources").inner_text()  # cited from the new article

        page.locator("#chat .message-row").last.hover()
        page.locator("#chat button[aria-label='Dislike']").last.click()
        page.locator("#feedback-status").get_by_text("Thanks").wait_for(timeout=30_000)
        page.locator("#feedback-expected textarea, #feedback-expected input").first.fill("42 ألف كتاب")
        page.locator("#send-feedback").click()
        page.locator("#feedback-status").get_by_text("note was added").wait_for(timeout=30_000)
        entries = [json.loads(line) for line in (settings.home / "feedback" / "feedback.jsonl").read_text(encoding="utf-8").splitlines()]
        assert entries[-1]["rating"] == "down" and entries[-1]["expected"] == "42 ألف كتاب" and entries[-1]["question"] == QUESTION
        assert entries[-1]["id"] == entries[-2]["id"]  # the details are a new version of the same entry
        page.screenshot(path=str(artifacts / "ui-articles-answer.png"), full_page=True)

        page.get_by_role("tab", name="Articles").click()
        page.locator("#pick-article input").click()
        page.get_by_role("option", name=TITLE, exact=False).first.click()
        page.locator("#delete-article").click()
        page.locator('#articles-status [data-state="done"]').wait_for(timeout=180_000)
        page.wait_for_function(f"() => !document.querySelector('#articles-table').innerText.includes('{TITLE}')", timeout=30_000)

        page.get_by_role("tab", name="Chat").click()
        ask(page, QUESTION)
        page.wait_for_function("() => [...document.querySelectorAll('#chat .msg')].at(-1).textContent.includes('لم أجد')", timeout=60_000)
        page.screenshot(path=str(artifacts / "ui-articles-deleted.png"), full_page=True)
        browser.close()
