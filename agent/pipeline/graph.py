"""The dissect graph, top to bottom:

    resolve -> fetch -> reuse -> retrieve -> fit -> analyse -> verify --(grounding poor)--> revise -> render -> persist
                          \\                                        \\--(grounding fine)------------> render -> persist
                           \\--(an earlier result with the same text, model and prompts)-----------------------> persist

`fetch` includes text extraction (HTML, PDF or page); `retrieve` comes before `fit` so that the text is fitted to
what the related passages leave of the context window; `revise` re-verifies its own draft and keeps the better one.

Nodes are small functions of (state, runtime context). All model calls go through the context's StructuredLLM
(validated, cached, logged); all file writes through agent.publish.reports / agent.storage.
"""
from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from agent import __version__
from agent.errors import LLMError
from agent.models import (
    FALLACIES,
    DissectionDraft,
    DissectionResult,
    Provenance,
    SourceScan,
    draft_json_schema,
    result_slug,
)
from agent.pipeline.state import DissectContext, DissectInput, DissectState
from agent.publish.files import sha256
from agent.publish.render import fence, prompt_template_hash, render_prompt
from agent.text.fitting import CLAIM_WORDS, fit_to_budget
from agent.text.grounding import SourceIndex, grounding_rate, verify_draft

TOKEN_MARGIN = 64  # chat-template tokens around the messages, and estimation slack


def timed(name: str):
    """Record each node's wall time in state['stage_seconds'] (summed when a node runs twice)."""

    def deco(fn):
        def node(state: DissectState, runtime: Runtime[DissectContext]):
            runtime.context.progress(f"{name}...")
            t0 = time.perf_counter()
            out = fn(state, runtime.context) or {}
            spent = time.perf_counter() - t0 + state.get("stage_seconds", {}).get(name, 0.0)
            return {**out, "stage_seconds": {name: round(spent, 3)}}

        # not functools.wraps: LangGraph reads the signature to pass `runtime`, and wraps would expose `ctx`
        node.__name__ = node.__qualname__ = fn.__name__
        node.__doc__ = fn.__doc__
        return node

    return deco


# ---- nodes ----------------------------------------------------------------------------------------------


@timed("resolve")
def resolve(state: DissectState, ctx: DissectContext):
    from agent.sources import resolve_source

    return {"ref": resolve_source(state["source"])}


@timed("fetch")
def fetch(state: DissectState, ctx: DissectContext):
    from agent.sources import fetch_paper

    paper = fetch_paper(state["ref"], ctx.settings, force=ctx.force, progress=ctx.progress)
    return {"paper": paper, "notes": list(paper.notes)}


@timed("reuse")
def reuse(state: DissectState, ctx: DissectContext):
    """A re-run of the same source with the same text, model and prompt templates reuses the earlier result (no
    retrieval, no model call), so that it costs nothing even when the related-writing store has grown since;
    --force redoes it."""
    if ctx.force:
        return {}
    from agent.publish.reports import load_result

    paper = state["paper"]
    earlier = load_result(ctx.settings, result_slug(paper.ref.kind, paper.source_id, paper.title))
    if earlier is None:
        return {}
    p = earlier.provenance
    if (p.backend, p.requested_model, p.prompt_template_hash, p.source_sha256) == (
            ctx.llm.backend.name, ctx.llm.backend.model, prompt_template_hash(), sha256(paper.text, 64)):
        ctx.progress("reusing the earlier result (same text, model and prompts; --force redoes it)")
        return {"result": earlier}
    return {}


def reused_or_new(state: DissectState) -> str:
    return "persist" if "result" in state else "retrieve"


@timed("fit")
def fit(state: DissectState, ctx: DissectContext):
    """Fit the source text into what the context window leaves after the reply budget and the rest of the prompt
    (system prompt, metadata, related passages), measured on the prompt itself."""
    backend = ctx.llm.backend
    frame = sum(backend.count_tokens(m["content"]) for m in _messages(state, text=""))
    budget = backend.context_tokens - ctx.settings.llm.max_output_tokens - frame - TOKEN_MARGIN
    fitted = fit_to_budget(state["paper"].text, max(budget, 500), backend.count_tokens)
    return {"prompt_text": fitted.text, "context_fit": fitted.description}


def claim_queries(paper, limit: int = 4) -> list[str]:
    """Retrieval queries from what the paper claims, not only its title."""
    sentences = re.split(r"(?<=[.!?])\s+", paper.abstract or paper.text[:4000])
    claims = sorted((s for s in sentences if len(s.split()) > 5), key=lambda s: -len(CLAIM_WORDS.findall(s)))
    return [paper.title, *claims[:limit]]


@timed("retrieve")
def retrieve(state: DissectState, ctx: DissectContext):
    from agent.corpus.store import Store

    if ctx.store is None:
        ctx.store = Store(ctx.settings)
    paper = state["paper"]
    related = ctx.store.related(claim_queries(paper), k=ctx.settings.critique.related_k,
                                exclude_text=paper.abstract or paper.text[:2000], exclude_ids={paper.source_id})
    return {"related": related}


def _messages(state: DissectState, text: str) -> list[dict]:
    paper = state["paper"]
    kind_label = {"arxiv": "paper", "web": "essay", "file": "document"}[paper.ref.kind]
    note = state.get("context_fit", "") if "omitted" in text else ""
    user = render_prompt("dissect", kind_label=kind_label, title=paper.title, authors=paper.authors[:8],
                         published=paper.published, context_note=note, text=fence(text),
                         related=state.get("related", []))
    return [{"role": "system", "content": render_prompt("system", fallacies=FALLACIES)},
            {"role": "user", "content": user}]


@timed("analyse")
def analyse(state: DissectState, ctx: DissectContext):
    messages = _messages(state, state["prompt_text"])
    schema = draft_json_schema(len(state.get("related", [])))
    draft = ctx.llm.generate(messages, DissectionDraft, max_tokens=ctx.settings.llm.max_output_tokens,
                             temperature=ctx.settings.llm.temperature, force=ctx.force, stats=ctx.stats, schema=schema)
    return {"messages": messages, "draft": draft}


@timed("verify")
def verify(state: DissectState, ctx: DissectContext):
    draft, checks = verify_draft(state["draft"], state["paper"].text)
    rate = grounding_rate(checks)
    return {"draft": draft, "quotes": checks, "grounding": rate, "first_pass_grounding": rate}


def needs_revision(state: DissectState, runtime: Runtime[DissectContext]) -> str:
    poor = state["grounding"] < runtime.context.settings.critique.grounding_min
    return "revise" if poor and not state.get("revised") else "render"


@timed("revise")
def revise(state: DissectState, ctx: DissectContext):
    """One more attempt, with the unfound quotes named and each quote restricted by the schema to real source
    sentences (those closest to what the model tried to quote, then the most claim-dense). The prompt carries the
    draft and the candidate sentences, not the whole text again, so it fits wherever the first prompt did. The
    better-grounded of the two drafts is kept, so a revision can never make a report worse."""
    unverified = [q for q in state["quotes"] if q.status == "unverified"]
    candidates = quote_candidates(state["prompt_text"], [q.original for q in unverified])
    messages = [state["messages"][0],
                {"role": "user", "content": render_prompt(
                    "revise", title=state["paper"].title, draft=state["draft"].model_dump_json(indent=1),
                    unverified=unverified, candidates=candidates)}]
    schema = draft_json_schema(len(state.get("related", [])), quote_choices=candidates)
    try:
        draft = ctx.llm.generate(messages, DissectionDraft, max_tokens=ctx.settings.llm.max_output_tokens,
                                 temperature=ctx.settings.llm.temperature, force=ctx.force, stats=ctx.stats,
                                 schema=schema)
    except LLMError as exc:
        return {"revised": True, "notes": [f"a revision for grounding failed and was skipped ({exc})"]}
    new_draft, checks = verify_draft(draft, state["paper"].text)
    if grounding_rate(checks) >= state["grounding"]:
        return {"draft": new_draft, "quotes": checks, "grounding": grounding_rate(checks), "revised": True}
    return {"revised": True, "notes": ["a revision for grounding was tried and discarded (it was not better)"]}


def quote_candidates(text: str, attempted: list[str], n: int = 16) -> list[str]:
    """Source sentences a revision may quote: those sharing most words with the failed quotes, then the most
    claim-dense ones; each short enough to fit the schema's quote length."""
    index = SourceIndex(text)
    sentences = [" ".join(text[a:b].split()) for a, b in index.sentences]
    sentences = list(dict.fromkeys(s for s in sentences if 6 <= len(s.split()) and len(s) <= 380 and "omitted" not in s))
    tried = [set(re.findall(r"\w+", q.casefold())) for q in attempted if q]

    def closeness(sent: str) -> float:
        words = set(re.findall(r"\w+", sent.casefold()))
        return max((len(words & t) / (len(t) or 1) for t in tried), default=0.0)

    by_closeness = sorted(sentences, key=closeness, reverse=True)[: n // 2]
    by_claims = sorted(sentences, key=lambda s: -len(CLAIM_WORDS.findall(s)))
    return list(dict.fromkeys([*by_closeness, *by_claims]))[:n]


def first_line(paper) -> str:
    source = paper.abstract or "\n".join(ln for ln in paper.text.splitlines() if not ln.lstrip().startswith("#"))
    text = " ".join(source.split())
    m = re.match(r"(.{20,600}?[.!?])(\s|$)", text)
    return m.group(1) if m else text[:300]


@timed("render")
def render_result(state: DissectState, ctx: DissectContext):
    """Assemble the structured result (the report's Markdown is rendered from it when persisted)."""
    paper, s = state["paper"], ctx.stats
    related = [p.model_copy() for p in state.get("related", [])]
    for rel in state["draft"].related:
        if 1 <= rel.passage <= len(related):
            related[rel.passage - 1].relation = rel.relation
    stage = {**state.get("stage_seconds", {})}
    result = DissectionResult(
        scan=SourceScan(title=paper.title, authors=paper.authors, published=paper.published, url=paper.url,
                        source_id=paper.source_id, kind=paper.ref.kind, text_origin=paper.text_origin,
                        first_line=first_line(paper)),
        dissection=state["draft"],
        quotes=state["quotes"],
        related=related,
        provenance=Provenance(
            backend=ctx.llm.backend.name, model=s.model or ctx.llm.backend.model,
            requested_model=ctx.llm.backend.model,
            prompt_template_hash=prompt_template_hash(), tokens_in=s.tokens_in, tokens_out=s.tokens_out,
            llm_calls=s.calls, cached_calls=s.cached, seconds=round(sum(stage.values()), 2), stage_seconds=stage,
            grounding_rate=round(state["grounding"], 3), revised=bool(state.get("revised")),
            first_pass_grounding=round(state["first_pass_grounding"], 3),
            context_fit=state.get("context_fit", ""), generated_at=datetime.now(UTC),
            source_sha256=sha256(paper.text, 64),
            tool_version=__version__,
        ),
        notes=state.get("notes", []),
    )
    return {"result": result}


@timed("persist")
def persist(state: DissectState, ctx: DissectContext):
    from agent.publish.reports import save_report

    path = save_report(state["result"], ctx.settings)
    _remember_paper(state["result"], ctx)
    return {"report_path": str(path)}


def _remember_paper(result: DissectionResult, ctx: DissectContext) -> None:
    """Store the dissected paper so later dissections can relate to it."""
    if ctx.store is None:
        return
    d = result.dissection
    ctx.store.add_paper(result.scan.source_id, result.scan.title, result.scan.url,
                        f"{result.scan.title}. {result.scan.first_line} {d.claims}",
                        {"verdict": d.verdict[:300], "date": result.scan.published})


# ---- the graph ------------------------------------------------------------------------------------------


def build_dissect_graph():
    g = StateGraph(DissectState, input_schema=DissectInput, context_schema=DissectContext)
    g.add_node("resolve", resolve)
    g.add_node("fetch", fetch)
    g.add_node("reuse", reuse)
    g.add_node("fit", fit)
    g.add_node("retrieve", retrieve)
    g.add_node("analyse", analyse)
    g.add_node("verify", verify)
    g.add_node("revise", revise)
    g.add_node("render", render_result)
    g.add_node("persist", persist)
    g.add_edge(START, "resolve")
    g.add_edge("resolve", "fetch")
    g.add_edge("fetch", "reuse")
    g.add_conditional_edges("reuse", reused_or_new, {"persist": "persist", "retrieve": "retrieve"})
    g.add_edge("retrieve", "fit")
    g.add_edge("fit", "analyse")
    g.add_edge("analyse", "verify")
    g.add_conditional_edges("verify", needs_revision, {"revise": "revise", "render": "render"})
    g.add_edge("revise", "render")
    g.add_edge("render", "persist")
    g.add_edge("persist", END)
    return g.compile()
