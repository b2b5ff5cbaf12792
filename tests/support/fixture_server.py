"""A local HTTP server on 127.0.0.1 that stands in for the network in tests.

Routes are registered per test: a static response, a sequence of responses (503 then 200, to test retries),
a delay (to test timeouts) or a handler function (the arXiv API, which answers by query). Every request is
logged, so tests can assert "no network on re-run" and rate limiting.

Use from conftest.py:  `from tests.support.fixture_server import *  # noqa: F401,F403`  which brings the pytest
fixtures `fixture_server` (a running FixtureServer) and `arxiv_server` (the same, with the fixture catalog of
papers registered), plus the helper `arxiv_settings(server, tmp_path)`.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

__all__ = ["Response", "LoggedRequest", "FixtureServer", "fixture_server", "arxiv_server", "arxiv_settings"]


@dataclass
class Response:
    body: bytes | str = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (timeouts)

    def payload(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    time: float  # time.monotonic() when the request arrived

    def param(self, name: str, default: str = "") -> str:
        return self.query.get(name, [default])[0]


Handler = Callable[[LoggedRequest], Response]


class FixtureServer:
    def __init__(self) -> None:
        self._routes: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self.requests: list[LoggedRequest] = []
        server = self

        class _RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server._serve(self, send_body=True)

            def do_HEAD(self) -> None:  # noqa: N802
                server._serve(self, send_body=False)

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        class _Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:  # clients hanging up mid-test
                pass

        self._httpd = _Server(("127.0.0.1", 0), _RequestHandler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fixture-server", daemon=True)
        self._thread.start()

    # --- registering routes ---------------------------------------------------------------------------
    def route(self, path: str, body: bytes | str = b"", *, status: int = 200,
              content_type: str = "text/html; charset=utf-8", headers: dict[str, str] | None = None,
              delay: float = 0.0) -> str:
        """Serve a fixed response at `path` (query strings ignored); returns the full URL."""
        resp = Response(body, status, content_type, dict(headers or {}), delay)
        return self.handler(path, lambda _req: resp)

    def sequence(self, path: str, responses: list[Response]) -> str:
        """Serve `responses` one per request, in order; the last one repeats."""
        queue = list(responses)

        def pick(_req: LoggedRequest) -> Response:
            with self._lock:
                return queue.pop(0) if len(queue) > 1 else queue[0]

        return self.handler(path, pick)

    def handler(self, path: str, fn: Handler) -> str:
        """Answer requests to `path` with fn(request) -> Response."""
        self._routes[path] = fn
        return self.url_for(path)

    def url_for(self, path: str) -> str:
        return self.url + path

    # --- the request log ------------------------------------------------------------------------------
    def requests_to(self, prefix: str = "/") -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- serving --------------------------------------------------------------------------------------
    def _serve(self, h: BaseHTTPRequestHandler, send_body: bool) -> None:
        parts = urlsplit(h.path)
        req = LoggedRequest(h.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                            {k.lower(): v for k, v in h.headers.items()}, time.monotonic())
        with self._lock:
            self.requests.append(req)
        fn = self._routes.get(parts.path)
        try:
            resp = fn(req) if fn else Response(b"<html><body><h1>Not Found</h1></body></html>", 404)
        except Exception as exc:  # a broken fixture shows up as a 500 naming it, not as a dropped socket
            resp = Response(f"fixture handler failed: {type(exc).__name__}: {exc}", 500, "text/plain")
        if resp.delay:
            time.sleep(resp.delay)
        body = resp.payload()
        try:
            h.send_response(resp.status)
            if resp.content_type:
                h.send_header("Content-Type", resp.content_type)
            h.send_header("Content-Length", str(len(body)))
            for name, value in resp.headers.items():
                h.send_header(name, value)
            h.end_headers()
            if send_body:
                h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to report

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def fixture_server(monkeypatch):
    """A running FixtureServer; retries back off in milliseconds and rate-limit slots start fresh."""
    from agent.sources import http

    monkeypatch.setattr(http, "BACKOFF_BASE_S", 0.01)
    monkeypatch.setattr(http, "BACKOFF_MAX_S", 0.05)
    http.reset_rate_limits()
    server = FixtureServer()
    try:
        yield server
    finally:
        server.close()
        http.reset_rate_limits()


@pytest.fixture
def arxiv_server(fixture_server):
    """fixture_server with every paper of tests/fixtures/catalog.py served the way arXiv would."""
    from tests.support.catalog import serve_arxiv_catalog

    serve_arxiv_catalog(fixture_server)
    return fixture_server


def arxiv_settings(server: FixtureServer, tmp_path: Path, **overrides):
    """Settings whose arXiv endpoints point at `server`, with a short arXiv delay, fast retries and all
    data/reports under tmp_path. Keyword overrides win."""
    from agent.settings import Settings

    values = dict(
        arxiv_api_url=server.url_for("/api/query"),
        arxiv_html_url=server.url + "/html/{id}",
        arxiv_pdf_url=server.url + "/pdf/{id}",
        arxiv_delay_s=0.05,
        http_timeout_s=2.0,
        http_retries=2,
        data_dir=Path(tmp_path) / "data",
        reports_dir=Path(tmp_path) / "reports",
    )
    values.update(overrides)
    return Settings(**values)
