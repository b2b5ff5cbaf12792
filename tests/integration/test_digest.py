"""The daily digest against a local fixture server of arXiv search results (tests/fixtures/digest): the window
rule, ranking, dry run, the fan-out with per-paper isolation, the lock, a kill -9 and resume, a full disk."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import UTC, date
from pathlib import Path

import pytest

import cli
from agent.digest.run import plan_digest, run_digest
from agent.digest.window import resolve_window
from agent.errors import ConfigError, InvalidSourceError, LLMError, LockError
from agent.publish.files import StorageError
from agent.publish.lock import RunLock
from tests.support.digest_arxiv import FULLTEXT_ID, serve_digest_arxiv, serve_error_feed
from tests.support.fakes import FakeBackend
from tests.support.fixture_server import arxiv_settings
from tests.support.openai_server import OpenAIFixture

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2026, 1, 19)  # a Monday: its window is Thu 2026-01-15 .. Fri 2026-01-16
TODAY = date(2026, 1, 21)
ON_TOPIC = {"2601.15833", "2601.15911", "2601.15777", "2601.16001", "2601.15990"}
OFF_TOPIC = {"2601.15950", "2601.15870", "2601.15801", "2601.15702"}
A = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def server(fixture_server):
    return serve_digest_arxiv(fixture_server)


def settings_for(server, tmp_path, **kw):
    return arxiv_settings(server, tmp_path, **{"digest_max": 3, "concurrency": 2, **kw})


def dirs(s) -> list[str]:
    return ["--data-dir", str(s.paths.data_dir), "--out", str(s.paths.reports_dir)]


def window(day=DAY):
    return resolve_window(day=day, today=TODAY)


class FailingFor(FakeBackend):
    """The fake critic, except that prompts containing `marker` fail the way a timed-out model does."""

    def __init__(self, marker: str, **kw):
        super().__init__(**kw)
        self.marker = marker

    def complete(self, request):
        if self.marker in request.messages[1]["content"]:
            raise LLMError(f"model {self.model} at 127.0.0.1 timed out")
        return super().complete(request)


# ---- the window -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("day, start, end", [
    ("2026-01-19", "2026-01-15", "2026-01-16"),  # Monday: Thu-Fri
    ("2026-01-20", "2026-01-16", "2026-01-19"),  # Tuesday: Fri-Mon, weekend included
    ("2026-01-21", "2026-01-19", "2026-01-20"),  # Wednesday: Mon-Tue
    ("2026-01-16", "2026-01-14", "2026-01-15"),  # Friday: Wed-Thu
    ("2026-01-18", "2026-01-14", "2026-01-15"),  # Sunday: no announcement, Friday's digest
])
def test_window_rule(day, start, end):
    w = resolve_window(day=date.fromisoformat(day), today=date(2026, 1, 25))
    assert (w.start.isoformat(), w.end.isoformat()) == (start, end)
    assert w.day.weekday() < 5


def test_window_errors_and_since():
    with pytest.raises(ConfigError, match="future"):
        resolve_window(day=date(2026, 2, 1), today=TODAY)
    with pytest.raises(ConfigError, match="more than"):
        resolve_window(since=date(2025, 1, 1), today=TODAY)
    w = resolve_window(since=date(2026, 1, 12), today=TODAY)
    assert (w.start, w.end, w.day) == (date(2026, 1, 12), TODAY, TODAY) and w.thread_id != TODAY.isoformat()


# ---- ranking and the dry run ------------------------------------------------------------------------------
def test_ranking_puts_alignment_papers_first(server, tmp_path):
    s = settings_for(server, tmp_path)
    ranked, skipped = plan_digest(s, window())
    ids = [r.id for r in ranked]
    assert set(ids) == ON_TOPIC | OFF_TOPIC and not skipped
    assert set(ids[:len(ON_TOPIC)]) == ON_TOPIC  # every alignment paper outranks every other paper
    assert all(0.0 <= r.score <= 1.0 for r in ranked)
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    assert [r.id for r in ranked if r.selected] == ids[:3]  # top N = digest_max
    word_alignment = next(r for r in ranked if r.id == "2601.15870")  # shares the word, not the topic
    assert word_alignment.score < s.digest.threshold and "alignment" in word_alignment.keywords
    query = server.requests_to("/api/query")[0].param("search_query")
    assert "submittedDate:[202601150000 TO 202601162359]" in query and "cat:cs.CY" in query and "abs:" in query


def test_dry_run_prints_ranking_and_writes_nothing(server, tmp_path, capsys, monkeypatch):
    s = settings_for(server, tmp_path)
    monkeypatch.chdir(tmp_path)
    argv = ["--data-dir", str(s.paths.data_dir), "--out", str(s.paths.reports_dir), "digest", "--date", "2026-01-19",
            "--dry-run"]
    env = {"DISSECT_ARXIV_API_URL": s.sources.arxiv_api_url, "DISSECT_ARXIV_DELAY": "0.05", "DISSECT_DIGEST_MAX": "2"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln[:1] in "* " and ". 0." in ln]
    assert len(lines) == 9 and sum(ln.startswith("*") for ln in lines) == 2
    assert "2601.15833" in lines[0] or "2601.15911" in lines[0]
    assert not s.paths.data_dir.exists() and not s.paths.reports_dir.exists()
    assert cli.main(argv + ["--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["score"] for r in listed] == sorted((r["score"] for r in listed), reverse=True)
    assert {"id", "title", "url", "score", "selected", "keywords"} <= set(listed[0])
    assert not s.paths.data_dir.exists() and not s.paths.reports_dir.exists()


def test_dry_run_prints_the_cost_estimate_and_the_cap(server, tmp_path, capsys, monkeypatch):
    s = settings_for(server, tmp_path)
    for k, v in {"DISSECT_ARXIV_API_URL": s.sources.arxiv_api_url, "DISSECT_ARXIV_DELAY": "0.05",
                 "DISSECT_DIGEST_MAX": "2", "DISSECT_BACKEND": "openai", "DISSECT_MODEL": "gpt-4o-mini"}.items():
        monkeypatch.setenv(k, v)
    argv = ["digest", "--date", "2026-01-19", "--dry-run", "--max-cost", "0.05", "--data-dir", str(s.paths.data_dir)]
    assert cli.main(argv) == 0
    # 2 calls of a window-filling prompt (8192 - 2048 tokens) and a full reply (2048) at $0.15/$0.60 per million
    out = capsys.readouterr().out
    assert "estimated cost: up to $0.0043 a paper, $0.0086 for 2 with gpt-4o-mini; cap $0.0500" in out
    assert cli.main([*argv[:4], "--max-cost", "-1"]) == 2
    assert capsys.readouterr().err.strip() == "error: --max-cost must be 0 or more (0: no cap)"


# ---- the digest -------------------------------------------------------------------------------------------
def test_digest_publishes_page_index_and_valid_feed(server, tmp_path):
    s = settings_for(server, tmp_path, digest_max=4)
    run = run_digest(s, window(), backend=FakeBackend())
    rec = run.record
    assert {e["id"] for e in rec["dissected"]} == {"2601.15833", "2601.15911", "2601.15777", "2601.16001"}
    assert not rec["failed"] and len(rec["others"]) == 5
    origins = {e["id"]: e["text_origin"] for e in rec["dissected"]}
    assert origins.pop(FULLTEXT_ID) == "arxiv-html"
    assert set(origins.values()) == {"arxiv-abstract"}  # HTML and PDF both 404: read from the abstract
    page = (s.paths.reports_dir / "digests" / "2026-01-19.md").read_text()
    assert page.startswith("---\ndate: 2026-01-19\n") and "\ndissected: 4\n" in page
    for e in rec["dissected"]:
        assert e["title"] in page and f"](../{e['report']})" in page and (s.paths.reports_dir / e["report"]).exists()
    assert "Sycophancy &lt;b&gt;&amp; Flattery" in page and "<b>" not in page  # untrusted title made inert
    assert "beyond the top N" in page
    index = (s.paths.reports_dir / "index.md").read_text()
    assert "(site/digests/2026-01-19.html): 4 papers dissected ([Markdown](digests/2026-01-19.md))" in index
    assert (s.paths.reports_dir / "site" / "digests" / "2026-01-19.html").is_file()  # the site was rebuilt
    feed = ET.parse(s.paths.reports_dir / "feed.xml").getroot()  # well-formed
    assert feed.tag == A + "feed"
    for name in ("id", "title", "updated", "author", "link"):
        assert feed.find(A + name) is not None, name
    entries = feed.findall(A + "entry")
    assert len(entries) == 4 and len({e.findtext(A + "id") for e in entries}) == 4
    for e in entries:
        for name in ("id", "title", "updated", "link", "summary"):
            assert e.find(A + name) is not None and (e.find(A + name).text or e.find(A + name).get("href"))
        assert e.findtext(A + "id").startswith("urn:uuid:") and e.findtext(A + "updated").endswith("Z")
    assert (s.paths.data_dir / "logs" / "llm.jsonl").exists()


def test_rerun_adds_nothing_and_next_day_skips_listed_papers(server, tmp_path):
    s = settings_for(server, tmp_path)
    first = run_digest(s, window(), backend=FakeBackend()).record
    backend = FakeBackend()
    again = run_digest(s, window(), backend=backend).record
    assert not backend.requests  # everything was dissected already: the model is not called
    assert [e["id"] for e in again["dissected"]] == [e["id"] for e in first["dissected"]]  # kept, not duplicated
    assert not again["skipped"]  # skipped as already dissected, but they are this page's own papers
    page = (s.paths.reports_dir / "digests" / "2026-01-19.md").read_text()
    assert all(page.count(f"## {i}. ") == 1 for i in (1, 2, 3)) and "## 4. " not in page
    assert all(page.count(f". {e['title']}\n") == 1 for e in first["dissected"])  # one heading each
    # Tuesday's window (Fri-Mon) overlaps Monday's by a day: Friday's papers are not listed twice
    tue = run_digest(s, window(date(2026, 1, 20)), backend=FakeBackend()).record
    assert not tue["dissected"] and not tue["others"]
    assert {x["why"] for x in tue["skipped"]} <= {"already dissected", "listed in an earlier digest"}
    assert len(tue["skipped"]) == 4  # the four papers submitted on Friday 2026-01-16


def test_one_failing_paper_is_recorded_and_the_rest_are_done(server, tmp_path):
    s = settings_for(server, tmp_path)
    run = run_digest(s, window(), backend=FailingFor("Corrigibility Is Not Reflectively Stable"))
    rec = run.record
    assert [e["id"] for e in rec["failed"]] == ["2601.15911"] and "timed out" in rec["failed"][0]["error"]
    assert len(rec["dissected"]) == 2 and not run.all_failed
    page = (s.paths.reports_dir / "digests" / "2026-01-19.md").read_text()
    assert "## Could not be dissected" in page and "timed out" in page
    # a later run retries the failed paper and keeps the others
    rec2 = run_digest(s, window(), backend=FakeBackend()).record
    assert not rec2["failed"] and {e["id"] for e in rec2["dissected"]} >= {"2601.15911"}


def test_every_paper_failing_exits_10(server, tmp_path, monkeypatch, capsys):
    s = settings_for(server, tmp_path, concurrency=1)
    monkeypatch.setattr("agent.llm.get_backend", lambda _s: FailingFor("<<<SOURCE_TEXT"))
    for k, v in {"DISSECT_ARXIV_API_URL": s.sources.arxiv_api_url, "DISSECT_ARXIV_HTML_URL": s.sources.arxiv_html_url,
                 "DISSECT_ARXIV_PDF_URL": s.sources.arxiv_pdf_url, "DISSECT_ARXIV_DELAY": "0.05",
                 "DISSECT_CONCURRENCY": "1", "DISSECT_DIGEST_MAX": "2"}.items():
        monkeypatch.setenv(k, v)
    code = cli.main(dirs(s) + ["digest", "--date", "2026-01-19"])
    assert code == 10
    assert (s.paths.reports_dir / "digests" / "2026-01-19.md").exists()
    assert "failed" in (s.paths.data_dir / "logs" / "digest.log").read_text()


def test_arxiv_error_feed_and_empty_window(server, tmp_path, monkeypatch, capsys):
    s = settings_for(server, tmp_path)
    empty = run_digest(s, window(date(2026, 1, 14)), backend=FakeBackend()).record  # Wed: Mon-Tue, no papers
    assert not empty["dissected"] and not empty["others"]
    assert "Nothing new for this window yet" in (s.paths.reports_dir / "digests" / "2026-01-14.md").read_text()
    serve_error_feed(server)
    with pytest.raises(InvalidSourceError, match="arXiv rejected the request"):
        run_digest(s, window(), backend=FakeBackend())
    monkeypatch.setenv("DISSECT_ARXIV_API_URL", s.sources.arxiv_api_url)
    code = cli.main(dirs(s) + ["digest", "--date", "2026-01-19"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: arXiv rejected") and "Traceback" not in err


# ---- the lock ----------------------------------------------------------------------------------------------
def test_lock_held_by_a_live_process(tmp_path):
    path = tmp_path / "digest.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from agent.publish.lock import RunLock\n"
                               f"l = RunLock({str(path)!r}).acquire(); print('held', flush=True); time.sleep(30)"],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockError, match=f"pid {holder.pid}"):
            RunLock(path, "digest").acquire()
    finally:
        holder.kill()
        holder.wait()
    with RunLock(path, "digest") as lock:  # the kernel released the dead holder's lock: taken over
        assert lock.took_over.startswith(f"pid {holder.pid}")
        assert path.read_text().startswith(f"pid {os.getpid()} ")
        with pytest.raises(LockError):
            RunLock(path, "digest").acquire()  # not even this process can take it twice
    assert not path.exists()


def test_stale_lock_file_from_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / "digest.lock"
    path.write_text(f"pid {dead.pid} on host since 2026-01-19T06:00:00+0000\n")
    with RunLock(path, "digest") as lock:
        assert str(dead.pid) in lock.took_over and path.read_text().startswith(f"pid {os.getpid()}")


def test_second_digest_while_one_runs_exits_8(server, tmp_path, monkeypatch, capsys):
    s = settings_for(server, tmp_path)
    with RunLock(s.paths.data_dir / "digest.lock", "digest"):
        code = cli.main(dirs(s) + ["digest", "--date", "2026-01-19"])
    assert code == 8 and "another digest is running" in capsys.readouterr().err
    assert not (s.paths.reports_dir / "digests").exists()


# ---- faults while writing ---------------------------------------------------------------------------------
def test_full_disk_leaves_the_old_index_and_feed_intact(server, tmp_path, monkeypatch):
    s = settings_for(server, tmp_path)
    run_digest(s, window(), backend=FakeBackend())
    index, feed = (s.paths.reports_dir / "index.md").read_text(), (s.paths.reports_dir / "feed.xml").read_text()

    def no_space(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    import agent.publish.files

    monkeypatch.setattr(agent.publish.files.os, "fsync", no_space)
    with pytest.raises(StorageError, match="No space left"):
        run_digest(s, window(date(2026, 1, 16)), backend=FakeBackend())  # Friday: Wed-Thu, new papers
    monkeypatch.undo()
    assert (s.paths.reports_dir / "index.md").read_text() == index
    assert (s.paths.reports_dir / "feed.xml").read_text() == feed
    assert not (s.paths.reports_dir / "digests" / "2026-01-16.md").exists()
    assert not list(s.paths.reports_dir.rglob(".*.tmp")) and not list(s.paths.data_dir.rglob(".*.tmp"))
    ET.fromstring(feed)


def test_killed_digest_resumes_without_redoing_finished_papers(server, tmp_path):
    """kill -9 once the first paper's report exists, then run again: the rest is finished, nothing twice."""
    llm = OpenAIFixture(latency=1.0)
    s = settings_for(server, tmp_path)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "DISSECT_BACKEND": "openai", "DISSECT_MODEL": llm.model,
           "OPENAI_BASE_URL": llm.base_url, "DISSECT_CONCURRENCY": "1", "DISSECT_DIGEST_MAX": "3",
           "DISSECT_ARXIV_API_URL": s.sources.arxiv_api_url, "DISSECT_ARXIV_HTML_URL": s.sources.arxiv_html_url,
           "DISSECT_ARXIV_PDF_URL": s.sources.arxiv_pdf_url, "DISSECT_ARXIV_DELAY": "0.05", "DISSECT_HTTP_RETRIES": "0",
           "DISSECT_DATA_DIR": str(s.paths.data_dir), "DISSECT_REPORTS_DIR": str(s.paths.reports_dir)}
    cmd = [sys.executable, str(ROOT / "cli.py"), "digest", "--date", "2026-01-19"]
    try:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        reports: list[Path] = []
        while not reports and time.monotonic() < deadline and proc.poll() is None:
            reports = [p for p in s.paths.reports_dir.glob("papers/*.md")]
            time.sleep(0.05)
        assert reports, proc.communicate(timeout=5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        first = json.loads((s.paths.data_dir / "results" / (reports[0].stem + ".json")).read_text())
        assert not (s.paths.reports_dir / "digests" / "2026-01-19.md").exists()
        assert (s.paths.data_dir / "digest.lock").exists()  # left behind by the killed run: stale

        llm.latency = 0.0
        before = len(llm.requests)
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "(resumed)" in done.stderr
        rec = json.loads((s.paths.data_dir / "digests" / "2026-01-19.json").read_text())
        ids = [e["id"] for e in rec["dissected"]]
        assert len(ids) == 3 == len(set(ids)) and not rec["failed"]
        again = json.loads((s.paths.data_dir / "results" / (reports[0].stem + ".json")).read_text())
        assert again["provenance"]["generated_at"] == first["provenance"]["generated_at"]  # not redone
        first_line = first["scan"]["first_line"]
        assert not any(first_line in fenced_source(r) for r in llm.requests[before:]
                       if "daily post" not in r["messages"][0]["content"])  # its model call: not repeated
        assert any(first_line in fenced_source(r) for r in llm.requests[:before])
        # stage-wise: every model call was made (as one batch) before the first report was published, so the
        # resumed run publishes the rest without calling the model again
        assert len([r for r in llm.requests[before:] if "daily post" not in r["messages"][0]["content"]]) == 0
        assert len(list(s.paths.reports_dir.glob("papers/*.md"))) == 3
    finally:
        llm.close()


def fenced_source(request: dict) -> str:
    """The source text a chat request asked about (related passages from earlier papers sit outside the fence)."""
    from agent.publish.render import FENCE_CLOSE, FENCE_OPEN

    user = next(m["content"] for m in request["messages"] if m["role"] == "user")
    return " ".join(user.split(FENCE_OPEN, 1)[-1].split(FENCE_CLOSE, 1)[0].split())


# ---- batching -----------------------------------------------------------------------------------------------
def test_model_requests_of_a_digest_go_as_one_batch_per_pass(server, tmp_path):
    """Stage-wise: fetch all, then every paper's model request in one complete_batch (no timing coalescer)."""

    class Recording(FakeBackend):
        name = "gpu"

        def __init__(self):
            super().__init__()
            self.batch_sizes = []

        def complete_batch(self, requests):
            self.batch_sizes.append(len(requests))
            return super().complete_batch(requests)

    backend = Recording()
    rec = run_digest(settings_for(server, tmp_path), window(), backend=backend).record
    assert len(rec["dissected"]) == 3 and backend.batch_sizes[0] == 3  # then the daily post's own call
    assert len(backend.batch_sizes) == 1 + len(backend.post_requests)


def test_feed_stays_well_formed_with_hostile_text(tmp_path):
    from datetime import datetime

    from agent.digest.record import DigestRecord, Entry
    from agent.publish.digest_page import feed_xml
    from agent.settings import Settings

    s = Settings(data_dir=tmp_path / "data", reports_dir=tmp_path / "reports")
    e = Entry(id="2601.00001", title="Form\x0cfeed <script>alert(1)</script> & \x00co", url="https://arxiv.org/abs/x",
              score=0.9, status="dissected", gist="It claims ]]> and <b>bold</b>.", verdict="\x1bWeak.",
              generated_at=datetime(2026, 1, 19, tzinfo=UTC), report="2026-01-19/2601-00001.md")
    rec = DigestRecord(date="2026-01-19", window_start="2026-01-15", window_end="2026-01-16",
                       generated_at=datetime(2026, 1, 19, 6, tzinfo=UTC), dissected=[e])
    root = ET.fromstring(feed_xml(s, [rec], site_url="https://example.org/dissect/"))
    entry = root.find(A + "entry")
    assert entry.findtext(A + "title") == "Formfeed <script>alert(1)</script> & co"  # text, never markup
    assert entry.find(A + "link").get("href") == "https://example.org/dissect/site/reports/2601-00001.html"
    assert "&lt;b&gt;bold&lt;/b&gt;" in entry.findtext(A + "content")  # escaped inside the HTML content
    assert root.find(A + "link").get("rel") == "self"
