"""The static site in a real browser: Debian's headless `chromium` (installed by .ci/run) opens the site from
file://, visits every page by following links, checks that every link resolves, that search finds every
report by a word of its title, that no page logs an error (script errors, CSP violations, missing files) and
that nothing overflows a 400 px screen; it saves screenshots at 400 and 1280 px and prints where
($DISSECT_SCREENSHOTS, else a pytest temporary folder)."""
from __future__ import annotations

import json
import os
import re
from collections import deque
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

import pytest

from agent.publish.site import build_site
from agent.settings import load_settings
from tests.support.chromium import Browser, chromium_path
from tests.support.site_fixtures import write_history

SCREENSHOT_PAGES = ["index.html", "reports/2601-11234.html", "digests/2026-01-14.html", "tags/index.html",
                    "search.html?q=debate"]
BODY_TEXT = "main p:not([class]), main li"  # running text, not bylines or labels
LINKS_JS = """JSON.stringify({
  links: Array.from(document.querySelectorAll('a[href], link[href]')).map(a => a.href),
  resources: Array.from(document.querySelectorAll('script[src], img[src]')).map(s => s.src),
  forms: Array.from(document.querySelectorAll('form[action]')).map(f => f.action),
  ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),
  overflow: document.documentElement.scrollWidth - window.innerWidth,
})"""


@pytest.fixture(scope="module")
def browser():
    exe = chromium_path()
    if exe is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium (.ci/run installs it)")
    with Browser(exe) as b:
        yield b


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser-site")
    settings = load_settings({"data_dir": tmp / "data", "reports_dir": tmp / "reports"}, env={})
    results = write_history(settings.paths.data_dir, settings.paths.reports_dir)
    return SimpleNamespace(root=build_site(settings), results=results, tmp=tmp)


def local_path(url: str) -> Path:
    return Path(unquote(urlsplit(url).path))


def test_every_page_every_link_and_no_console_errors(browser, site):
    browser.set_width(1280)
    start = (site.root / "index.html").as_uri()
    queue, seen, ids = deque([start]), set(), {}
    fragments: list[tuple[str, str, str]] = []
    while queue:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        browser.open(url)
        info = json.loads(browser.eval(LINKS_JS))
        page = local_path(url)
        ids[page] = set(info["ids"])
        for target in info["links"] + info["resources"] + info["forms"]:
            parts = urlsplit(target)
            if parts.scheme in ("http", "https"):
                continue  # external: never fetched here (no network), only checked to be plain http(s)
            assert parts.scheme == "file", f"{page}: link {target}"
            path = local_path(target)
            assert path.exists(), f"{page.relative_to(site.tmp)} links to a missing file {path}"
            assert site.tmp in path.parents, f"{page}: link leaves the published folder: {target}"
            if parts.fragment:
                fragments.append((str(page), str(path), parts.fragment))
            if path.suffix == ".html" and site.root in path.parents:
                queue.append(path.as_uri())
    for page, target, fragment in fragments:
        assert fragment in ids.get(Path(target), set()), f"{page}: #{fragment} not found in {target}"
    pages = {local_path(u) for u in seen}
    orphans = [p for p in site.root.rglob("*.html") if p not in pages]
    assert not orphans, f"pages no link reaches: {orphans}"
    assert len(pages) >= 20
    assert browser.errors == [], browser.errors


def test_search_finds_every_report_by_a_word_of_its_title(browser, site):
    browser.set_width(1280)
    for r in site.results:
        words = sorted(re.findall(r"[A-Za-z]{4,}", r.scan.title), key=len, reverse=True)
        word = words[0].lower()
        browser.open((site.root / "search.html").as_uri() + "?q=" + word)
        hrefs = browser.wait_for(
            "Array.from(document.querySelectorAll('#search-results a')).map(a => a.getAttribute('href'))"
            ".join(' ') || ''")
        assert f"reports/{r.slug}.html" in hrefs.split(), f"search for {word!r} missed {r.slug}: {hrefs}"
        assert browser.eval("document.getElementById('search-status').textContent").endswith("found")
    # and from the header of any page: type, press Enter, land on the results
    browser.open((site.root / "reports" / "2601-11234.html").as_uri())
    browser.eval("document.querySelector('header input[name=q]').focus()")
    browser.type_text("benchmark-to-capability")
    browser.press_enter()
    browser.wait_for_load()
    assert browser.eval("location.pathname").endswith("/search.html")
    titles = browser.wait_for("Array.from(document.querySelectorAll('#search-results a')).map(a => a.textContent)"
                              ".join('|') || ''")
    assert "Debate improves scalable oversight of stronger models" in titles.split("|")
    # a hostile title is shown as text, not parsed
    browser.open((site.root / "search.html").as_uri() + "?q=sycophancy")
    browser.wait_for("document.querySelectorAll('#search-results a').length")
    assert browser.eval("document.querySelectorAll('#search-results script, #search-results img').length") == 0
    assert browser.eval("typeof window.alert === 'function' && document.title").startswith("Search")
    assert browser.errors == [], browser.errors


def test_readable_at_400_and_1280_px_with_screenshots(browser, site):
    shots = Path(os.environ.get("DISSECT_SCREENSHOTS") or site.tmp / "screenshots")  # CI may collect them
    for width in (400, 1280):
        browser.set_width(width)
        for rel in SCREENSHOT_PAGES:
            path, _, query = rel.partition("?")
            browser.open((site.root / path).as_uri() + (f"?{query}" if query else ""))
            overflow = browser.eval("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{rel} is {overflow} px wider than a {width} px screen"
            font = browser.eval(f"parseFloat(getComputedStyle(document.querySelector('{BODY_TEXT}')).fontSize)")
            assert font >= 14, f"{rel}: body text {font} px at {width} px"
            browser.screenshot(shots / f"{re.sub(r'[^a-z0-9]+', '-', rel)}-{width}.png")
    print(f"\nsite screenshots: {shots}")
    assert all((shots / f"{re.sub(r'[^a-z0-9]+', '-', rel)}-{w}.png").stat().st_size > 5000
               for rel in SCREENSHOT_PAGES for w in (400, 1280))
    assert browser.errors == [], browser.errors
