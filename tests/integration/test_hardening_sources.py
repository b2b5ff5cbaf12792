"""Hardening of the sources against hostile servers (issue 9): untrusted arXiv ids, malformed feeds, pages with no
prose, slow bodies and redirects into private address space. Every server is a fixture on 127.0.0.1."""
from __future__ import annotations

import logging
from datetime import date

import pytest

from agent.errors import ExtractionError, FetchError
from agent.sources.arxiv import search_arxiv, valid_arxiv_id
from tests.support import catalog
from tests.support.fixture_server import arxiv_settings
from tests.support.hostile_pages import NAV_ONLY, TRUNCATED_FEED

WINDOW = dict(categories=["cs.AI"], start=date(2026, 1, 1), end=date(2026, 1, 31))


def _entry_with_id(entry_id: str, paper=None) -> str:
    paper = paper or catalog.PAPERS[0]
    return paper.entry_xml.replace(f"<id>http://arxiv.org/abs/{paper.id}{paper.version}</id>", f"<id>{entry_id}</id>")


# ---- 1. ids from the network ---------------------------------------------------------------------------


def test_search_drops_entries_whose_id_is_not_an_arxiv_id(fixture_server, tmp_path, caplog):
    good = catalog.PAPERS[1]
    hostile = ["http://arxiv.org/abs//home/me/notes.md", "http://arxiv.org/abs/http://internal.example/x",
               "http://arxiv.org/abs/../../etc/passwd", "http://arxiv.org/abs/2601.1555O"]
    entries = [_entry_with_id(i) for i in hostile] + [good.entry_xml]
    body = catalog.feed(entries, "q", len(entries), 0, 100)
    fixture_server.route("/api/query", body, content_type=catalog.ATOM_TYPE)
    settings = arxiv_settings(fixture_server, tmp_path)
    with caplog.at_level(logging.WARNING, logger="dissect.sources.arxiv"):
        papers = search_arxiv(settings, **WINDOW)
    assert [p.source_id for p in papers] == [good.id]
    assert all(p.ref.kind == "arxiv" and valid_arxiv_id(p.source_id) == p.source_id for p in papers)
    dropped = [r.getMessage() for r in caplog.records if "not an arXiv id" in r.getMessage()]
    assert len(dropped) == len(hostile)


def test_metadata_lookup_refuses_an_entry_with_a_forged_id(fixture_server, tmp_path):
    from agent.publish.files import DiskCache
    from agent.sources import resolve_source
    from agent.sources.arxiv import fetch_metadata

    paper = catalog.PAPERS[0]
    body = catalog.feed([_entry_with_id("http://arxiv.org/abs//home/me/notes.md", paper)], "q", 1, 0, 1)
    fixture_server.route("/api/query", body, content_type=catalog.ATOM_TYPE)
    settings = arxiv_settings(fixture_server, tmp_path)
    with pytest.raises(FetchError, match="not an arXiv id"):
        fetch_metadata(resolve_source(paper.id), settings, DiskCache(tmp_path / "cache"))


# ---- 9. bad input ---------------------------------------------------------------------------------------

NOT_ATOM = '<?xml version="1.0"?><feed><entry><id>2601.15550</id></entry></feed>'
HTML_WITH_FEED_WORD = "<html><body><p>Our <feed> of news is down for maintenance.</p></body></html>"


def test_a_navigation_only_page_is_refused(fixture_server, tmp_path):
    from agent.sources import fetch_paper, resolve_source

    url = fixture_server.route("/home", NAV_ONLY)
    with pytest.raises(ExtractionError, match="words in sentences") as info:
        fetch_paper(resolve_source(url), arxiv_settings(fixture_server, tmp_path))
    assert info.value.exit_code == 5


def test_a_navigation_only_html_file_is_refused(tmp_path):
    from agent.sources.files import read_file

    path = tmp_path / "home.html"
    path.write_text(NAV_ONLY)
    with pytest.raises(ExtractionError, match="words in sentences"):
        read_file(path)


def test_a_short_real_page_still_passes(fixture_server, tmp_path):
    from agent.sources import fetch_paper, resolve_source

    prose = " ".join(["Reward models trained on human comparisons inherit the raters' blind spots."] * 5)
    url = fixture_server.route("/short", f"<html><head><title>Short</title></head><body><article><p>{prose}</p>"
                               "</article></body></html>")
    assert "blind spots" in fetch_paper(resolve_source(url), arxiv_settings(fixture_server, tmp_path)).text


@pytest.mark.parametrize("body", [TRUNCATED_FEED, NOT_ATOM, HTML_WITH_FEED_WORD])
def test_an_api_answer_that_is_not_an_atom_feed_is_a_fetch_error(fixture_server, tmp_path, body):
    from agent.publish.files import DiskCache
    from agent.sources import resolve_source
    from agent.sources.arxiv import fetch_metadata

    fixture_server.route("/api/query", body, content_type=catalog.ATOM_TYPE)
    settings = arxiv_settings(fixture_server, tmp_path, http_retries=0)
    with pytest.raises(FetchError, match="not an Atom feed") as info:
        search_arxiv(settings, **WINDOW)
    assert info.value.exit_code == 4
    with pytest.raises(FetchError, match="not an Atom feed"):
        fetch_metadata(resolve_source(catalog.PAPERS[0].id), settings, DiskCache(tmp_path / "cache"))
