"""Model-free argument analysis: sentence roles and cues, and ranked candidate weak steps (see docs/analysis.md)."""
from agent.analysis.analyse import analyse_text
from agent.analysis.result import Analysis, Candidate, SentenceLabel

__all__ = ["Analysis", "Candidate", "SentenceLabel", "analyse_text"]
