"""Ingest from a local fixture server and from files, the manifest, and the corpus CLI handlers."""
from __future__ import annotations

import argparse
import json
import os
import signal
from pathlib import Path

import pytest

from agent.commands import corpus as corpus_cmd
from agent.corpus import ingest as ingest_mod
from agent.corpus.ingest import IngestSummary, ingest, load_manifest
from agent.corpus.store import Store
from agent.errors import ConfigError, InvalidSourceError
from agent.settings import Settings
from tests.support.fixture_server import fixture_server  # noqa: F401 (a pytest fixture)

ROOT = Path(__file__).resolve().parents[2]


def article(title: str, topic: str, n: int = 5, author: str = "Ada Writer") -> str:
    paras = "\n".join(
        f"<p>Paragraph {i} of this essay on {topic}. It argues at some length that {topic} deserves careful "
        f"study, because the evidence so far is thin and often overstated by people on every side.</p>"
        for i in range(n))
    return (f"<!doctype html><html><head><title>{title}</title><meta name='author' content='{author}'>"
            f"<meta property='article:published_time' content='2024-05-01'></head><body>"
            f"<nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{paras}</article>"
            f"<footer>Copyright</footer></body></html>")


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path / "data", http_timeout_s=2.0, http_retries=0)


def test_web_pages_faults_and_duplicates(fixture_server, settings):  # noqa: F811
    srv = fixture_server
    good = srv.route("/essays/reward-hacking", article("On reward hacking", "reward hacking"))
    empty = srv.route("/empty", "<html><head><title>x</title></head><body><nav>menu</nav></body></html>")
    image = srv.route("/image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, content_type="image/png")
    missing = srv.url_for("/nowhere")
    summary = ingest([good, good + "#section-2", good, missing, empty, image], settings, progress=False)
    assert summary.added == [good]
    assert len(srv.requests_to("/essays/reward-hacking")) == 1  # duplicates fetched once
    reasons = dict(summary.failed)
    assert set(reasons) == {missing, empty, image}
    assert "not found" in reasons[missing] and "404" in reasons[missing]
    assert "no main text" in reasons[empty]
    assert "image/png" in reasons[image]
    assert all("\n" not in r for r in reasons.values())

    hit = Store(settings).search("reward hacking deserves careful study", k=1)[0]
    assert (hit.title, hit.author, hit.url) == ("On reward hacking", "Ada Writer", good)
    meta = Store(settings)._cols["passages"].get(include=["metadatas"])["metadatas"][0]
    assert meta["date"] == "2024-05-01" and meta["site"] and meta["source"] == good

    again = ingest([good], settings, progress=False)
    assert again.unchanged == [good] and again.chunks == 0
    srv.route("/essays/reward-hacking", article("On reward hacking", "specification gaming", n=8))
    assert ingest([good], settings, progress=False).replaced == [good]
    assert Store(settings).stats()["documents"] == 1


def test_huge_page_is_capped_and_the_summary_says_so(fixture_server, settings, monkeypatch):  # noqa: F811
    monkeypatch.setattr(ingest_mod, "MAX_DOC_CHARS", 3000)
    url = fixture_server.route("/huge", article("A very long essay", "oversight", n=60))
    summary = ingest([url], settings, progress=False)
    assert summary.added == [url] and summary.capped == [url]
    assert any("capped at 3,000 characters" in line for line in summary.lines())
    chunks = Store(settings)._cols["passages"].get(include=["documents"])["documents"]
    assert 0 < sum(len(c) for c in chunks) <= 3000 + 10 * len(chunks)


def test_body_over_the_byte_cap_fails_with_a_reason(fixture_server, tmp_path):  # noqa: F811
    settings = Settings(data_dir=tmp_path / "data", http_retries=0, max_page_bytes=10_000)
    url = fixture_server.route("/enormous", article("Enormous", "scale", n=200))
    summary = ingest([url], settings, progress=False)
    assert summary.ok == 0 and "cap" in summary.failed[0][1]


def test_rss_atom_and_sitemap_ingest_every_entry(fixture_server, settings):  # noqa: F811
    srv = fixture_server
    urls = [srv.route(f"/posts/{i}", article(f"Post {i}", topic)) for i, topic in
            enumerate(["deceptive alignment", "scalable oversight", "sycophancy", "corrigibility"])]
    rss = ("<?xml version='1.0'?><rss version='2.0'><channel><title>Blog</title>"
           + "".join(f"<item><title>Post {i}</title><link>{u}</link></item>" for i, u in enumerate(urls[:3]))
           + "</channel></rss>")
    atom = ("<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'><title>B</title>"
            f"<entry><title>Post 3</title><link rel='alternate' href='/posts/3'/></entry>"
            f"<entry><title>Post 0 again</title><link href='{urls[0]}'/></entry></feed>")
    sitemap = ("<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
               f"<url><loc>{urls[1]}</loc></url><url><loc>{srv.url_for('/posts/missing')}</loc></url></urlset>")
    feeds = [srv.route("/rss.xml", rss, content_type="application/rss+xml"),
             srv.route("/atom.xml", atom, content_type="application/atom+xml"),
             srv.route("/sitemap.xml", sitemap, content_type="text/xml")]
    summary = ingest(feeds, settings, progress=False)
    assert sorted(summary.added) == sorted(urls)  # every entry once, relative Atom link resolved
    assert [s for s, _ in summary.failed] == [srv.url_for("/posts/missing")]
    assert all(len(srv.requests_to(f"/posts/{i}")) == 1 for i in range(4))
    assert Store(settings).stats()["documents"] == 4


def test_feed_cannot_send_us_to_internal_addresses(fixture_server, settings):  # noqa: F811
    srv = fixture_server
    srv.route("/post", article("A public post", "oversight"))
    items = "".join(f"<item><title>x</title><link>{u}</link></item>" for u in (
        srv.url + "/post", "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/admin"))
    feed = srv.route("/rss.xml", f"<?xml version='1.0'?><rss version='2.0'><channel>{items}</channel></rss>",
                     content_type="application/rss+xml")
    summary = ingest([feed], settings, progress=False)
    assert len(summary.added) == 1  # the feed's own host is fine
    refused = {src for src, why in summary.failed if "private or local address" in why}
    assert refused == {"http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/admin"}
    assert not any(r.path.startswith("/latest") for r in srv.requests)


def test_folder_ingest_reads_front_matter_and_skips_other_files(tmp_path, settings):
    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    (folder / "a.md").write_text("---\ntitle: \"Note A\"\nauthor: \"dissect contributors\"\ndate: 2025-01-15\n"
                                 "---\n\n# Heading\n\nCorrigibility means letting operators correct the system.\n")
    (folder / "sub" / "b.txt").write_text("Benchmark scores are not capabilities.\n\nContamination inflates them.")
    (folder / "sub" / "c.html").write_text(article("Note C", "interpretability"))
    (folder / "picture.png").write_bytes(b"\x89PNG")
    (folder / ".hidden" / "secret.md").write_text("should not be read")
    (folder / "empty.md").write_text("   \n")
    summary = ingest([str(folder), str(folder / "a.md")], settings, progress=False)
    assert len(summary.added) == 3
    assert [Path(s).name for s, _ in summary.failed] == ["empty.md"]
    docs = {d["title"]: d for d in Store(settings).list_documents()}
    assert set(docs) == {"Note A", "b", "Note C"}
    assert docs["Note A"]["author"] == "dissect contributors" and docs["Note A"]["date"] == "2025-01-15"
    text = Store(settings).search("operators correct the system", k=1)[0].text
    assert "title:" not in text and text.startswith("# Heading")


def test_bad_local_sources_fail_with_reasons(tmp_path, settings):
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "data.csv").write_text("a,b\n")
    summary = ingest([str(tmp_path / "nope.md"), str(tmp_path / "empty_dir"), str(tmp_path / "data.csv"),
                      "ftp://example.org/x"], settings, progress=False)
    assert summary.ok == 0 and len(summary.failed) == 4
    assert "unsupported file type" in dict(summary.failed)[str(tmp_path / "data.csv")]


def test_ctrl_c_mid_ingest_keeps_whole_documents(tmp_path, settings, monkeypatch):
    for i in range(4):
        (tmp_path / f"n{i}.md").write_text(f"Note {i} about deceptive alignment and training.\n\n" * 3)
    real = Store.upsert_document
    calls = []

    def interrupted_upsert(self, doc_id, text, meta, **kw):
        calls.append(doc_id)
        if len(calls) == 2:  # Ctrl-C arrives while the second document is being written
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, doc_id, text, meta, **kw)

    monkeypatch.setattr(Store, "upsert_document", interrupted_upsert)
    summary = ingest([str(tmp_path / f"n{i}.md") for i in range(4)], settings, progress=False)
    assert summary.interrupted and len(summary.added) == 2 and len(calls) == 2
    assert Store(settings).stats()["documents"] == 2 and Store(settings).stats()["chunks"] == 2
    assert any("interrupted" in line for line in summary.lines())


def test_manifest(tmp_path):
    sources = load_manifest(ROOT / "agent" / "data" / "sources.toml")
    assert len(sources) >= 15 and all(s.startswith(("https://", "http://")) for s in sources)
    m = tmp_path / "m.toml"
    m.write_text('[[source]]\nurl = "https://example.org/a"\n[[source]]\npath = "notes"\n')
    assert load_manifest(m) == ["https://example.org/a", str((tmp_path / "notes").resolve())]
    m.write_text('[[source]]\ntitle = "no url"\n')
    with pytest.raises(ConfigError, match="neither url nor path"):
        load_manifest(m)
    with pytest.raises(ConfigError, match="not found"):
        load_manifest(tmp_path / "missing.toml")


def test_local_notes_corpus_ingests_offline(settings):
    summary = ingest([str(ROOT / "agent" / "data" / "notes")], settings, progress=False)
    assert len(summary.added) >= 12 and not summary.failed
    for d in Store(settings).list_documents():
        assert d["author"] == "dissect contributors" and d["date"] and d["title"]


# ---- the CLI handlers ---------------------------------------------------------------------------------

def run_cli(argv: list[str], settings) -> int:
    parser = argparse.ArgumentParser()
    corpus_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args, settings)


def test_cli_handlers(tmp_path, settings, capsys):
    note = tmp_path / "rh.md"
    note.write_text("# Reward hacking\n\nThe policy exploits flaws in its reward signal.\n")
    assert run_cli(["ingest", str(note), "-q"], settings) == 0
    assert "added 1" in capsys.readouterr().out
    assert run_cli(["ingest", str(tmp_path / "missing.md")], settings) == 1  # nothing could be ingested
    assert "failed: " in capsys.readouterr().out
    with pytest.raises(InvalidSourceError):
        run_cli(["ingest"], settings)

    assert run_cli(["corpus", "search", "gaming the reward", "--k", "2", "--json"], settings) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["title"] == "Reward hacking" and hits[0]["url"] == str(note) and 0 < hits[0]["score"] <= 1
    assert run_cli(["corpus", "search", "gaming the reward"], settings) == 0
    assert "[1] " in capsys.readouterr().out
    assert run_cli(["corpus", "list", "--json"], settings) == 0
    (doc,) = json.loads(capsys.readouterr().out)
    assert run_cli(["corpus", "stats", "--json"], settings) == 0
    assert json.loads(capsys.readouterr().out)["chunks"] == 1
    assert run_cli(["corpus", "remove", doc["doc_id"]], settings) == 0
    assert capsys.readouterr().out.startswith("removed 1 chunks")
    with pytest.raises(InvalidSourceError, match="nothing in the corpus"):
        run_cli(["corpus", "remove", doc["doc_id"]], settings)
    assert run_cli(["corpus", "stats"], settings) == 0
    assert capsys.readouterr().out.startswith("0 documents, 0 chunks")


def test_summary_counts():
    s = IngestSummary(added=["a"], failed=[("b", "404")])
    assert s.ok == 1 and s.lines()[0].startswith("added 1, unchanged 0, replaced 0, failed 1")
