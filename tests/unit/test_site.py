"""The static site builder (agent.publish.site): escaping, tags and counts, honest labels, no leaked paths,
atomic rebuilds. The browser-level checks (links, search, console, widths) are in tests/e2e/test_site_browser.py."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent.models import AnalysisSummary, WeakStep
from agent.publish import site as site_mod
from agent.publish.files import StorageError
from agent.publish.render import is_demo_model, render, safe_url, source_label
from agent.publish.site import build_site, where_label
from agent.publish.site_data import (
    assign_facets,
    facet_label,
    related_groups,
    report_view,
    search_index_js,
    verdict_stance,
)
from agent.settings import load_settings
from tests.support.site_fixtures import (
    DEMO_MODEL,
    HOSTILE_TITLE,
    PRIVATE_DIR,
    fixture_records,
    fixture_results,
    write_history,
)

ATOM = "{http://www.w3.org/2005/Atom}"


def site_settings(tmp_path: Path):
    return load_settings({"data_dir": tmp_path / "data", "reports_dir": tmp_path / "reports"}, env={})


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One site built from the fixture history (the MiniLM facet tagging runs once for the module)."""
    tmp = tmp_path_factory.mktemp("site")
    settings = site_settings(tmp)
    write_history(settings.paths.data_dir, settings.paths.reports_dir)
    return SimpleNamespace(settings=settings, root=build_site(settings), tmp=tmp)


def read(root: Path, rel: str) -> str:
    return (root / rel).read_text(encoding="utf-8")


def all_files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in root.rglob("*") if p.is_file()}


class Tags(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html_text: str) -> Tags:
    parser = Tags()
    parser.feed(html_text)
    return parser


def test_hostile_title_stays_text_in_pages_index_and_feeds(built):
    files = all_files(built.root)
    for rel, text in files.items():
        if rel.endswith(".html"):
            parsed = parse(text)
            for tag, attrs in parsed.tags:
                assert not any(name.startswith("on") for name in attrs), (rel, tag, attrs)
                if tag == "script":  # no inline script anywhere: only the two script files
                    assert attrs.get("src", "").endswith(("static/search.js", "search-index.js")), rel
                assert tag != "img", rel
            assert "<script>alert" not in text and "<b>solved</b>" not in text, rel
    report = read(built.root, "reports/2601-10160.html")
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in report
    assert HOSTILE_TITLE.replace("\u2028", " ").split()[0] in " ".join(parse(report).text).replace("\u2028", " ")

    index_js = files["search-index.js"]
    assert not re.search(r"[<>&\u2028\u2029]", index_js) and index_js.isascii()
    rows = json.loads(index_js.removeprefix("window.DISSECT_SEARCH = ").rstrip().removesuffix(";"))
    assert HOSTILE_TITLE in [r["t"] for r in rows]

    feed = ET.fromstring(files["feed.xml"])  # well-formed, and the title round-trips as text
    titles = [e.findtext(f"{ATOM}title") for e in feed.iter(f"{ATOM}entry")]
    assert HOSTILE_TITLE in titles
    content = next(e.findtext(f"{ATOM}content") for e in feed.iter(f"{ATOM}entry")
                   if e.findtext(f"{ATOM}title") == HOSTILE_TITLE)
    assert "<script>" not in content and "&lt;/script&gt;" in content  # type="html": escaped once more in XML


def test_csp_allows_only_the_stylesheet_and_script_files(built):
    for rel, text in all_files(built.root).items():
        if rel.endswith(".html"):
            csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text).group(1)
            assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert "<style" not in text and " style=" not in text, rel


def test_links_are_relative_or_http(built):
    for rel, text in all_files(built.root).items():
        if not rel.endswith(".html"):
            continue
        for _tag, attrs in parse(text).tags:
            for name in ("href", "src", "action"):
                value = attrs.get(name)
                if value is None:
                    continue
                assert not value.startswith(("/", "file:", "javascript:", "data:")), (rel, value)
                if ":" in value.split("/", 1)[0]:
                    assert value.startswith(("http://", "https://")), (rel, value)


def test_no_absolute_path_leaks(built):
    for rel, text in all_files(built.root).items():
        assert PRIVATE_DIR not in text, rel
        assert str(built.tmp) not in text, rel
    essay = next(r for r in fixture_results() if r.scan.kind == "file")
    page = read(built.root, f"reports/{essay.slug}.html")
    assert "shutdown-essay.md" in page
    # and the grouped related note (a local file with no URL) is named by title, never linked
    debate = read(built.root, "reports/2601-11234.html")
    assert "corrigibility-notes.md" not in debate


def test_tag_pages_and_counts(built):
    results = fixture_results()
    tags_index = read(built.root, "tags/index.html")
    cs_ai = sum("cs.AI" in c for c in [["cs.AI", "cs.LG"], ["cs.LG"], ["cs.CL", "cs.AI"]])
    assert cs_ai == 2
    assert re.search(r'href="../tags/arxiv-cs-ai.html">cs.AI</a> <span class="count">2 reports</span>', tags_index)
    assert "2 reports tagged “cs.AI”" in read(built.root, "tags/arxiv-cs-ai.html")
    for r in results:  # every named fallacy has its page, with a count that matches its cards
        name = r.dissection.core_fallacy.name
        page = read(built.root, f"tags/fallacy-{re.sub(r'[^a-z0-9]+', '-', name)}.html")
        n = sum(x.dissection.core_fallacy.name == name for x in results)
        assert f"{n} report{'s' if n != 1 else ''} tagged “{name}”" in page
        assert page.count('<article class="card">') == n
    stances = {p.stem for p in (built.root / "tags").glob("stance-*.html")}
    assert {"stance-unsupported", "stance-overstated", "stance-sound", "stance-mixed"} <= stances
    assert list((built.root / "tags").glob("topic-*.html")), "the profile's facets tag at least one report"
    for page in (built.root / "tags").glob("*-*.html"):  # a feed beside every tag page
        feed = ET.parse(built.root / "feeds" / (page.stem + ".xml")).getroot()
        n = len(list(feed.iter(f"{ATOM}entry")))
        assert f"{n} report{'s' if n != 1 else ''} tagged" in page.read_text()


def test_digest_days_scores_and_html_links(built):
    home = read(built.root, "index.html")
    assert "Alignment digest" in home and "2026-01-15" in home
    assert home.index("2026-01-15") < home.index("More dissections")  # the latest digest is on top
    assert not (built.root / "digests" / "2026-01-16.html").exists()  # nothing new that day: not listed
    assert "2026-01-16" not in home and "2026-01-16" not in read(built.root, "digests/index.html")
    day = read(built.root, "digests/2026-01-14.html")
    assert '<a href="../reports/2601-11234.html">full dissection</a>' in day
    assert "Self-critique replaces human raters" in day and "timed out" in day  # a failure is shown, not hidden
    page = read(built.root, "reports/2601-11234.html")
    assert "Relevance to the interest profile: <strong>0.91</strong>" in page
    assert 'href="../digests/2026-01-14.html"' in page
    assert re.search(r"\d+ min read", page) and "2026-01-14" in page
    archive = read(built.root, "archive.html")
    assert archive.index('id="m-2026-01"') < archive.index('id="m-2025-12"')
    feed = ET.parse(built.root / "feed.xml").getroot()
    links = [e.find(f"{ATOM}link[@rel='alternate']").get("href") for e in feed.iter(f"{ATOM}entry")]
    assert links and all(re.fullmatch(r"reports/[a-z0-9-]+\.html", h) for h in links)


def test_quotes_with_status_and_related_grouped(built):
    page = read(built.root, "reports/2601-11234.html")
    assert page.count('class="status status-verified"') >= 2 and "status-repaired" in page
    assert "the model wrote: The grader agrees with labels 94% of the time." in page
    assert page.count("Notes on corrigibility") == 1 and "2 passages" in page


def test_demo_model_is_labelled(built):
    demo, real = read(built.root, "reports/2601-12007.html"), read(built.root, "reports/2601-11234.html")
    assert 'class="demo-label"' in demo and "not as a critique" in demo
    assert "demo-label" not in real
    day = read(built.root, "digests/2026-01-14.html")
    card = day[day.index("Reward hacking detection with probes"):]
    assert "demo model" in card[: card.index("</article>")]
    feed = ET.parse(built.root / "feed.xml").getroot()
    titles = [e.findtext(f"{ATOM}title") for e in feed.iter(f"{ATOM}entry")]
    assert "[demo model] Reward hacking detection with probes" in titles
    assert is_demo_model(DEMO_MODEL) and is_demo_model(DEMO_MODEL + ".gguf") and not is_demo_model("gpt-4o-mini")


def test_rebuild_is_a_pure_function_of_the_disk(built, tmp_path):
    first = all_files(built.root)
    settings = built.settings
    assert all_files(build_site(settings)) == first
    assert not list(Path(settings.paths.reports_dir).glob(".site-*"))


@pytest.mark.parametrize("fail_at", ["render", "write"])
def test_failed_rebuild_keeps_the_previous_site(tmp_path, monkeypatch, fail_at):
    settings = site_settings(tmp_path)
    write_history(settings.paths.data_dir, settings.paths.reports_dir)
    root = build_site(settings)
    before = all_files(root)
    # a new report arrives, and the rebuild fails half-way
    extra = fixture_results()[0].model_copy(deep=True)
    extra.scan.source_id, extra.scan.title = "2601.99998", "A report that must not appear"
    (Path(settings.paths.data_dir) / "results" / "2601-99998.json").write_text(extra.model_dump_json())
    if fail_at == "render":
        monkeypatch.setattr(site_mod, "_report_page", lambda view: (_ for _ in ()).throw(ValueError("boom")))
        with pytest.raises(ValueError):
            build_site(settings)
    else:
        def copytree(src, dst, *a, **kw):
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(site_mod.shutil, "copytree", copytree)
        with pytest.raises(StorageError, match="previous site is unchanged"):
            build_site(settings)
    assert all_files(root) == before
    assert not list(Path(settings.paths.reports_dir).glob(".site-*"))  # the half-built folder is gone
    monkeypatch.undo()
    assert "A report that must not appear" in read(build_site(settings), "index.html")


def test_swap_without_rename_exchange_and_leftovers(tmp_path, monkeypatch):
    settings = site_settings(tmp_path)
    write_history(settings.paths.data_dir, settings.paths.reports_dir)
    build_site(settings)
    stale = Path(settings.paths.reports_dir) / ".site-build-killed"
    (stale / "reports").mkdir(parents=True)
    monkeypatch.setattr(site_mod, "_exchange", lambda a, b: False)
    root = build_site(settings)
    assert (root / "index.html").is_file() and not stale.exists()
    assert sorted(p.name for p in Path(settings.paths.reports_dir).iterdir() if p.name.startswith(".site")) == \
        [".site.lock"]


def test_a_file_where_the_site_goes_is_one_clear_error(tmp_path):
    settings = site_settings(tmp_path)
    Path(settings.paths.reports_dir).mkdir(parents=True)
    (Path(settings.paths.reports_dir) / "site").write_text("not a folder")
    with pytest.raises(StorageError, match="is not a folder"):
        build_site(settings)


def test_candidate_weak_steps_render_when_the_result_has_them(tmp_path):
    plain = fixture_results()[0].model_copy(update={"analysis": None})
    rich = plain.model_copy(update={"analysis": AnalysisSummary(no_clear_fallacy=False, candidates=[WeakStep(
        sentence="Since SycoBench covers twelve domains, sycophancy is solved.", fallacy="hasty generalization",
        score=0.83, reason="a universal claim from one benchmark")])})
    reports_dir = tmp_path / "reports"
    page_plain = site_mod._report_page(report_view(plain, demo=False, categories=[], reports_dir=reports_dir))
    page_rich = site_mod._report_page(report_view(rich, demo=False, categories=[], reports_dir=reports_dir))
    assert "Where the argument is weakest" not in page_plain
    assert "Where the argument is weakest" in page_rich and "score 0.83" in page_rich
    assert "a universal claim from one benchmark" in page_rich


def test_a_candidate_of_uncertain_kind_is_shown_with_its_runner_up_in_both_reports(tmp_path):
    from agent.publish.reports import report_markdown

    steps = [WeakStep(sentence="Since SycoBench covers twelve domains, sycophancy is solved.", fallacy="straw man",
                      score=0.83, reason="cues", type_score=0.41, runner_up="hasty generalization",
                      runner_up_score=0.3),
             WeakStep(sentence="Models that agree with users want to please them.", fallacy="anthropomorphism",
                      score=0.6, reason="a mental-state verb", type_score=0.95, runner_up="straw man",
                      runner_up_score=0.02),
             WeakStep(sentence="We train probes on three models.", fallacy="equivocation", score=0.1, reason="cues",
                      type_score=0.3, runner_up="motte and bailey", runner_up_score=0.2)]
    result = fixture_results()[0].model_copy(update={"analysis": AnalysisSummary(
        no_clear_fallacy=False, threshold=0.5, type_threshold=0.7, candidates=steps)})
    page = site_mod._report_page(report_view(result, demo=False, categories=[], reports_dir=tmp_path / "reports"))
    md = report_markdown(result)
    for text in (page, md):
        assert "straw man or hasty generalization (kind unsure)" in text
        assert "anthropomorphism or" not in text  # a sure kind is stated alone
        assert "equivocation or" not in text  # below the threshold a step is only "most like" a kind
    # an older result (no type scores) states every kind as before
    old = result.model_copy(update={"analysis": AnalysisSummary(no_clear_fallacy=False, candidates=[
        WeakStep(sentence=steps[0].sentence, fallacy="straw man", score=0.83, reason="cues")])})
    assert "kind unsure" not in report_markdown(old)


def test_small_pieces():
    assert safe_url("https://example.org/a?b=1") == "https://example.org/a?b=1"
    assert safe_url("javascript:alert(1)") == safe_url("/home/x/y.md") == safe_url('https://x.org/"><b>') == ""
    assert source_label("file", "/home/alice/notes/essay.md") == "essay.md"
    assert source_label("file", r"C:\Users\alice\essay.pdf") == "essay.pdf"
    assert source_label("arxiv", "2601.10160") == "arXiv:2601.10160"
    assert source_label("web", "https://example.org/x", "https://example.org/x") == "example.org"
    stance = lambda v: verdict_stance(SimpleNamespace(verdict=v, lag_weighted_verdict=""))  # noqa: E731
    assert stance("The conclusion is overstated.") == "overstated"
    assert stance("Not convincing: the evidence does not follow.") == "unsupported"
    assert stance("A sound, well-supported argument.") == "sound"
    assert stance("Convincing on shutdown, but overstated on values.") == "mixed"
    assert stance("It describes a method.") == ""
    assert verdict_stance(SimpleNamespace(verdict="whatever", lag_weighted_verdict="", stance="Sound")) == "sound"
    assert facet_label("Corrigibility and control: shutdown problems, agents.") == "Corrigibility and control"
    assert facet_label("Catastrophic risk from advanced AI, and governance.") == "Catastrophic risk from advanced AI"
    assert assign_facets([0.2, 0.3], ["a", "b"]) == []
    assert assign_facets([0.55, 0.54, 0.40], ["a", "b", "c"]) == ["a", "b"]
    assert where_label("hidden_assumptions[1]") == "hidden assumption 2" and where_label("core_fallacy") == \
        "core fallacy"
    groups = related_groups(fixture_results()[0])
    assert [g["title"] for g in groups] == ["Notes on corrigibility", "AI safety via debate"]
    assert groups[0]["chunks"] == 2 and groups[0]["url"] == "" and groups[0]["relations"] == [
        "answers its optimism about overseers"]
    js = search_index_js([])
    assert js == "window.DISSECT_SEARCH = [];\n"


def test_the_old_html_view_redirects_to_the_site(tmp_path):
    settings = site_settings(tmp_path)
    write_history(settings.paths.data_dir, settings.paths.reports_dir)
    old = Path(settings.paths.reports_dir) / "html"
    old.mkdir(parents=True)
    for name in ("index.html", "2601-11234.html"):
        (old / name).write_text("<p>the old bare view</p>")
    build_site(settings)
    assert 'url=../site/reports/2601-11234.html"' in (old / "2601-11234.html").read_text()
    assert 'url=../site/index.html"' in (old / "index.html").read_text()
    assert (old / ".." / "site" / "reports" / "2601-11234.html").resolve().is_file()


def test_markdown_report_and_index_are_honest_and_link_the_site(built):
    reports_dir = Path(built.settings.paths.reports_dir)
    essay = next(r for r in fixture_results() if r.scan.kind == "file")
    md = (reports_dir / "papers" / f"{essay.slug}.md").read_text()
    assert PRIVATE_DIR not in md and "shutdown-essay.md" in md
    demo_md = (reports_dir / "papers" / "2601-12007.md").read_text()
    assert "demo_model: true" in demo_md and "**Demo model.**" in demo_md
    debate_md = (reports_dir / "papers" / "2601-11234.md").read_text()
    assert "demo" not in debate_md.lower()
    assert debate_md.count("Notes on corrigibility") == 1 and "(2 passages)" in debate_md
    digest = next(r for r in fixture_records(fixture_results()) if r.date == "2026-01-14")
    page = render("reports/digest.md.j2", d=digest.model_copy(update={"model": DEMO_MODEL}))
    assert "[Full dissection](../site/reports/2601-11234.html)" in page and "**Demo model.**" in page


def test_the_daily_post_renders_blocks_quotes_and_closing():
    post = {"paper_id": "2601.11234", "title": "Debate <b>helps</b>", "url": "javascript:alert(1)",
            "blocks": [{"kind": "text", "text": "Why read this <script>x</script> today."},
                       {"kind": "quote", "text": "Debate improves oversight.", "status": "verified",
                        "role": "its claim"}],
            "closing": "born from Debate (arXiv, 0.91)", "demo_model": True, "phrased_by_model": False}
    html = render("site/pages/post.html.j2", post=post, root="", safe_url=safe_url)
    assert "Debate &lt;b&gt;helps&lt;/b&gt;" in html and "javascript:" not in html and "<script>" not in html
    assert "<blockquote>Debate improves oversight." in html and "status-verified" in html
    assert "born from Debate (arXiv, 0.91)" in html and "demo-label" in html and "written by the program" in html
