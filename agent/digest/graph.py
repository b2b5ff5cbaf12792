"""The daily digest, one LangGraph graph:

    search -> dedupe -> rank --(a Send per selected paper)--> dissect_paper (parallel, isolated) -> publish
                            \\--(nothing selected)--------------------------------------------------/

search:   arXiv papers submitted in the window, in the configured categories, matching the profile's query.
dedupe:   drop papers already dissected, and papers already listed by another day's digest (windows overlap).
rank:     agent.digest.ranking scores each paper in [0, 1]; the best `max` at or above the threshold are selected.
dissect:  agent.dissect.dissect per selected paper, at most `concurrency` at a time; a failure is recorded.
publish:  the digest record (data/digests/<date>.json), page, index and feed (agent.publish.digest_page).

Checkpointed with LangGraph's SqliteSaver in <data_dir>/digest-checkpoints.sqlite, thread id = the digest date:
a run that was killed resumes at the step it had reached, with the same selection. Papers finished before the
kill are not redone: their results are on disk, and dissect_paper reuses a result made by this run.

The window rule, the digest options and the log file are in agent.schedule.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from agent.digest.ranking import Profile, Ranked, load_profile, score_papers, select
from agent.digest.window import DigestOptions, Window
from agent.errors import DissectError
from agent.models import Paper
from agent.pipeline.state import merge_dicts
from agent.publish.files import StorageError
from agent.settings import Settings
from agent.sources.arxiv import remember_metadata

log = logging.getLogger("dissect.digest")


# ---- the steps as plain functions (the dry run calls them without the graph) --------------------


def find_candidates(settings: Settings, window: Window, profile: Profile, opts: DigestOptions) -> list[Paper]:
    from agent.sources.arxiv import search_arxiv

    papers = search_arxiv(settings, categories=settings.digest.categories, start=window.start, end=window.end,
                          query=profile.arxiv_query, max_results=opts.search_max)
    if len(papers) >= opts.search_max:
        log.warning("the search hit its limit of %d results; later papers of the window may be missing "
                    "(narrow the profile's arxiv_query or raise DISSECT_DIGEST_SEARCH_MAX)", opts.search_max)
    return list({p.source_id: p for p in papers}.values())  # pagination can repeat an entry


def listed_elsewhere(settings: Settings, day: date) -> set[str]:
    """Ids that the digests of other dates listed (dissected, failed or below the bar)."""
    from agent.publish.digest_page import load_records

    return {pid for rec in load_records(settings) if rec.date != day.isoformat() for pid in rec.listed_ids()}


def dedupe(settings: Settings, papers: list[Paper], day: date, force: bool) -> tuple[list[Paper], list[dict]]:
    from agent.publish.reports import load_result

    elsewhere = listed_elsewhere(settings, day)
    keep, skipped = [], []
    for p in papers:
        if not force and load_result(settings, p.source_id) is not None:
            skipped.append({"id": p.source_id, "title": p.title, "why": "already dissected"})
        elif p.source_id in elsewhere:
            skipped.append({"id": p.source_id, "title": p.title, "why": "listed in an earlier digest"})
        else:
            keep.append(p)
    return keep, skipped


def remaining_budget(settings: Settings, day: date, max_n: int | None, force: bool) -> int:
    """How many papers this run may dissect: the day's top N less those an earlier run of the day dissected
    (a re-run after arXiv's lag adds the new papers, it does not dissect N more)."""
    from agent.publish.digest_page import DigestRecord, record_path
    from agent.publish.files import read_json

    n = settings.digest.max if max_n is None else max_n
    raw = None if force else read_json(record_path(settings, day.isoformat()))
    try:
        done = len(DigestRecord.model_validate(raw).dissected) if raw else 0
    except ValueError:
        done = 0
    return max(0, n - done)


def open_corpus(settings: Settings):
    """The corpus store for ranking, only if one exists (ranking must not create one)."""
    if not Path(settings.chroma_dir).is_dir():
        return None
    from agent.corpus.store import Store

    return Store(settings)


def rank(settings: Settings, papers: list[Paper], profile: Profile, max_n: int, store=None) -> list[Ranked]:
    ranked = score_papers(papers, profile, store=store)
    select(ranked, settings.digest.threshold, max_n)
    return ranked


# ---- the graph -------------------------------------------------------------------------------------


class DigestState(TypedDict, total=False):
    day: str
    start: str
    end: str
    since: bool
    max: int
    force: bool
    started_at: str  # ISO time the run began: results generated after it are this run's
    candidates: list[dict]  # Paper dumps (JSON-safe state: the checkpointer stores plain data)
    skipped: list[dict]
    ranked: list[dict]
    outcomes: Annotated[dict[str, dict], merge_dicts]  # paper id -> feed.Entry dump
    record: dict


@dataclass
class DigestContext:
    settings: Settings
    opts: DigestOptions
    profile: Profile
    llm: object  # StructuredLLM shared by the parallel dissections
    progress: Callable[[str], None] = lambda _m: None
    _store: object | None = None
    _store_lock: threading.Lock = field(default_factory=threading.Lock)

    def store(self):
        with self._store_lock:  # one Chroma client for all the parallel dissections
            if self._store is None:
                from agent.corpus.store import Store

                self._store = Store(self.settings)
            return self._store


def _window(state: DigestState) -> Window:
    return Window(date.fromisoformat(state["day"]), date.fromisoformat(state["start"]),
                  date.fromisoformat(state["end"]), state.get("since", False))


def search_node(state: DigestState, runtime: Runtime[DigestContext]):
    ctx = runtime.context
    w = _window(state)
    ctx.progress(f"searching arXiv {', '.join(ctx.settings.digest.categories)} for {w.start}..{w.end}")
    papers = find_candidates(ctx.settings, w, ctx.profile, ctx.opts)
    remember_metadata(ctx.settings, papers)
    log.info("digest %s: %d papers submitted %s..%s", w.day, len(papers), w.start, w.end)
    return {"candidates": [p.model_dump(mode="json") for p in papers]}


def dedupe_node(state: DigestState, runtime: Runtime[DigestContext]):
    papers = [Paper.model_validate(p) for p in state.get("candidates", [])]
    keep, skipped = dedupe(runtime.context.settings, papers, _window(state).day, state.get("force", False))
    log.info("dedupe: %d new, %d skipped", len(keep), len(skipped))
    return {"candidates": [p.model_dump(mode="json") for p in keep], "skipped": skipped}


def rank_node(state: DigestState, runtime: Runtime[DigestContext]):
    ctx = runtime.context
    papers = [Paper.model_validate(p) for p in state.get("candidates", [])]
    ctx.progress(f"ranking {len(papers)} papers")
    ranked = rank(ctx.settings, papers, ctx.profile, state["max"], store=open_corpus(ctx.settings))
    chosen = [r for r in ranked if r.selected]
    log.info("rank: %d selected: %s", len(chosen), ", ".join(f"{r.id} ({r.score:.2f})" for r in chosen))
    return {"ranked": [r.model_dump(mode="json") for r in ranked]}


def fan_out(state: DigestState):
    done = state.get("outcomes") or {}
    sends = [Send("dissect_paper", {"paper": r, "force": state.get("force", False), "started_at": state["started_at"]})
             for r in state.get("ranked", []) if r["selected"] and done.get(r["id"], {}).get("status") != "dissected"]
    return sends or "publish"


class PaperTask(TypedDict):
    paper: dict
    force: bool
    started_at: str


def dissect_paper(task: PaperTask, runtime: Runtime[DigestContext]):
    """Dissect one selected paper; whatever goes wrong is recorded as this paper's failure."""
    from agent.publish.digest_page import entry_failed, entry_from_result

    ctx = runtime.context
    r = Ranked.model_validate(task["paper"])
    ctx.progress(f"dissecting {r.id}: {r.title[:70]}")
    try:
        result, path = _reuse_or_dissect(ctx, r.id, task["force"], datetime.fromisoformat(task["started_at"]))
        entry = entry_from_result(r, result, path, ctx.settings)
        log.info("dissected %s -> %s", r.id, path)
    except StorageError:
        raise  # a full disk is the run's failure (exit 9), not this paper's
    except DissectError as exc:
        log.warning("failed %s: %s", r.id, exc)
        entry = entry_failed(r, str(exc))
    except Exception as exc:  # noqa: BLE001 - per-paper isolation: a bug in one paper must not sink the digest
        log.exception("failed %s with an unexpected error", r.id)
        entry = entry_failed(r, f"unexpected {type(exc).__name__}: {exc}")
    return {"outcomes": {r.id: entry.model_dump(mode="json")}}


def _reuse_or_dissect(ctx: DigestContext, paper_id: str, force: bool, started_at: datetime):
    """A result this run already made (before a kill) is reused, never redone; its report is re-rendered if the
    kill came between the JSON and the Markdown."""
    from agent.pipeline.run import dissect
    from agent.publish.files import inside
    from agent.publish.reports import load_result, save_report

    result = load_result(ctx.settings, paper_id)
    if result is not None and (not force or result.provenance.generated_at >= started_at):
        path = inside(ctx.settings.paths.reports_dir, result.report_date().isoformat(), result.slug + ".md")
        if not path.exists():
            path = save_report(result, ctx.settings)
        log.info("reused the result of %s made before an interruption", paper_id)
        return result, path
    outcome = dissect(paper_id, ctx.settings, force=force, llm=ctx.llm, store=ctx.store(),
                      progress=lambda m: ctx.progress(f"  {paper_id}: {m}"))
    return outcome.result, Path(outcome.report_path)


def publish_node(state: DigestState, runtime: Runtime[DigestContext]):
    from agent.publish.digest_page import publish_digest

    ctx = runtime.context
    record = publish_digest(ctx.settings, ctx.opts, state, model=ctx.llm.backend.model, backend=ctx.llm.backend.name)
    return {"record": record.model_dump(mode="json")}


def build_digest_graph(checkpointer=None):
    g = StateGraph(DigestState, context_schema=DigestContext)
    g.add_node("search", search_node)
    g.add_node("dedupe", dedupe_node)
    g.add_node("rank", rank_node)
    g.add_node("dissect_paper", dissect_paper)
    g.add_node("publish", publish_node)
    g.add_edge(START, "search")
    g.add_edge("search", "dedupe")
    g.add_edge("dedupe", "rank")
    g.add_conditional_edges("rank", fan_out, ["dissect_paper", "publish"])
    g.add_edge("dissect_paper", "publish")
    g.add_edge("publish", END)
    return g.compile(checkpointer=checkpointer)


# ---- running it --------------------------------------------------------------------------------------


def checkpoint_path(settings: Settings) -> Path:
    return Path(settings.paths.data_dir) / "digest-checkpoints.sqlite"


@dataclass
class DigestRun:
    record: dict  # agent.feed.DigestRecord dump
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


def _model(settings: Settings, backend, opts: DigestOptions):
    from agent.batching import CoalescingBackend
    from agent.llm import get_backend
    from agent.pipeline.run import make_llm

    backend = backend or get_backend(settings)
    if settings.digest.concurrency > 1:
        backend = CoalescingBackend(backend, max_batch=settings.digest.concurrency, parallel=backend.name == "openai",
                                    window_s=0.02 if backend.name == "openai" else opts.batch_window_s)
    return make_llm(settings, backend)


def run_digest(settings: Settings, window: Window, *, max_n: int | None = None, force: bool = False,
               backend=None, opts: DigestOptions | None = None,
               progress: Callable[[str], None] = lambda _m: None) -> DigestRun:
    """Run (or resume) the digest for `window`; returns its record. The caller holds the run lock."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    opts = opts or DigestOptions.for_settings(settings)
    profile = load_profile(opts.profile_path or None)
    llm = _model(settings, backend, opts)
    ctx = DigestContext(settings=settings, opts=opts, profile=profile, llm=llm, progress=progress)
    path = checkpoint_path(settings)
    conn = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False)
        saver = SqliteSaver(conn)
        graph = build_digest_graph(saver)
        config = {"configurable": {"thread_id": window.thread_id}, "max_concurrency": max(1, settings.digest.concurrency)}
        snap = graph.get_state(config)
        resumed = bool(snap.next) and not force
        if resumed:
            log.info("resuming the interrupted digest %s at %s", window.thread_id, ", ".join(sorted(set(snap.next))))
            progress(f"resuming the interrupted digest {window.thread_id}")
            inputs = None
        else:
            if snap.values or snap.next:
                saver.delete_thread(window.thread_id)  # a finished (or --force) run starts over cleanly
            inputs = {"day": window.day.isoformat(), "start": window.start.isoformat(),
                      "end": window.end.isoformat(), "since": window.since,
                      "max": remaining_budget(settings, window.day, max_n, force), "force": force,
                      "started_at": datetime.now(UTC).isoformat(), "outcomes": {}}
        state = graph.invoke(inputs, config, context=ctx, durability="sync")
        saver.delete_thread(window.thread_id)  # done: nothing to resume; the record holds the outcome
        return DigestRun(record=state["record"], resumed=resumed)
    except sqlite3.Error as exc:
        raise StorageError(f"digest checkpoints at {path}: {exc}") from None
    except OSError as exc:
        raise StorageError(f"cannot write under {settings.paths.data_dir}: {exc.strerror or exc}") from None
    finally:
        llm.backend.close()
        if conn is not None:
            conn.close()
