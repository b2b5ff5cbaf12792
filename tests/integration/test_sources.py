"""The source layer against a local fixture server: the real arxiv client, trafilatura and pypdf, no network."""
from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from agent.errors import ExtractionError, FetchError, InvalidSourceError, SourceNotFoundError
from agent.models import SourceRef
from agent.publish.files import DiskCache
from agent.sources import fetch_paper, http, resolve_source
from agent.sources.arxiv import fetch_arxiv, search_arxiv
from agent.sources.files import pdf_to_text, read_file
from agent.sources.web import fetch_web
from tests.support import catalog
from tests.support.fixture_server import Response, arxiv_settings

# ---- resolving what the user typed ------------------------------------------------------------------

GOOD = [
    ("2601.10160", "2601.10160", ""),
    ("2601.10160v2", "2601.10160", "v2"),
    ("  arXiv:2601.10160v3 ", "2601.10160", "v3"),
    ("arxiv:2601.10160", "2601.10160", ""),
    ("0704.0001", "0704.0001", ""),
    ("1412.9999v1", "1412.9999", "v1"),
    ("hep-th/9901001", "hep-th/9901001", ""),
    ("hep-th/9901001v2", "hep-th/9901001", "v2"),
    ("math.GT/0309136", "math.GT/0309136", ""),
    ("https://arxiv.org/abs/2601.10160", "2601.10160", ""),
    ("https://arxiv.org/abs/2601.10160v2", "2601.10160", "v2"),
    ("http://arxiv.org/pdf/2601.10160v1.pdf", "2601.10160", "v1"),
    ("https://arxiv.org/pdf/2601.10160", "2601.10160", ""),
    ("https://arxiv.org/html/2601.10160v2/#S3", "2601.10160", "v2"),
    ("https://export.arxiv.org/abs/hep-th/9901001v1", "hep-th/9901001", "v1"),
    ("https://www.arxiv.org/abs/2601.10160?context=cs", "2601.10160", ""),
]


@pytest.mark.parametrize("text,locator,version", GOOD)
def test_arxiv_ids_and_urls_resolve(text, locator, version):
    assert resolve_source(text) == SourceRef(kind="arxiv", locator=locator, version=version)


BAD = [
    ("2601.1", "malformed arXiv id '2601.1'"),
    ("2601.123", "malformed arXiv id"),
    ("2613.10160", "malformed arXiv id"),  # month 13
    ("1501.1234", "malformed arXiv id"),  # five digits since 2015
    ("arXiv:abc", "malformed arXiv id 'abc'"),
    ("https://arxiv.org/abs/2601.1", "malformed arXiv id '2601.1'"),
    ("xyz", "not an arXiv id, URL or existing file: 'xyz'"),
    ("notes/missing.pdf", "file not found: notes/missing.pdf"),
    ("missing.md", "file not found: missing.md"),
    ("ftp://example.org/paper.pdf", "unsupported URL scheme 'ftp'"),
    ("https://", "URL without a host"),
    ("   ", "empty source"),
]


@pytest.mark.parametrize("text,message", BAD)
def test_bad_sources_fail_with_one_helpful_line(text, message):
    with pytest.raises(InvalidSourceError) as err:
        resolve_source(text)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_urls_and_files_resolve(tmp_path):
    assert resolve_source("https://example.org/essay?x=1") == SourceRef(kind="web", locator="https://example.org/essay?x=1")
    assert resolve_source("https://arxiv.org/list/cs.AI/new").kind == "web"  # not a paper page
    paper = tmp_path / "2601.10160.pdf"
    paper.write_bytes(b"%PDF-1.4")
    assert resolve_source(str(paper)) == SourceRef(kind="file", locator=str(paper.resolve()))
    with pytest.raises(InvalidSourceError, match="is a directory"):
        resolve_source(str(tmp_path))


# ---- arXiv through the real client --------------------------------------------------------------------


def test_metadata_and_html_full_text(arxiv_server, tmp_path):
    settings = arxiv_settings(arxiv_server, tmp_path)
    lines: list[str] = []
    paper = fetch_paper(resolve_source("2601.10160"), settings, progress=lines.append)
    expected = catalog.BY_ID["2601.10160"]
    assert paper.title == expected.title and paper.authors == list(expected.authors)
    assert paper.published == "2026-01-15" and paper.categories == ["cs.CL", "cs.AI"]
    assert paper.url == "https://arxiv.org/abs/2601.10160" and paper.text_origin == "arxiv-html"
    assert paper.abstract.startswith("Language models trained with human feedback") and paper.notes == []
    flat = " ".join(paper.text.split())
    assert all(p in flat for p in catalog.paper_paragraphs("2601.10160"))
    assert "Report Issue" not in paper.text and "Back to arXiv" not in paper.text  # page chrome dropped
    assert "\n" in paper.text  # paragraphs kept apart
    api = arxiv_server.requests_to("/api/query")
    assert len(api) == 1 and api[0].param("id_list") == "2601.10160"
    assert all(r.headers["user-agent"] == settings.sources.user_agent for r in arxiv_server.requests)
    assert [r.path for r in arxiv_server.requests] == ["/api/query", "/html/2601.10160"]
    assert lines and all(isinstance(line, str) for line in lines)


def test_pinned_version_is_fetched_and_linked(arxiv_server, tmp_path):
    paper = fetch_paper(resolve_source("arXiv:2601.10160v1"), arxiv_settings(arxiv_server, tmp_path))
    assert paper.url == "https://arxiv.org/abs/2601.10160v1" and paper.ref.version == "v1"
    assert arxiv_server.requests_to("/api/query")[0].param("id_list") == "2601.10160v1"
    assert arxiv_server.requests_to("/html/")[0].path == "/html/2601.10160v1"


def test_html_404_falls_back_to_the_pdf(arxiv_server, tmp_path):
    paper = fetch_paper(resolve_source(catalog.PDF_ONLY_ID), arxiv_settings(arxiv_server, tmp_path))
    assert paper.text_origin == "arxiv-pdf"
    assert paper.notes == ["HTML unavailable (not found (404)); used the PDF"]
    flat = " ".join(paper.text.split())
    assert all(p in flat for p in catalog.paper_paragraphs(catalog.PDF_ONLY_ID))


def test_stub_html_and_non_pdf_fall_back_to_the_abstract(arxiv_server, tmp_path):
    settings = arxiv_settings(arxiv_server, tmp_path)
    paper = fetch_paper(resolve_source(catalog.ABSTRACT_ONLY_ID), settings)
    assert paper.text_origin == "arxiv-abstract" and paper.text == catalog.BY_ID[catalog.ABSTRACT_ONLY_ID].abstract
    assert "too little text" in paper.notes[0] and "not a PDF" in paper.notes[0]
    assert "only the abstract was read" in paper.notes[0]
    arxiv_server.clear_log()
    assert fetch_paper(paper.ref, settings) == paper and arxiv_server.requests == []  # definitive: cached


def test_transient_failure_is_not_cached_as_the_answer(arxiv_server, tmp_path):
    settings = arxiv_settings(arxiv_server, tmp_path, http_retries=1)
    arxiv_server.route("/html/2601.11234", "busy", status=503)
    first = fetch_paper(resolve_source("2601.11234"), settings)
    assert first.text_origin == "arxiv-pdf" and "503" in first.notes[0]
    catalog.serve_arxiv_catalog(arxiv_server)  # the HTML is back
    arxiv_server.clear_log()
    again = fetch_paper(resolve_source("2601.11234"), settings)
    assert again.text_origin == "arxiv-html"
    assert [r.path for r in arxiv_server.requests] == ["/html/2601.11234"]  # metadata came from the cache


def test_error_feed_becomes_invalid_source_with_arxivs_message(arxiv_server, tmp_path):
    with pytest.raises(InvalidSourceError, match="incorrect id format for 2601.1x"):
        fetch_arxiv(SourceRef(kind="arxiv", locator="2601.1x"), arxiv_settings(arxiv_server, tmp_path),
                    DiskCache(tmp_path / "c"))
    assert len(arxiv_server.requests) == 1  # a 400 is an answer, not a fault to retry


def test_empty_feed_is_source_not_found(arxiv_server, tmp_path):
    with pytest.raises(SourceNotFoundError, match=f"arXiv has no paper {catalog.UNKNOWN_ID}$"):
        fetch_paper(resolve_source(catalog.UNKNOWN_ID), arxiv_settings(arxiv_server, tmp_path))


def test_api_url_that_is_not_an_api(fixture_server, tmp_path):
    fixture_server.route("/api/query", "<html><body>Welcome to our mirror</body></html>")
    with pytest.raises(FetchError, match="not an Atom feed"):
        fetch_paper(resolve_source("2601.10160"), arxiv_settings(fixture_server, tmp_path))


def test_rerun_is_served_from_the_cache_and_force_refetches(arxiv_server, tmp_path):
    settings = arxiv_settings(arxiv_server, tmp_path)
    first = fetch_paper(resolve_source("2601.10160"), settings)
    n = len(arxiv_server.requests)
    assert fetch_paper(resolve_source("2601.10160"), settings) == first
    assert len(arxiv_server.requests) == n  # no network on re-run
    assert fetch_paper(resolve_source("2601.10160"), settings, force=True) == first
    assert len(arxiv_server.requests) == 2 * n


class FakeClock:
    """Stands in for the `time` module inside agent.sources.http: sleeping advances the clock instantly, so the
    spacing of requests is checked exactly, whatever the machine's load (no wall-clock gaps measured)."""

    def __init__(self):
        import time as real

        self._real, self.now, self.sleeps = real, 1000.0, []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def __getattr__(self, name):
        return getattr(self._real, name)


def test_arxiv_requests_are_spaced_by_the_arxiv_delay(arxiv_server, tmp_path, monkeypatch):
    settings = arxiv_settings(arxiv_server, tmp_path, arxiv_delay_s=0.4)
    clock = FakeClock()
    monkeypatch.setattr(http, "time", clock)
    starts = []
    real_wait = http._limiter.wait

    def wait(key, interval):
        real_wait(key, interval)
        starts.append(clock.now)  # when this request was allowed to go

    monkeypatch.setattr(http._limiter, "wait", wait)
    fetch_paper(resolve_source(catalog.PDF_ONLY_ID), settings)  # API, HTML (404), PDF
    assert len(arxiv_server.requests) == 3 and len(starts) == 3
    assert all(b - a >= 0.4 - 1e-9 for a, b in zip(starts, starts[1:], strict=False)), starts


def test_long_and_injected_papers_keep_all_their_text(arxiv_server, tmp_path):
    settings = arxiv_settings(arxiv_server, tmp_path)
    long = fetch_paper(resolve_source(catalog.LONG_ID), settings)
    assert long.text_origin == "arxiv-html" and len(long.text) > 160_000  # > 40k tokens
    assert "Model 112: " in long.text
    injected = fetch_paper(resolve_source(catalog.INJECTION_ID), settings)
    assert catalog.INJECTION_MARKER in injected.text  # kept as data; the prompts fence it


# ---- search for the digest -------------------------------------------------------------------------------


def test_search_by_categories_and_window(arxiv_server, tmp_path):
    settings = arxiv_settings(arxiv_server, tmp_path)
    found = search_arxiv(settings, categories=["cs.AI", "cs.CL"], start=date(2026, 1, 15), end=date(2026, 1, 15))
    assert [p.ref.locator for p in found] == ["2601.12007", "2601.11234", "2601.10160"]  # newest first
    assert all(p.text == p.abstract and p.text_origin == "arxiv-abstract" for p in found)
    query = arxiv_server.requests_to("/api/query")[0]
    assert query.param("search_query") == (
        "(cat:cs.AI OR cat:cs.CL) AND submittedDate:[202601150000 TO 202601152359]")
    assert query.param("sortBy") == "submittedDate"
    both_days = search_arxiv(settings, categories=["cs.LG"], start=date(2026, 1, 15), end=date(2026, 1, 16),
                             query='abs:"safety"', max_results=3)
    assert len(both_days) == 3
    assert search_arxiv(settings, categories=["cs.AI"], start=date(2026, 1, 17), end=date(2026, 1, 18)) == []


def test_search_errors(fixture_server, tmp_path):
    settings = arxiv_settings(fixture_server, tmp_path)
    with pytest.raises(InvalidSourceError, match="not an arXiv category"):
        search_arxiv(settings, categories=["cs.AI OR 1"], start=date(2026, 1, 1), end=date(2026, 1, 1))
    fixture_server.route("/api/query", catalog.error_feed("unknown sort order"), status=400,
                         content_type=catalog.ATOM_TYPE)
    with pytest.raises(InvalidSourceError, match="unknown sort order"):
        search_arxiv(settings, categories=["cs.AI"], start=date(2026, 1, 1), end=date(2026, 1, 1))
    fixture_server.route("/api/query", "", status=503)
    with pytest.raises(FetchError, match="after 3 attempts: 503 Service Unavailable"):
        search_arxiv(settings, categories=["cs.AI"], start=date(2026, 1, 1), end=date(2026, 1, 1))


# ---- the polite GET ------------------------------------------------------------------------------------


def test_503_then_200_is_retried(fixture_server, tmp_path):
    url = fixture_server.sequence("/flaky", [Response("down", 503), Response("<p>up</p>")])
    resp = http.get(url, arxiv_settings(fixture_server, tmp_path))
    assert resp.status == 200 and resp.body == b"<p>up</p>" and resp.content_type == "text/html"
    assert len(fixture_server.requests) == 2


def test_persistent_503_and_client_errors(fixture_server, tmp_path):
    settings = arxiv_settings(fixture_server, tmp_path, http_retries=2)
    url = fixture_server.route("/down", "down", status=503)
    with pytest.raises(FetchError, match=r"failed after 3 attempts: 503 Service Unavailable$"):
        http.get(url, settings)
    assert len(fixture_server.requests) == 3
    with pytest.raises(SourceNotFoundError):
        http.get(fixture_server.url_for("/nothing-here"), settings)
    fixture_server.route("/gone", "", status=410)
    with pytest.raises(SourceNotFoundError):
        http.get(fixture_server.url_for("/gone"), settings)
    fixture_server.route("/private", "no", status=403)
    fixture_server.clear_log()
    with pytest.raises(FetchError, match="403 Forbidden"):
        http.get(fixture_server.url_for("/private"), settings)
    assert len(fixture_server.requests) == 1  # a 4xx is not retried


def test_timeout_is_retried_then_reported(fixture_server, tmp_path):
    settings = arxiv_settings(fixture_server, tmp_path, http_timeout_s=0.2, http_retries=1)
    url = fixture_server.route("/slow", "late", delay=1.0)
    with pytest.raises(FetchError, match="after 2 attempts: timed out after 0.2 s"):
        http.get(url, settings)
    assert len(fixture_server.requests) == 2  # the read timed out (the server answers after 1 s), then one retry


def test_connection_refused_is_a_fetch_error(tmp_path):
    from agent.settings import Settings

    settings = Settings(data_dir=tmp_path, http_retries=0)
    with pytest.raises(FetchError, match="connection failed"):
        http.get("http://127.0.0.1:9/", settings)


def test_size_cap_names_the_cap(fixture_server, tmp_path):
    settings = arxiv_settings(fixture_server, tmp_path, max_page_bytes=1000)
    url = fixture_server.route("/big", "x" * 5000)
    with pytest.raises(ExtractionError, match="1,000-byte cap"):
        http.get(url, settings)
    assert http.get(url, settings, max_bytes=10_000).body == b"x" * 5000


# ---- web pages -----------------------------------------------------------------------------------------


def test_essay_page_text_and_metadata(fixture_server, tmp_path):
    urls = catalog.serve_web_catalog(fixture_server)
    settings = arxiv_settings(fixture_server, tmp_path)
    paper = fetch_paper(resolve_source(urls["goodhart"]), settings)
    assert paper.ref.kind == "web" and paper.text_origin == "web"
    assert paper.title == "When the Benchmark Becomes the Target" and paper.authors == ["Helen Aldous"]
    assert paper.published == "2025-11-03"
    assert "Goodhart's law is usually quoted as a warning about incentives" in paper.text
    assert "First!" not in paper.text and "No spam" not in paper.text  # comments and sidebar dropped
    n = len(fixture_server.requests)
    assert fetch_paper(paper.ref, settings) == paper and len(fixture_server.requests) == n


def test_web_faults(fixture_server, tmp_path):
    settings = arxiv_settings(fixture_server, tmp_path)
    cache = DiskCache(tmp_path / "cache")
    png = fixture_server.route("/pic.png", b"\x89PNG\r\n\x1a\n" + bytes(200), content_type="image/png")
    with pytest.raises(ExtractionError, match="not an HTML page: image/png"):
        fetch_web(png, settings, cache)
    empty = fixture_server.route("/empty", "<html><head><title>x</title></head><body></body></html>")
    with pytest.raises(ExtractionError, match="no main text found"):
        fetch_web(empty, settings, cache)
    binary = fixture_server.route("/bin", bytes(range(256)) * 4)
    with pytest.raises(ExtractionError, match="binary"):
        fetch_web(binary, settings, cache)
    fake_pdf = fixture_server.route("/paper.pdf", "<html>error</html>", content_type="application/pdf")
    with pytest.raises(ExtractionError, match="not a PDF"):
        fetch_web(fake_pdf, settings, cache)
    with pytest.raises(SourceNotFoundError, match="page not found"):
        fetch_web(fixture_server.url_for("/missing"), settings, cache)


def test_pdf_behind_a_url(fixture_server, tmp_path):
    url = fixture_server.route("/p.pdf", catalog.render_pdf(catalog.PDF_ONLY_ID), content_type="application/pdf")
    paper = fetch_web(url, arxiv_settings(fixture_server, tmp_path), DiskCache(tmp_path / "c"))
    assert paper.title == catalog.BY_ID[catalog.PDF_ONLY_ID].title
    assert "linear probes" in paper.text


# ---- local files -------------------------------------------------------------------------------------------


def test_local_files_of_each_kind(tmp_path):
    md = tmp_path / "notes.md"
    md.write_text("Intro line\n\n# On Corrigibility\n\nAgents resist shutdown.\n", encoding="utf-8")
    assert (read_file(md).title, read_file(md).text_origin) == ("On Corrigibility", "markdown")
    txt = tmp_path / "my_essay-draft.txt"
    txt.write_text("Plain words about oversight.", encoding="utf-8")
    paper = read_file(txt)
    assert paper.title == "my essay draft" and paper.text == "Plain words about oversight."
    assert paper.ref == SourceRef(kind="file", locator=str(txt.resolve()))
    page = tmp_path / "essay.html"
    page.write_bytes((Path(catalog.WEB_DIR) / "essay-oversight.html").read_bytes())
    paper = read_file(page)
    assert paper.title == "Oversight Is a Relationship, Not a Checkpoint" and paper.text_origin == "html"
    assert paper.authors == ["Tobias Renwick"] and paper.published == "2025-09-18"
    assert "The premise gets oversight backwards." in paper.text
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(catalog.render_pdf("2601.11234"))
    paper = read_file(pdf)
    assert paper.text_origin == "pdf" and paper.title.startswith("Debate Lets Weak Judges")
    assert "Debate raises weak-judge accuracy from 54%" in " ".join(paper.text.split())


def test_bad_local_files(tmp_path):
    with pytest.raises(InvalidSourceError, match="file not found"):
        read_file(tmp_path / "nope.pdf")
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(ExtractionError, match="is empty"):
        read_file(tmp_path / "empty.txt")
    (tmp_path / "blob.md").write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(ExtractionError, match="looks binary"):
        read_file(tmp_path / "blob.md")
    (tmp_path / "fake.pdf").write_text("not really a pdf")
    with pytest.raises(ExtractionError, match="not a PDF"):
        read_file(tmp_path / "fake.pdf")
    (tmp_path / "doc.docx").write_bytes(b"PK\x03\x04")
    with pytest.raises(InvalidSourceError, match="unsupported file type '.docx'"):
        read_file(tmp_path / "doc.docx")
    if os.geteuid() != 0:  # root reads anything, so only an ordinary user can check this
        locked = tmp_path / "locked.txt"
        locked.write_text("secret")
        locked.chmod(0)
        with pytest.raises(InvalidSourceError, match="cannot read"):
            read_file(locked)


def test_pdf_to_text_rejects_non_pdfs_and_broken_pdfs():
    with pytest.raises(ExtractionError, match="not a PDF"):
        pdf_to_text(b"<html><body>404</body></html>")
    with pytest.raises(ExtractionError, match="not a PDF"):
        pdf_to_text(b"")
    with pytest.raises(ExtractionError, match="cannot read the PDF|no extractable text"):
        pdf_to_text(b"%PDF-1.7\n" + b"garbage" * 50)
    assert "Abstract" in pdf_to_text(catalog.render_pdf("2601.10160"))
