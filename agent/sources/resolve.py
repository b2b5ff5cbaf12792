"""Turn what the user typed into a SourceRef, and a SourceRef into a Paper with its full text."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from agent.errors import InvalidSourceError
from agent.models import Paper, SourceRef
from agent.publish.files import DiskCache
from agent.settings import Settings
from agent.sources.arxiv import fetch_arxiv
from agent.sources.files import read_file
from agent.sources.ids import EXAMPLES, ID_LIKE, parse_arxiv_id
from agent.sources.web import fetch_web

ARXIV_URL = re.compile(r"^/(abs|pdf|html)/(.+?)(?:\.pdf)?/?$")
ARXIV_HOSTS = {"arxiv.org", "www.arxiv.org", "export.arxiv.org"}
FILE_HINT = re.compile(r"[/\\]|\.(pdf|html?|md|markdown|txt)$", re.IGNORECASE)


def _arxiv_id_or_error(candidate: str, original: str) -> SourceRef:
    ref = parse_arxiv_id(candidate)
    if ref is None:
        raise InvalidSourceError(f"malformed arXiv id {candidate!r} in {original!r} ({EXAMPLES})"
                                 if candidate != original else f"malformed arXiv id {original!r} ({EXAMPLES})")
    return ref


def _resolve_url(text: str) -> SourceRef:
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidSourceError(f"unsupported URL scheme {parts.scheme!r} in {text!r} (use http or https)")
    host = (parts.hostname or "").lower()
    if not host:
        raise InvalidSourceError(f"URL without a host: {text!r}")
    if host in ARXIV_HOSTS:
        m = ARXIV_URL.match(parts.path)
        if m:
            return _arxiv_id_or_error(m.group(2), text)
    return SourceRef(kind="web", locator=text)


def resolve_source(text: str) -> SourceRef:
    """Resolve an arXiv id / arXiv URL / other http(s) URL / local file path into a SourceRef.

    Raises InvalidSourceError with a one-line reason for anything else.
    """
    raw = (text or "").strip()
    if not raw:
        raise InvalidSourceError("empty source: give an arXiv id, a URL or a file path")
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", raw):
        return _resolve_url(raw)
    candidate = re.sub(r"^arxiv:\s*", "", raw, flags=re.IGNORECASE)
    ref = parse_arxiv_id(candidate)
    if ref is not None:
        return ref
    path = Path(raw).expanduser()
    if path.is_file():
        return SourceRef(kind="file", locator=str(path.resolve()))
    if path.is_dir():
        raise InvalidSourceError(f"{raw} is a directory, not a file")
    if candidate != raw or ID_LIKE.match(candidate):
        raise InvalidSourceError(f"malformed arXiv id {candidate!r} ({EXAMPLES})")
    if FILE_HINT.search(raw):
        raise InvalidSourceError(f"file not found: {raw}")
    raise InvalidSourceError(f"not an arXiv id, URL or existing file: {raw!r}")


def fetch_paper(ref: SourceRef, settings: Settings, *, force: bool = False,
                progress: Callable[[str], None] | None = None) -> Paper:
    """Fetch a resolved source (cached on disk; force refetches). Errors are DissectError subclasses."""
    cache = DiskCache(settings.cache_dir)
    if ref.kind == "arxiv":
        return fetch_arxiv(ref, settings, cache, force=force, progress=progress)
    if ref.kind == "web":
        if progress:
            progress(f"fetching {ref.locator}")
        return fetch_web(ref.locator, settings, cache, force=force)
    if progress:
        progress(f"reading {ref.locator}")
    return read_file(Path(ref.locator))

