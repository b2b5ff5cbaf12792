"""What the dissect pipeline carries: the job (agent.models.PaperJob, the state) and the run-time context (not
state: settings, the model, the store, progress), passed to every stage and graph node."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict

from agent.corpus.store import Store
from agent.llm.structured import StructuredLLM
from agent.models import PaperJob
from agent.settings import Settings


class DissectInput(TypedDict):
    source: str  # arXiv id, URL or file path, as the user typed it


class DissectState(DissectInput, total=False):
    job: PaperJob


@dataclass
class RunContext:
    """Run-time dependencies (LangGraph's runtime context for the dissect graph; the digest passes the same)."""

    settings: Settings
    llm: StructuredLLM
    force: bool = False
    progress: Callable[[str], None] = lambda _msg: None
    store: Store | None = None  # opened on first use by the stages that need it

    def open_store(self) -> Store:
        if self.store is None:
            self.store = Store(self.settings)
        return self.store
