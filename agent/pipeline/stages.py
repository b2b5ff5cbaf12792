"""The stages of a dissection, shared by the dissect graph (one paper) and the digest (many papers, stage by stage).

    resolve -> fetch -> reuse? -> retrieve -> fit -> analyse -> critique (model passes, batched) -> render -> publish

Each per-paper stage takes a PaperJob and the RunContext and fills the job in; `critique` takes a list of jobs and
runs each model pass as one batch. Stages record their wall time in `job.stage_seconds`. Errors are the
agent.errors types; the digest records them per paper, the dissect command reports them.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from agent import __version__
from agent.critique import (
    PassContext,
    claim_queries,
    critique_fingerprint,
    dissect_messages,
    first_line,
    pass_ask,
    passes,
    provenance_fields,
    result_fields,
    run_analysis,
)
from agent.errors import ConfigError, DissectError, LLMError
from agent.fingerprint import digest
from agent.llm.structured import CallStats
from agent.models import FALLACIES, DissectionDraft, DissectionResult, PaperJob, Provenance, SourceScan, result_slug
from agent.pipeline.state import RunContext
from agent.pricing import cost_of
from agent.publish.files import sha256
from agent.publish.render import prompt_template_hash
from agent.publish.reports import load_result, save_report
from agent.sources import fetch_paper, resolve_source
from agent.text.fitting import fit_to_budget

TOKEN_MARGIN = 64  # chat-template tokens around the messages, and estimation slack
MIN_TEXT_TOKENS = 200  # less room than this for the source text is a configuration error, not a dissection


@contextmanager
def timed(job: PaperJob, name: str, ctx: RunContext | None = None) -> Iterator[None]:
    if ctx is not None:
        ctx.progress(f"{name}...")
    t0 = time.perf_counter()
    try:
        yield
    finally:
        spent = time.perf_counter() - t0 + job.stage_seconds.get(name, 0.0)
        job.stage_seconds[name] = round(spent, 3)


# ---- per paper ------------------------------------------------------------------------------------------


def resolve(job: PaperJob, ctx: RunContext) -> None:
    with timed(job, "resolve", ctx):
        job.ref = resolve_source(job.source)


def fetch(job: PaperJob, ctx: RunContext) -> None:
    assert job.ref is not None
    with timed(job, "fetch", ctx):
        job.paper = fetch_paper(job.ref, ctx.settings, force=ctx.force, progress=ctx.progress)
        job.notes = [*job.notes, *job.paper.notes]


def run_fingerprint(job: PaperJob, ctx: RunContext) -> str:
    """Everything that decides a dissection's output except the related-writing store: the backend's identity
    (endpoint, weights digest, threads, window), decoding settings, prompt templates, schema, taxonomy, passes and
    the source text. A re-run with the same fingerprint reuses the earlier result, even after the store grew."""
    assert job.paper is not None
    s = ctx.settings
    return digest({
        "backend": ctx.llm.identity(), "max_output_tokens": s.llm.max_output_tokens,
        "temperature": s.llm.temperature, "retries": s.llm.retries, "templates": prompt_template_hash(),
        "schema": DissectionDraft.model_json_schema(), "fallacies": FALLACIES, "related_k": s.critique.related_k,
        "grounding_min": s.critique.grounding_min, "passes": [p.name for p in passes(s, ctx.llm.backend.name)],
        "source": sha256(job.paper.text, 64), "version": __version__, "critique": critique_fingerprint(),
    })


def reuse(job: PaperJob, ctx: RunContext) -> None:
    """A re-run of the same source with the same fingerprint reuses the earlier result (no retrieval, no model
    call); --force redoes it."""
    if ctx.force:
        return
    assert job.paper is not None
    with timed(job, "reuse"):
        earlier = load_result(ctx.settings, result_slug(job.paper.ref.kind, job.paper.source_id, job.paper.title))
        if earlier is not None and earlier.provenance.fingerprint == run_fingerprint(job, ctx):
            ctx.progress("reusing the earlier result (same text, model, prompts and settings; --force redoes it)")
            job.result, job.reused = earlier, True


def retrieve(job: PaperJob, ctx: RunContext) -> None:
    assert job.paper is not None
    with timed(job, "retrieve", ctx):
        paper = job.paper
        job.related = ctx.open_store().related(
            claim_queries(paper), k=ctx.settings.critique.related_k,
            exclude_text=paper.abstract or paper.text[:2000], exclude_ids={paper.source_id})


def fit(job: PaperJob, ctx: RunContext) -> None:
    """Fit the source text into what the context window leaves after the reply budget and the rest of the prompt
    (system prompt, metadata, related passages), measured on the prompt itself; then build the first messages."""
    assert job.paper is not None
    with timed(job, "fit", ctx):
        backend, s = ctx.llm.backend, ctx.settings
        frame = sum(backend.count_tokens(m["content"]) for m in dissect_messages(job.paper, "", job.related))
        budget = backend.context_tokens - s.llm.max_output_tokens - frame - TOKEN_MARGIN
        if budget < MIN_TEXT_TOKENS:
            raise ConfigError(
                f"the context window ({backend.context_tokens} tokens) leaves {max(budget, 0)} tokens for the text "
                f"after the reply ({s.llm.max_output_tokens}) and the prompt ({frame}): raise context_tokens or "
                f"lower max_output_tokens")
        fitted = fit_to_budget(job.paper.text, budget, backend.count_tokens)
        job.prompt_text, job.context_fit = fitted.text, fitted.description
        job.omitted_paragraphs = fitted.total_paragraphs - fitted.kept_paragraphs
        note = fitted.description if job.omitted_paragraphs else ""
        job.messages = dissect_messages(job.paper, fitted.text, job.related, note)


def analyse(job: PaperJob, ctx: RunContext) -> None:
    """The model-free analysis of the argument (sentences, roles, cues, candidate weak steps)."""
    with timed(job, "analyse", ctx):
        assert job.paper is not None
        if job.analysis is None:
            job.analysis, notes = run_analysis(job.prompt_text, job.paper.title, job.related)
            job.notes = [*job.notes, *notes]


def render(job: PaperJob, ctx: RunContext) -> None:
    """Assemble the structured result (the report's Markdown and HTML are rendered from it when published)."""
    assert job.paper is not None and job.draft is not None
    with timed(job, "render"):
        paper, calls = job.paper, CallStats.from_dict(job.calls)
        related = [p.model_copy() for p in job.related]
        for rel in job.draft.related:
            if 1 <= rel.passage <= len(related):
                related[rel.passage - 1].relation = rel.relation
        stage = dict(job.stage_seconds)
        job.result = DissectionResult(
            scan=SourceScan(title=paper.title, authors=paper.authors, published=paper.published, url=paper.url,
                            source_id=paper.source_id, kind=paper.ref.kind, text_origin=paper.text_origin,
                            first_line=first_line(paper), categories=paper.categories),
            dissection=job.draft,
            quotes=job.quotes,
            related=related,
            provenance=Provenance(
                backend=ctx.llm.backend.name, model=calls.model or ctx.llm.backend.model,
                requested_model=ctx.llm.backend.model, prompt_template_hash=prompt_template_hash(),
                tokens_in=calls.tokens_in, tokens_out=calls.tokens_out, llm_calls=calls.calls,
                cached_calls=calls.cached, seconds=round(sum(stage.values()), 2), stage_seconds=stage,
                grounding_rate=round(job.grounding, 3), revised=job.revised,
                first_pass_grounding=round(job.first_pass_grounding, 3), context_fit=job.context_fit,
                generated_at=datetime.now(UTC), source_sha256=sha256(paper.text, 64),
                fingerprint=run_fingerprint(job, ctx), tool_version=__version__,
                cost_usd=cost_of(ctx.settings, calls.model or ctx.llm.backend.model, calls.billed_in,
                                 calls.billed_out),
                threads=getattr(ctx.llm.backend, "threads", None) or None, **provenance_fields(job)),
            notes=job.notes,
            **result_fields(job),
        )


def publish(job: PaperJob, ctx: RunContext) -> None:
    """Side effects, in an order whose failures are honest: the paper goes into the related-writing store first
    (a store failure publishes nothing and says so), then the report, its JSON and the index are written."""
    assert job.result is not None
    with timed(job, "publish"):
        if not job.reused:
            remember_paper(job.result, ctx)
        job.report_path = str(save_report(job.result, ctx.settings))


def remember_paper(result: DissectionResult, ctx: RunContext) -> None:
    """Store the dissected paper so later dissections can relate to it."""
    d = result.dissection
    ctx.open_store().add_paper(result.scan.source_id, result.scan.title, result.scan.url,
                               f"{result.scan.title}. {result.scan.first_line} {d.claims}",
                               {"verdict": d.verdict[:300], "date": result.scan.published})


# ---- many papers: the model passes, each one batch -------------------------------------------------------


def critique(jobs: list[PaperJob], ctx: RunContext, on_error: Callable[[PaperJob, DissectError], None]) -> None:
    """Run every model pass (agent.critique.passes) over the jobs, one batch per pass. A job whose pass fails is
    handed to `on_error` (the dissect command raises, the digest records) and takes no further pass."""
    pctx = PassContext(settings=ctx.settings, backend_name=ctx.llm.backend.name)
    live = [j for j in jobs if not j.error]
    for p in passes(ctx.settings, ctx.llm.backend.name):
        todo = [j for j in live if p.wanted(j, pctx)]
        if not todo:
            continue
        ctx.progress(f"{p.name}: {len(todo)} model request{'s' if len(todo) > 1 else ''}...")
        stats = [CallStats.from_dict(j.calls) for j in todo]
        t0 = time.perf_counter()
        replies = ctx.llm.generate_batch([pass_ask(p, j, pctx, st) for j, st in zip(todo, stats, strict=True)],
                                         force=ctx.force)
        share = (time.perf_counter() - t0) / len(todo)  # a batch's time, shared out for per-paper provenance
        for job, st, reply in zip(todo, stats, replies, strict=True):
            job.calls = st.as_dict()
            job.stage_seconds[p.name] = round(job.stage_seconds.get(p.name, 0.0) + share, 3)
            try:
                with timed(job, "verify"):  # applying a reply is checking it: quotes, support, copies
                    if isinstance(reply, LLMError):
                        p.failed(job, reply, pctx)
                    else:
                        p.apply(job, reply, pctx)
            except DissectError as exc:
                on_error(job, exc)
        live = [j for j in live if not j.error]
