"""The documents, jobs and feedback routes against a real uvicorn server, the real embedding model and a
real FAISS index, on a private data home holding a copy of three seed articles (the seed index is never touched)."""
from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from tests.conftest import NEW_ARTICLE, NEW_ARTICLE_QUESTION, SMALL_CORPUS_FILES, small_corpus
from tests.servers import ApiServer

pytestmark = pytest.mark.slow
TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SEED_FILES = SMALL_CORPUS_FILES
LIBRARY = NEW_ARTICLE
QUESTION = NEW_ARTICLE_QUESTION


@pytest.fixture(scope="module")
def api(tmp_path_factory, seed_index):
    settings = small_corpus(tmp_path_factory.mktemp("docs-api"), seed_index, api_token=TOKEN, max_upload_bytes=32 * 1024)
    with ApiServer(settings) as server:
        server.settings = settings
        yield server


def wait_job(api, job_id: str, seconds: float = 120) -> dict:
    deadline = time.time() + seconds
    while time.time() < deadline:
        job = httpx.get(f"{api.url}/v1/jobs/{job_id}", headers=AUTH).json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def ask(api, question: str) -> dict:
    r = httpx.post(api.url + "/v1/ask", json={"question": question}, headers=AUTH, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def test_upload_ask_delete_and_the_question_is_refused_again(api) -> None:
    assert ask(api, QUESTION)["refused"] is True
    files = [("files", ("basra-library.txt", LIBRARY.encode("utf-8"), "text/plain")),
             ("files", ("scan.txt", bytes(range(256)) * 8, "text/plain"))]
    r = httpx.post(api.url + "/v1/documents", files=files, data={"source": "Basra news"}, headers=AUTH, timeout=60)
    assert r.status_code == 202, r.text
    body = r.json()
    assert [d["filename"] for d in body["documents"]] == ["basra-library.txt"] and body["documents"][0]["source"] == "Basra news"
    assert body["rejected"] == [{"filename": "scan.txt", "reason": "binary file (contains NUL bytes)"}]
    job = wait_job(api, body["job"]["id"])
    assert job["state"] == "done" and job["progress"] == 1.0 and 0 < job["result"]["embedded"] <= 2  # only the new article embedded
    doc_id = body["documents"][0]["id"]
    doc = httpx.get(f"{api.url}/v1/documents/{doc_id}", headers=AUTH).json()
    assert doc["indexed"] and doc["chunks"] == job["result"]["embedded"] and doc["title"] == "افتتاح مكتبة عامة جديدة في البصرة"
    listed = httpx.get(api.url + "/v1/documents", headers=AUTH).json()["documents"]
    assert {d["path"] for d in listed} >= set(SEED_FILES) and all({"title", "source", "added", "chunks"} <= set(d) for d in listed)

    answer = ask(api, QUESTION)
    assert not answer["refused"] and answer["citations"] and answer["answer_id"].startswith("ans-")
    assert answer["citations"][0]["doc_id"] == doc["path"] and "42" in answer["answer"]

    r = httpx.delete(f"{api.url}/v1/documents/{doc_id}", headers=AUTH)
    assert r.status_code == 202 and wait_job(api, r.json()["job"]["id"])["state"] == "done"
    assert httpx.get(f"{api.url}/v1/documents/{doc_id}", headers=AUTH).status_code == 404
    assert ask(api, QUESTION)["refused"] is True


def test_json_upload_and_concurrent_uploads_are_all_indexed(api) -> None:
    texts = [LIBRARY.replace("البصرة", city).replace("42", str(n)) for city, n in (("الموصل", 31), ("النجف", 27), ("كربلاء", 19), ("أربيل", 55))]
    results: list[httpx.Response] = []

    def post(i: int) -> None:
        if i % 2:
            results.append(httpx.post(api.url + "/v1/documents", json={"title": f"مكتبة {i}", "text": texts[i], "source": "https://example.org/a"},
                                      headers=AUTH, timeout=60))
        else:
            results.append(httpx.post(api.url + "/v1/documents", files={"files": (f"library-{i}.md", texts[i].encode("utf-8"))}, headers=AUTH, timeout=60))

    threads = [threading.Thread(target=post, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [202] * 4, [r.text for r in results]
    ids = [r.json()["documents"][0]["id"] for r in results]
    for job_id in {r.json()["job"]["id"] for r in results}:
        assert wait_job(api, job_id)["state"] == "done"
    docs = {d["id"]: d for d in httpx.get(api.url + "/v1/documents", headers=AUTH).json()["documents"]}
    assert all(docs[i]["indexed"] and docs[i]["chunks"] >= 1 for i in ids)  # none lost
    texts_doc = [docs[i] for i in ids if docs[i]["origin"] == "text"]
    assert len(texts_doc) == 2 and all(d["source"] == "https://example.org/a" and d["title"].startswith("مكتبة") for d in texts_doc)
    for i in ids:
        assert httpx.delete(f"{api.url}/v1/documents/{i}", headers=AUTH).status_code == 202


@pytest.mark.parametrize("kwargs,status,words", [
    ({"files": {"files": ("photo.pdf", b"%PDF-1.7 ...")}}, 422, "not an article file"),
    ({"files": {"files": ("empty.txt", b"  \n ")}}, 422, "empty file"),
    ({"files": {"files": ("big.txt", ("خبر " * 5000).encode("utf-8"))}}, 422, "larger than the upload limit"),
    ({"json": {"title": "x", "text": ""}}, 422, "text"),
    ({"json": {"title": "x", "text": "نص", "extra": 1}}, 422, "extra"),
    ({"content": b'{"title": ', "headers": {"content-type": "application/json"}}, 422, "JSON"),
    ({"content": b"x" * (21 * 32 * 1024 + 70 * 1024), "headers": {"content-type": "application/octet-stream"}}, 413, "over"),
])
def test_bad_uploads_get_clear_errors(api, kwargs, status, words) -> None:
    headers = {**AUTH, **kwargs.pop("headers", {})}
    r = httpx.post(api.url + "/v1/documents", headers=headers, timeout=60, **kwargs)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"} and words in r.json()["error"]["message"], r.text


def test_ids_that_do_not_exist_and_the_token(api) -> None:
    for method, path in (("GET", "/v1/documents/doc-nope"), ("DELETE", "/v1/documents/doc-nope"), ("GET", "/v1/jobs/job-nope")):
        r = httpx.request(method, api.url + path, headers=AUTH)
        assert r.status_code == 404 and r.json()["error"]["type"] in ("DocumentNotFoundError",), r.text
    for method, path in (("GET", "/v1/documents"), ("POST", "/v1/documents"), ("GET", "/v1/jobs/x"), ("POST", "/v1/feedback")):
        assert httpx.request(method, api.url + path).status_code == 401
    r = httpx.post(api.url + "/v1/reindex", json={"rebuild": False}, headers=AUTH)
    assert r.status_code == 202 and wait_job(api, r.json()["job"]["id"])["result"]["embedded"] == 0  # nothing changed: nothing embedded
    spec = httpx.get(api.url + "/openapi.json").json()["paths"]
    assert {"/v1/documents", "/v1/documents/{doc_id}", "/v1/jobs/{job_id}", "/v1/feedback"} <= set(spec)


def test_feedback_is_stored_with_the_answer_it_rates(api) -> None:
    answer = ask(api, "من هو وزير الخارجية العراقي الذي التقى أنتوني بلينكن؟")
    r = httpx.post(api.url + "/v1/feedback", json={"answer_id": answer["answer_id"], "rating": "down", "comment": "too long",
                                                    "expected": "فؤاد حسين"}, headers=AUTH)
    assert r.status_code == 201, r.text
    path = api.settings.home / "feedback" / "feedback.jsonl"
    entry = json.loads(path.read_text(encoding="utf-8").splitlines()[-1])
    assert entry["answer_id"] == answer["answer_id"] and entry["question"] == answer["question"] and entry["answer"] == answer["answer"]
    assert entry["citations"][0]["quote"] == answer["citations"][0]["quote"] and entry["backend"] == "extractive"
    assert entry["index_version"].endswith("docs") and entry["rating"] == "down" and entry["expected"] == "فؤاد حسين" and entry["time"]
    r = httpx.post(api.url + "/v1/feedback", json={"answer_id": "ans-unknown", "rating": "up"}, headers=AUTH)
    assert r.status_code == 404 and "ans-unknown" in r.json()["error"]["message"]
    r = httpx.post(api.url + "/v1/feedback", json={"answer_id": answer["answer_id"], "rating": "meh"}, headers=AUTH)
    assert r.status_code == 422
