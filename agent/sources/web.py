"""Essays and blog posts on the web: one polite GET, trafilatura extraction, cached on disk."""
from __future__ import annotations

import re

from agent.errors import ExtractionError, SourceNotFoundError
from agent.models import Paper, SourceRef
from agent.publish.files import DiskCache
from agent.settings import Settings
from agent.sources import http
from agent.sources.pdf import pdf_text_and_title

HTML_TYPES = {"text/html", "application/xhtml+xml"}
TEXT_TYPES = {"text/plain", "text/markdown"}
ACCEPT = "text/html,application/xhtml+xml;q=0.9,application/pdf;q=0.8,text/plain;q=0.5"
CACHE_NS = "web-page"
# A page needs this many words in real sentences to be worth dissecting: menus, link lists, cookie banners and
# footers ("Copyright 2024 Example Inc. All rights reserved.") stay well below it; a single real paragraph is above.
MIN_PROSE_WORDS = 40
SENTENCE = re.compile(r"[^.!?\n]+[.!?]+[\"'\u201d\u2019)\]]*")


def split_authors(raw: str) -> list[str]:
    return [a.strip() for a in re.split(r";|\s+and\s+", raw or "") if a.strip()]


def extract_html(html: str | bytes, url: str = "") -> tuple[str, dict]:
    """Main text (paragraphs separated by newlines) and metadata (title, author, date, sitename,
    description) of an HTML page; text is "" when trafilatura finds no main content."""
    import trafilatura

    doc = trafilatura.bare_extraction(
        html, url=url or None, with_metadata=True, include_comments=False, include_tables=True,
        favor_recall=True, deduplicate=False,
    )
    if doc is None:
        return "", {}
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    meta = {k: str(data.get(k) or "").strip() for k in ("title", "author", "date", "sitename", "description")}
    text = (data.get("text") or "").strip()
    return text, meta


def prose_words(text: str) -> int:
    """Words of `text` that stand in sentences of four or more words (what navigation and boilerplate lack)."""
    counts = (len(m.group(0).split()) for m in SENTENCE.finditer(text or ""))
    return sum(n for n in counts if n >= 4)


def require_prose(text: str, where: str) -> None:
    """ExtractionError (exit 5) when the extracted text of `where` is not prose: empty, or navigation only."""
    n = prose_words(text)
    if not (text or "").strip():
        raise ExtractionError(f"no main text found in {where} (an empty page or only navigation)")
    if n < MIN_PROSE_WORDS:
        raise ExtractionError(f"no main text found in {where}: only {n} words in sentences, navigation or "
                              f"boilerplate (at least {MIN_PROSE_WORDS} words of prose are needed)")


def _looks_html(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<body" in head


def _classify(resp: http.HttpResponse) -> str:
    """'html', 'pdf' or 'text' from the content type, sniffing the body when the type is missing/generic."""
    ctype = resp.content_type
    if ctype == "application/pdf" or resp.body[:5] == b"%PDF-":
        return "pdf"
    generic = ctype in ("", "application/octet-stream")
    if not (generic or ctype in HTML_TYPES or ctype in TEXT_TYPES):
        raise ExtractionError(f"not an HTML page: {ctype} ({resp.url})")
    if b"\x00" in resp.body[:8192]:
        raise ExtractionError(f"{resp.url} is binary ({ctype or 'no content type'}), not an HTML page")
    if ctype in TEXT_TYPES:
        return "text"
    if ctype in HTML_TYPES or _looks_html(resp.body):
        return "html"
    raise ExtractionError(f"not an HTML page: {ctype or 'no content type'} ({resp.url})")


def _fetch(url: str, settings: Settings, cache: DiskCache, force: bool) -> http.HttpResponse:
    if not force:
        raw = cache.get(CACHE_NS, url)
        meta = cache.get_json(CACHE_NS + "-meta", url)
        if raw is not None and meta:
            return http.HttpResponse(200, meta.get("content_type", ""), raw, meta.get("url", url))
    resp = http.get(url, settings, accept=ACCEPT)
    # Body first, then the small entry that makes it valid: a crash between the two leaves a miss.
    cache.put(CACHE_NS, url, resp.body)
    cache.put_json(CACHE_NS + "-meta", url, {"content_type": resp.content_type, "url": resp.url})
    return resp


def fetch_web(url: str, settings: Settings, cache: DiskCache, force: bool = False) -> Paper:
    """Fetch a web page (or a PDF behind a URL) and extract its main text."""
    try:
        resp = _fetch(url, settings, cache, force)
    except SourceNotFoundError as exc:
        raise SourceNotFoundError(f"page not found: {url} ({str(exc).rsplit('(', 1)[-1]}") from None
    kind = _classify(resp)
    meta: dict = {}
    if kind == "pdf":
        try:
            text, title = pdf_text_and_title(resp.body)
        except ExtractionError as exc:
            raise ExtractionError(f"{url}: {exc}") from None
        meta["title"] = title
    elif kind == "text":
        text = resp.body.decode("utf-8", errors="replace").strip()
    else:
        text, meta = extract_html(resp.body, resp.url)
        require_prose(text, url)
    if not text.strip():
        raise ExtractionError(f"no main text found at {url} (empty page or only navigation)")
    title = meta.get("title") or meta.get("sitename") or url
    return Paper(
        ref=SourceRef(kind="web", locator=url),
        title=title,
        authors=split_authors(meta.get("author", "")),
        published=meta.get("date", ""),
        url=resp.url or url,
        abstract=meta.get("description", ""),
        text=text,
        text_origin="web",
        notes=[f"extracted from a PDF at {url}"] if kind == "pdf" else [],
    )
