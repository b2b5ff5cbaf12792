"""Graph state: a narrow input (what the caller gives) and the full state the nodes fill in."""
from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, TypedDict

from agent.llm.structured import CallStats, StructuredLLM
from agent.models import DissectionDraft, DissectionResult, Paper, Passage, QuoteCheck, SourceRef
from agent.settings import Settings


def merge_dicts(a: dict, b: dict) -> dict:
    return {**(a or {}), **(b or {})}


class DissectInput(TypedDict):
    source: str  # arXiv id, URL or file path, as the user typed it


class DissectState(DissectInput, total=False):
    ref: SourceRef
    paper: Paper
    prompt_text: str  # the source text fitted to the context window
    context_fit: str
    related: list[Passage]
    messages: list[dict]
    draft: DissectionDraft
    quotes: list[QuoteCheck]
    grounding: float
    first_pass_grounding: float
    revised: bool
    result: DissectionResult
    report_path: str
    stage_seconds: Annotated[dict[str, float], merge_dicts]
    notes: Annotated[list[str], operator.add]


@dataclass
class DissectContext:
    """Run-time dependencies, passed to every node (LangGraph's runtime context), not part of the state."""

    settings: Settings
    llm: StructuredLLM
    force: bool = False
    progress: Callable[[str], None] = lambda _msg: None
    stats: CallStats = field(default_factory=CallStats)
    store: object | None = None  # agent.store.Store, opened lazily by the retrieve node
