"""The one polite HTTP GET every source uses.

Polite means: a descriptive User-Agent, a timeout, a per-host minimum interval between requests (arXiv asks
for one request every 3 seconds), retries with exponential backoff on 5xx/429/timeouts/connection errors,
and a size cap so a huge or endless body cannot fill memory. Every failure becomes one DissectError line.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests

from agent.errors import ExtractionError, FetchError, SourceNotFoundError
from agent.settings import Settings

# Backoff before retry n (0-based) is min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**n). Module constants so that
# tests (and the fixture server) can make retries fast without a settings field nobody else needs.
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 30.0
CHUNK = 64 * 1024

RETRY_STATUSES = {429, 500, 502, 503, 504}
ARXIV_RATE_KEY = "arxiv"

_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass(frozen=True)
class HttpResponse:
    status: int
    content_type: str  # media type only, lower case ("text/html"); "" when the server sent none
    body: bytes
    url: str  # the final URL after redirects


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
_local = threading.local()  # one requests.Session per thread: Sessions are not guaranteed thread-safe


def reset_rate_limits() -> None:
    """Forget all reserved slots (tests use it to start each case from a clean slate)."""
    _limiter.reset()


def _session() -> requests.Session:
    sess = getattr(_local, "session", None)
    if sess is None:
        sess = _local.session = requests.Session()
    return sess


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


def _reason(resp: requests.Response) -> str:
    return f"{resp.status_code} {resp.reason or _REASONS.get(resp.status_code, '')}".strip()


def _retry_after(resp: requests.Response) -> float | None:
    raw = resp.headers.get("Retry-After", "").strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _read_capped(resp: requests.Response, url: str, cap: int) -> bytes:
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        raise ExtractionError(f"{url} is {int(declared):,} bytes, over the {cap:,}-byte cap (max_page_bytes)")
    chunks, size = [], 0
    for chunk in resp.iter_content(CHUNK):
        size += len(chunk)
        if size > cap:
            raise ExtractionError(f"{url} is larger than the {cap:,}-byte cap (max_page_bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def get(url: str, settings: Settings, *, accept: str | None = None, max_bytes: int | None = None,
        rate_key: str | None = None) -> HttpResponse:
    """GET `url` politely. 2xx -> HttpResponse; 404/410 -> SourceNotFoundError; other 4xx -> FetchError
    (with the response attached as `.response` so callers can read an error body); 5xx/429/timeouts/
    connection errors are retried with backoff, then FetchError."""
    key = rate_key_for(url, rate_key)
    interval = _min_interval(key, settings)
    cap = max_bytes or settings.sources.max_page_bytes
    headers = {"User-Agent": settings.sources.user_agent}
    if accept:
        headers["Accept"] = accept
    attempts = max(1, settings.sources.http_retries + 1)
    last = ""
    for attempt in range(attempts):
        wait = None
        _limiter.wait(key, interval)
        try:
            with _session().get(url, headers=headers, timeout=settings.sources.http_timeout_s, stream=True,
                                allow_redirects=True) as resp:
                status = resp.status_code
                if 200 <= status < 300:
                    body = _read_capped(resp, url, cap)
                    ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
                    return HttpResponse(status, ctype, body, resp.url)
                if status in (404, 410):
                    raise SourceNotFoundError(f"not found: {url} ({_reason(resp)})")
                if status not in RETRY_STATUSES:
                    err = FetchError(f"GET {url} failed: {_reason(resp)}")
                    err.response = HttpResponse(  # type: ignore[attr-defined]
                        status, resp.headers.get("Content-Type", "").split(";")[0].strip().lower(),
                        _read_capped(resp, url, cap), resp.url)
                    raise err
                last = _reason(resp)
                wait = _retry_after(resp)
        except requests.exceptions.Timeout:
            last = f"timed out after {settings.sources.http_timeout_s:g} s"
        except requests.exceptions.ConnectionError as exc:
            last = f"connection failed ({type(exc).__name__})"
        except requests.exceptions.RequestException as exc:  # invalid URL, too many redirects...
            raise FetchError(f"GET {url} failed: {exc}") from None
        if attempt + 1 < attempts:
            backoff = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**attempt)
            time.sleep(min(BACKOFF_MAX_S, wait) if wait is not None else backoff)
    raise FetchError(f"GET {url} failed after {attempts} attempts: {last}")
