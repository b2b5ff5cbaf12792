"""The dissect job as a function: what the dissect command, the benchmarks and the harnesses call."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from agent import llm as backends
from agent.corpus.store import Store
from agent.llm import LLMBackend
from agent.llm.structured import StructuredLLM
from agent.models import DissectionResult, PaperJob
from agent.pipeline.graph import build_dissect_graph
from agent.pipeline.state import RunContext
from agent.publish.files import DiskCache
from agent.publish.site import build_site
from agent.settings import Settings


@dataclass
class DissectOutcome:
    result: DissectionResult
    report_path: str
    job: PaperJob


@lru_cache(maxsize=1)
def _graph():
    return build_dissect_graph()


def make_llm(settings: Settings, backend: LLMBackend | None = None) -> StructuredLLM:
    backend = backend or backends.get_backend(settings)  # looked up at call time: tests swap the registry
    return StructuredLLM(backend, DiskCache(settings.cache_dir), settings.log_dir / "llm.jsonl",
                         retries=settings.llm.retries, log_full=settings.llm.log_full)


def dissect(source: str, settings: Settings, *, force: bool = False, llm: StructuredLLM | None = None,
            store: Store | None = None, progress: Callable[[str], None] = lambda _m: None) -> DissectOutcome:
    """Dissect one source and publish its report. The model is closed afterwards unless the caller passed it."""
    own = llm is None
    llm = llm or make_llm(settings)
    ctx = RunContext(settings=settings, llm=llm, force=force, progress=progress, store=store)
    try:
        state = _graph().invoke({"source": source}, context=ctx)
    finally:
        if own:
            llm.backend.close()
    job: PaperJob = state["job"]
    assert job.result is not None
    build_site(settings)  # the site follows every published report (atomically rebuilt)
    return DissectOutcome(result=job.result, report_path=job.report_path, job=job)
