"""The Gradio chat app: streamed, cited answers that read right in Arabic and English.

A thin face over ``rag.answer.ask_stream``: every message gets ``dir="rtl"`` or
``dir="ltr"`` from its language, citations ``[n]`` link to the passages in the sources
panel (opened and highlighted on click), and ungrounded answers carry a gentle warning.

Example::

    >>> build_app(Settings.load()).launch(server_name="127.0.0.1", server_port=7860)
"""
from __future__ import annotations

import hmac
import html
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any

import gradio as gr

from index.corpus import Corpus, open_corpus
from index.errors import RagError
from index.jobs import Job
from rag import Answer, FeedbackStore, ask_stream, backends, detect_language, embedder, get_retriever, remember, start_llm
from ui.settings import Settings

log = logging.getLogger(__name__)

EXAMPLES = [
    "من هو وزير الخارجية العراقي الذي التقى أنتوني بلينكن في واشنطن؟",
    "ما الملفات التي يتناولها الحوار الاستراتيجي بين بغداد وواشنطن؟",
    "How many American soldiers are deployed in Iraq?",
    "What did Senator Joe Wilson's campaign call for?",
]
CSS = """
.msg { unicode-bidi: plaintext; }
.msg[dir=rtl] { text-align: right; }
a.cite { text-decoration: none; font-weight: 600; cursor: pointer; }
.source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px 10px; margin: 6px 0; }
.source[open] { background: var(--background-fill-secondary); }
.source.flash { outline: 3px solid var(--color-accent); }
.source mark { padding: 0 2px; }
.source .meta { font-size: 0.85em; opacity: 0.75; direction: ltr; text-align: left; }
.warn { margin-top: 8px; padding: 6px 10px; border-radius: 6px; background: #fff6d6; color: #5c4400; font-size: 0.9em; }
.notice { margin-top: 8px; padding: 6px 10px; border-radius: 6px; background: #e8f1ff; color: #123e7a; font-size: 0.9em; }
.turn-q { font-weight: 600; margin-top: 10px; }
.articles td, .articles th { padding: 2px 8px; border-bottom: 1px solid var(--border-color-primary); }
.articles td.num { text-align: right; }
#index-progress { width: 60%; vertical-align: middle; }
.mt { font-size: 0.9em; font-style: italic; border-left: 3px solid var(--color-accent); padding-left: 6px; margin: 4px 0; }
"""
JS_HEAD = """
<script>
document.addEventListener('click', (event) => {
  const link = event.target.closest && event.target.closest('a.cite');
  if (!link) return;
  event.preventDefault();
  const target = document.getElementById(link.getAttribute('href').slice(1));  // Gradio's sanitizer drops data-* attributes, so the href carries the target
  if (!target) return;
  target.open = true;
  target.classList.add('flash');
  target.scrollIntoView({behavior: 'smooth', block: 'center'});
  setTimeout(() => target.classList.remove('flash'), 2000);
});
</script>
"""
LABELS = {
    "title": "## أسئلة عن الأخبار العربية · Questions about Arabic news\n"
             "Answers come only from the indexed articles, with numbered citations. · الإجابات من المقالات فقط مع أرقام المصادر.",
    "input": "اكتب سؤالك بالعربية أو الإنجليزية · Ask in Arabic or English",
    "send": "اسأل · Ask", "clear": "مسح المحادثة · Clear", "sources": "المصادر · Sources",
    "settings": "الإعدادات · Settings", "backend": "المحرك · Backend", "top_k": "عدد المقاطع · Passages",
    "loading": "⏳ جارٍ تحميل النماذج (السؤال الأول فقط)… · Loading models (first question only)…",
    "ready": "", "mt": "Machine translation of the marked sentence", "no_sources": "<p class='msg'>ستظهر المصادر هنا · Sources will appear here.</p>",
    "chat_tab": "المحادثة · Chat", "articles_tab": "المقالات · Articles",
    "comment": "تعليق (اختياري) · Comment (optional)", "expected": "الإجابة المتوقعة (اختياري) · Expected answer (optional)",
    "send_feedback": "إرسال · Send", "thanks_up": "شكراً، سُجّل تقييمك 👍 · Thanks, recorded.",
    "thanks_down": "شكراً، سُجّل تقييمك 👎. ما الإجابة التي توقعتها؟ · Thanks, recorded. What answer did you expect?",
    "thanks_details": "شكراً، أُضيفت ملاحظتك · Thanks, your note was added.", "rate_first": "قيّم إجابة أولاً · Rate an answer first.",
    "articles_help": "أضف مقالات (.txt .md .html، عدة ملفات معاً) أو احذفها؛ تبقى الإجابات من الفهرس الحالي حتى يكتمل الفهرس الجديد. · "
                     "Add articles (.txt .md .html, several at once) or delete them; answers keep coming from the current index until the new one is ready.",
    "upload": "ملفات المقالات · Article files", "source": "المصدر (اختياري) · Source (optional)", "add": "إضافة وفهرسة · Add and index",
    "reindex": "إعادة الفهرسة · Re-index", "pick": "مقالة · Article", "delete": "حذف · Delete", "no_files": "اختر ملفات أولاً · Choose files first.",
    "pick_one": "اختر مقالة أولاً · Choose an article first.", "failed": "فشلت الفهرسة · Indexing failed",
    "indexed": "مفهرسة · indexed", "pending": "بانتظار الفهرسة · waiting", "articles_count": "مقالة · articles",
    "col_title": "العنوان · Title", "col_source": "المصدر · Source", "col_added": "أضيفت · Added", "col_chunks": "المقاطع · Chunks",
    "col_state": "الحالة · State",
}
WARN_LEAD = {"ar": "ⓘ يُرجى التحقق: ", "en": "ⓘ Please double-check: "}


def wrap(text: str, language: str | None = None) -> str:
    """A message as HTML with its reading direction set from its language."""
    language = language or detect_language(text)
    return f'<div class="msg" dir="{"rtl" if language == "ar" else "ltr"}" lang="{language}">{text}</div>'


def link_citations(text: str, turn: int) -> str:
    """Escape ``text`` and turn each ``[n]`` into a link to source ``n`` of this turn."""
    return re.sub(r"\[(\d{1,2})\]", lambda m: f'<a class="cite" href="#src-{turn}-{m.group(1)}">[{m.group(1)}]</a>', html.escape(text))


def render_answer(answer: Answer, turn: int) -> str:
    body = link_citations(answer.text, turn).replace("\n", "<br>")
    if answer.notice:
        body += f'<div class="notice">{html.escape(answer.notice)}</div>'
    if not answer.grounded and answer.reasons:
        body += f'<div class="warn">{WARN_LEAD[answer.language]}{html.escape("; ".join(answer.reasons))}</div>'
    return wrap(body, answer.language)


def _highlight(text: str, quote: str) -> str:
    if quote and quote in text:
        a = text.index(quote)
        return html.escape(text[:a]) + f"<mark>{html.escape(quote)}</mark>" + html.escape(text[a + len(quote):])
    return html.escape(text)


def render_sources(turns: list[dict[str, Any]]) -> str:
    """The sources panel: every turn's passages (latest first), cited ones with their quote marked."""
    if not turns:
        return LABELS["no_sources"]
    parts = []
    for t in reversed(turns):
        parts.append(f'<div class="turn-q msg" dir="auto">{html.escape(t["question"])}</div>')
        quotes = {c["n"]: c["quote"] for c in t["citations"]}
        translations = {c["n"]: c.get("translation", "") for c in t["citations"]}
        for n, p in enumerate(t["passages"], 1):
            d = "rtl" if detect_language(p["text"]) == "ar" else "ltr"
            parts.append(
                f'<details class="source" id="src-{t["turn"]}-{n}" dir="{d}"{" open" if n in quotes and t is turns[-1] else ""}>'
                f'<summary>[{n}] {html.escape(p["title"])} · {p["score"]:.2f}{" ✓" if n in quotes else ""}</summary>'
                f'<div class="meta">{html.escape(p["source"])} [{p["start"]}:{p["end"]}]</div>'
                f'<p>{_highlight(p["text"], quotes.get(n, ""))}</p>'
                + (f'<div class="mt" dir="ltr" lang="en">{LABELS["mt"]}: {html.escape(translations[n])}</div>' if translations.get(n) else "")
                + "</details>"
            )
    return "\n".join(parts)


def build_app(settings: Settings) -> gr.Blocks:
    """The chat app for ``settings``; the index and models start loading in the background."""
    loaded = threading.Event()

    def warm_up() -> None:
        try:
            start_llm(settings, for_server=True)  # the local LLM loads and warms its slots beside the embedder
            get_retriever(settings).search("warm up", 1)
        except RagError as exc:
            log.warning("warm-up failed: %s", exc)
        loaded.set()

    threading.Thread(target=warm_up, daemon=True).start()

    def respond(message: str, chat: list, turns: list, backend: str, top_k: int):
        message = (message or "").strip()
        if not message:
            yield chat, turns, render_sources(turns), "", gr.update()
            return
        turn = len(turns) + 1
        chat = chat + [{"role": "user", "content": wrap(html.escape(message))}, {"role": "assistant", "content": ""}]
        status = "" if loaded.is_set() else LABELS["loading"]
        yield chat, turns, render_sources(turns), "", status
        history = [(r, t) for tt in turns for r, t in (("user", tt["question"]), ("assistant", tt["answer"]))]
        partial = ""
        try:
            for piece in ask_stream(message, history, top_k=int(top_k), backend=backend, settings=settings):
                if isinstance(piece, Answer):
                    chat[-1]["content"] = render_answer(piece, turn)
                    turns = turns + [{"turn": turn, "question": message, "answer": piece.text, "answer_id": remember(piece, settings),
                                      "passages": [p.to_dict() for p in piece.passages],
                                      "citations": [{"n": c.n, "quote": c.quote, "translation": c.translation} for c in piece.citations]}]
                else:
                    partial += piece
                    chat[-1]["content"] = wrap(link_citations(partial, turn), detect_language(message))
                yield chat, turns, render_sources(turns), "", ""
        except RagError as exc:
            chat[-1]["content"] = wrap(f'<div class="warn">{html.escape(str(exc))}</div>', detect_language(message))
            yield chat, turns, render_sources(turns), "", ""
        except Exception:  # never show a traceback in the page
            log.exception("answering failed")
            chat[-1]["content"] = wrap('<div class="warn">Something went wrong while answering; see the server log. · حدث خطأ أثناء الإجابة.</div>')
            yield chat, turns, render_sources(turns), "", ""

    with gr.Blocks(title="Arabic news Q&A · أسئلة الأخبار") as app:
        gr.Markdown(LABELS["title"])
        turns = gr.State([])
        rated = gr.State({})
        with gr.Tab(LABELS["chat_tab"], elem_id="chat-tab"), gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                chat = gr.Chatbot(elem_id="chat", height=520, label="Chat", sanitize_html=True, render_markdown=False)
                status = gr.Markdown("", elem_id="status")
                box = gr.Textbox(placeholder=LABELS["input"], show_label=False, elem_id="question", lines=1, max_lines=6)
                with gr.Row():
                    send = gr.Button(LABELS["send"], variant="primary", elem_id="send")
                    clear = gr.Button(LABELS["clear"], elem_id="clear")
                with gr.Group(visible=False, elem_id="feedback") as feedback_box:
                    feedback_status = gr.Markdown("", elem_id="feedback-status")
                    comment = gr.Textbox(label=LABELS["comment"], elem_id="feedback-comment", lines=1)
                    expected = gr.Textbox(label=LABELS["expected"], elem_id="feedback-expected", lines=1)
                    send_feedback = gr.Button(LABELS["send_feedback"], elem_id="send-feedback", size="sm")
                gr.Examples(EXAMPLES, inputs=box, label="أمثلة · Examples")
            with gr.Column(scale=2, min_width=300):
                gr.Markdown(f"### {LABELS['sources']}")
                sources = gr.HTML(LABELS["no_sources"], elem_id="sources")
                with gr.Accordion(LABELS["settings"], open=False):
                    backend = gr.Dropdown(list(backends.names()), value=settings.backend, label=LABELS["backend"], elem_id="backend")
                    top_k = gr.Slider(1, 10, value=settings.top_k, step=1, label=LABELS["top_k"], elem_id="top_k")
        outputs = [chat, turns, sources, box, status]
        box.submit(respond, [box, chat, turns, backend, top_k], outputs)
        send.click(respond, [box, chat, turns, backend, top_k], outputs)
        clear.click(lambda: ([], [], LABELS["no_sources"], "", ""), None, outputs)
        def on_like(t: list, data: gr.LikeData):  # Gradio passes the event by this annotation
            return rate(data, t, settings)

        chat.like(on_like, [turns], [rated, feedback_box, feedback_status, comment, expected])
        send_feedback.click(lambda r, c, e: send_details(r, c, e, settings), [rated, comment, expected], [feedback_status, comment, expected])
        articles_tab(settings)
    return app


def rate(data: gr.LikeData, turns: list[dict[str, Any]], settings: Settings):
    """A thumbs up/down on an answer: recorded at once; the comment and expected-answer boxes open for more."""
    index = data.index if isinstance(data.index, int) else data.index[0]
    turn = next((t for t in turns if t["turn"] == index // 2 + 1), None)
    if turn is None or not turn.get("answer_id") or data.liked not in (True, False):
        return {}, gr.update(visible=False), "", "", ""
    rating = "up" if data.liked else "down"
    try:
        entry = FeedbackStore.for_settings(settings).add(turn["answer_id"], rating)
    except RagError as exc:
        return {}, gr.update(visible=True), html.escape(str(exc)), "", ""
    note = LABELS["thanks_up"] if rating == "up" else LABELS["thanks_down"]
    return {"id": entry.id, "answer_id": turn["answer_id"], "rating": rating}, gr.update(visible=True), note, "", ""


def send_details(rated: dict[str, Any], comment: str, expected: str, settings: Settings):
    """The comment and expected answer of the last rating (the entry is written again under the same id: the last one counts)."""
    if not rated:
        return LABELS["rate_first"], comment, expected
    try:
        FeedbackStore.for_settings(settings).add(rated["answer_id"], rated["rating"], comment or "", expected or "", entry_id=rated["id"])
    except RagError as exc:
        return html.escape(str(exc)), comment, expected
    return LABELS["thanks_details"], "", ""


def _corpus(settings: Settings) -> Corpus:
    return open_corpus(settings, lambda: embedder(settings))


def articles_table(settings: Settings) -> str:
    """The managed articles as an HTML table (title, source, date added, chunks, state)."""
    docs = _corpus(settings).documents()
    rows = "".join(
        f'<tr data-id="{html.escape(d.id)}"><td dir="auto">{html.escape(d.title or d.filename)}</td><td dir="auto">{html.escape(d.source)}</td>'
        f'<td>{html.escape(d.added[:16].replace("T", " "))}</td><td class="num">{d.chunks}</td>'
        f'<td>{LABELS["indexed"] if d.indexed else LABELS["pending"]}</td><td><code>{html.escape(d.id)}</code></td></tr>' for d in docs)
    return (f'<table class="articles" id="articles-table"><tr><th>{LABELS["col_title"]}</th><th>{LABELS["col_source"]}</th>'
            f'<th>{LABELS["col_added"]}</th><th>{LABELS["col_chunks"]}</th><th>{LABELS["col_state"]}</th><th>id</th></tr>{rows}</table>'
            f'<p class="count">{len(docs)} {LABELS["articles_count"]}</p>')


def article_choices(settings: Settings) -> list[tuple[str, str]]:
    return [(f"{d.title or d.filename} · {d.id}", d.id) for d in _corpus(settings).documents()]


def job_status(job: Job, notes: list[str]) -> str:
    """A progress bar and the job's message (the rejected files' reasons above it)."""
    lines = "".join(f'<div class="warn">{html.escape(n)}</div>' for n in notes)
    if job.state in ("queued", "running"):
        return (f'{lines}<div class="job" data-state="{job.state}"><progress id="index-progress" max="1" value="{job.progress:.3f}"></progress> '
                f'{html.escape(job.message)}</div>')
    kind = "notice" if job.state == "done" else "warn"
    text = job.message if job.state == "done" else f"{LABELS['failed']}: {job.error}"
    return f'{lines}<div class="{kind} job" data-state="{job.state}">{html.escape(text)}</div>'


JOB_POLL_S = 0.5  # how often the Articles tab refreshes a build's progress


def follow(job: Job, notes: list[str], settings: Settings):
    """Yield the status (with the progress bar) until the build is done, then the refreshed list."""
    while job.state in ("queued", "running"):
        yield job_status(job, notes), gr.update(), gr.update()
        time.sleep(JOB_POLL_S)
    yield job_status(job, notes), articles_table(settings), gr.update(choices=article_choices(settings), value=None)


def articles_tab(settings: Settings) -> None:
    """The "Articles" tab: add files (several at once), see what is indexed, delete one, re-index, with progress."""

    def add(files, source):
        payload = [(Path(f).name, Path(f).read_bytes()) for f in files or []]
        if not payload:
            yield LABELS["no_files"], gr.update(), gr.update()
            return
        corpus = _corpus(settings)
        added, rejected = corpus.add_files(payload, source or "")
        notes = [f"{r.filename}: {r.reason}" for r in rejected]
        if not added:
            yield "".join(f'<div class="warn">{html.escape(n)}</div>' for n in notes), gr.update(), gr.update()
            return
        yield from follow(corpus.reindex([d.id for d in added]), notes, settings)

    def delete(doc_id):
        if not doc_id:
            yield LABELS["pick_one"], gr.update(), gr.update()
            return
        corpus = _corpus(settings)
        try:
            doc = corpus.delete(doc_id)
        except RagError as exc:
            yield f'<div class="warn">{html.escape(str(exc))}</div>', gr.update(), gr.update()
            return
        yield from follow(corpus.reindex([doc.id]), [], settings)

    def reindex():
        yield from follow(_corpus(settings).reindex(), [], settings)

    with gr.Tab(LABELS["articles_tab"], elem_id="articles-tab") as tab:
        gr.Markdown(LABELS["articles_help"])
        with gr.Row():
            files = gr.File(file_count="multiple", file_types=[".txt", ".md", ".html", ".htm"], label=LABELS["upload"], elem_id="upload")
            with gr.Column():
                source = gr.Textbox(label=LABELS["source"], elem_id="upload-source", lines=1)
                add_button = gr.Button(LABELS["add"], variant="primary", elem_id="add-articles")
                reindex_button = gr.Button(LABELS["reindex"], elem_id="reindex")
        job = gr.HTML("", elem_id="articles-status")
        table = gr.HTML("", elem_id="articles")
        with gr.Row():
            pick = gr.Dropdown([], label=LABELS["pick"], elem_id="pick-article", scale=3)
            delete_button = gr.Button(LABELS["delete"], variant="stop", elem_id="delete-article", scale=1)
        outputs = [job, table, pick]
        add_button.click(add, [files, source], outputs, concurrency_limit=1, concurrency_id="articles")
        delete_button.click(delete, [pick], outputs, concurrency_limit=1, concurrency_id="articles")
        reindex_button.click(reindex, None, outputs, concurrency_limit=1, concurrency_id="articles")
        tab.select(lambda: (articles_table(settings), gr.update(choices=article_choices(settings), value=None)), None, [table, pick])


INSECURE_FLAG = "--insecure-no-auth"


def launch(settings: Settings, host: str = "127.0.0.1", port: int = 7860, block: bool = True, insecure_no_auth: bool = False):
    """Start the app on ``host:port`` and say where to open it.

    Beyond loopback the UI needs the token (setting ``api_token``, asked as the password), like the
    API, unless ``insecure_no_auth`` (``rag chat --insecure-no-auth``) says otherwise, loudly.
    With a token set the UI always asks for it.
    """
    from ui.security import require_token_off_loopback
    from ui.settings import check_port

    check_port(port)
    require_token_off_loopback(settings, host, "the chat UI", INSECURE_FLAG, insecure_no_auth)
    token = settings.api_token
    auth = (lambda _user, password: hmac.compare_digest(str(password).encode(), token.encode())) if token else None
    app = build_app(settings)
    app.queue(default_concurrency_limit=2)
    app.launch(server_name=host, server_port=port, prevent_thread_lock=True, css=CSS, head=JS_HEAD,
               quiet=True, show_error=False, footer_links=[], auth=auth,
               auth_message="Password: the server's token (RAG_API_TOKEN); any user name." if token else None)
    print(f"\nChat UI ready: open http://{host}:{port} in your browser (Ctrl-C stops it).", flush=True)
    if block:
        app.block_thread()
    return app
