"""Publishing a digest: its structured record, its Markdown page, the reports index and the Atom feed.

The record (`<data_dir>/digests/<date>.json`) is the truth; the page (`<reports_dir>/digests/<date>.md`, front
matter key `dissected: N` read by agent.reports.digest_entries) and the feed (`<reports_dir>/feed.xml`, the
latest dissected papers of all digests) are renderings of records. Every write is atomic (agent.publish.files): a full
disk leaves the previous page, index and feed as they were.
"""
from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from agent.digest.ranking import Ranked
from agent.models import DissectionResult
from agent.publish.files import atomic_write_text, inside, read_json, write_json
from agent.publish.render import is_demo_model, render
from agent.settings import Settings

# Characters XML 1.0 forbids (PDF text carries form feeds and other control codes): dropped from feed text.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class Entry(BaseModel):
    """One selected paper of a digest: dissected (with its gist) or failed (with the reason)."""

    id: str
    title: str
    url: str
    score: float
    status: Literal["dissected", "failed"]
    authors: list[str] = []
    report: str = ""  # path relative to reports_dir
    gist: str = ""
    verdict: str = ""
    fallacy: str = ""
    grounding: float = 0.0
    text_origin: str = ""
    error: str = ""
    generated_at: datetime | None = None


class Other(BaseModel):
    """A candidate that was not dissected: below the bar, or above it but beyond the top N."""

    id: str
    title: str
    url: str
    score: float
    why: str


class DigestRecord(BaseModel):
    date: str
    window_start: str
    window_end: str
    generated_at: datetime
    backend: str = ""
    model: str = ""
    threshold: float = 0.0
    max: int = 0
    candidates: int = 0  # papers the search found, before dedupe
    dissected: list[Entry] = []
    failed: list[Entry] = []
    others: list[Other] = []
    skipped: list[dict] = []

    def listed_ids(self) -> set[str]:
        return {e.id for e in [*self.dissected, *self.failed, *self.others]}


def entry_from_result(r: Ranked, result: DissectionResult, report_path: Path, settings: Settings) -> Entry:
    d = result.dissection
    try:
        rel = Path(report_path).resolve().relative_to(Path(settings.paths.reports_dir).resolve()).as_posix()
    except ValueError:
        rel = ""
    return Entry(id=r.id, title=r.title, url=r.url, score=r.score, status="dissected", authors=r.authors,
                 report=rel, gist=d.claims, verdict=d.verdict, fallacy=d.core_fallacy.name,
                 grounding=result.provenance.grounding_rate, text_origin=result.scan.text_origin,
                 generated_at=result.provenance.generated_at)


def entry_failed(r: Ranked, error: str) -> Entry:
    return Entry(id=r.id, title=r.title, url=r.url, score=r.score, status="failed", authors=r.authors,
                 error=" ".join(error.split())[:500])


def record_path(settings: Settings, day: str) -> Path:
    return inside(settings.paths.data_dir, "digests", day + ".json")


def load_records(settings: Settings) -> list[DigestRecord]:
    """Every digest record, newest first; an unreadable one is skipped (it can only lose feed entries)."""
    out = []
    for path in (Path(settings.paths.data_dir) / "digests").glob("[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9].json"):
        raw = read_json(path)
        try:
            out.append(DigestRecord.model_validate(raw))
        except ValueError:
            continue
    return sorted(out, key=lambda r: r.date, reverse=True)


def build_record(state: dict, *, model: str, backend: str, threshold: float) -> DigestRecord:
    outcomes = [Entry.model_validate(e) for e in (state.get("outcomes") or {}).values()]
    by_score = lambda e: (-e.score, e.id)  # noqa: E731
    ranked = [Ranked.model_validate(r) for r in state.get("ranked", [])]
    others = [Other(id=r.id, title=r.title, url=r.url, score=r.score,
                    why="above the bar, beyond the top N" if r.score >= threshold else "below the bar")
              for r in ranked if not r.selected]
    return DigestRecord(
        date=state["day"], window_start=state["start"], window_end=state["end"],
        generated_at=datetime.now(UTC), backend=backend, model=model, threshold=threshold,
        max=state.get("max", 0), candidates=len(state.get("ranked", [])) + len(state.get("skipped", [])),
        dissected=sorted((e for e in outcomes if e.status == "dissected"), key=by_score),
        failed=sorted((e for e in outcomes if e.status == "failed"), key=by_score),
        others=others, skipped=state.get("skipped", []),
    )


def merge_records(old: DigestRecord, new: DigestRecord) -> DigestRecord:
    """A later run for the same date (arXiv's lag, a --since catch-up) adds to the page; its outcomes win."""
    entries = {e.id: e for e in [*old.dissected, *old.failed]}
    entries.update({e.id: e for e in [*new.dissected, *new.failed]})
    others = {o.id: o for o in [*old.others, *new.others] if o.id not in entries}
    by_score = lambda e: (-e.score, e.id)  # noqa: E731
    skipped = [s for s in new.skipped if s["id"] not in entries]
    return new.model_copy(update={
        "window_start": min(old.window_start, new.window_start), "window_end": max(old.window_end, new.window_end),
        "candidates": max(old.candidates, new.candidates),
        "dissected": sorted((e for e in entries.values() if e.status == "dissected"), key=by_score),
        "failed": sorted((e for e in entries.values() if e.status == "failed"), key=by_score),
        "others": sorted(others.values(), key=by_score), "skipped": skipped,
    })


def digest_markdown(record: DigestRecord) -> str:
    return render("reports/digest.md.j2", d=record)


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
    updated = max((e["updated"] for e in entries), default=_iso(records[0].generated_at) if records else
                  _iso(datetime.now(UTC)))
    feed_id = f"{site}/feed.xml" if site else _urn("dissect:feed:" + str(Path(settings.paths.reports_dir).resolve()))
    return render("site/feed.xml.j2", feed_id=feed_id, updated=updated, site=site, entries=entries)


def _iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def write_feed(settings: Settings, *, site_url: str = "", limit: int = 50) -> Path:
    return atomic_write_text(inside(settings.paths.reports_dir, "feed.xml"),
                             feed_xml(settings, load_records(settings), site_url=site_url, limit=limit))


def publish_digest(settings: Settings, opts, state: dict, *, model: str, backend: str) -> DigestRecord:
    """Write the digest's record and page, then refresh the index and the feed (each atomically)."""
    from agent.publish.reports import write_index

    record = build_record(state, model=model, backend=backend, threshold=settings.digest.threshold)
    old = read_json(record_path(settings, record.date))
    if old and not state.get("force"):
        try:
            record = merge_records(DigestRecord.model_validate(old), record)
        except ValueError:
            pass  # an unreadable old record is replaced
    # the record first: it is what a re-run resumes from, and the page, index and feed are rendered from records
    write_json(record_path(settings, record.date), record.model_dump(mode="json"))
    atomic_write_text(inside(settings.paths.reports_dir, "digests", record.date + ".md"), digest_markdown(record))
    write_index(settings)
    write_feed(settings, site_url=opts.site_url, limit=opts.feed_entries)
    return record
