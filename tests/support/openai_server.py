"""An OpenAI-compatible chat-completions server on 127.0.0.1 for tests and benchmarks.

It answers like a real server (OpenAI's JSON shape, usage counts) with a critic that quotes the fenced source
(tests.support.fakes.FakeBackend.draft). Knobs reproduce real servers' quirks: rejecting `json_schema` response formats
the way llama.cpp's server does (HTTP 500), invalid JSON replies, failures for one paper, fixed latency.
Run standalone for benchmarks: `python -m tests.support.openai_server --port 8011 --latency 0.5`.
"""
from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.fakes import FakeBackend


class OpenAIFixture:
    def __init__(self, *, reject_json_schema: bool = False, invalid_replies: int = 0, latency: float = 0.0,
                 fail_when: str = "", model: str = "fixture-critic", port: int = 0):
        self.reject_json_schema = reject_json_schema
        self.invalid_replies = invalid_replies  # the first N replies are not JSON
        self.latency = latency
        self.fail_when = fail_when  # a prompt containing this string gets HTTP 500
        self.model = model
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests the server was answering at once (concurrency, not timing)
        self._lock = threading.Lock()
        fixture = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                status, reply = fixture.answer(self.path, body)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, path: str, body: dict) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(body)
            n = len(self.requests)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self._answer(path, body, n)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, path: str, body: dict, n: int) -> tuple[int, dict]:
        if self.latency:
            time.sleep(self.latency)
        if not path.endswith("/chat/completions"):
            return 404, {"error": {"message": f"no route {path}", "type": "not_found"}}
        if body.get("model") != self.model:
            return 404, {"error": {"message": f"model {body.get('model')!r} not found", "type": "not_found"}}
        fmt = (body.get("response_format") or {}).get("type")
        if self.reject_json_schema and fmt == "json_schema":
            return 500, {"error": {"message": "Unrecognized response_format type json_schema", "type": "server_error"}}
        prompt = "\n".join(m.get("content", "") for m in body.get("messages", []))
        if self.fail_when and self.fail_when in prompt:
            return 500, {"error": {"message": "model crashed", "type": "server_error"}}
        if n <= self.invalid_replies:
            content = "Sure! Here is my critique: it is bad."
        else:
            user = next((m["content"] for m in body["messages"] if m["role"] == "user"), "")
            content = json.dumps(FakeBackend.reply(user, _schema_of(body)))
        return 200, {
            "id": f"chatcmpl-{n}", "object": "chat.completion", "created": int(time.time()), "model": self.model,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(content) // 4,
                      "total_tokens": (len(prompt) + len(content)) // 4},
        }

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _schema_of(body: dict) -> dict | None:
    """The JSON schema a request asked for: in its response_format, or (plain json_object) in the prompt's hint."""
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return (fmt.get("json_schema") or {}).get("schema")
    if fmt.get("schema"):
        return fmt["schema"]
    last = (body.get("messages") or [{}])[-1].get("content", "")
    marker = "validates against this JSON schema:"
    if marker in last:
        try:
            return json.loads(last.split(marker, 1)[1].strip())
        except ValueError:
            return None
    return None


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=8011)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--model", default="fixture-critic")
    a = ap.parse_args()
    srv = OpenAIFixture(latency=a.latency, model=a.model, port=a.port)
    print(srv.base_url, flush=True)
    srv.thread.join()

