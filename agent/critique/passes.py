"""Model passes over a batch of papers. A pass builds one structured request per paper that wants it, and applies
each validated reply; the pipeline runs every pass as one batch (agent.pipeline.stages.critique), so a digest of N
papers costs one batched model call per pass, not N sequential ones. Each reply's `apply` ends in the checks of
agent.critique.checks.

The passes, in order (each runs only for the papers that want it):
  argument_map  capable models only: map the argument (claim, evidence, inferential steps) before critiquing it;
  draft         the dissection, working from the analysis' candidate weak steps, quotes restricted to whole
                source sentences from the first call;
  revise        only when quotes still could not be verified (a server that ignores enums);
  critic        capable models only: check each point against its quote, keep, fix or drop it;
  rewrite       only when fields copy, repeat, loop or echo a planted instruction: one rewrite of those fields,
                after which the program writes any still failing from its analysis, labelled.
Capable models are the `openai` backend unless settings.critique.model_passes says otherwise. Each pass's calls
are counted per paper in job.extra["passes"] (the provenance shows them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, create_model

from agent.critique.checks import check_draft, program_assumption
from agent.critique.evidence import model_related, model_text, quotable, request_evidence
from agent.critique.prompts import (
    KIND_LABELS,
    dissect_messages,
    quote_candidates,
    revise_messages,
    source_block,
    system_prompt,
)
from agent.critique.replies import ArgumentMap, CriticReview, critic_schema, map_schema
from agent.critique.schema import PROSE_CAPS, dissection_schema, fields_schema
from agent.errors import LLMError
from agent.llm.structured import Ask
from agent.models import NO_CLEAR_FALLACY, DissectionDraft, PaperJob, draft_json_schema
from agent.publish.render import render_prompt
from agent.settings import Settings
from agent.text.grounding import SourceIndex, check_quote

MAP_TOKENS, CRITIC_TOKENS, REWRITE_TOKENS = 900, 1200, 900
CHARS_PER_TOKEN = 3.2  # the estimate backends without a tokenizer use (agent.llm.base.LLMBackend.count_tokens)
FIELD_MEANINGS = {
    "claims": ("claims", "what the work claims and how it argues for it, one paragraph"),
    "core_fallacy.explanation": ("explanation", "why the inference to the core fallacy's quoted sentence fails "
                                                "(or, if no step clearly fails, why it holds)"),
    "assumption": ("assumption", "something the argument needs but does not state"),
    "if_false": ("if_false", "what breaks if that assumption is false"),
    "social_function": ("social_function", "what the work does in the field's discourse, not what it says"),
    "verdict": ("verdict", "your judgement of the work, in two sentences"),
    "lag_weighted_verdict": ("lag_weighted_verdict", "how that judgement changes as the field moves (newer models, "
                                                     "benchmarks, methods), or why it does not"),
}


@dataclass
class PassContext:
    settings: Settings
    backend_name: str

    @property
    def capable(self) -> bool:
        """Whether the passes for capable models run (settings.critique.model_passes; auto: the openai backend)."""
        mode = self.settings.critique.model_passes
        return mode == "on" or (mode == "auto" and self.backend_name == "openai")


class Pass(Protocol):
    name: str

    def wanted(self, job: PaperJob, ctx: PassContext) -> bool: ...

    def ask(self, job: PaperJob, ctx: PassContext) -> tuple[list[dict], type[BaseModel], dict | None]: ...

    def apply(self, job: PaperJob, reply: Any, ctx: PassContext) -> None: ...

    def failed(self, job: PaperJob, error: LLMError, ctx: PassContext) -> None: ...


def count_pass(job: PaperJob, name: str) -> None:
    """Add what this pass's calls cost (the job's counters since its request was built) to job.extra["passes"]."""
    before = job.extra.get("calls_before", {}).pop(name, {})
    total = job.extra.setdefault("passes", {}).setdefault(name, {})
    for key in ("calls", "cached", "tokens_in", "tokens_out", "seconds"):
        total[key] = round(total.get(key, 0) + job.calls.get(key, 0) - before.get(key, 0), 3)


class _Base:
    name = ""
    max_tokens: int | None = None  # None: settings.llm.max_output_tokens

    def apply(self, job: PaperJob, reply: Any, ctx: PassContext) -> None:
        count_pass(job, self.name)
        self.use(job, reply, ctx)

    def failed(self, job: PaperJob, error: LLMError, ctx: PassContext) -> None:
        count_pass(job, self.name)
        self.skip(job, error, ctx)

    def use(self, job: PaperJob, reply: Any, ctx: PassContext) -> None:
        raise NotImplementedError

    def skip(self, job: PaperJob, error: LLMError, ctx: PassContext) -> None:
        job.notes.append(f"the {self.name} pass failed and was skipped ({error})")


def _system(job: PaperJob) -> dict:
    return job.messages[0] if job.messages else {"role": "system", "content": system_prompt()}


def _context_note(job: PaperJob) -> str:
    return job.context_fit if job.omitted_paragraphs else ""


def _sentences_within(job: PaperJob, ctx: PassContext, reply_tokens: int, used_chars: int,
                      first: list[str]) -> list[str]:
    """Source sentences for a pass that cannot show the whole text again: those in `first`, then the rest in
    text order, as many as the context window leaves room for."""
    room = (ctx.settings.llm.context_tokens - reply_tokens - 200) * CHARS_PER_TOKEN - used_chars
    out: list[str] = []
    for s in dict.fromkeys([*first, *quotable(job.prompt_text)]):
        if room - len(s) - 4 < 0:
            break
        out.append(s)
        room -= len(s) + 4
    return out


class ArgumentMapPass(_Base):
    name = "argument_map"
    max_tokens = MAP_TOKENS

    def wanted(self, job, ctx):
        return ctx.capable and job.draft is None and "argument_map" not in job.extra

    def ask(self, job, ctx):
        assert job.paper is not None
        user = render_prompt("argument_map", kind_label=KIND_LABELS[job.paper.ref.kind],
                             source=source_block(job.paper, model_text(job.prompt_text)),
                             planted=bool((job.analysis or {}).get("planted")))
        quotes = quotable(job.prompt_text)[:120] or [job.paper.title]
        return [_system(job), {"role": "user", "content": user}], ArgumentMap, map_schema(quotes)

    def use(self, job, reply, ctx):
        assert job.paper is not None
        index = SourceIndex(job.paper.text)
        reply.evidence = [e for e in reply.evidence if check_quote(index, "", e.quote).status != "unverified"]
        reply.steps = [s for s in reply.steps if check_quote(index, "", s.quote).status != "unverified"]
        job.extra["argument_map"] = reply.model_dump()

    def skip(self, job, error, ctx):
        job.extra["argument_map"] = None
        super().skip(job, error, ctx)


class DraftPass(_Base):
    name = "draft"

    def wanted(self, job, ctx):
        return job.draft is None

    def ask(self, job, ctx):
        assert job.paper is not None
        narrow = not ctx.capable
        ev, quotes, core = request_evidence(job.prompt_text, job.analysis, narrow=narrow)
        amap = job.extra.get("argument_map")
        if amap:
            ev.argument_map = ArgumentMap.model_validate(amap).as_text()
        job.messages = dissect_messages(job.paper, model_text(job.prompt_text), model_related(job.related),
                                        _context_note(job), ev)
        schema = dissection_schema(n_related=len(job.related), quote_choices=quotes, names=ev.names,
                                   core_choices=core, max_tokens=ctx.settings.llm.max_output_tokens, narrow=narrow)
        return job.messages, DissectionDraft, schema

    def use(self, job, reply, ctx):
        reply.written_by_program = []  # only the program sets it
        check_draft(job, reply, narrow=not ctx.capable, final=False, last_word=not ctx.capable)
        job.first_pass_grounding = job.grounding

    def skip(self, job, error, ctx):
        raise error  # no draft, no dissection: the paper fails


class RevisePass(_Base):
    """One more attempt when quotes could not be verified (a backend that does not honour the quote enum), each
    quote restricted by the schema to real source sentences. The prompt carries the draft and the candidate
    sentences, not the whole text again, so it fits wherever the first prompt did. The better-grounded draft is
    kept: a revision never makes a report worse. Its prose is checked like the draft's."""

    name = "revise"

    def wanted(self, job, ctx):
        return job.draft is not None and not job.revised and job.grounding < ctx.settings.critique.grounding_min

    def ask(self, job, ctx):
        assert job.paper is not None and job.draft is not None
        unverified = [q for q in job.quotes if q.status == "unverified"]
        candidates = quote_candidates(job.prompt_text, [q.original for q in unverified])
        draft = job.draft.model_dump_json(indent=1, exclude={"written_by_program"})
        messages = revise_messages(_system(job), job.paper.title, draft, unverified, candidates)
        return messages, DissectionDraft, draft_json_schema(len(job.related), quote_choices=candidates)

    def use(self, job, reply, ctx):
        job.revised = True
        before = (job.draft, job.quotes, job.grounding, job.extra.get("issues"))
        reply.written_by_program = []
        check_draft(job, reply, narrow=not ctx.capable, final=False, last_word=not ctx.capable)
        if job.grounding < before[2]:
            job.draft, job.quotes, job.grounding, job.extra["issues"] = before
            job.notes.append("a revision for grounding was tried and discarded (it was not better)")

    def skip(self, job, error, ctx):
        job.revised = True
        job.notes.append(f"a revision for grounding failed and was skipped ({error})")


def _points(job: PaperJob) -> list[dict]:
    assert job.draft is not None
    d, out = job.draft, []
    support = {q.where: q for q in job.quotes}

    def label(where: str) -> str:
        q = support.get(where)
        if q is None or q.support is None:
            return "not scored (the quote was not found in the source)"
        return f"{q.support} (score {q.support_score:.2f})"

    if not d.core_fallacy.no_clear_fallacy and "core_fallacy.explanation" not in d.written_by_program:
        out.append({"where": "core_fallacy", "text": f"{d.core_fallacy.name}: {d.core_fallacy.explanation}",
                    "quote": d.core_fallacy.quote, "support": label("core_fallacy")})
    for i, h in enumerate(d.hidden_assumptions):
        where = f"hidden_assumptions[{i}]"
        if where not in d.written_by_program:
            out.append({"where": where, "text": f"{h.assumption} (if false: {h.if_false})", "quote": h.quote,
                        "support": label(where)})
    return out


class CriticPass(_Base):
    """Capable models: each point against its quote (with the program's support check): keep, fix or drop."""

    name = "critic"
    max_tokens = CRITIC_TOKENS

    def wanted(self, job, ctx):
        return ctx.capable and job.draft is not None and not job.extra.get("critic_done") and bool(_points(job))

    def ask(self, job, ctx):
        assert job.paper is not None
        points = _points(job)
        quotes = quotable(job.prompt_text)[:120]
        used = sum(len(p["text"]) + len(p["quote"]) + 80 for p in points) + 2500
        shown = _sentences_within(job, ctx, CRITIC_TOKENS, used, [p["quote"] for p in points])
        source = render_prompt("source_block", title=job.paper.title, authors=[], published="",
                               text="\n".join(shown))
        user = render_prompt("critic", kind_label=KIND_LABELS[job.paper.ref.kind], source=source, points=points)
        return [_system(job), {"role": "user", "content": user}], CriticReview, critic_schema(
            [p["where"] for p in points], quotes or [p["quote"] for p in points])

    def use(self, job, reply, ctx):
        assert job.draft is not None
        job.extra["critic_done"] = True
        d = job.draft.model_copy(deep=True)
        decisions, drop = {}, set()
        for r in reply.reviews:
            decisions[r.where] = r.decision
            if r.where == "core_fallacy":
                if r.decision == "drop":
                    d.core_fallacy.name, d.core_fallacy.explanation = NO_CLEAR_FALLACY, r.reasoning
                elif r.decision == "fix":
                    d.core_fallacy.quote = r.quote
                    d.core_fallacy.explanation = r.text if len(r.text.split()) >= 5 else d.core_fallacy.explanation
            elif r.where.startswith("hidden_assumptions["):
                i = int(r.where[len("hidden_assumptions["):-1])
                if i >= len(d.hidden_assumptions):
                    continue
                if r.decision == "drop":
                    drop.add(i)
                elif r.decision == "fix":
                    d.hidden_assumptions[i].quote = r.quote
                    if len(r.text.split()) >= 4:
                        d.hidden_assumptions[i].assumption = r.text
        kept = [h for i, h in enumerate(d.hidden_assumptions) if i not in drop]
        if kept:
            d.hidden_assumptions = kept
        else:  # the critic dropped every assumption: the program's own stands in, labelled
            d.hidden_assumptions = []  # none is kept, so no sentence counts as already used
            d.hidden_assumptions = [program_assumption(job, d, d.core_fallacy.quote)]
            d.written_by_program = [p for p in d.written_by_program if not p.startswith("hidden_assumptions")]
            d.written_by_program.append("hidden_assumptions[0]")
        job.extra["critic"] = decisions
        check_draft(job, d, narrow=False, final=False, last_word=True)

    def skip(self, job, error, ctx):
        assert job.draft is not None
        job.extra["critic_done"] = True
        super().skip(job, error, ctx)
        check_draft(job, job.draft, narrow=False, final=False, last_word=True)


def _rewrite_keys(issues: list[dict]) -> dict[str, str]:
    """Field path -> the key the rewrite schema uses for it."""
    out = {}
    for i in issues:
        path = i["field"]
        if path.startswith("hidden_assumptions["):
            n = int(path[len("hidden_assumptions["):path.index("]")])
            kind = path.rsplit(".", 1)[-1]
            out[path] = f"{kind}_{n + 1}"
        else:
            out[path] = FIELD_MEANINGS[path][0]
    return out


class RewritePass(_Base):
    """One rewrite of the fields that failed the copy checks; what still fails is written by the program."""

    name = "rewrite"
    max_tokens = REWRITE_TOKENS

    def wanted(self, job, ctx):
        return job.draft is not None and bool(job.extra.get("issues")) and not job.extra.get("rewritten")

    def ask(self, job, ctx):
        assert job.paper is not None and job.draft is not None
        issues = job.extra["issues"]
        keys = _rewrite_keys(issues)
        problems = []
        for i in issues:
            short = i["field"].rsplit(".", 1)[-1] if i["field"].startswith("hidden") else i["field"]
            problems.append({"key": keys[i["field"]], "detail": i["detail"], "meaning": FIELD_MEANINGS[short][1]})
        rest = [(k, v) for k, v in _prose(job.draft).items() if k not in keys]
        used = sum(len(v) for _, v in rest) + 2500
        sentences = _sentences_within(job, ctx, REWRITE_TOKENS, used, [job.draft.core_fallacy.quote])
        user = render_prompt("rewrite", kind_label=KIND_LABELS[job.paper.ref.kind], problems=problems,
                             sentences=sentences, rest=rest)
        kinds = {keys[i["field"]]: _cap_kind(i["field"]) for i in issues}
        output = create_model("Rewrite", **{k: (str, ...) for k in kinds})
        return [_system(job), {"role": "user", "content": user}], output, fields_schema(
            kinds, REWRITE_TOKENS, narrow=not ctx.capable)

    def use(self, job, reply, ctx):
        assert job.draft is not None
        job.extra["rewritten"] = True
        d = job.draft.model_copy(deep=True)
        values = reply.model_dump()
        for path, key in _rewrite_keys(job.extra["issues"]).items():
            _set(d, path, values.get(key, ""))
        check_draft(job, d, narrow=not ctx.capable, final=True, last_word=True)

    def skip(self, job, error, ctx):
        assert job.draft is not None
        job.extra["rewritten"] = True
        job.notes.append(f"the rewrite of copied fields failed ({error}); the program wrote them from its analysis")
        check_draft(job, job.draft, narrow=not ctx.capable, final=True, last_word=True)


def _cap_kind(path: str) -> str:
    last = path.rsplit(".", 1)[-1]
    return last if last in PROSE_CAPS else path


def _prose(d: DissectionDraft) -> dict[str, str]:
    out = {"claims": d.claims, "core_fallacy": f"{d.core_fallacy.name}: {d.core_fallacy.explanation}",
           "social_function": d.social_function, "verdict": d.verdict, "lag_weighted_verdict": d.lag_weighted_verdict}
    return {k: v for k, v in out.items() if v}


def _set(d: DissectionDraft, path: str, value: str) -> None:
    if path.startswith("hidden_assumptions["):
        i = int(path[len("hidden_assumptions["):path.index("]")])
        if i < len(d.hidden_assumptions):
            setattr(d.hidden_assumptions[i], path.rsplit(".", 1)[-1], value)
    elif path == "core_fallacy.explanation":
        d.core_fallacy.explanation = value
    else:
        setattr(d, path, value)


def passes(settings: Settings, backend_name: str) -> list[Pass]:
    """The passes a dissection runs, in order (see the module docstring)."""
    if PassContext(settings, backend_name).capable:
        return [ArgumentMapPass(), DraftPass(), RevisePass(), CriticPass(), RewritePass()]
    return [DraftPass(), RevisePass(), RewritePass()]


def pass_ask(p: Pass, job: PaperJob, ctx: PassContext, stats) -> Ask:
    """The pass's request for this job; the job's call counters are noted so the pass's own cost can be told."""
    messages, output, schema = p.ask(job, ctx)
    job.extra.setdefault("calls_before", {})[p.name] = dict(job.calls)
    return Ask(messages=messages, output=output, schema=schema,
               max_tokens=getattr(p, "max_tokens", None) or ctx.settings.llm.max_output_tokens,
               temperature=ctx.settings.llm.temperature, stats=stats)
