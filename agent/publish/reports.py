"""Publishing dissections: the Markdown report, its JSON twin, and the index. Writes go through agent.storage.

Layout: `<reports_dir>/<yyyy-mm-dd>/<slug>.md` (front matter + Markdown), `<data_dir>/results/<slug>.json` (the
structured result, for feeds, digests and re-rendering), `<reports_dir>/index.md` (rebuilt from the reports'
front matter, so it can never disagree with them).
"""
from __future__ import annotations

import threading
from pathlib import Path

from agent.models import DissectionResult
from agent.publish.files import atomic_write_text, inside, read_json, slugify, write_json
from agent.publish.render import ORIGIN_LABELS, render
from agent.publish.site_data import related_groups
from agent.settings import Settings
from agent.text.frontmatter import split_front_matter

REPORTS_FOLDER = "papers"  # reports/papers/<slug>.md: the date is in the front matter, not the path


def _report_context(result: DissectionResult) -> dict:
    return {
        "r": result,
        "quote_status": {q.where: q.status for q in result.quotes},
        "counts": {s: sum(q.status == s for q in result.quotes) for s in ("verified", "repaired", "unverified")},
        "origin_label": ORIGIN_LABELS.get(result.scan.text_origin, result.scan.text_origin),
        "related": related_groups(result),  # two chunks of one note are one line
    }


def report_markdown(result: DissectionResult) -> str:
    return render("reports/dissection.md.j2", **_report_context(result))


def result_path(settings: Settings, slug: str) -> Path:
    return inside(settings.results_dir, slugify(slug) + ".json")


def load_result(settings: Settings, slug: str) -> DissectionResult | None:
    raw = read_json(result_path(settings, slug))
    try:
        return DissectionResult.model_validate(raw) if raw else None
    except ValueError:
        return None


def save_report(result: DissectionResult, settings: Settings) -> Path:
    """Write the report and its JSON, then refresh the index. Returns the report's path."""
    slug = result.slug
    # one path per source, whatever day it is (re)dissected: digest pages and feeds keep linking to it
    path = inside(settings.paths.reports_dir, REPORTS_FOLDER, slug + ".md")
    write_json(result_path(settings, slug), result.model_dump(mode="json"))
    atomic_write_text(path, report_markdown(result))
    # reports of earlier versions lived in date folders: the one of this source goes once the new one is written
    for old in Path(settings.paths.reports_dir).glob(f"[0-9]*/{slug}.md"):
        if old.resolve() != path:
            old.unlink(missing_ok=True)
    write_index(settings)
    return path


def published_report(settings: Settings, slug: str) -> Path | None:
    """The published report of a source, if there is one (also where earlier versions put it, in date folders)."""
    path = inside(settings.paths.reports_dir, REPORTS_FOLDER, slugify(slug) + ".md")
    if path.exists():
        return path
    return next(iter(Path(settings.paths.reports_dir).glob(f"[0-9]*/{slugify(slug)}.md")), None)


def front_matter(path: Path) -> dict:

    try:
        return split_front_matter(path.read_text(encoding="utf-8"))[0]
    except OSError:
        return {}


def index_entries(settings: Settings) -> list[dict]:
    root = Path(settings.paths.reports_dir)
    entries = []
    for path in root.glob(f"{REPORTS_FOLDER}/*.md"):
        meta = front_matter(path)
        if not meta.get("source_id"):
            continue
        result = load_result(settings, path.stem)
        entries.append({
            "date": result.report_date().isoformat() if result else str(meta.get("generated_at", ""))[:10],
            "path": path.relative_to(root).as_posix(),
            "title": meta.get("title", path.stem),
            "source_id": meta.get("source_id", ""),
            "model": meta.get("model", ""),
            "grounding": float(meta.get("grounding_rate", 0) or 0),
            "verdict": result.dissection.verdict if result else "",
            "html": f"site/reports/{path.stem}.html",
        })
    entries.sort(key=lambda e: (e["date"], e["title"]), reverse=True)
    return entries


def digest_entries(settings: Settings) -> list[dict]:
    out = []
    for path in sorted((Path(settings.paths.reports_dir) / "digests").glob("*.md"), reverse=True):
        meta = front_matter(path)
        count, failed = int(meta.get("dissected", 0) or 0), int(meta.get("failed", 0) or 0)
        if count or failed:  # a day with nothing new is not listed as an empty digest (as on the site)
            out.append({"date": path.stem, "path": f"digests/{path.name}", "html": f"site/digests/{path.stem}.html",
                        "count": count})
    return out


_INDEX_LOCK = threading.Lock()  # digest papers finish in parallel threads: the last writer must see them all


def write_index(settings: Settings) -> Path:
    with _INDEX_LOCK:
        entries, digests = index_entries(settings), digest_entries(settings)
        return atomic_write_text(inside(settings.paths.reports_dir, "index.md"),
                                 render("reports/index.md.j2", entries=entries, digests=digests))
