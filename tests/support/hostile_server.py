"""Servers that misbehave on purpose, for the hardening tests (issue 9): on any loopback address (127.0.0.2 stands
in for "another internal host"), trickling a body or the headers byte by byte, and a resolver patch that answers
chosen names with chosen addresses (different answers on successive lookups: DNS rebinding).

Nothing here reaches beyond the loopback interface: names the patch does not know, and IP literals, go to the real
resolver, and the tests only ever give it loopback literals.
"""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[[BaseHTTPRequestHandler], None]


class HostileServer:
    """A tiny HTTP server on `host` (any 127.x address) whose routes write whatever they like to the socket."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []  # paths, in arrival order
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                server.requests.append(self.path)
                route = server.routes.get(self.path.split("?", 1)[0])
                try:
                    if route is None:
                        self.send_response(404)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                    else:
                        route(self)
                except OSError:
                    pass  # the client hung up (a deadline): expected

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request, client_address) -> None:
                pass

        self.httpd = Server((host, port), Handler)
        self.host, self.port = host, self.httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def page(self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8") -> str:
        data = body.encode() if isinstance(body, str) else body

        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)

        self.routes[path] = route
        return self.url + path

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(status)
            h.send_header("Location", location)
            h.send_header("Content-Length", "0")
            h.end_headers()

        self.routes[path] = route
        return self.url + path

    def trickle(self, path: str, body: bytes, interval: float, *, where: str = "body") -> str:
        """Send `body` one byte every `interval` seconds. where="body": headers at once, with a Content-Length;
        "chunked": headers at once, the body as one-byte chunks (no length: it ends when the server says so);
        "headers": the status line and headers themselves trickle, then the body."""

        def route(h: BaseHTTPRequestHandler) -> None:
            head = ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    + ("Transfer-Encoding: chunked\r\n" if where == "chunked" else f"Content-Length: {len(body)}\r\n")
                    + "\r\n").encode()
            sock = h.connection
            if where == "headers":
                for i in range(len(head)):
                    sock.sendall(head[i:i + 1])
                    time.sleep(interval)
                sock.sendall(body)
                return
            sock.sendall(head)
            for i in range(len(body)):
                piece = body[i:i + 1]
                sock.sendall(b"1\r\n" + piece + b"\r\n" if where == "chunked" else piece)
                time.sleep(interval)
            if where == "chunked":
                sock.sendall(b"0\r\n\r\n")

        self.routes[path] = route
        return self.url + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class PatchedResolver:
    """socket.getaddrinfo for chosen names: `answers[name]` is a list of addresses, one per successive lookup
    (the last one repeats). Other names and IP literals go to the real getaddrinfo. `lookups` counts per name."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = {k.lower(): list(v) for k, v in answers.items()}
        self.lookups: dict[str, int] = {}
        self.real = socket.getaddrinfo

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 - socket's own names
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        name = name.lower().rstrip(".")
        if name not in self.answers:
            return self.real(host, port, family, type, proto, flags)
        n = self.lookups.get(name, 0)
        self.lookups[name] = n + 1
        queue = self.answers[name]
        addr = queue[min(n, len(queue) - 1)]
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        sockaddr = (addr, int(port or 0), 0, 0) if fam == socket.AF_INET6 else (addr, int(port or 0))
        return [(fam, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]
