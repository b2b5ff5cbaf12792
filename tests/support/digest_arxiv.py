"""Serve the digest fixtures the way arXiv's export API would, on the tests' local FixtureServer.

search-2026-01-15-to-16.xml holds the search results for the 2026-01-19 (Monday) digest window, written in the
API's real Atom format. The handler answers `search_query` requests with the entries submitted inside the query's
`submittedDate` range (so other windows get a real empty feed), and `id_list` requests with the matching entry.
One paper (2601.16001) has an HTML full text; every other paper's HTML and PDF answer 404, so they are read from
the abstract.
"""
from __future__ import annotations

import re
from pathlib import Path

from tests.support.fixture_server import FixtureServer, LoggedRequest, Response

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "digest"
FEED = HERE / "search-2026-01-15-to-16.xml"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
FULLTEXT_ID = "2601.16001"
EMPTY_HEAD_END = "<opensearch:startIndex>0</opensearch:startIndex>"


def _split() -> tuple[str, list[str]]:
    text = FEED.read_text(encoding="utf-8")
    head, rest = text.split("  <entry>", 1)
    entries = ["  <entry>" + e for e in ("  <entry>" + rest).split("  <entry>")[1:]]
    entries[-1] = entries[-1].replace("</feed>\n", "").replace("</feed>", "")
    return head, entries


def _feed(entries: list[str]) -> str:
    head, _ = _split()
    head = re.sub(r"<opensearch:totalResults>\d+<", f"<opensearch:totalResults>{len(entries)}<", head)
    return head + "".join(entries) + "</feed>\n"


def _day(entry: str) -> str:
    return re.search(r"<published>(\d{4})-(\d\d)-(\d\d)", entry).group(0)[-10:].replace("-", "")


def api_handler(req: LoggedRequest) -> Response:
    _, entries = _split()
    ids = [i for i in req.param("id_list").split(",") if i]
    if ids:
        found = [e for e in entries if any(f"/abs/{i.split('v')[0]}v" in e for i in ids)]
        return Response(_feed(found), 200, ATOM_TYPE)
    query = req.param("search_query")
    m = re.search(r"submittedDate:\[(\d{8})\d{4} TO (\d{8})\d{4}\]", query)
    if int(req.param("start", "0") or 0) > 0:
        return Response(_feed([]), 200, ATOM_TYPE)
    found = [e for e in entries if not m or m.group(1) <= _day(e) <= m.group(2)]
    return Response(_feed(found), 200, ATOM_TYPE)


def serve_digest_arxiv(server: FixtureServer) -> FixtureServer:
    server.handler("/api/query", api_handler)
    html = (HERE / f"html-{FULLTEXT_ID}.html").read_text(encoding="utf-8")
    for v in ("", "v1"):
        server.route(f"/html/{FULLTEXT_ID}{v}", html)
    return server


def serve_error_feed(server: FixtureServer) -> None:
    server.route("/api/query", (HERE / "error-feed.xml").read_text(encoding="utf-8"), status=400,
                 content_type=ATOM_TYPE)
