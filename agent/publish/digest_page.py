"""Publishing a digest: its structured record, its Markdown page, the reports index and the Atom feed.

The record (`<data_dir>/digests/<date>.json`) is the truth; the page (`<reports_dir>/digests/<date>.md`, front
matter key `dissected: N` read by agent.reports.digest_entries) and the feed (`<reports_dir>/feed.xml`, the
latest dissected papers of all digests) are renderings of records. Every write is atomic (agent.publish.files): a full
disk leaves the previous page, index and feed as they were.
"""
from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from agent.digest.daily_post import DailyPost, daily_post_markdown
from agent.digest.record import DigestRecord, build_record, load_records, merge_records, read_record, record_path
from agent.models import PaperJob
from agent.publish.files import atomic_write_text, inside, write_json
from agent.publish.render import is_demo_model, render
from agent.publish.reports import write_index
from agent.publish.site import build_site
from agent.settings import Settings

log = logging.getLogger("dissect.digest")

# Characters XML 1.0 forbids (PDF text carries form feeds and other control codes): dropped from feed text.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def digest_markdown(record: DigestRecord) -> str:
    return render("reports/digest.md.j2", d=record, post_md=daily_post_markdown(record.post) if record.post else "")


def _xml_clean(value):
    if isinstance(value, str):
        return _XML_ILLEGAL.sub("", value)
    if isinstance(value, dict):
        return {k: _xml_clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_xml_clean(v) for v in value]
    return value


def _urn(name: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def feed_xml(settings: Settings, records: list[DigestRecord], *, site_url: str = "", limit: int = 50) -> str:
    """The Atom feed of the latest dissected papers, one entry per paper (newest digest first)."""
    site = site_url.rstrip("/")
    entries = []
    seen: set[str] = set()
    for rec in records:
        for e in rec.dissected:
            if e.id in seen:
                continue
            seen.add(e.id)
            # the entry links to the report's page on the site (relative to the feed without a site URL)
            page = f"site/reports/{Path(e.report).stem}.html" if e.report else ""
            report_url = (f"{site}/{page}" if site else page) if page else ""
            demo = is_demo_model(rec.model)
            updated = e.generated_at or rec.generated_at
            entries.append(_xml_clean({
                "id": _urn(f"dissect:paper:{e.id}"), "title": ("[demo model] " if demo else "") + e.title,
                "updated": _iso(updated), "alternate": report_url or e.url, "related": e.url if report_url else "",
                "authors": e.authors[:10],
                "summary": ("Demo model output. " if demo else "") + f"{e.gist} Verdict: {e.verdict}",
                "content_html": render("site/feed_entry.html.j2", e=e, digest=rec, report_url=report_url, demo=demo),
                "categories": [e.fallacy] if e.fallacy else [], "digest": rec.date,
            }))
            if len(entries) >= limit:
                break
        if len(entries) >= limit:
            break
    latest: str = _iso(records[0].generated_at) if records else _iso(datetime.now(UTC))
    stamps: list[str] = [str(e["updated"]) for e in entries]
    feed_updated = max(stamps, default=latest)
    feed_id = f"{site}/feed.xml" if site else _urn("dissect:feed:" + str(Path(settings.paths.reports_dir).resolve()))
    return render("site/feed.xml.j2", feed_id=feed_id, updated=feed_updated, site=site, entries=entries)


def _iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def write_feed(settings: Settings, *, site_url: str = "", limit: int = 50) -> Path:
    return atomic_write_text(inside(settings.paths.reports_dir, "feed.xml"),
                             feed_xml(settings, load_records(settings), site_url=site_url, limit=limit))


def publish_digest(settings: Settings, opts, state: dict, jobs: list[PaperJob], *, model: str, backend: str,
                   write_post: Callable[[str], DailyPost | None] | None = None) -> DigestRecord:
    """Write the digest's record and page, then refresh the index, feed and site (each atomically). `write_post`
    writes the daily post on the paper with this id (the day's best); an existing post on the same paper is kept."""
    record = build_record(state, jobs, settings, model=model, backend=backend)
    old = None if state.get("force") else read_record(settings, record.date)
    if old is not None:
        record = merge_records(old, record)
    best = record.dissected[0].id if record.dissected else None
    if best and write_post and (record.post is None or record.post.paper_id != best):
        record = record.model_copy(update={"post": write_post(best)})
    # the record first: the page, index and feed are rendered from records
    write_json(record_path(settings, record.date), record.model_dump(mode="json"))
    atomic_write_text(inside(settings.paths.reports_dir, "digests", record.date + ".md"), digest_markdown(record))
    write_index(settings)
    write_feed(settings, site_url=opts.site_url, limit=opts.feed_entries)
    build_site(settings)  # once per digest, after every report and the page are written
    return record
