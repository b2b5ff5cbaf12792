"""The critique: from the analysis stage to the checked dissection.

agent.critique.evidence (the analysis as a request carries it), .prompts and .schema (what is asked), .passes (the
model passes the pipeline runs, each as one batch), .checks (what every reply goes through: grounding snapped to
whole sentences, support, copies), .findings (what the program writes itself), .results (what the result shows).
"""
from agent.critique.evidence import run_analysis
from agent.critique.passes import Pass, PassContext, pass_ask, passes
from agent.critique.prompts import claim_queries, dissect_messages, first_line
from agent.critique.results import critique_fingerprint, provenance_fields, result_fields

__all__ = ["Pass", "PassContext", "claim_queries", "critique_fingerprint", "dissect_messages", "first_line",
           "pass_ask", "passes", "provenance_fields", "result_fields", "run_analysis"]
