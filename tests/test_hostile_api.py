"""Issue 15: hostile input and dropped connections against a real uvicorn server on loopback.

Each test names the item of the issue it reproduces; each failed before its fix."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from index.errors import ConfigError
from tests.conftest import ROOT
from tests.servers import ApiServer, SlowStreamLLM
from ui.settings import Settings

pytestmark = pytest.mark.slow

QUESTION = "Who did Blinken meet in Washington?"


def assert_error_shape(r: httpx.Response, status: int | None = None) -> dict:
    """The one documented error shape: {"error": {"message", "type"}} (item 10)."""
    if status is not None:
        assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


@pytest.fixture(scope="module")
def api(seed_index):
    with ApiServer(seed_index.replace(max_concurrent=32)) as server:
        yield server


def _raw(api, payload: str, path: str = "/v1/ask") -> httpx.Response:
    return httpx.post(api.url + path, content=payload.encode(), headers={"content-type": "application/json"}, timeout=120)


# --- item 1: invalid Unicode --------------------------------------------------------------------

@pytest.mark.parametrize("path,payload", [
    ("/v1/ask", '{"question": "\\ud800"}'),
    ("/v1/ask", '{"question": "Who met \\udcff Blinken?"}'),
    ("/v1/ask", '{"question": "Who met Blinken?", "history": [{"role": "user", "content": "\\ud83d"}]}'),
    ("/v1/search", '{"query": "\\udfff"}'),
    ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "\\ud800"}]}'),
    ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "\\ud800"}, '
                             '{"role": "user", "content": "and?"}]}'),
])
def test_item1_lone_surrogate_is_rejected_at_the_edge_with_400(api, path, payload) -> None:
    """Item 1: valid JSON, invalid Unicode reached the tokenizer (500 for the whole batch)."""
    error = assert_error_shape(_raw(api, payload, path), 400)
    assert "not valid Unicode" in error["message"]


def test_item1_body_that_is_not_utf8_is_400(api) -> None:
    """Item 1: raw bytes that are not UTF-8 in a JSON body."""
    r = httpx.post(api.url + "/v1/ask", content=b'{"question": "\xff\xfe"}', headers={"content-type": "application/json"})
    assert "UTF-8" in assert_error_shape(r, 400)["message"]


def test_item1_fault_32_concurrent_requests_8_with_invalid_unicode(api) -> None:
    """Item 1 fault test: 32 concurrent requests of which 8 carry invalid Unicode: the 24 good ones all get 200."""
    good = ["Who did Blinken meet in Washington?", "How many American soldiers are in Iraq?", "What did Joe Wilson's campaign call for?",
            "ما الملفات التي يتناولها الحوار الاستراتيجي؟", "من هو وزير الخارجية العراقي؟", "Where did the strategic dialogue take place?"]
    payloads = []
    for i in range(32):
        if i % 4 == 3:
            payloads.append('{"question": "%s \\ud800 %d"}' % (good[i % len(good)], i))
        else:
            payloads.append(json.dumps({"question": f"{good[i % len(good)]} ({i})", "backend": "extractive"}))
    barrier = threading.Barrier(32)

    def send(payload: str) -> int:
        barrier.wait()
        return _raw(api, payload).status_code

    with ThreadPoolExecutor(32) as pool:
        codes = list(pool.map(send, payloads))
    bad = [c for i, c in enumerate(codes) if i % 4 == 3]
    ok = [c for i, c in enumerate(codes) if i % 4 != 3]
    assert ok == [200] * 24 and bad == [400] * 8, codes


def test_item1_the_query_batcher_isolates_a_failing_text(seed_index) -> None:
    """Item 1: one bad text in the shared embedding batch failed every request batched with it."""
    from rag import service

    embedder = service.embedder(seed_index)
    batch = [("Who met Blinken?", {}), ("\ud800", {}), ("كم عدد الجنود الأمريكيين في العراق؟", {})]
    embedder._queries._run(batch)  # one forward pass over the three, as concurrent requests share it
    assert "vector" in batch[0][1] and "vector" in batch[2][1]
    assert "error" in batch[1][1] and "vector" not in batch[1][1]
    alone = embedder.embed(["Who met Blinken?"], "document")[0]
    assert float(alone @ batch[0][1]["vector"]) > 0.5


@pytest.mark.parametrize("command", ["ask", "search"])
def test_item1_cli_rejects_undecodable_arguments_with_one_line(seed_index, command) -> None:
    """Item 1: `rag ask $'\\xff\\xfe'` printed a traceback."""
    env = {**os.environ, "RAG_HOME": str(seed_index.home), "RAG_MODELS_DIR": str(seed_index.models_dir), "RAG_BACKEND": "extractive"}
    out = subprocess.run([sys.executable, "-m", "ui.cli", command, b"\xff\xfe"], capture_output=True, env=env, cwd=ROOT, timeout=300)
    err = out.stderr.decode("utf-8", "replace")
    assert out.returncode == 2 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("error: the ") and "not valid Unicode" in err


# --- item 2: aborted streams -------------------------------------------------------------------

def test_item2_fault_16_aborted_streams_free_their_slots_and_stop_the_llm(seed_index) -> None:
    """Item 2 fault test: 16 streaming clients disconnect after the first chunk; a normal request then
    gets 200 within 2 s (no slot leaked), and the 16 LLM calls are cancelled."""
    with SlowStreamLLM() as llm:
        settings = seed_index.replace(backend="openai", openai_base_url=llm.base_url, max_concurrent=16, allowed_backends="extractive",
                                      llm_timeout_s=120.0, prompt_mode="focused")  # focused: the text streams from the model
        with ApiServer(settings) as server:
            def stream_then_drop(i: int) -> str:
                body = {"model": "arabic-news-rag", "stream": True, "messages": [{"role": "user", "content": f"{QUESTION} ({i})"}]}
                with httpx.Client(timeout=120) as client, client.stream("POST", server.url + "/v1/chat/completions", json=body) as r:
                    assert r.status_code == 200, r.read()
                    for line in r.iter_lines():
                        if line:
                            return line  # the first chunk; leaving the block closes the connection
                return ""

            with ThreadPoolExecutor(16) as pool:
                firsts = list(pool.map(stream_then_drop, range(16)))
            assert all(f.startswith("data: ") for f in firsts) and llm.started == 16
            started = time.monotonic()
            r = httpx.post(server.url + "/v1/ask", json={"question": QUESTION, "backend": "extractive"}, timeout=30)
            assert r.status_code == 200 and time.monotonic() - started < 2.0, (r.status_code, r.text[:200])
            deadline = time.monotonic() + 10
            while llm.aborted < 16 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert llm.aborted == 16  # every upstream generation was cut off, none ran on for minutes


# --- item 4: who picks the backend ---------------------------------------------------------------

def test_item4_clients_get_only_the_backends_the_server_allows(api, seed_index) -> None:
    """Item 4: a client switched an extractive server to the local 1.1 GB model by asking."""
    r = httpx.post(api.url + "/v1/ask", json={"question": QUESTION, "backend": "local"}, timeout=60)
    assert "allowed_backends" in assert_error_shape(r, 403)["message"]
    r = httpx.post(api.url + "/v1/chat/completions", json={"model": "arabic-news-rag-local", "messages": [{"role": "user", "content": "x"}]})
    assert_error_shape(r, 403)
    ids = [m["id"] for m in httpx.get(api.url + "/v1/models").json()["data"]]
    assert ids == ["arabic-news-rag", "arabic-news-rag-extractive"]
    assert httpx.post(api.url + "/v1/ask", json={"question": QUESTION, "backend": "extractive"}, timeout=60).status_code == 200
    from ui.api import create_app, model_backends

    assert set(model_backends(seed_index.replace(allowed_backends="openai, extractive"))) == {
        "arabic-news-rag", "arabic-news-rag-extractive", "arabic-news-rag-openai"}
    with pytest.raises(ConfigError, match="allowed_backends"):
        create_app(seed_index.replace(allowed_backends="extractive,gpt-9"))


# --- item 5: exposure --------------------------------------------------------------------------

def test_item5_401_names_the_scheme_and_cors_preflight_needs_no_token(seed_index) -> None:
    """Item 5: a 401 without WWW-Authenticate; a CORS preflight got 401, so browsers could not call the API."""
    settings = seed_index.replace(api_token="s3cret", cors_origins="https://news.example")
    with ApiServer(settings) as server:
        r = httpx.post(server.url + "/v1/search", json={"query": "x"})
        assert_error_shape(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
        pre = httpx.options(server.url + "/v1/ask", headers={"Origin": "https://news.example", "Access-Control-Request-Method": "POST",
                                                             "Access-Control-Request-Headers": "authorization,content-type"})
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "https://news.example"
        r = httpx.post(server.url + "/v1/search", json={"query": "Blinken"}, timeout=60,
                       headers={"Authorization": "Bearer s3cret", "Origin": "https://news.example"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://news.example"
        bad = httpx.post(server.url + "/v1/search", json={"query": "x"}, headers={"Origin": "https://news.example"})
        assert bad.status_code == 401 and bad.headers.get("access-control-allow-origin") == "https://news.example"


def test_item5_readyz_gives_the_index_name_and_state_not_paths(seed_index, tmp_path) -> None:
    """Item 5: /readyz printed absolute paths."""
    with ApiServer(seed_index.replace(index_dir=tmp_path / "nowhere" / "news-index"), ready=False) as server:
        r = httpx.get(server.url + "/readyz")
        body = r.json()
        assert r.status_code == 503 and body["index"] == "news-index" and body["state"] == "missing"
        assert str(tmp_path) not in r.text and "/nowhere" not in r.text
        assert str(tmp_path) not in httpx.post(server.url + "/v1/ask", json={"question": QUESTION}).text


def test_item5_the_local_llm_port_wants_the_process_key(seed_index) -> None:
    """Item 5: the embedded llama.cpp port listened unauthenticated on loopback."""
    from rag.llm import LocalServer, chat_model

    settings = seed_index.replace(backend="local", llm_max_tokens=8)
    server = LocalServer.get(settings)
    try:
        assert len(server.api_key) >= 32
        url = server.base_url + "/chat/completions"
        body = {"model": "local", "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(url, json=body, timeout=60).status_code == 401
        assert httpx.post(url, json=body, timeout=60, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.post(url, json=body, timeout=120, headers={"Authorization": f"Bearer {server.api_key}"}).status_code == 200
        assert chat_model(settings).invoke("Say OK").content  # the app's own client carries the key
    finally:
        LocalServer.shutdown()


# --- item 6: body size and slow clients --------------------------------------------------------

def test_item6_chunked_body_over_the_limit_gets_413(api) -> None:
    """Item 6: a body sent with Transfer-Encoding: chunked bypassed the 256 KiB limit."""
    def chunks():
        yield b'{"question": "'
        for _ in range(40):
            yield "س".encode() * 4000  # 8 KB a chunk, 320 KB in all
        yield b'"}'

    r = httpx.post(api.url + "/v1/ask", content=chunks(), headers={"content-type": "application/json"}, timeout=60)
    assert "transfer-encoding" not in r.request.headers or r.request.headers["transfer-encoding"] == "chunked"
    error = assert_error_shape(r, 413)
    assert "256 KiB" in error["message"]


def test_item6_slow_body_gets_408_after_body_timeout(seed_index) -> None:
    """Item 6: a client sending its body a byte at a time (slowloris) held a worker for ever."""
    with ApiServer(seed_index.replace(body_timeout_s=1.0)) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"q")
            started = time.monotonic()
            reply = b""
            while chunk := s.recv(4096):  # the server answers, then closes the connection
                reply += chunk
            reply = reply.decode()
        assert reply.startswith("HTTP/1.1 408") and "body_timeout_s" in reply
        assert time.monotonic() - started < 5


# --- item 9: numbers JSON allows and Python does not -------------------------------------------

@pytest.mark.parametrize("path,payload", [
    ("/v1/ask", '{"question": "Who met Blinken?", "top_k": NaN}'),
    ("/v1/ask", '{"question": "Who met Blinken?", "top_k": Infinity}'),
    ("/v1/ask", '{"question": "Who met Blinken?", "top_k": -Infinity}'),
    ("/v1/ask", '{"question": "Who met Blinken?", "top_k": 1e400}'),
    ("/v1/ask", '{"question": "Who met Blinken?", "top_k": 123456789012345678901234567890123456789}'),
    ("/v1/ask", '{"question": "Who met Blinken?", "top_k": %s}' % ("9" * 5000)),
    ("/v1/search", '{"query": "Blinken", "top_k": NaN}'),
    ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "x"}], "temperature": NaN}'),
    ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "x"}], "temperature": Infinity}'),
    ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "x"}], "top_k": 1e999}'),
])
def test_item9_nan_infinity_and_huge_numbers_are_4xx(api, path, payload) -> None:
    """Item 9: NaN, Infinity or a huge integer in a number field gave 500."""
    r = _raw(api, payload, path)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert_error_shape(r)


# --- item 10: one error shape ------------------------------------------------------------------

def test_item10_every_error_has_the_one_shape_and_the_schema_says_so(api) -> None:
    """Item 10: validation errors came back as {"detail": …}, the rest as {"error": …}."""
    assert_error_shape(_raw(api, '{"question": 5}'), 422)
    assert_error_shape(_raw(api, '{"question": '), 422)
    assert_error_shape(_raw(api, '[1, 2]'), 422)
    assert_error_shape(httpx.get(api.url + "/v1/nothing-here"), 404)
    assert_error_shape(httpx.get(api.url + "/v1/ask"), 405)
    spec = httpx.get(api.url + "/openapi.json").json()
    for path in ("/v1/ask", "/v1/search", "/v1/chat/completions"):
        responses = spec["paths"][path]["post"]["responses"]
        for code in ("400", "413", "422", "429", "503"):
            ref = responses[code]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorResponse"), (path, code, ref)
    assert "HTTPValidationError" not in json.dumps(spec)


def test_item10_schemathesis_finds_no_5xx_and_only_documented_error_shapes(api) -> None:
    """Item 10 / done-when: schemathesis over the whole API, no 5xx, every error in the documented shape."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.generation import GenerationMode
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

    schema = schemathesis.openapi.from_url(api.url + "/openapi.json")
    failures = []
    for op in schema.get_all_operations():
        operation = op.ok()
        strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(strategy)
        def check(case):
            response = case.call(timeout=60)
            for name, check_fn in (("server error", not_a_server_error), ("schema", response_schema_conformance),
                                   ("status", status_code_conformance)):
                try:
                    case.validate_response(response, checks=[check_fn])
                except Exception as exc:  # collect every failure, report them together
                    failures.append((name, case.method, case.path, response.status_code, str(exc)[:300]))
            if response.status_code >= 400:
                body = response.json()
                if set(body) != {"error"} or set(body["error"]) != {"message", "type"}:
                    failures.append(("shape", case.method, case.path, response.status_code, response.text[:200]))

        check()
    assert failures == []


# --- item 11: settings validated at start ------------------------------------------------------

@pytest.mark.parametrize("name,value,range_text", [
    ("max_concurrent", "0", "between 1 and 4096"),
    ("max_concurrent", "-1", "between 1 and 4096"),
    ("top_k", "-3", "between 1 and 20"),
    ("min_score", "nan", "between -1 and 2"),
    ("llm_timeout_s", "0", "between 0.1 and 86400"),
])
def test_item11_bad_settings_are_refused_at_start_naming_setting_and_range(monkeypatch, name, value, range_text) -> None:
    """Item 11: max_concurrent 0 or -1, a negative top_k … gave tracebacks or a server that can't answer."""
    monkeypatch.setenv(f"RAG_{name.upper()}", value)
    with pytest.raises(ConfigError, match=f"setting {name} must be {range_text}, got"):
        Settings.load()


def test_item11_rag_serve_refuses_a_port_out_of_range(seed_index) -> None:
    """Item 11: a port of 99999 gave a traceback."""
    env = {**os.environ, "RAG_HOME": str(seed_index.home), "RAG_MODELS_DIR": str(seed_index.models_dir)}
    out = subprocess.run([sys.executable, "-m", "ui.cli", "serve", "--port", "99999"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 2 and "between 1 and 65535" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run([sys.executable, "-m", "ui.cli", "serve"], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**env, "RAG_MAX_CONCURRENT": "0"})
    assert out.returncode == 2 and out.stderr.strip() == "error: setting max_concurrent must be between 1 and 4096, got 0 " \
        "(from RAG_MAX_CONCURRENT, the config file or an option)"
    from ui.api import serve

    with pytest.raises(ConfigError, match="65535"):
        serve(seed_index, port=99999)


# --- item 12: /docs offline --------------------------------------------------------------------

def test_item12_docs_page_needs_no_cdn(api) -> None:
    """Item 12: /docs loaded its JavaScript from a CDN, so it was blank offline."""
    r = httpx.get(api.url + "/docs")
    assert r.status_code == 200 and "/v1/ask" in r.text and "/openapi.json" in r.text
    assert "<script" not in r.text and "https://" not in r.text and "<link" not in r.text
    assert httpx.get(api.url + "/redoc").status_code == 404
