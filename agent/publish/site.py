"""The static site under `<reports_dir>/site/`: home, digest days, report pages, tags, archive, search, feeds.

`build_site(settings)` renders everything from the disk (agent.publish.site_data) into a fresh folder next to
the site, then swaps it in by rename: a reader, a crash or a failed render never sees a half-written site, and
a failed build leaves the previous site exactly as it was. Links are relative, so the site works opened from
file:// and from any static host; the only scripts are static files allowed by the pages' CSP (no inline
script), and every piece of untrusted text goes through Jinja's autoescaping.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import re
import shutil
import tempfile
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock

from agent.digest.ranking import load_profile
from agent.digest.record import DigestRecord, load_records
from agent.errors import ConfigError
from agent.publish.files import DiskCache, StorageError, atomic_write_text
from agent.publish.render import ORIGIN_LABELS, TEMPLATES, is_demo_model, render, safe_url
from agent.publish.site_data import (
    TAG_KIND_HEADINGS,
    Tag,
    arxiv_categories,
    assign_facets,
    build_tags,
    facet_label,
    facet_similarities,
    load_results,
    months,
    report_view,
    search_index_js,
)
from agent.settings import Settings

SITE_DIR = "site"
STATIC = TEMPLATES / "site" / "static"
PAGES = "site/pages/"
FEED_LIMIT = 50
_BUILD_LOCK = threading.Lock()  # digest papers finish in parallel threads; the file lock covers other processes


def site_dir(settings: Settings) -> Path:
    return Path(settings.paths.reports_dir) / SITE_DIR


def build_site(settings: Settings) -> Path:
    """Rebuild the whole site and swap it in atomically. Returns the site's folder."""
    reports_dir = Path(settings.paths.reports_dir)
    try:
        reports_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {reports_dir}: {exc.strerror or exc}") from None
    target = reports_dir / SITE_DIR
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise StorageError(f"{target} exists and is not a folder; move it aside to publish the site")
    with _BUILD_LOCK, FileLock(str(reports_dir / ".site.lock")):
        _remove_leftovers(reports_dir)
        build = Path(tempfile.mkdtemp(prefix=".site-build-", dir=reports_dir))
        try:
            for rel, text in site_files(settings).items():
                path = build / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            shutil.copytree(STATIC, build / "static")
            build.chmod(0o755)  # mkdtemp makes it 0700; a static host must read it
            _swap_in(build, target)
        except OSError as exc:
            shutil.rmtree(build, ignore_errors=True)
            raise StorageError(f"cannot write the site under {reports_dir}: {exc.strerror or exc}; "
                               "the previous site is unchanged") from None
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        _redirect_old_view(reports_dir, {p.stem for p in (target / "reports").glob("*.html")})
    return target


# ---- the atomic swap ---------------------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step (Linux renameat2 RENAME_EXCHANGE). False where the system cannot."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.EOPNOTSUPP):
        return False  # a file system or kernel without RENAME_EXCHANGE
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(build: Path, target: Path) -> None:
    if not target.exists():
        os.rename(build, target)
    elif _exchange(build, target):
        shutil.rmtree(build)  # now holds the previous site
    else:  # two renames: for a moment there is no site, but never a half-written one
        old = target.with_name(f".site-old-{uuid.uuid4().hex[:8]}")
        os.rename(target, old)
        os.rename(build, target)
        shutil.rmtree(old, ignore_errors=True)


def _redirect_old_view(reports_dir: Path, slugs: set[str]) -> None:
    """`reports/html/` was the bare HTML view before the site: pages left there become redirects to the site,
    so old bookmarks keep working. Nothing new is written there."""
    old = reports_dir / "html"
    if not old.is_dir():
        return
    for page in old.glob("*.html"):
        target = f"../{SITE_DIR}/reports/{page.stem}.html" if page.stem in slugs else f"../{SITE_DIR}/index.html"
        text = render(PAGES + "redirect.html.j2", target=target)
        if page.read_text(encoding="utf-8", errors="replace") != text:
            atomic_write_text(page, text)


def _remove_leftovers(reports_dir: Path) -> None:
    """Folders of builds killed mid-way (called under the lock, so none of them is in use)."""
    for stale in [*reports_dir.glob(".site-build-*"), *reports_dir.glob(".site-old-*")]:
        shutil.rmtree(stale, ignore_errors=True)


# ---- rendering -----------------------------------------------------------------------------------------


def where_label(where: str) -> str:
    """"hidden_assumptions[1]" -> "hidden assumption 2"."""
    m = re.fullmatch(r"(\w+)\[(\d+)\]", where)
    if m:
        return f"{m.group(1).replace('_', ' ').removesuffix('s')} {int(m.group(2)) + 1}"
    return where.replace("_", " ")


def _page(template: str, root: str, **ctx) -> str:
    return render(PAGES + template, root=root, safe_url=safe_url, **ctx)


def _report_page(view) -> str:
    r = view.result
    return _page("report.html.j2", "../", v=view, r=r, where_label=where_label,
                 quote_status={q.where: q.status for q in r.quotes},
                 counts={s: sum(q.status == s for q in r.quotes) for s in ("verified", "repaired", "unverified")},
                 origin_label=ORIGIN_LABELS.get(r.scan.text_origin, r.scan.text_origin))


def _listed(record: DigestRecord) -> bool:
    """A digest day is published when something happened: papers dissected or failed, not an empty window."""
    return bool(record.dissected or record.failed)


def site_files(settings: Settings) -> dict[str, str]:
    """Every generated file of the site (relative path -> text); the static assets are copied beside them."""
    data_dir, reports_dir = Path(settings.paths.data_dir), Path(settings.paths.reports_dir)
    cache = DiskCache(settings.cache_dir)
    results = load_results(data_dir)
    views = [report_view(r, demo=is_demo_model(r.provenance.model), reports_dir=reports_dir,
                         categories=arxiv_categories(r, cache)) for r in results]
    _tag_facets(settings, views)
    by_slug = {v.slug: v for v in views}
    by_id = {v.result.scan.source_id: v for v in views}
    digests = [d for d in load_records(settings) if _listed(d)]
    for record in reversed(digests):  # the newest digest that listed a paper gives its score
        for entry in record.dissected:
            view = by_id.get(entry.id)
            if view is not None:
                view.score, view.digest_date = entry.score, record.date
    tags = build_tags(views)
    site_url = settings.digest.site_url.rstrip("/")
    common = {"digest_demo": {d.date: is_demo_model(d.model) for d in digests}}

    def slug_of(entry) -> str:
        slug = Path(entry.report).stem if entry.report else ""
        return slug if slug in by_slug else ""

    latest = digests[0] if digests else None
    on_top = {slug_of(e) for e in latest.dissected} if latest else set()
    files = {
        "index.html": _page("home.html.j2", "", views=[v for v in views if v.slug not in on_top][:20],
                            count=len(views), latest=latest, digests=digests[:10], tags=tags,
                            months=months(views)[:12], by_slug=by_slug, slug_of=slug_of, **common),
        "digests/index.html": _page("digests.html.j2", "../", digests=digests, **common),
        "tags/index.html": _page("tags.html.j2", "../", tags=tags, kinds=_kinds(tags)),
        "archive.html": _page("archive.html.j2", "", months=months(views), count=len(views)),
        "search.html": _page("search.html.j2", "", count=len(views)),
        "search-index.js": search_index_js(views),
        "feed.xml": _feed(settings, views, site_url=site_url, title="all dissections", path="feed.xml"),
    }
    for i, record in enumerate(digests):
        newer, older = digests[i - 1] if i else None, digests[i + 1] if i + 1 < len(digests) else None
        files[f"digests/{record.date}.html"] = _page("digest.html.j2", "../", d=record, by_slug=by_slug,
                                                      slug_of=slug_of, newer=newer, older=older, **common)
    for view in views:
        files[view.page] = _report_page(view)
    for tag in tags:
        files[tag.page] = _page("tag.html.j2", "../", tag=tag)
        files[tag.feed] = _feed(settings, tag.reports, site_url=site_url, path=tag.feed,
                                title=f"{tag.kind_label}: {tag.label}")
    return files


def _tag_facets(settings: Settings, views: list) -> None:
    """Tag each report with the profile facets it is closest to. A missing or broken profile gives no topic tags
    (the site must still publish), the reason is in the page footer of the tag index."""
    try:
        profile = load_profile(settings.digest.profile or None)
    except ConfigError:
        return
    labels = [facet_label(f) for f in profile.facets]
    texts = [f"{v.title}. {v.result.scan.first_line} {v.result.dissection.claims}" for v in views]
    sims = facet_similarities(texts, profile.facets, Path(settings.cache_dir) / "site-facets.json")
    for view, row in zip(views, sims, strict=True):
        view.facets = assign_facets(row, labels)


def _kinds(tags: list[Tag]) -> list[tuple[str, list[Tag]]]:
    out: dict[str, list[Tag]] = {}
    for tag in tags:
        out.setdefault(TAG_KIND_HEADINGS[tag.kind], []).append(tag)
    return list(out.items())


def _iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _feed(settings: Settings, views: list, *, site_url: str, title: str, path: str) -> str:
    """An Atom feed of reports, newest first. Links are absolute under DISSECT_SITE_URL when it is set (where
    reports/ is served), else relative to the feed file."""
    base = f"{site_url}/{SITE_DIR}/" if safe_url(site_url) else ""
    up = "" if base else "../" * path.count("/")
    entries = views[:FEED_LIMIT]
    updated = max((_iso(v.result.provenance.generated_at) for v in entries), default="1970-01-01T00:00:00Z")
    return render(PAGES + "feed.xml.j2", title=title, updated=updated, entries=entries, iso=_iso, urn=urn,
                  self_href=(base or up) + path, home=(base or up) + "index.html", link=base or up,
                  feed_id=urn(f"dissect:site:{path}"))


def urn(name: str) -> str:
    """A stable Atom id (entries share the digest feed's: one paper is one entry in every feed)."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"
