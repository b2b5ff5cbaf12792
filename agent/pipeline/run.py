"""The dissect job as a function: what cli.py, the digest and the benchmarks call."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from agent.llm import LLMBackend, get_backend
from agent.llm.structured import CallStats, StructuredLLM
from agent.models import DissectionResult
from agent.pipeline.graph import build_dissect_graph
from agent.pipeline.state import DissectContext
from agent.publish.files import DiskCache
from agent.settings import Settings


@dataclass
class DissectOutcome:
    result: DissectionResult
    report_path: str


@lru_cache(maxsize=1)
def _graph():
    return build_dissect_graph()


def make_llm(settings: Settings, backend: LLMBackend | None = None) -> StructuredLLM:
    backend = backend or get_backend(settings)
    return StructuredLLM(backend, DiskCache(settings.cache_dir), settings.log_dir / "llm.jsonl",
                         retries=settings.llm.retries)


def dissect(source: str, settings: Settings, *, force: bool = False, llm: StructuredLLM | None = None,
            store=None, progress: Callable[[str], None] = lambda _m: None) -> DissectOutcome:
    ctx = DissectContext(settings=settings, llm=llm or make_llm(settings), force=force, progress=progress,
                         stats=CallStats(), store=store)
    state = _graph().invoke({"source": source}, context=ctx)
    return DissectOutcome(result=state["result"], report_path=state["report_path"])
