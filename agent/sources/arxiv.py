"""arXiv papers: metadata through the `arxiv` package, full text from arXiv's HTML rendering, else the PDF,
else the abstract. Every request is polite (agent.sources.http) and every fetched body is cached on disk.

The `arxiv` package builds the query URLs, parses the Atom feed and paginates; its transport is replaced by
`_PoliteSession`, which sends each request through `http.get` so the API shares the User-Agent, timeout,
rate limit (one request per `arxiv_delay_s` across all arXiv hosts) and backoff of every other fetch.
"""
from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import date

import arxiv
import requests

from agent.errors import DissectError, ExtractionError, FetchError, InvalidSourceError, SourceNotFoundError
from agent.models import Paper, SourceRef
from agent.publish.files import DiskCache
from agent.settings import Settings
from agent.sources import http
from agent.sources.ids import parse_arxiv_id as _parse_arxiv_id
from agent.sources.pdf import pdf_to_text
from agent.sources.web import extract_html

ATOM = "{http://www.w3.org/2005/Atom}"
# An arXiv HTML page with less text than this (or than 1.5x the abstract) is a stub such as "HTML is not
# available for the source", not the paper.
MIN_FULLTEXT_CHARS = 1500
NO_HTML_MARKERS = ("HTML is not available for the source", "No HTML for")

Progress = Callable[[str], None] | None
log = logging.getLogger("dissect.sources.arxiv")


def valid_arxiv_id(s: object) -> str | None:
    """The canonical id (without version) when `s` is a well-formed arXiv id, else None.

    New style: YYMM.NNNN (to 2014-12) or YYMM.NNNNN (from 2015-01), optional vN. Old style: archive/YYMMNNN or
    archive.XX/YYMMNNN with a known archive, optional vN. ASCII only, nothing around it: an id from the network
    (an Atom entry's <id>) is untrusted and must never be able to name a path or a URL."""
    if not isinstance(s, str) or not s or not s.isascii() or s != s.strip():
        return None
    ref = _parse_arxiv_id(s)
    return ref.locator if ref is not None else None


def _say(progress: Progress, line: str) -> None:
    if progress:
        progress(line)


def error_feed_message(body: bytes) -> str:
    """arXiv's message from an error feed (an entry titled "Error"), or "" when the body is not one."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return ""
    for entry in root.iter(ATOM + "entry"):
        if (entry.findtext(ATOM + "title") or "").strip() == "Error":
            return " ".join((entry.findtext(ATOM + "summary") or "unknown error").split())
    return ""


def is_atom_feed(body: bytes) -> bool:
    """True when `body` parses as XML whose root is an Atom <feed> (what every answer of the API is)."""
    try:
        return ET.fromstring(body).tag == ATOM + "feed"
    except ET.ParseError:
        return False


class _PoliteSession(requests.Session):
    """What arxiv.Client calls `self._session.get(url, headers=...)` on: delegates to http.get."""

    def __init__(self, settings: Settings):
        super().__init__()
        self.settings = settings

    def get(self, url, **_ignored):  # the client's own user-agent header is replaced by ours
        try:
            got = http.get(url, self.settings, accept="application/atom+xml", rate_key=http.ARXIV_RATE_KEY)
        except FetchError as exc:
            resp = getattr(exc, "response", None)
            message = error_feed_message(resp.body) if resp is not None else ""
            if message:
                raise InvalidSourceError(f"arXiv rejected the request: {message}") from None
            raise
        except SourceNotFoundError:
            raise FetchError(f"no arXiv API at {url.split('?')[0]} (HTTP 404; check DISSECT_ARXIV_API_URL)") from None
        if not is_atom_feed(got.body):  # feedparser would read a broken answer as "no results"
            raise FetchError(f"the arXiv API at {url.split('?')[0]} returned {got.content_type or 'a body'}, "
                             "not an Atom feed (not well-formed XML with a <feed> root)")
        message = error_feed_message(got.body)
        if message:  # the API has also been seen to send error feeds with HTTP 200
            raise InvalidSourceError(f"arXiv rejected the request: {message}")
        out = requests.Response()
        out.status_code, out._content, out.url = 200, got.body, got.url
        out.headers["Content-Type"] = got.content_type
        return out


def _client(settings: Settings, page_size: int = 100) -> arxiv.Client:
    client = arxiv.Client(page_size=page_size, delay_seconds=settings.sources.arxiv_delay_s,
                          num_retries=settings.sources.http_retries)
    base = settings.sources.arxiv_api_url.replace("{", "{{").replace("}", "}}")
    client.query_url_format = base + ("&" if "?" in base else "?") + "{}"
    client._session = _PoliteSession(settings)  # the package has no public hook for its transport
    return client


def _results(client: arxiv.Client, search: arxiv.Search) -> list[arxiv.Result]:
    try:
        return list(client.results(search))
    except arxiv.ArxivError as exc:  # e.g. an unexpectedly empty page while paginating, after retries
        raise FetchError(f"arXiv API failed: {exc.message}") from None


def _meta(result: arxiv.Result) -> dict | None:
    """The metadata of one API entry, or None when its id is not an arXiv id (then nothing of it is used)."""
    short_id = result.get_short_id()
    bare = valid_arxiv_id(short_id)
    if bare is None:
        return None
    version = short_id[len(bare):]
    return {
        "id": bare,
        "version": version,
        "title": " ".join(result.title.split()),
        "authors": [a.name for a in result.authors],
        "published": result.published.date().isoformat(),
        "abstract": " ".join(result.summary.split()),
        "categories": list(result.categories),
    }


def _paper(meta: dict, ref: SourceRef, text: str, origin: str, notes: list[str]) -> Paper:
    return Paper(
        ref=ref,
        title=meta["title"] or ref.locator,
        authors=meta["authors"],
        published=meta["published"],
        url=f"https://arxiv.org/abs/{ref.locator}{ref.version}",
        abstract=meta["abstract"],
        categories=meta["categories"],
        text=text,
        text_origin=origin,
        notes=notes,
    )


def fetch_metadata(ref: SourceRef, settings: Settings, cache: DiskCache, force: bool = False) -> dict:
    full_id = ref.locator + ref.version
    meta = None if force else cache.get_json("arxiv-meta", full_id)
    if meta:
        return meta
    results = _results(_client(settings), arxiv.Search(id_list=[full_id], max_results=1))
    if not results:
        raise SourceNotFoundError(f"arXiv has no paper {full_id}")
    meta = _meta(results[0])
    if meta is None:
        raise FetchError(f"the arXiv API answered {full_id} with {results[0].entry_id[:120]!r}, "
                         "which is not an arXiv id")
    cache.put_json("arxiv-meta", full_id, meta)
    return meta


def _cached_get(url: str, ns: str, key: str, settings: Settings, cache: DiskCache, force: bool) -> bytes:
    body = None if force else cache.get(ns, key)
    if body is None:
        body = http.get(url, settings, rate_key=http.ARXIV_RATE_KEY).body
        cache.put(ns, key, body)
    return body


def _html_text(full_id: str, settings: Settings, cache: DiskCache, force: bool, abstract: str) -> str:
    url = settings.sources.arxiv_html_url.format(id=full_id)
    text, _ = extract_html(_cached_get(url, "arxiv-html", full_id, settings, cache, force), url)
    needed = max(MIN_FULLTEXT_CHARS, int(1.5 * len(abstract)))
    if any(m in text[:2000] for m in NO_HTML_MARKERS) or len(text) < needed:
        raise ExtractionError(f"the HTML page has too little text ({len(text)} characters)")
    return text


def _pdf_text(full_id: str, settings: Settings, cache: DiskCache, force: bool) -> str:
    url = settings.sources.arxiv_pdf_url.format(id=full_id)
    return pdf_to_text(_cached_get(url, "arxiv-pdf", full_id, settings, cache, force))


def _why(exc: DissectError) -> str:
    if isinstance(exc, SourceNotFoundError):
        return "not found (404)"
    return str(exc)


def fetch_arxiv(ref: SourceRef, settings: Settings, cache: DiskCache, force: bool = False,
                progress: Progress = None) -> Paper:
    """Metadata and full text of an arXiv paper; a re-run is served from the disk cache (force refetches)."""
    full_id = ref.locator + ref.version
    if not force:
        cached = cache.get_json("arxiv-paper", full_id)
        if cached:
            try:
                return Paper.model_validate(cached)
            except ValueError:
                pass  # an entry from an older schema: fetch again
    _say(progress, f"arXiv {full_id}: metadata")
    meta = fetch_metadata(ref, settings, cache, force)
    notes: list[str] = []
    transient = False  # a timeout or 5xx: do not cache the fallback, so a later run tries again
    try:
        _say(progress, f"arXiv {full_id}: HTML full text")
        text, origin = _html_text(full_id, settings, cache, force, meta["abstract"]), "arxiv-html"
    except (SourceNotFoundError, FetchError, ExtractionError) as html_exc:
        transient |= isinstance(html_exc, FetchError)
        _say(progress, f"arXiv {full_id}: HTML unavailable ({_why(html_exc)}); trying the PDF")
        try:
            text, origin = _pdf_text(full_id, settings, cache, force), "arxiv-pdf"
            notes.append(f"HTML unavailable ({_why(html_exc)}); used the PDF")
        except (SourceNotFoundError, FetchError, ExtractionError) as pdf_exc:
            transient |= isinstance(pdf_exc, FetchError)
            _say(progress, f"arXiv {full_id}: PDF unavailable ({_why(pdf_exc)}); using the abstract")
            text, origin = meta["abstract"], "arxiv-abstract"
            notes.append(f"HTML unavailable ({_why(html_exc)}); PDF unavailable ({_why(pdf_exc)}); "
                         "only the abstract was read")
    if not text.strip():
        raise ExtractionError(f"arXiv {full_id} has no full text and an empty abstract")
    paper = _paper(meta, ref, text, origin, notes)
    if not transient:
        cache.put_json("arxiv-paper", full_id, paper.model_dump(mode="json"))
    return paper


def search_query(categories: list[str], start: date, end: date, query: str = "") -> str:
    """arXiv API search_query for papers submitted in [start, end] (whole days, UTC) in any of `categories`."""
    terms = [f"submittedDate:[{start:%Y%m%d}0000 TO {end:%Y%m%d}2359]"]
    cats = [c.strip() for c in categories if c.strip()]
    for cat in cats:
        if not re.fullmatch(r"[A-Za-z-]+(\.[A-Za-z-]+)?", cat):
            raise InvalidSourceError(f"not an arXiv category: {cat!r} (expected e.g. cs.AI)")
    if cats:
        terms.insert(0, "(" + " OR ".join(f"cat:{c}" for c in cats) + ")")
    if query.strip():
        terms.append(f"({query.strip()})")
    return " AND ".join(terms)


def search_arxiv(settings: Settings, *, categories: list[str], start: date, end: date, query: str = "",
                 max_results: int = 200) -> list[Paper]:
    """Papers submitted between `start` and `end` (inclusive) in `categories`, newest first, as metadata-only
    Papers (text = abstract). Nothing found is an empty list."""
    if end < start:
        raise InvalidSourceError(f"search window ends ({end}) before it starts ({start})")
    search = arxiv.Search(query=search_query(categories, start, end, query), max_results=max_results,
                          sort_by=arxiv.SortCriterion.SubmittedDate, sort_order=arxiv.SortOrder.Descending)
    results = _results(_client(settings, page_size=min(max(max_results, 1), 200)), search)
    papers = []
    for result in results:
        meta = _meta(result)
        if meta is None:
            log.warning("dropped a search result whose id is not an arXiv id: %r", result.entry_id[:200])
            continue
        ref = SourceRef(kind="arxiv", locator=meta["id"])
        papers.append(_paper(meta, ref, meta["abstract"], "arxiv-abstract", []))
    return papers


def remember_metadata(settings: Settings, papers: list[Paper]) -> None:
    """Cache the metadata of search results the way fetch_metadata does, so that dissecting them does not ask
    the API again (at one request per 3 s, that adds up over a digest)."""
    cache = DiskCache(settings.cache_dir)
    for p in papers:
        if cache.get("arxiv-meta", p.source_id) is None:
            cache.put_json("arxiv-meta", p.source_id, {
                "id": p.source_id, "version": "", "title": p.title, "authors": p.authors,
                "published": p.published, "abstract": p.abstract, "categories": p.categories})
