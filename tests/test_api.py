"""The HTTP API against a real uvicorn server on loopback: JSON endpoints, OpenAI clients, errors."""
import json
import threading
import time

import httpx
import pytest

from index.errors import ConfigError
from tests.servers import ApiServer, ServeProcess
from ui.api import serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(seed_index):
    with ApiServer(seed_index.replace(max_concurrent=2)) as server:
        yield server


def test_health_ready_docs_and_models(api) -> None:
    assert httpx.get(api.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(api.url + "/readyz").json() == {"status": "ready", "index": "index", "state": "ready"}
    assert httpx.get(api.url + "/docs").status_code == 200
    spec = httpx.get(api.url + "/openapi.json").json()
    assert {"/v1/ask", "/v1/search", "/v1/chat/completions", "/v1/models"} <= set(spec["paths"])
    ids = [m["id"] for m in httpx.get(api.url + "/v1/models").json()["data"]]
    assert "arabic-news-rag" in ids and "arabic-news-rag-extractive" in ids


def test_ask_returns_answer_with_citations(api) -> None:
    r = httpx.post(api.url + "/v1/ask", json={"question": "من هو وزير الخارجية العراقي الذي التقى بلينكن؟", "top_k": 3}, timeout=120)
    assert r.status_code == 200
    body = r.json()
    assert body["language"] == "ar" and body["grounded"] is True and body["citations"]
    c = body["citations"][0]
    assert {"n", "doc_id", "title", "source", "text", "start", "end", "quote"} <= set(c) and "فؤاد حسين" in c["quote"]
    assert "total_s" in body["timings"]


def test_search_returns_scored_passages(api) -> None:
    r = httpx.post(api.url + "/v1/search", json={"query": "Joe Wilson campaign", "top_k": 2}, timeout=60)
    passages = r.json()["passages"]
    assert r.status_code == 200 and len(passages) == 2 and passages[0]["score"] >= passages[1]["score"]


def test_openai_client_non_stream_and_stream(api) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=api.url + "/v1", api_key="unused")
    r = client.chat.completions.create(model="arabic-news-rag", messages=[{"role": "user", "content": "How many American soldiers are in Iraq?"}])
    text = r.choices[0].message.content
    assert "[1]" in text and "Sources:" in text
    assert r.model_extra["citations"][0]["n"] == 1
    stream = client.chat.completions.create(model="arabic-news-rag", stream=True,
                                            messages=[{"role": "user", "content": "ما الملفات التي يتناولها الحوار الاستراتيجي؟"}])
    chunks = list(stream)
    streamed = "".join(ch.choices[0].delta.content or "" for ch in chunks)
    assert "[1]" in streamed and "المصادر" in streamed
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].model_extra["citations"]


def test_raw_stream_ends_with_done(api) -> None:
    with httpx.stream("POST", api.url + "/v1/chat/completions", timeout=60,
                      json={"model": "arabic-news-rag", "stream": True, "messages": [{"role": "user", "content": "Who met Blinken?"}]}) as r:
        lines = [line for line in r.iter_lines() if line]
    assert r.headers["content-type"].startswith("text/event-stream")
    assert lines[-1] == "data: [DONE]" and json.loads(lines[0][6:])["object"] == "chat.completion.chunk"


def test_langchain_chat_openai_with_history(api) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=api.url + "/v1", api_key="unused", model="arabic-news-rag-extractive")
    reply = llm.invoke([("user", "How many coalition troops are deployed in Iraq now?"), ("assistant", "About 3,000 [1]."),
                        ("user", "and how many of them are American?")])
    assert "2500" in reply.content or "2400" in reply.content


@pytest.mark.parametrize("payload,status", [
    ('{"question": ', 422),  # malformed JSON
    ('{"question": 5}', 422),  # wrong type
    ('{"question": "   "}', 422),  # empty question
    ('{"question": "%s"}' % ("س" * 5000), 413),  # over max_question_chars
    ('{"question": "%s"}' % ("س" * 300_000), 413),  # over the body limit
    ('{"question": "سؤال", "backend": "gpt-9"}', 422),  # unknown backend
    ('{"question": "سؤال", "top_k": 0}', 422),
    ('[1, 2]', 422),
])
def test_bad_requests_get_clear_json_errors(api, payload, status) -> None:
    r = httpx.post(api.url + "/v1/ask", content=payload.encode(), headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"} and set(r.json()["error"]) == {"message", "type"}


def test_chat_errors(api) -> None:
    r = httpx.post(api.url + "/v1/chat/completions", json={"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 422 and "unknown model" in r.json()["error"]["message"]
    r = httpx.post(api.url + "/v1/chat/completions", json={"model": "arabic-news-rag", "messages": [{"role": "assistant", "content": "x"}]})
    assert r.status_code == 422 and "last message" in r.json()["error"]["message"]


def test_too_many_concurrent_requests_get_429_not_a_collapse(seed_index) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class SlowLLM(BaseHTTPRequestHandler):  # a real endpoint on loopback that takes 3 s, then fails
        def do_POST(self):
            time.sleep(3)
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args):
            pass

    slow = ThreadingHTTPServer(("127.0.0.1", 0), SlowLLM)
    threading.Thread(target=slow.serve_forever, daemon=True).start()
    settings = seed_index.replace(max_concurrent=1, backend="openai", openai_base_url=f"http://127.0.0.1:{slow.server_port}/v1")
    with ApiServer(settings) as server:
        results = {}
        first = threading.Thread(target=lambda: results.update(
            a=httpx.post(server.url + "/v1/ask", json={"question": "Who did Blinken meet in Washington?"}, timeout=60)))
        first.start()
        time.sleep(1.0)  # the first request now holds the only slot
        r = httpx.post(server.url + "/v1/ask", json={"question": "Who did Blinken meet in Washington?"}, timeout=60)
        assert r.status_code == 429 and r.headers["retry-after"] == "2" and "too many" in r.json()["error"]["message"]
        first.join()
        a = results["a"].json()
        assert results["a"].status_code == 200 and a["backend"] == "extractive" and a["notice"]  # LLM failure fell back
        assert httpx.post(server.url + "/v1/ask", json={"question": "Who did Blinken meet in Washington?"}, timeout=60).status_code == 200
    slow.shutdown()


def test_token_is_enforced_and_required_off_loopback(seed_index) -> None:
    with ApiServer(seed_index.replace(api_token="s3cret")) as server:
        assert httpx.post(server.url + "/v1/search", json={"query": "x"}).status_code == 401
        ok = httpx.post(server.url + "/v1/search", json={"query": "Blinken"}, headers={"Authorization": "Bearer s3cret"}, timeout=60)
        assert ok.status_code == 200
        assert httpx.get(server.url + "/healthz").status_code == 200
    with pytest.raises(ConfigError, match="RAG_API_TOKEN"):
        serve(seed_index, host="0.0.0.0", port=1)


def test_the_rag_serve_command_serves_the_api_in_its_own_process(seed_index) -> None:
    env = {"RAG_HOME": str(seed_index.home), "RAG_MODELS_DIR": str(seed_index.models_dir)}
    with ServeProcess(env, "--backend", "extractive") as server:
        r = httpx.post(server.url + "/v1/ask", json={"question": "Who did Blinken meet in Washington?"}, timeout=120)
        assert r.status_code == 200 and r.json()["citations"] and r.json()["backend"] == "extractive"
        assert httpx.get(server.url + "/docs").status_code == 200


def test_a_plain_openai_client_sees_why_an_answer_is_not_grounded(seed_index) -> None:
    from openai import OpenAI

    from tests.servers import ScriptedLLM

    with ScriptedLLM("التقى بلينكن نظيره العراقي فؤاد حسين في 3 آذار [1].") as llm:
        settings = seed_index.replace(backend="openai", openai_base_url=llm.base_url)
        with ApiServer(settings) as server:
            client = OpenAI(base_url=server.url + "/v1", api_key="unused")
            model = client.models.list().data[0].id
            r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "من هو وزير الخارجية العراقي الذي التقى بلينكن؟"}])
    text = r.choices[0].message.content
    assert "الخلاصة: التقى بلينكن" in text and "تحقّق:" in text and "the number 3" in text and "المصادر:" in text
    assert r.model_extra["rag"]["grounded"] is False
