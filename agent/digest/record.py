"""A digest day's record (<data_dir>/digests/<date>.json): what was dissected, what failed, what else was listed.
The page, the index, the feed and the site are renderings of records (agent.publish)."""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, computed_field

from agent.digest.daily_post import DailyPost
from agent.digest.ranking import Ranked
from agent.models import PaperJob
from agent.pricing import total_cost
from agent.publish.files import inside, read_json
from agent.settings import Settings

log = logging.getLogger("dissect.digest")


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
    cost_usd: float | None = None  # of this paper's model calls (None: price unknown)


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
    post: DailyPost | None = None  # the day's post on its best paper

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cost_usd(self) -> float | None:
        """The day's model cost: the sum of the known costs of its dissected papers (None: none known)."""
        return total_cost([e.cost_usd for e in self.dissected])

    def listed_ids(self) -> set[str]:
        return {e.id for e in self.dissected} | {e.id for e in self.failed} | {o.id for o in self.others}


def entry_for_job(job: PaperJob, ranked: Ranked | None, settings: Settings) -> Entry | None:
    """The page's entry for one of the day's paper jobs: dissected (published), failed, or None (unfinished)."""
    paper = job.paper
    title = ranked.title if ranked else (paper.title if paper else job.source)
    url = ranked.url if ranked else (paper.url if paper else "")
    authors = ranked.authors if ranked else (paper.authors if paper else [])
    score = ranked.score if ranked else (job.score or 0.0)
    if job.error:
        return Entry(id=job.source, title=title, url=url, score=score, status="failed", authors=authors,
                     error=" ".join(job.error.split())[:500])
    if job.held_back or not job.report_path or job.result is None:
        return None
    result, d = job.result, job.result.dissection
    try:
        rel = Path(job.report_path).resolve().relative_to(Path(settings.paths.reports_dir).resolve()).as_posix()
    except ValueError:
        rel = ""
    return Entry(id=job.source, title=title, url=url, score=score, status="dissected", authors=authors,
                 report=rel, gist=d.claims, verdict=d.verdict, fallacy=d.core_fallacy.name,
                 grounding=result.provenance.grounding_rate, text_origin=result.scan.text_origin,
                 generated_at=result.provenance.generated_at, cost_usd=result.provenance.cost_usd)


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


def build_record(state: dict, jobs: list[PaperJob], settings: Settings, *, model: str, backend: str
                 ) -> DigestRecord:
    """The day's record from the run's state (what was ranked) and the day's jobs (what was done)."""
    threshold = settings.digest.threshold
    ranked = {r.id: r for r in (Ranked.model_validate(x) for x in state.get("ranked", []))}
    outcomes = [e for e in (entry_for_job(j, ranked.get(j.source), settings) for j in jobs) if e is not None]
    done = {e.id for e in outcomes}
    by_score = lambda e: (-e.score, e.id)  # noqa: E731
    held = {j.source: j.held_back for j in jobs if j.held_back}
    others = [Other(id=r.id, title=r.title, url=r.url, score=r.score,
                    why="above the bar, beyond the top N" if r.score >= threshold else "below the bar")
              for r in ranked.values() if r.id not in done and not r.selected]
    others += [Other(id=r.id, title=r.title, url=r.url, score=r.score, why=f"not dissected: {held[r.id]}")
               for r in ranked.values() if r.id in held]
    return DigestRecord(
        date=state["day"], window_start=state["start"], window_end=state["end"],
        generated_at=datetime.now(UTC), backend=backend, model=model, threshold=threshold,
        max=state.get("max", 0), candidates=len(ranked) + len(state.get("skipped", [])),
        dissected=sorted((e for e in outcomes if e.status == "dissected"), key=by_score),
        failed=sorted((e for e in outcomes if e.status == "failed"), key=by_score),
        others=sorted(others, key=by_score), skipped=state.get("skipped", []),
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
        "others": sorted(others.values(), key=by_score), "skipped": skipped, "post": new.post or old.post,
    })


def read_record(settings: Settings, day: str) -> DigestRecord | None:
    """The day's record, or None. A corrupt one is moved aside and named in the log, never silently replaced by an
    empty one: the page is rebuilt from the day's jobs."""
    path = record_path(settings, day)
    raw = read_json(path)
    if raw is None:
        if path.exists():
            _set_aside(path)
        return None
    try:
        return DigestRecord.model_validate(raw)
    except ValueError:
        _set_aside(path)
        return None


def _set_aside(path: Path) -> None:
    aside = path.with_suffix(".corrupt.json")
    try:
        path.replace(aside)
        log.warning("the digest record %s was unreadable; kept as %s and rebuilt from the day's jobs", path, aside)
    except OSError as exc:
        log.warning("the digest record %s is unreadable and could not be moved aside (%s)", path, exc)
