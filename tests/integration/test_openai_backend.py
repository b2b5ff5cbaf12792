"""The openai backend through the real `openai` client against OpenAI-compatible servers on 127.0.0.1."""
from __future__ import annotations

import pytest

from agent.errors import ConfigError, LLMError
from agent.llm import Request, get_backend
from agent.llm.structured import StructuredLLM
from agent.models import DissectionDraft
from agent.publish.files import DiskCache
from agent.publish.render import FENCE_CLOSE, FENCE_OPEN
from agent.settings import load_settings
from tests.support.openai_server import OpenAIFixture

SOURCE = "We show that our method makes every model honest. The evaluation used one benchmark of 50 items."


@pytest.fixture
def server():
    srv = OpenAIFixture()
    yield srv
    srv.close()


def _settings(srv, tmp_path, **kw):
    env = {"DISSECT_BACKEND": "openai", "OPENAI_BASE_URL": srv.base_url, "DISSECT_MODEL": srv.model,
           "DISSECT_LLM_TIMEOUT": "5", "DISSECT_DATA_DIR": str(tmp_path)}
    return load_settings(kw, env=env)


def _messages():
    return [{"role": "system", "content": "critic"},
            {"role": "user", "content": f"{FENCE_OPEN}\n{SOURCE}\n{FENCE_CLOSE}"}]


def _generate(backend, tmp_path):
    llm = StructuredLLM(backend, DiskCache(tmp_path / "c"), tmp_path / "llm.jsonl", retries=2)
    return llm.generate(_messages(), DissectionDraft, max_tokens=400)


def test_json_schema_request_and_usage(server, tmp_path):
    backend = get_backend(_settings(server, tmp_path))
    draft = _generate(backend, tmp_path)
    assert draft.core_fallacy.quote in SOURCE
    assert server.requests[0]["response_format"]["type"] == "json_schema"
    assert server.requests[0]["model"] == "fixture-critic"


def test_falls_back_to_json_object_with_schema_not_to_another_model(tmp_path):
    srv = OpenAIFixture(reject_json_schema=True)
    try:
        backend = get_backend(_settings(srv, tmp_path))
        _generate(backend, tmp_path)
        kinds = [r["response_format"]["type"] for r in srv.requests]
        assert kinds[0] == "json_schema" and kinds[-1] == "json_object"
        assert "schema" in srv.requests[-1]["response_format"]
        assert {r["model"] for r in srv.requests} == {"fixture-critic"}
        # the accepted format is remembered: the next request goes straight to it
        n = len(srv.requests)
        backend.complete(Request(messages=_messages(), schema=DissectionDraft.model_json_schema()))
        assert len(srv.requests) == n + 1
    finally:
        srv.close()


def test_invalid_json_is_retried_then_an_error(tmp_path):
    srv = OpenAIFixture(invalid_replies=1)
    try:
        assert _generate(get_backend(_settings(srv, tmp_path)), tmp_path)
        srv2 = OpenAIFixture(invalid_replies=10)
        with pytest.raises(LLMError, match="invalid JSON 3 times"):
            _generate(get_backend(_settings(srv2, tmp_path / "2")), tmp_path / "2")
        srv2.close()
    finally:
        srv.close()


def test_unknown_model_and_unreachable_server_are_clear_errors(server, tmp_path):
    backend = get_backend(_settings(server, tmp_path, model="no-such-model"))
    with pytest.raises(LLMError, match="does not know model 'no-such-model'"):
        backend.complete(Request(messages=_messages()))
    dead = load_settings({}, env={"DISSECT_BACKEND": "openai", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
                                  "DISSECT_MODEL": "m", "DISSECT_LLM_TIMEOUT": "2"})
    with pytest.raises(LLMError, match="cannot reach"):
        get_backend(dead).complete(Request(messages=_messages()))
    with pytest.raises(ConfigError, match="needs a model name"):
        get_backend(load_settings({}, env={"DISSECT_BACKEND": "openai"}))


def test_timeout_is_an_error(tmp_path):
    srv = OpenAIFixture(latency=3)
    try:
        backend = get_backend(_settings(srv, tmp_path, llm_timeout_s=0.5))
        backend.client = backend.client.with_options(max_retries=0)
        with pytest.raises(LLMError, match="timed out"):
            backend.complete(Request(messages=_messages()))
    finally:
        srv.close()


def test_batch_runs_concurrently_and_isolates_failures(tmp_path):
    srv = OpenAIFixture(latency=0.3, fail_when="POISON")
    try:
        backend = get_backend(_settings(srv, tmp_path, concurrency=8))
        backend.client = backend.client.with_options(max_retries=0)
        backend._async_kwargs["max_retries"] = 0
        reqs = [Request(messages=_messages()) for _ in range(7)]
        reqs.insert(3, Request(messages=[{"role": "user", "content": "POISON"}]))
        out = backend.complete_batch(reqs)
        assert len(out) == 8 and isinstance(out[3], LLMError)
        assert all(not isinstance(o, Exception) for i, o in enumerate(out) if i != 3)
        assert srv.max_in_flight > 1  # concurrent, not serial: the server saw requests overlap
    finally:
        srv.close()


def test_batch_from_inside_a_running_event_loop_and_close_stops_the_loop_thread(server, tmp_path):
    """A notebook runs an event loop: a batch called from it must not call asyncio.run. One async client serves
    every batch, and close() stops the thread the backend started."""
    import asyncio
    import threading

    backend = get_backend(_settings(server, tmp_path, concurrency=3))
    reqs = [Request(messages=_messages(), schema=DissectionDraft.model_json_schema(), max_tokens=400)
            for _ in range(4)]

    async def from_a_notebook():
        return backend.complete_batch(reqs), backend.complete_batch(reqs)

    first, second = asyncio.run(from_a_notebook())
    assert all(not isinstance(c, Exception) for c in [*first, *second])
    assert len(backend._async_clients) == 1  # reused across batches, not one client per batch
    loop_thread = backend._thread
    assert loop_thread is not None and loop_thread.is_alive()
    backend.close()
    assert loop_thread not in threading.enumerate()

    async def natively():
        with get_backend(_settings(server, tmp_path, concurrency=3)) as b:
            b._format = "json_schema"
            return await b.acomplete_batch(reqs)

    assert all(not isinstance(c, Exception) for c in asyncio.run(natively()))


def test_a_server_that_trickles_its_reply_hits_the_total_deadline(tmp_path):
    """The client's timeout is per read: a reply sent a byte at a time must still end at llm.timeout_s."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    stop = threading.Event()

    class Trickle(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b'{"id": "x", "object": "chat.completion", "choices": []}' * 50
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for byte in body:
                if stop.is_set():
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)  # each read waits less than the per-read timeout

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        env = {"DISSECT_BACKEND": "openai", "OPENAI_BASE_URL": f"http://127.0.0.1:{httpd.server_address[1]}/v1",
               "DISSECT_MODEL": "m", "DISSECT_LLM_TIMEOUT": "1.5", "DISSECT_DATA_DIR": str(tmp_path)}
        backend = get_backend(load_settings({}, env=env))
        backend.client = backend.client.with_options(max_retries=0)
        with pytest.raises(LLMError, match="timed out: no whole answer within 1.5 s"):
            backend.complete(Request(messages=_messages()))
        backend.close()
    finally:
        stop.set()
        httpd.shutdown()
