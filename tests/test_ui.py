"""The real Gradio app on a free port, driven in headless Chromium (Playwright, Debian's chromium)."""
import os
import shutil

import pytest

from tests.servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def app_url(seed_index):
    from ui.chat import launch

    port = free_port()
    app = launch(seed_index, "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}"
    app.close()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is missing: scripts/test.sh installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def ask_in_page(page, question: str, turn: int, timeout: int = 120_000):
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    answer = page.locator("#chat .msg a.cite").first if turn == 1 else page.locator(f'#chat a.cite[href^="#src-{turn}-"]').first
    answer.wait_for(timeout=timeout)
    page.wait_for_function("() => !document.querySelector('#chat .pending, #chat .generating')", timeout=timeout)
    return answer


def direction_of(page, text: str) -> str:
    return page.evaluate("""(t) => { const el = [...document.querySelectorAll('#chat .msg')].find(e => e.textContent.includes(t));
                                     return el ? getComputedStyle(el).direction : 'missing'; }""", text)


def test_arabic_then_english_question_with_citations_and_direction(app_url, browser, artifacts) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(app_url)
    question = "من هو وزير الخارجية العراقي الذي التقى أنتوني بلينكن؟"
    link = ask_in_page(page, question, 1)
    assert direction_of(page, question) == "rtl"
    assert direction_of(page, "بحسب المقالات") == "rtl"
    link.click()
    target = link.get_attribute("href").lstrip("#")
    source = page.locator(f"#{target}")
    source.wait_for()
    assert source.evaluate("e => e.open") is True and source.locator("mark").count() == 1
    assert "فؤاد حسين" in source.inner_text()
    page.screenshot(path=str(artifacts / "ui-arabic.png"), full_page=True)

    english = "How many American soldiers are deployed in Iraq?"
    ask_in_page(page, english, 2)
    assert direction_of(page, english) == "ltr"
    assert direction_of(page, "in the original Arabic") == "ltr"  # the extractive backend labels its quotes
    page.screenshot(path=str(artifacts / "ui-english.png"), full_page=True)

    page.locator("#clear").click()
    page.wait_for_function("() => document.querySelectorAll('#chat .msg').length === 0")
    page.close()


def test_phone_width_and_refusal(app_url, browser, artifacts) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(app_url)
    page.locator("#question textarea").fill("من هو مدرب المنتخب العراقي لكرة القدم؟")
    page.locator("#send").click()
    page.wait_for_function("() => [...document.querySelectorAll('#chat .msg')].some(e => e.textContent.includes('لم أجد'))", timeout=120_000)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 400, f"page scrolls sideways at phone width ({width}px)"
    page.screenshot(path=str(artifacts / "ui-phone.png"), full_page=True)
    page.close()


def test_the_real_local_model_answers_in_the_page(seed_index, browser, artifacts) -> None:
    from rag.llm import LocalServer
    from ui.chat import launch

    port = free_port()
    app = launch(seed_index.replace(backend="local"), "127.0.0.1", port, block=False)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"http://127.0.0.1:{port}")
        question = "من هو وزير الخارجية العراقي الذي التقى أنتوني بلينكن في واشنطن؟"
        link = ask_in_page(page, question, 1, timeout=400_000)
        assert direction_of(page, question) == "rtl"
        source = page.locator("#" + link.get_attribute("href").lstrip("#"))
        source.wait_for(state="attached", timeout=400_000)  # the sources panel comes with the answer's end, slow on a busy machine
        link.click()
        assert source.evaluate("e => e.open") is True
        assert "فؤاد" in page.locator("#chat").inner_text()
        page.screenshot(path=str(artifacts / "ui-local-llm.png"), full_page=True)
        page.close()
    finally:
        app.close()
        LocalServer.shutdown()
