"""Model passes over a batch of papers. A pass builds one structured request per paper that wants it, and applies
each validated reply; the pipeline runs every pass as one batch (agent.pipeline.stages.critique), so a digest of N
papers costs one batched model call per pass, not N sequential ones.

Today's passes: `draft` (the dissection) and `revise` (for drafts whose quotes could not be verified).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from agent.critique.prompts import quote_candidates, revise_messages
from agent.errors import LLMError
from agent.llm.structured import Ask
from agent.models import DissectionDraft, PaperJob, draft_json_schema
from agent.settings import Settings
from agent.text.grounding import grounding_rate, verify_draft


@dataclass
class PassContext:
    settings: Settings
    backend_name: str


class Pass(Protocol):
    name: str

    def wanted(self, job: PaperJob, ctx: PassContext) -> bool: ...

    def ask(self, job: PaperJob, ctx: PassContext) -> tuple[list[dict], type[BaseModel], dict | None]: ...

    def apply(self, job: PaperJob, reply: Any, ctx: PassContext) -> None: ...

    def failed(self, job: PaperJob, error: LLMError, ctx: PassContext) -> None: ...


def check_draft(job: PaperJob, draft: DissectionDraft) -> None:
    """Verify the draft's quotes against the full source text; the job keeps the checked draft."""
    assert job.paper is not None
    fixed, checks = verify_draft(draft, job.paper.text)
    job.draft, job.quotes, job.grounding = fixed, checks, grounding_rate(checks)


class DraftPass:
    name = "draft"

    def wanted(self, job: PaperJob, ctx: PassContext) -> bool:
        return job.draft is None

    def ask(self, job, ctx):
        return job.messages, DissectionDraft, draft_json_schema(len(job.related))

    def apply(self, job, reply, ctx):
        check_draft(job, reply)
        job.first_pass_grounding = job.grounding

    def failed(self, job, error, ctx):
        raise error  # no draft, no dissection: the paper fails


class RevisePass:
    """One more attempt when quotes could not be verified, with each quote restricted by the schema to real
    source sentences. The prompt carries the draft and the candidate sentences, not the whole text again, so it fits
    wherever the first prompt did. The better-grounded draft is kept: a revision never makes a report worse."""

    name = "revise"

    def wanted(self, job, ctx):
        return job.draft is not None and not job.revised and job.grounding < ctx.settings.critique.grounding_min

    def _candidates(self, job: PaperJob) -> list[str]:
        unverified = [q.original for q in job.quotes if q.status == "unverified"]
        return quote_candidates(job.prompt_text, unverified)

    def ask(self, job, ctx):
        assert job.paper is not None and job.draft is not None
        candidates = self._candidates(job)
        unverified = [q for q in job.quotes if q.status == "unverified"]
        messages = revise_messages(job.messages[0], job.paper.title, job.draft.model_dump_json(indent=1),
                                   unverified, candidates)
        return messages, DissectionDraft, draft_json_schema(len(job.related), quote_choices=candidates)

    def apply(self, job, reply, ctx):
        job.revised = True
        before = (job.draft, job.quotes, job.grounding)
        check_draft(job, reply)
        if job.grounding < before[2]:
            job.draft, job.quotes, job.grounding = before
            job.notes.append("a revision for grounding was tried and discarded (it was not better)")

    def failed(self, job, error, ctx):
        job.revised = True
        job.notes.append(f"a revision for grounding failed and was skipped ({error})")


def passes(settings: Settings, backend_name: str) -> list[Pass]:
    """The passes a dissection runs, in order."""
    return [DraftPass(), RevisePass()]


def pass_ask(p: Pass, job: PaperJob, ctx: PassContext, stats) -> Ask:
    messages, output, schema = p.ask(job, ctx)
    return Ask(messages=messages, output=output, schema=schema, max_tokens=ctx.settings.llm.max_output_tokens,
               temperature=ctx.settings.llm.temperature, stats=stats)
