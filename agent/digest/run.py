"""Running the digest: the dry run (plan), and the real run with its checkpoint, resume and model lifetime."""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver

from agent.digest.graph import DigestContext, build_digest_graph, dedupe, find_candidates, open_corpus, rank
from agent.digest.jobs import DayJobs
from agent.digest.ranking import Ranked, load_profile
from agent.digest.record import DigestRecord, read_record
from agent.digest.window import DigestOptions, Window
from agent.llm import LLMBackend
from agent.pipeline.run import make_llm
from agent.pipeline.state import RunContext
from agent.publish.email import send_digest_email
from agent.publish.files import StorageError
from agent.settings import Settings

log = logging.getLogger("dissect.digest")


def checkpoint_path(settings: Settings) -> Path:
    return Path(settings.paths.data_dir) / "digest-checkpoints.sqlite"


def remaining_budget(settings: Settings, day: date, max_n: int | None, force: bool) -> int:
    """How many papers this run may dissect: the day's top N less those earlier runs of the day published (a re-run
    after arXiv's lag adds the new papers, it does not dissect N more)."""
    n = settings.digest.max if max_n is None else max_n
    if force:
        return n
    done = {j.source for j in DayJobs(settings, day.isoformat()).all() if j.report_path}
    rec = read_record(settings, day.isoformat())
    if rec is not None:
        done |= {e.id for e in rec.dissected}
    return max(0, n - len(done))


@dataclass
class DigestRun:
    record: dict  # agent.publish.digest_page.DigestRecord dump
    resumed: bool = False

    @property
    def all_failed(self) -> bool:
        return bool(self.record.get("failed")) and not self.record.get("dissected")


def plan_digest(settings: Settings, window: Window, *, max_n: int | None = None, force: bool = False,
                opts: DigestOptions | None = None) -> tuple[list[Ranked], list[dict]]:
    """The dry run: search, dedupe and rank, writing nothing. Returns (ranked best first, skipped)."""
    opts = opts or DigestOptions.for_settings(settings)
    profile = load_profile(opts.profile_path or None)
    papers = find_candidates(settings, window, profile, opts)
    keep, skipped = dedupe(settings, papers, window.day, force)
    n = remaining_budget(settings, window.day, max_n, force)
    return rank(settings, keep, profile, n, store=open_corpus(settings)), skipped


def _open_checkpoints(path: Path) -> sqlite3.Connection:
    """The checkpoint database; a corrupt one is moved aside (the day's jobs on disk still hold the work)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        conn.execute("PRAGMA schema_version").fetchone()
        return conn
    except sqlite3.DatabaseError as exc:
        conn.close()
        aside = path.with_name(path.name + f".corrupt-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        path.replace(aside)
        log.warning("the digest checkpoint database was unreadable (%s); moved to %s and starting clean", exc, aside)
        return sqlite3.connect(str(path), check_same_thread=False)


def run_digest(settings: Settings, window: Window, *, max_n: int | None = None, force: bool = False,
               backend: LLMBackend | None = None, opts: DigestOptions | None = None,
               progress: Callable[[str], None] = lambda _m: None) -> DigestRun:
    """Run (or resume) the digest for `window`; returns its record. The caller holds the run lock."""
    opts = opts or DigestOptions.for_settings(settings)
    profile = load_profile(opts.profile_path or None)
    path = checkpoint_path(settings)
    conn = None
    llm = make_llm(settings, backend)
    try:
        conn = _open_checkpoints(path)
        saver = SqliteSaver(conn)
        graph = build_digest_graph(saver)
        config = {"configurable": {"thread_id": window.thread_id}}
        ctx = DigestContext(run=RunContext(settings=settings, llm=llm, force=force, progress=progress),
                            opts=opts, profile=profile)
        snap = graph.get_state(config)
        resumed = bool(snap.next) and not force
        if resumed:
            log.info("resuming the interrupted digest %s at %s", window.thread_id, ", ".join(sorted(set(snap.next))))
            progress(f"resuming the interrupted digest {window.thread_id}")
            inputs = None
        else:
            if snap.values or snap.next:
                saver.delete_thread(window.thread_id)  # a finished (or --force) run starts over cleanly
            if force:
                DayJobs(settings, window.day.isoformat()).forget()
            inputs = {"day": window.day.isoformat(), "start": window.start.isoformat(),
                      "end": window.end.isoformat(), "since": window.since,
                      "max": remaining_budget(settings, window.day, max_n, force), "force": force,
                      "started_at": datetime.now(UTC).isoformat()}
        state = graph.invoke(inputs, config, context=ctx, durability="sync")
        saver.delete_thread(window.thread_id)  # done: nothing to resume; the record holds the outcome
        run = DigestRun(record=state["record"], resumed=resumed)
    except sqlite3.Error as exc:
        raise StorageError(f"digest checkpoints at {path}: {exc}") from None
    except OSError as exc:
        raise StorageError(f"cannot write under {settings.paths.data_dir}: {exc.strerror or exc}") from None
    finally:
        llm.backend.close()
        if conn is not None:
            conn.close()
    # the page, index, feed and site are published: a failed send is its own error (exit 11), never a lost page
    record = DigestRecord.model_validate(run.record)
    outcome = send_digest_email(settings.email, record, post=record.post, site_url=settings.digest.site_url)
    log.info("email: %s", "sent to " + ", ".join(outcome.recipients) if outcome.sent else outcome.reason)
    return run
