"""Sources: turn what the user typed into a SourceRef, and a SourceRef into a Paper with its full text."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from agent.errors import InvalidSourceError
from agent.library_logs import quiet_library_logs
from agent.models import Paper, SourceRef
from agent.publish.files import DiskCache
from agent.settings import Settings

# Fetching and extracting is where library log lines come from: quiet by default (the CLI's -v turns them back on).
quiet_library_logs()

# Archives of pre-2007 identifiers ("hep-th/9901001"); knowing them keeps "notes/1234567" from passing as one.
OLD_ARCHIVES = {
    "acc-phys", "adap-org", "alg-geom", "ao-sci", "astro-ph", "atom-ph", "bayes-an", "chao-dyn", "chem-ph",
    "cmp-lg", "comp-gas", "cond-mat", "cs", "dg-ga", "funct-an", "gr-qc", "hep-ex", "hep-lat", "hep-ph",
    "hep-th", "math", "math-ph", "mtrl-th", "nlin", "nucl-ex", "nucl-th", "patt-sol", "physics", "plasm-ph",
    "q-alg", "q-bio", "quant-ph", "solv-int", "supr-con",
}
NEW_ID = re.compile(r"^(\d{2})(\d{2})\.(\d{4,5})(v[1-9]\d*)?$")
OLD_ID = re.compile(r"^([a-z-]+)(\.[A-Z]{2})?/(\d{2})(\d{2})(\d{3})(v[1-9]\d*)?$")
ID_LIKE = re.compile(r"^\d{4}\.\d*(v\d*)?$|^[a-z-]+(\.[A-Za-z]{2})?/\d+(v\d*)?$")
ARXIV_URL = re.compile(r"^/(abs|pdf|html)/(.+?)(?:\.pdf)?/?$")
ARXIV_HOSTS = {"arxiv.org", "www.arxiv.org", "export.arxiv.org"}
FILE_HINT = re.compile(r"[/\\]|\.(pdf|html?|md|markdown|txt)$", re.IGNORECASE)
EXAMPLES = "e.g. 2601.10160, 2601.10160v2 or hep-th/9901001"


def _parse_arxiv_id(text: str) -> SourceRef | None:
    """A SourceRef for a well-formed arXiv id (new or old style, optional version), else None."""
    m = NEW_ID.match(text)
    if m:
        yy, mm, number, version = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4) or ""
        # Four-digit numbers until 2014-12, five from 2015-01 (arXiv's own rule); ids start at 0704.
        digits_ok = len(number) == (4 if yy < 15 else 5)
        if 1 <= mm <= 12 and (yy, mm) >= (7, 4) and digits_ok:
            return SourceRef(kind="arxiv", locator=text[: len(text) - len(version)], version=version)
        return None
    m = OLD_ID.match(text)
    if m and m.group(1) in OLD_ARCHIVES and 1 <= int(m.group(4)) <= 12:
        version = m.group(6) or ""
        return SourceRef(kind="arxiv", locator=text[: len(text) - len(version)], version=version)
    return None


def _arxiv_id_or_error(candidate: str, original: str) -> SourceRef:
    ref = _parse_arxiv_id(candidate)
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
    ref = _parse_arxiv_id(candidate)
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
        from agent.sources.arxiv import fetch_arxiv

        return fetch_arxiv(ref, settings, cache, force=force, progress=progress)
    if ref.kind == "web":
        from agent.sources.web import fetch_web

        if progress:
            progress(f"fetching {ref.locator}")
        return fetch_web(ref.locator, settings, cache, force=force)
    from agent.sources.files import read_file

    if progress:
        progress(f"reading {ref.locator}")
    return read_file(Path(ref.locator))


__all__ = ["resolve_source", "fetch_paper"]
