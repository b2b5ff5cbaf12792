"""The dissect graph, top to bottom:

    resolve -> fetch -> reuse --(an earlier result with the same fingerprint)--------------------------> publish
                            \\--> retrieve -> fit -> analyse -> critique (draft, revise...) -> render --> publish

Each node is one stage of agent.pipeline.stages applied to the state's job; the digest runs the same stages over
many papers (agent.digest.graph). `retrieve` comes before `fit` so that the text is fitted to what the related
passages leave of the context window; `critique` runs the model passes of agent.critique.
"""
from __future__ import annotations

from collections.abc import Callable

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from agent.errors import DissectError
from agent.models import PaperJob
from agent.pipeline import stages
from agent.pipeline.state import DissectInput, DissectState, RunContext


def node(stage: Callable[[PaperJob, RunContext], None]):
    """A graph node running one per-paper stage on the state's job."""

    def run(state: DissectState, runtime: Runtime[RunContext]) -> dict:
        job = state.get("job") or PaperJob(source=state["source"])
        stage(job, runtime.context)
        return {"job": job}

    run.__name__ = stage.__name__
    return run


def critique(state: DissectState, runtime: Runtime[RunContext]) -> dict:
    def fail(_job: PaperJob, exc: DissectError) -> None:
        raise exc

    stages.critique([state["job"]], runtime.context, on_error=fail)
    return {"job": state["job"]}


def reused_or_new(state: DissectState) -> str:
    return "publish" if state["job"].reused else "retrieve"


def build_dissect_graph():
    g = StateGraph(DissectState, input_schema=DissectInput, context_schema=RunContext)
    g.add_node("resolve", node(stages.resolve))
    g.add_node("fetch", node(stages.fetch))
    g.add_node("reuse", node(stages.reuse))
    g.add_node("retrieve", node(stages.retrieve))
    g.add_node("fit", node(stages.fit))
    g.add_node("analyse", node(stages.analyse))
    g.add_node("critique", critique)
    g.add_node("render", node(stages.render))
    g.add_node("publish", node(stages.publish))
    g.add_edge(START, "resolve")
    g.add_edge("resolve", "fetch")
    g.add_edge("fetch", "reuse")
    g.add_conditional_edges("reuse", reused_or_new, {"publish": "publish", "retrieve": "retrieve"})
    g.add_edge("retrieve", "fit")
    g.add_edge("fit", "analyse")
    g.add_edge("analyse", "critique")
    g.add_edge("critique", "render")
    g.add_edge("render", "publish")
    g.add_edge("publish", END)
    return g.compile()
