"""Ingest writing into the related-writing store: web pages, RSS/Atom feeds, sitemaps, files and folders.

Each source becomes one document: fetched (agent.sources.http) or read (agent.sources.files), its main text
extracted (trafilatura via agent.sources.web), capped, chunked, embedded and upserted. One bad source never
stops the others: it is listed in the summary with its reason. Ctrl-C is held off while a document is being
written, so the store only ever holds whole documents; ingest stops after that document.
"""
from __future__ import annotations

import re
import signal
import sys
import threading
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from agent.corpus.store import Store
from agent.errors import ConfigError, DissectError, ExtractionError, InvalidSourceError
from agent.publish.files import sha256, slugify
from agent.sources import http
from agent.sources.files import pdf_to_text, read_file
from agent.sources.web import extract_html

MAX_DOC_CHARS = 300_000  # ~ a book chapter: beyond this a page is capped (and the summary says so)
MIN_PAGE_CHARS = 80  # a web page with less main text than this is a menu or an error page, not writing
MAX_FEED_ENTRIES = 500
FILE_SUFFIXES = {".md", ".markdown", ".txt", ".html", ".htm", ".pdf"}
HTML_TYPES = {"text/html", "application/xhtml+xml"}
XML_TYPES = {"application/rss+xml", "application/atom+xml", "application/xml", "text/xml", "application/rdf+xml"}
ACCEPT = "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,application/xml;q=0.9,*/*;q=0.5"


@dataclass
class IngestSummary:
    """What one ingest call did. Lists hold sources (URLs or file paths)."""

    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source, one-line reason)
    capped: list[str] = field(default_factory=list)  # documents cut to MAX_DOC_CHARS
    chunks: int = 0  # chunks written (added or replaced)
    interrupted: bool = False

    @property
    def ok(self) -> int:
        return len(self.added) + len(self.unchanged) + len(self.replaced)

    def lines(self) -> list[str]:
        out = [f"added {len(self.added)}, unchanged {len(self.unchanged)}, replaced {len(self.replaced)}, "
               f"failed {len(self.failed)} ({self.chunks} chunks written)"]
        out += [f"  capped at {MAX_DOC_CHARS:,} characters: {s}" for s in self.capped]
        out += [f"  failed: {s}: {reason}" for s, reason in self.failed]
        if self.interrupted:
            out.append("  interrupted: the documents listed above were committed; the rest were not ingested")
        return out


@dataclass
class _Doc:
    source: str  # URL or absolute path
    text: str
    meta: dict[str, Any]


# ---- sources ----------------------------------------------------------------------------------------


def _is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def _normalise(source: str) -> str:
    source = source.strip()
    if _is_url(source):
        return urldefrag(source)[0]
    return str(Path(source).expanduser().resolve())


def doc_id_for(source: str) -> str:
    """A readable, stable id from the locator only (so a retitled page still replaces its old version)."""
    tail = [p for p in re.split(r"[/\\]", urlsplit(source).path if _is_url(source) else source) if p]
    name = Path(tail[-1]).stem if tail else urlsplit(source).hostname or "doc"
    return f"{slugify(name, 40)}-{sha256(source, 6)}"


def _expand_folder(folder: Path) -> list[str]:
    files = [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in FILE_SUFFIXES
             and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    return [str(p.resolve()) for p in sorted(files)]


def _read_local(path: str) -> _Doc:
    paper = read_file(Path(path))  # Markdown front matter already becomes title/author/date/url
    meta = {"title": paper.title, "author": ", ".join(paper.authors), "date": paper.published,
            "url": paper.url, "site": "", "kind": paper.text_origin}
    return _Doc(path, paper.text, meta)


def _feed_links(body: bytes, base: str) -> tuple[str, list[str]] | None:
    """('feed' | 'sitemap' | 'sitemapindex', entry URLs) when the body is a feed or sitemap, else None."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    tag = root.tag.rsplit("}", 1)[-1].lower()
    local = lambda el: el.tag.rsplit("}", 1)[-1].lower()  # noqa: E731
    links: list[str] = []
    if tag in ("urlset", "sitemapindex"):
        links = [(el.text or "").strip() for el in root.iter() if local(el) == "loc"]
        kind = "sitemap" if tag == "urlset" else "sitemapindex"
    elif tag in ("rss", "rdf"):
        for item in (el for el in root.iter() if local(el) == "item"):
            link = next((c for c in item if local(c) == "link"), None)
            if link is not None and link.text and link.text.strip():
                links.append(link.text.strip())
        kind = "feed"
    elif tag == "feed":  # Atom: the entry's alternate link
        for entry in (el for el in root if local(el) == "entry"):
            hrefs = [(c.get("rel", "alternate"), c.get("href", "")) for c in entry if local(c) == "link"]
            href = next((h for rel, h in hrefs if rel == "alternate" and h), "")
            if href:
                links.append(href)
        kind = "feed"
    else:
        return None
    links = [urljoin(base, u) for u in links if u]
    return kind, [u for u in links if _is_url(u)][:MAX_FEED_ENTRIES]


def _page_doc(url: str, final_url: str, ctype: str, body: bytes) -> _Doc:
    if b"\x00" in body[:8192] and body[:5] != b"%PDF-":
        raise ExtractionError(f"{url} is binary ({ctype or 'no content type'}), not an HTML page")
    if ctype in HTML_TYPES or (ctype in ("", "application/octet-stream") and body.lstrip()[:1] == b"<"):
        text, meta = extract_html(body, final_url)
        if len((text or "").strip()) < MIN_PAGE_CHARS:  # trafilatura's recall mode returns menus of bare pages
            raise ExtractionError(f"no main text found in {url} ({len(text.strip())} characters)")
        return _Doc(url, text, {
            "title": meta.get("title") or "", "author": meta.get("author") or "",
            "date": meta.get("date") or "", "site": meta.get("site") or meta.get("sitename") or urlsplit(url).hostname,
            "url": url, "kind": "web"})
    if ctype == "application/pdf" or body[:5] == b"%PDF-":
        return _Doc(url, pdf_to_text(body), {"title": Path(urlsplit(url).path).stem, "url": url, "kind": "pdf",
                                             "site": urlsplit(url).hostname})
    if ctype in ("text/plain", "text/markdown"):
        text = body.decode("utf-8", errors="replace")
        return _Doc(url, text, {"title": Path(urlsplit(url).path).stem or url, "url": url, "kind": "text",
                                "site": urlsplit(url).hostname})
    raise ExtractionError(f"{url} is {ctype or 'of unknown type'}, not an HTML page, feed, PDF or text")


# ---- the run ------------------------------------------------------------------------------------------


@contextmanager
def _hold_interrupts() -> Iterator[list[bool]]:
    """Defer Ctrl-C until the block ends, so a document is written whole; yields [interrupted?]."""
    seen = [False]
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return

    def handler(signum, frame):
        seen[0] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, previous)
        if seen[0]:
            raise KeyboardInterrupt  # noqa: B012 - the user's Ctrl-C wins over a failure in the block


class _Run:
    def __init__(self, settings, progress: bool, force: bool):
        self.settings, self.force = settings, force
        self.summary = IngestSummary()
        self.store = Store(settings)
        self.seen: set[str] = set()
        # Links listed by a feed: the internal addresses they may reach (those of the user's feed URL, see
        # agent.sources.addresses); sources the user gave are absent and may be on any address.
        self.internal_ok: dict[str, frozenset[str]] = {}
        self.bar = None
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=0, unit="doc", file=sys.stderr, dynamic_ncols=True, leave=False)

    def queue(self, sources: list[str]) -> list[str]:
        fresh = []
        for src in sources:
            if src not in self.seen:
                self.seen.add(src)
                fresh.append(src)
        if self.bar is not None:
            self.bar.total += len(fresh)
            self.bar.refresh()
        return fresh

    def run(self, sources: list[str]) -> None:
        for src in self.queue(sources):
            try:
                self.one(src)
            except DissectError as exc:
                self.summary.failed.append((src, str(exc)))
            if self.bar is not None:
                self.bar.update(1)

    def one(self, src: str) -> None:
        if not _is_url(src):
            path = Path(src)
            if path.is_dir():
                files = _expand_folder(path)
                if not files:
                    raise InvalidSourceError(f"no .md, .txt, .html or .pdf files in folder {src}")
                return self.run(files)
            if not path.exists():
                raise InvalidSourceError(f"not a URL, file or folder: {src}")
            return self.commit(_read_local(src))
        resp = http.get(src, self.settings, accept=ACCEPT, internal_ok=self.internal_ok.get(src))
        head = resp.body.lstrip()[:200].lower()
        if resp.content_type in XML_TYPES or head.startswith((b"<?xml", b"<rss", b"<feed", b"<urlset")):
            found = _feed_links(resp.body, resp.url)
            if found is not None:
                kind, links = found
                if not links:
                    raise ExtractionError(f"the {kind} at {src} lists no entries")
                for link in links:  # each is checked on the address it connects to, redirects included
                    self.internal_ok.setdefault(link, resp.internal_ok)
                return self.run(links)
        self.commit(_page_doc(src, resp.url, resp.content_type, resp.body))

    def commit(self, doc: _Doc) -> None:
        text = doc.text.strip()
        if not text:
            raise ExtractionError(f"{doc.source} has no text")
        if len(text) > MAX_DOC_CHARS:
            text = text[:MAX_DOC_CHARS].rsplit("\n", 1)[0]
            self.summary.capped.append(doc.source)
        if doc.meta.get("kind") in ("web", "html"):
            text = re.sub(r"\n\s*", "\n\n", text)  # trafilatura puts one newline between paragraphs
        meta = doc.meta | {"source": doc.source, "chars": len(text)}
        with _hold_interrupts():  # a Ctrl-C now is raised once the document is written and counted
            status, n = self.store.upsert_document(doc_id_for(doc.source), text, meta, force=self.force)
            getattr(self.summary, status).append(doc.source)
            if status != "unchanged":
                self.summary.chunks += n


def ingest(sources: list[str], settings, *, progress: bool = True, force: bool = False) -> IngestSummary:
    """Ingest URLs, feed/sitemap URLs, files and folders; duplicates in one call are ingested once.
    Opening the store can raise StoreError; every per-source failure is reported in the summary instead."""
    run = _Run(settings, progress, force)
    try:
        run.run([_normalise(s) for s in sources if s.strip()])
    except KeyboardInterrupt:
        run.summary.interrupted = True
    finally:
        if run.bar is not None:
            run.bar.close()
    return run.summary


def load_manifest(path: str | Path) -> list[str]:
    """Sources listed in a TOML manifest: [[source]] tables with `url` (or `path`, relative to the manifest)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"manifest not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"cannot read manifest {path}: {exc}") from None
    entries = data.get("source", [])
    if not isinstance(entries, list):
        raise ConfigError(f"manifest {path}: expected [[source]] tables")
    out = []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not (entry.get("url") or entry.get("path")):
            raise ConfigError(f"manifest {path}: source #{i} has neither url nor path")
        out.append(str(entry["url"]) if entry.get("url") else str((path.parent / str(entry["path"])).resolve()))
    return out
