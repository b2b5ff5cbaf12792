"""Interrupted and damaged digests (issue 9 items 6, 7, 10): a resumed run publishes every paper the interrupted one
finished; bookkeeping that is corrupt or half-written is rebuilt or named, never silently emptied."""
from __future__ import annotations

import json
import logging
from datetime import date

import pytest

from agent.digest.run import checkpoint_path, run_digest
from agent.digest.window import resolve_window
from agent.pipeline import stages
from agent.publish import digest_page
from tests.support.digest_arxiv import serve_digest_arxiv
from tests.support.fakes import FakeBackend
from tests.support.fixture_server import arxiv_settings

DAY = date(2026, 1, 19)


@pytest.fixture
def settings(fixture_server, tmp_path):
    serve_digest_arxiv(fixture_server)
    return arxiv_settings(fixture_server, tmp_path, digest_max=3, concurrency=2)


def window():
    return resolve_window(day=DAY, today=date(2026, 1, 21))


def page_titles(settings) -> set[str]:
    rec = json.loads((settings.paths.data_dir / "digests" / "2026-01-19.json").read_text())
    return {e["id"] for e in rec["dissected"]}


def interrupt_after(monkeypatch, target, attr, n_calls: int):
    """Ctrl-C (KeyboardInterrupt) on the n-th call of target.attr."""
    real = getattr(target, attr)
    calls = {"n": 0}

    def wrapped(*a, **kw):
        calls["n"] += 1
        if calls["n"] == n_calls:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(target, attr, wrapped)


def test_ctrl_c_while_publishing_papers_then_a_rerun_publishes_them_all(settings, monkeypatch):
    interrupt_after(monkeypatch, stages, "publish", 2)  # the first paper is published, then Ctrl-C
    with pytest.raises(KeyboardInterrupt):
        run_digest(settings, window(), backend=FakeBackend())
    assert not (settings.paths.reports_dir / "digests" / "2026-01-19.md").exists()
    monkeypatch.undo()
    backend = FakeBackend()
    run = run_digest(settings, window(), backend=backend)
    assert run.resumed and len(run.record["dissected"]) == 3 and not backend.requests  # nothing redone
    assert len(page_titles(settings)) == 3


def test_killed_just_before_the_page_then_the_checkpoint_lost_still_publishes_every_paper(settings, monkeypatch):
    """As after kill -9 just before publish, with the checkpoint database gone too: the day's jobs on disk are the
    truth, so the next run lists the papers the killed run finished instead of skipping them as dissected."""
    interrupt_after(monkeypatch, digest_page, "write_json", 1)
    with pytest.raises(KeyboardInterrupt):
        run_digest(settings, window(), backend=FakeBackend())
    monkeypatch.undo()
    checkpoint_path(settings).unlink()
    backend = FakeBackend()
    rec = run_digest(settings, window(), backend=backend).record
    assert len(rec["dissected"]) == 3 and not backend.requests
    assert not rec["skipped"]  # not "already dissected": they are this day's own papers
    page = (settings.paths.reports_dir / "digests" / "2026-01-19.md").read_text()
    assert all(e["title"] in page for e in rec["dissected"])


def test_a_corrupt_record_is_set_aside_and_rebuilt_not_emptied(settings, caplog):
    first = run_digest(settings, window(), backend=FakeBackend()).record
    path = settings.paths.data_dir / "digests" / "2026-01-19.json"
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="dissect.digest"):
        again = run_digest(settings, window(), backend=FakeBackend()).record
    assert {e["id"] for e in again["dissected"]} == {e["id"] for e in first["dissected"]}
    assert path.with_suffix(".corrupt.json").read_text() == "{not json"
    assert any("unreadable" in r.message for r in caplog.records)
    feed = (settings.paths.reports_dir / "feed.xml").read_text()
    assert all(e["title"].split(":")[0] in feed for e in first["dissected"])


def test_a_result_without_a_published_report_is_not_already_dissected(settings):
    """A result JSON written before a failed report write must not make the paper 'already dissected' forever."""
    run_digest(settings, window(), backend=FakeBackend())
    for md in (settings.paths.reports_dir / "papers").glob("*.md"):
        md.unlink()  # results stay under data/results, reports are gone
    for f in (settings.paths.data_dir / "digest-runs" / "2026-01-19").glob("*.json"):
        f.unlink()
    (settings.paths.data_dir / "digests" / "2026-01-19.json").unlink()
    rec = run_digest(settings, window(), backend=FakeBackend()).record
    assert len(rec["dissected"]) == 3 and not [s for s in rec["skipped"] if s["why"] == "already dissected"]


def test_a_corrupt_checkpoint_database_is_moved_aside_and_the_run_starts_clean(settings, caplog):
    path = checkpoint_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a sqlite database" * 100)
    with caplog.at_level(logging.WARNING, logger="dissect.digest"):
        rec = run_digest(settings, window(), backend=FakeBackend()).record
    assert len(rec["dissected"]) == 3
    assert list(path.parent.glob(path.name + ".corrupt-*"))
    assert any("starting clean" in r.message for r in caplog.records)


def test_cost_cap_holds_back_papers_and_still_publishes(settings, monkeypatch):
    """A digest with a cap estimates before each paper and stops dissecting when the next one would pass it; what
    it has is published, the rest is listed as held back (not failed). Each report carries its cost."""
    from agent.pricing import ModelPrice

    backend = FakeBackend()
    settings.llm.backend = "openai"  # priced like a hosted model (the fake talks in-process)
    settings.llm.model = backend.model
    settings.cost.prices = {backend.model: ModelPrice(input=1000.0, output=1000.0)}
    settings.digest.max_cost_usd = 12.0  # room for one paper estimate (about 8 USD at these prices), not two
    rec = run_digest(settings, window(), backend=backend).record
    held = [o for o in rec["others"] if o["why"].startswith("not dissected: the cost cap")]
    assert len(rec["dissected"]) >= 1 and held and len(rec["dissected"]) + len(held) == 3
    assert not rec["failed"] and rec["cost_usd"] > 0
    page = (settings.paths.reports_dir / "digests" / "2026-01-19.md").read_text()
    assert "Model cost: $" in page
    result = json.loads(next((settings.paths.data_dir / "results").glob("*.json")).read_text())
    assert result["provenance"]["cost_usd"] > 0
