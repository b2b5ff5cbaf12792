"""What the critique adds to a dissection's result and provenance, and what of it decides a run's output.

The pipeline's render stage builds the result (agent.pipeline.stages.render); these give it the critique's parts:
`result_fields(job)` for DissectionResult (the analysis summary: the candidate weak steps with scores) and
`provenance_fields(job)` for Provenance (the support rate beside the grounding rate, model calls per pass).
`critique_fingerprint()` is what run_fingerprint adds for the critique (analysis version, checks' settings).
"""
from __future__ import annotations

from agent.critique import checks, copies, schema, support
from agent.critique.evidence import analysis_version, summary
from agent.models import PaperJob, PassCount


def result_fields(job: PaperJob) -> dict:
    return {"analysis": summary(job.analysis)}


def provenance_fields(job: PaperJob) -> dict:
    rate = support.support_rate(job.quotes)
    passes = {name: PassCount(**counts) for name, counts in (job.extra.get("passes") or {}).items()}
    return {"support_rate": None if rate is None else round(rate, 3), "passes": passes}


def critique_fingerprint() -> dict:
    """Everything of the critique that changes its output besides the prompt templates and the schema."""
    return {
        "analysis": analysis_version(),
        "support": support.model_version(),
        "caps": schema.PROSE_CAPS, "display": checks.DISPLAY,
        "copies": [copies.COPY_SHARE, copies.REPEAT_SHARE, copies.N, copies.MIN_WORDS],
    }
