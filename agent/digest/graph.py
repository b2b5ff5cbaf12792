"""The daily digest, stage-wise (the way arxiv-sanity-lite's daemon works), one LangGraph graph:

    search -> dedupe -> rank -> fetch -> retrieve -> analyse -> critique -> render -> publish_papers -> publish

search:    arXiv papers submitted in the window, in the configured categories, matching the profile's query; every id
           from the network is validated against the arXiv id grammar (agent.sources.arxiv.valid_arxiv_id).
dedupe:    drop papers with a published report and papers another day's digest listed (windows overlap).
rank:      agent.digest.ranking scores each paper in [0, 1]; the best `max` at or above the threshold are selected.
fetch .. publish_papers: the stages of agent.pipeline.stages over all selected papers, each stage over the whole
           batch before the next: fetch all (arXiv spaces requests 3 s apart), retrieve all, fit and analyse all,
           every model pass as ONE batch (agent.critique), render all, then publish each report.
publish:   the day's record (data/digests/<date>.json), page, index, feed and site (agent.publish.digest_page).

Per-paper isolation: a paper whose stage fails is recorded as failed (with its one-line error) and skips the rest;
the others go on. A full disk (StorageError) stops the run instead: it is nobody's paper's fault.

State is JSON-safe and small (ids, scores and statuses); each paper's job lives on disk (agent.digest.jobs), saved
after every stage. Checkpointed with LangGraph's SqliteSaver (thread = the digest date): a killed run resumes at
the stage it had reached; the jobs folder makes sure a resumed run publishes every paper the killed one finished.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from agent.corpus.store import Store
from agent.digest.daily_post import DailyPost, write_daily_post
from agent.digest.jobs import DayJobs
from agent.digest.ranking import Profile, Ranked, score_papers, select
from agent.digest.record import load_records
from agent.digest.votes import votes_for_ranking
from agent.digest.window import DigestOptions, Window
from agent.errors import DissectError
from agent.models import Paper, PaperJob, SourceRef
from agent.pipeline import stages
from agent.pipeline.state import RunContext
from agent.pricing import estimate_paper_cost, format_usd, total_cost
from agent.publish.digest_page import publish_digest
from agent.publish.files import StorageError
from agent.publish.reports import published_report
from agent.settings import Settings
from agent.sources.arxiv import remember_metadata, search_arxiv, valid_arxiv_id

log = logging.getLogger("dissect.digest")


# ---- the first steps as plain functions (the dry run calls them without the graph) -----------------------


def find_candidates(settings: Settings, window: Window, profile: Profile, opts: DigestOptions) -> list[Paper]:
    papers = search_arxiv(settings, categories=settings.digest.categories, start=window.start, end=window.end,
                          query=profile.arxiv_query, max_results=opts.search_max)
    if len(papers) >= opts.search_max:
        log.warning("the search hit its limit of %d results; later papers of the window may be missing "
                    "(narrow the profile's arxiv_query or raise DISSECT_DIGEST_SEARCH_MAX)", opts.search_max)
    kept: dict[str, Paper] = {}
    for p in papers:
        pid = valid_arxiv_id(p.source_id)
        if pid is None or p.ref.kind != "arxiv":
            log.warning("dropped a search result whose id is not an arXiv id: %r", p.source_id[:80])
            continue
        kept.setdefault(pid, p)  # pagination can repeat an entry; versions of one paper are one paper
    return list(kept.values())


def listed_elsewhere(settings: Settings, day: date) -> set[str]:
    """Ids that the digests of other dates listed (dissected, failed or below the bar)."""
    return {pid for rec in load_records(settings) if rec.date != day.isoformat() for pid in rec.listed_ids()}


def dedupe(settings: Settings, papers: list[Paper], day: date, force: bool) -> tuple[list[Paper], list[dict]]:
    """Already dissected means: its report is published. Papers this day's earlier runs dissected stay in (their
    saved jobs are reused, never redone); failed ones are tried again."""
    elsewhere = listed_elsewhere(settings, day)
    today = DayJobs(settings, day.isoformat())
    keep, skipped = [], []
    for p in papers:
        mine = today.load(p.source_id)
        if mine is not None and mine.report_path and not force:
            continue  # published by an earlier run of this day: on the page already, not a candidate again
        if mine is not None and not force:
            keep.append(p)  # unfinished or failed earlier today: resumed or tried again
        elif not force and published_report(settings, p.source_id) is not None:
            skipped.append({"id": p.source_id, "title": p.title, "why": "already dissected"})
        elif p.source_id in elsewhere:
            skipped.append({"id": p.source_id, "title": p.title, "why": "listed in an earlier digest"})
        else:
            keep.append(p)
    return keep, skipped


def open_corpus(settings: Settings) -> Store | None:
    """The corpus store for ranking, only if one exists (ranking must not create one)."""
    return Store(settings) if settings.chroma_dir.is_dir() else None


def rank(settings: Settings, papers: list[Paper], profile: Profile, max_n: int, store: Store | None = None
         ) -> list[Ranked]:
    ranked = score_papers(papers, profile, store=store,
                          votes=votes_for_ranking(settings.paths.data_dir, settings.cache_dir))
    select(ranked, settings.digest.threshold, max_n)
    return ranked


# ---- the graph ------------------------------------------------------------------------------------------


class DigestState(TypedDict, total=False):
    day: str
    start: str
    end: str
    since: bool
    max: int
    force: bool
    started_at: str
    candidates: list[dict]  # Paper dumps from the search (abstracts), until ranking
    skipped: list[dict]
    ranked: list[dict]  # Ranked dumps
    selected: list[str]  # ids chosen for dissection, best first
    record: dict


@dataclass
class DigestContext:
    run: RunContext  # settings, model, store, progress: the same context the dissect command uses
    opts: DigestOptions
    profile: Profile

    @property
    def settings(self) -> Settings:
        return self.run.settings


def _window(state: DigestState) -> Window:
    return Window(date.fromisoformat(state["day"]), date.fromisoformat(state["start"]),
                  date.fromisoformat(state["end"]), state.get("since", False))


def search_node(state: DigestState, runtime: Runtime[DigestContext]) -> dict:
    ctx = runtime.context
    w = _window(state)
    ctx.run.progress(f"searching arXiv {', '.join(ctx.settings.digest.categories)} for {w.start}..{w.end}")
    papers = find_candidates(ctx.settings, w, ctx.profile, ctx.opts)
    remember_metadata(ctx.settings, papers)
    log.info("digest %s: %d papers submitted %s..%s", w.day, len(papers), w.start, w.end)
    return {"candidates": [p.model_dump(mode="json") for p in papers]}


def dedupe_node(state: DigestState, runtime: Runtime[DigestContext]) -> dict:
    papers = [Paper.model_validate(p) for p in state.get("candidates", [])]
    keep, skipped = dedupe(runtime.context.settings, papers, _window(state).day, state.get("force", False))
    log.info("dedupe: %d new, %d skipped", len(keep), len(skipped))
    return {"candidates": [p.model_dump(mode="json") for p in keep], "skipped": skipped}


def rank_node(state: DigestState, runtime: Runtime[DigestContext]) -> dict:
    ctx = runtime.context
    papers = [Paper.model_validate(p) for p in state.get("candidates", [])]
    ctx.run.progress(f"ranking {len(papers)} papers")
    ranked = rank(ctx.settings, papers, ctx.profile, state["max"], store=open_corpus(ctx.settings))
    chosen = [r for r in ranked if r.selected]
    log.info("rank: %d selected: %s", len(chosen), ", ".join(f"{r.id} ({r.score:.2f})" for r in chosen))
    jobs = DayJobs(ctx.settings, state["day"])
    for r in chosen:
        earlier = jobs.load(r.id)
        if state.get("force") or earlier is None or earlier.error:  # a failure is tried again from the start
            jobs.save(PaperJob(source=r.id, ref=SourceRef(kind="arxiv", locator=r.id), score=r.score))
    # the abstracts are not needed past ranking: the checkpoint stays small
    return {"ranked": [r.model_dump(mode="json", exclude={"abstract"}) for r in ranked], "candidates": [],
            "selected": [r.id for r in chosen]}


def _record_failure(job: PaperJob, exc: Exception) -> None:
    if isinstance(exc, DissectError):
        job.error, job.error_exit = str(exc), exc.exit_code
        log.warning("failed %s: %s", job.source, exc)
    else:
        log.error("failed %s with an unexpected error", job.source, exc_info=exc)
        job.error, job.error_exit = f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:300]}", 1


def each_paper(name: str, stage: Callable[[PaperJob, RunContext], None], *, skip_reused: bool = True):
    """A graph node running one per-paper stage over every selected paper that has not failed, saving each job."""

    def run(state: DigestState, runtime: Runtime[DigestContext]) -> dict:
        ctx = runtime.context
        jobs = DayJobs(ctx.settings, state["day"])
        selected = state.get("selected", [])
        for i, pid in enumerate(selected, 1):
            job = jobs.load(pid)
            if job is None or job.error or job.held_back or job.report_path or (skip_reused and job.reused):
                continue
            ctx.run.progress(f"{name} {i}/{len(selected)}: {pid}")
            try:
                stage(job, ctx.run)
            except StorageError:
                raise  # a full disk is the run's failure (exit 9), not this paper's
            except Exception as exc:  # noqa: BLE001 - per-paper isolation: one bad paper never sinks the digest
                _record_failure(job, exc)
            jobs.save(job)
        return {}

    run.__name__ = f"{name}_all"
    return run


def fetch_stage(job: PaperJob, run: RunContext) -> None:
    if job.paper is None:
        stages.fetch(job, run)
        stages.reuse(job, run)


def retrieve_stage(job: PaperJob, run: RunContext) -> None:
    if not job.messages:
        stages.retrieve(job, run)


def analyse_stage(job: PaperJob, run: RunContext) -> None:
    if not job.messages:
        stages.fit(job, run)
        stages.analyse(job, run)


def render_stage(job: PaperJob, run: RunContext) -> None:
    if job.result is None:
        stages.render(job, run)


def publish_stage(job: PaperJob, run: RunContext) -> None:
    stages.publish(job, run)  # the result was rendered (and saved) before: a resumed run publishes the same one


def critique_node(state: DigestState, runtime: Runtime[DigestContext]) -> dict:
    """Every model pass over all selected papers at once: one batch per pass."""
    ctx = runtime.context
    store = DayJobs(ctx.settings, state["day"])
    jobs = [j for j in (store.load(pid) for pid in state.get("selected", []))
            if j is not None and not j.error and not j.held_back and not j.reused and not j.report_path
            and j.messages]
    jobs = within_cost_cap(jobs, store, ctx.settings)
    if jobs:
        stages.critique(jobs, ctx.run, on_error=_record_failure)
        for job in jobs:
            store.save(job)
    return {}


def within_cost_cap(jobs: list[PaperJob], store: DayJobs, settings: Settings) -> list[PaperJob]:
    """The jobs the day's cost cap still allows, best first: before each paper, its estimated cost (an upper bound)
    is compared with what the cap has left after what the day already spent. The others are held back (listed on
    the page, not failed); the run still publishes what it has."""
    cap = settings.digest.max_cost_usd
    if not cap or not jobs:
        return jobs
    spent = total_cost([j.result.provenance.cost_usd for j in store.all() if j.result is not None]) or 0.0
    allowed: list[PaperJob] = []
    for job in sorted(jobs, key=lambda j: -(j.score or 0.0)):
        assert job.paper is not None
        estimate = estimate_paper_cost(settings, len(job.prompt_text or job.paper.text))
        if estimate is None:
            log.warning("no price for model %s: the cost cap cannot be applied to %s", settings.llm.model, job.source)
        elif spent + estimate > cap:
            job.held_back = (f"the cost cap ({format_usd(cap)}) would be passed: {format_usd(spent)} spent, "
                             f"this paper up to {format_usd(estimate)}")
            log.info("held back %s: %s", job.source, job.held_back)
            store.save(job)
            continue
        else:
            spent += estimate
        allowed.append(job)
    return allowed


def publish_node(state: DigestState, runtime: Runtime[DigestContext]) -> dict:
    ctx = runtime.context
    jobs = DayJobs(ctx.settings, state["day"])

    def write_post(paper_id: str) -> DailyPost | None:
        """The daily post on the day's best paper (a model failure still gives the program-written post)."""
        job = jobs.load(paper_id)
        if job is None or job.result is None or job.paper is None:
            return None
        ctx.run.progress(f"writing the daily post on {paper_id}")
        return write_daily_post(job.result, job.paper.text, job.score or 0.0, ctx.profile, ctx.run.llm, ctx.settings)

    record = publish_digest(ctx.settings, ctx.opts, dict(state), jobs.all(), model=ctx.run.llm.backend.model,
                            backend=ctx.run.llm.backend.name, write_post=write_post)
    return {"record": record.model_dump(mode="json")}


def build_digest_graph(checkpointer=None):
    g = StateGraph(DigestState, context_schema=DigestContext)
    g.add_node("search", search_node)
    g.add_node("dedupe", dedupe_node)
    g.add_node("rank", rank_node)
    g.add_node("fetch", each_paper("fetch", fetch_stage))
    g.add_node("retrieve", each_paper("retrieve", retrieve_stage))
    g.add_node("analyse", each_paper("analyse", analyse_stage))
    g.add_node("critique", critique_node)
    g.add_node("render", each_paper("render", render_stage))
    g.add_node("publish_papers", each_paper("publish", publish_stage, skip_reused=False))
    g.add_node("publish", publish_node)
    order = ["search", "dedupe", "rank", "fetch", "retrieve", "analyse", "critique", "render", "publish_papers",
             "publish"]
    g.add_edge(START, order[0])
    for a, b in zip(order, order[1:], strict=False):
        g.add_edge(a, b)
    g.add_edge(order[-1], END)
    return g.compile(checkpointer=checkpointer)
