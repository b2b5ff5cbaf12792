"""The one polite HTTP GET every source uses.

Polite means: a descriptive User-Agent, a timeout, a per-host minimum interval between requests (arXiv asks
for one request every 3 seconds), retries with exponential backoff on 5xx/429/timeouts/connection errors,
and a size cap so a huge or endless body cannot fill memory. Every failure becomes one DissectError line.

Safe means: every hop (the URL and each redirect) is resolved once, checked (agent.sources.addresses) and connected
to at the address that was checked; and a request has a total deadline (http_deadline_s), enforced by a watchdog
that closes the socket, so a server trickling one byte a second cannot hold a run for ever. The transport is
urllib3 with that pinned connection; requests' URL quoting is kept.
"""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from requests.utils import requote_uri
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError, ReadTimeoutError
from urllib3.util.connection import create_connection

from agent.errors import ExtractionError, FetchError, SourceNotFoundError
from agent.settings import Settings
from agent.sources import addresses
from agent.text.safe import clean_text

# Backoff before retry n (0-based) is min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**n). Module constants so that
# tests (and the fixture server) can make retries fast without a settings field nobody else needs.
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 30.0
CHUNK = 64 * 1024

RETRY_STATUSES = {429, 500, 502, 503, 504}
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
MAX_REDIRECTS = 10
ARXIV_RATE_KEY = "arxiv"

_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass(frozen=True)
class HttpResponse:
    status: int
    content_type: str  # media type only, lower case ("text/html"); "" when the server sent none
    body: bytes
    url: str  # the final URL after redirects
    # The internal addresses this request was allowed to reach (those of a user-given URL): what the links of a
    # feed it served may reach too (see agent.sources.addresses).
    internal_ok: frozenset[str] = field(default=frozenset(), compare=False)


class BlockedAddressError(FetchError):
    """A redirect or a listed link leads to an address we may not reach (private space, cloud metadata)."""


class _RateLimiter:
    """Reserves time slots per key so concurrent callers (digest fan-out threads) stay spaced too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def wait(self, key: str, interval: float) -> None:
        if interval <= 0:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next.get(key, 0.0))
            self._next[key] = start + interval
        if start > now:
            time.sleep(start - now)

    def reset(self) -> None:
        with self._lock:
            self._next.clear()


_limiter = _RateLimiter()


def reset_rate_limits() -> None:
    """Forget all reserved slots (tests use it to start each case from a clean slate)."""
    _limiter.reset()


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def rate_key_for(url: str, rate_key: str | None = None) -> str:
    """Requests to any arxiv.org host share one bucket, whatever name they are reached under."""
    if rate_key:
        return rate_key
    host = _host(url)
    return ARXIV_RATE_KEY if host == "arxiv.org" or host.endswith(".arxiv.org") else host


def _min_interval(key: str, settings: Settings) -> float:
    return settings.sources.arxiv_delay_s if key == ARXIV_RATE_KEY else 0.0


def _reason(resp: urllib3.BaseHTTPResponse) -> str:
    """"503 Service Unavailable": the server's own reason phrase is untrusted text bound for the error line."""
    return f"{resp.status} {clean_text(resp.reason or '')[:80] or _REASONS.get(resp.status, '')}".strip()


def _retry_after(resp: urllib3.BaseHTTPResponse) -> float | None:
    raw = (resp.headers.get("Retry-After") or "").strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _media_type(resp: urllib3.BaseHTTPResponse) -> str:
    return (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()


class _Deadline:
    """A watchdog for one request: when `seconds` have passed it shuts down the request's sockets, which ends
    any read in progress however slowly the server sends."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if not self.expired:
                return
        self._shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            socks = list(self._sockets)
        for sock in socks:
            self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed

    def cancel(self) -> None:
        self._timer.cancel()


class _PinnedMixin:
    """A urllib3 connection that connects to the checked addresses instead of resolving the host again."""

    target: addresses.Target
    deadline: _Deadline
    # from urllib3's HTTPConnection, which every concrete class below also derives from
    host: str
    port: int
    timeout: float | None
    source_address: tuple[str, int] | None
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        last: OSError | None = None
        for addr in self.target.addresses:
            try:
                sock = create_connection((addr, self.port), self.timeout, source_address=self.source_address,
                                         socket_options=self.socket_options)
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"connecting to {self.host} timed out") from exc
            except OSError as exc:
                last = exc
                continue
            self.deadline.watch(sock)
            return sock
        raise NewConnectionError(self, f"cannot connect to {self.host}: {last}")  # type: ignore[arg-type]


class _PinnedHTTP(_PinnedMixin, HTTPConnection):
    pass


class _PinnedHTTPS(_PinnedMixin, HTTPSConnection):
    pass


def _pool(scheme: str, target: addresses.Target, port: int, timeout: float,
          deadline: _Deadline) -> urllib3.HTTPConnectionPool:
    """A one-connection pool for one hop; the connection class carries the hop's target and watchdog."""
    attrs = {"target": target, "deadline": deadline}
    t = urllib3.Timeout(connect=timeout, read=timeout)
    if scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            target.host, port, timeout=t, retries=False, maxsize=1, cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where())
        pool.ConnectionCls = type("PinnedHTTPS", (_PinnedHTTPS,), attrs)
    else:
        pool = urllib3.HTTPConnectionPool(target.host, port, timeout=t, retries=False, maxsize=1)
        pool.ConnectionCls = type("PinnedHTTP", (_PinnedHTTP,), attrs)
    return pool


def _read_capped(resp: urllib3.BaseHTTPResponse, url: str, cap: int) -> bytes:
    declared = resp.headers.get("Content-Length") or ""
    if declared.isdigit() and int(declared) > cap:
        raise ExtractionError(f"{url} is {int(declared):,} bytes, over the {cap:,}-byte cap (max_page_bytes)")
    chunks, size = [], 0
    for chunk in resp.stream(CHUNK, decode_content=True):
        size += len(chunk)
        if size > cap:
            raise ExtractionError(f"{url} is larger than the {cap:,}-byte cap (max_page_bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def _split(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an http(s) URL; FetchError for anything else."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        host, port = parts.hostname or "", parts.port
    except ValueError:  # a port that is not a number
        raise FetchError(f"GET {url} failed: invalid URL") from None
    if scheme not in ("http", "https") or not host:
        raise FetchError(f"GET {url} failed: not an http(s) URL")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise FetchError(f"GET {url} failed: invalid host name") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), path


def _exchange(url: str, headers: dict[str, str], timeout: float, deadline: _Deadline,
              internal_ok: frozenset[str] | None) -> tuple[urllib3.BaseHTTPResponse, str, frozenset[str]]:
    """Send the GET and follow redirects, each hop checked and pinned. Returns the final response (body not read
    yet), its URL and the internal addresses the request may reach."""
    for _hop in range(MAX_REDIRECTS + 1):
        scheme, host, port, path = _split(url)
        try:
            target = addresses.check(host, port, internal_ok)
        except addresses.BlockedAddress as exc:
            raise BlockedAddressError(f"GET {url} refused: {exc}") from None
        except (OSError, UnicodeError):
            raise NewConnectionError(None, f"cannot resolve {host}") from None  # type: ignore[arg-type]
        if internal_ok is None:  # the user's own URL: its internal addresses are the only ones its hops may use
            internal_ok = addresses.internal_of(target)
        resp = _pool(scheme, target, port, timeout, deadline).urlopen(
            "GET", path, headers=headers, redirect=False, retries=False, preload_content=False,
            decode_content=True, assert_same_host=False)
        location = resp.headers.get("Location")
        if resp.status not in REDIRECT_STATUSES or not location:
            return resp, url, internal_ok
        resp.drain_conn()
        resp.release_conn()
        url = requote_uri(urljoin(url, location.strip()))
    raise FetchError(f"GET {url} failed: more than {MAX_REDIRECTS} redirects")


def get(url: str, settings: Settings, *, accept: str | None = None, max_bytes: int | None = None,
        rate_key: str | None = None, internal_ok: frozenset[str] | None = None) -> HttpResponse:
    """GET `url` politely. 2xx -> HttpResponse; 404/410 -> SourceNotFoundError; other 4xx -> FetchError
    (with the response attached as `.response` so callers can read an error body); 5xx/429/timeouts/
    connection errors are retried with backoff, then FetchError. A request that takes longer than
    settings.sources.http_deadline_s is a FetchError at once (no retry: the server is too slow).

    `internal_ok` None: `url` is the user's (or the configuration's) own, and may be on any address but a cloud
    metadata service. A set: `url` came from untrusted content (a feed entry) and may reach public addresses and
    only these internal ones (pass the feed's HttpResponse.internal_ok). Redirects never leave that space."""
    url = requote_uri(url)
    key = rate_key_for(url, rate_key)
    interval = _min_interval(key, settings)
    cap = max_bytes or settings.sources.max_page_bytes
    timeout, limit = settings.sources.http_timeout_s, settings.sources.http_deadline_s
    headers = {"User-Agent": settings.sources.user_agent, "Accept-Encoding": "gzip, deflate", "Accept": accept or "*/*"}
    attempts = max(1, settings.sources.http_retries + 1)
    last = ""
    for attempt in range(attempts):
        wait = None
        _limiter.wait(key, interval)
        deadline = _Deadline(limit)
        try:
            resp, final, allowed = _exchange(url, headers, timeout, deadline, internal_ok)
            try:
                status = resp.status
                if 200 <= status < 300:
                    body = _read_capped(resp, url, cap)
                    if deadline.expired:  # a body without a length ends quietly when its socket is shut
                        raise ReadTimeoutError(None, url, "deadline")  # type: ignore[arg-type]
                    return HttpResponse(status, _media_type(resp), body, final, allowed)
                if status in (404, 410):
                    raise SourceNotFoundError(f"not found: {url} ({_reason(resp)})")
                if status not in RETRY_STATUSES:
                    err = FetchError(f"GET {url} failed: {_reason(resp)}")
                    err.response = HttpResponse(  # type: ignore[attr-defined]
                        status, _media_type(resp), _read_capped(resp, url, cap), final, allowed)
                    raise err
                last = _reason(resp)
                wait = _retry_after(resp)
            finally:
                resp.release_conn()
        except (HTTPError, OSError) as exc:
            if deadline.expired:
                raise FetchError(f"GET {url} failed: no complete answer within the {limit:g} s deadline "
                                 "(http_deadline_s)") from None
            if isinstance(exc, urllib3.exceptions.LocationParseError):
                raise FetchError(f"GET {url} failed: invalid URL") from None
            if isinstance(exc, NewConnectionError) or not isinstance(exc, (ConnectTimeoutError, ReadTimeoutError,
                                                                            TimeoutError)):
                last = f"connection failed ({_failure(exc)})"
            else:
                last = f"timed out after {timeout:g} s"
        finally:
            deadline.cancel()
        if attempt + 1 < attempts:
            backoff = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**attempt)
            time.sleep(min(BACKOFF_MAX_S, wait) if wait is not None else backoff)
    raise FetchError(f"GET {url} failed after {attempts} attempts: {last}")


def _failure(exc: BaseException) -> str:
    """A short name for a connection failure ("cannot resolve example.org", "SSLError"...)."""
    if isinstance(exc, NewConnectionError) and str(exc).startswith("cannot resolve"):
        return str(exc)
    reason = getattr(exc, "reason", None)
    return type(reason).__name__ if isinstance(reason, BaseException) else type(exc).__name__
