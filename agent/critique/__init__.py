"""The critique: prompts (agent.critique.prompts) and the model passes with their checks (agent.critique.passes).
The pipeline calls `passes(...)` and runs each as one batch; everything about what is asked and how a reply is
checked lives here."""
from agent.critique.passes import Pass, PassContext, pass_ask, passes
from agent.critique.prompts import claim_queries, dissect_messages, first_line

__all__ = ["Pass", "PassContext", "claim_queries", "dissect_messages", "first_line", "pass_ask", "passes"]
