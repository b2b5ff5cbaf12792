"""What the analysis stage returns: JSON-safe pydantic models (they travel in graph state and into the result)."""
from __future__ import annotations

from pydantic import BaseModel, Field


class SentenceLabel(BaseModel):
    """One sentence of the analysed text: where it is, what it does in the argument, which cues it carries."""

    index: int
    text: str  # whitespace collapsed
    start: int  # offsets into the analysed text: text[start:end] is the sentence as written
    end: int
    roles: list[str] = []  # claim, result, method, limitation, release, background
    cues: list[str] = []  # cue families, e.g. "hedge", "universal_scope", "either_or"


class Candidate(BaseModel):
    """A candidate weak step: a source sentence, the taxonomy type it most resembles, how strongly, and why."""

    sentence_index: int
    sentence: str
    fallacy: str
    score: float = Field(ge=0.0, le=1.0)  # how clearly the step is weak (any type): candidates are ranked by it
    type_score: float = Field(default=0.0, ge=0.0, le=1.0)  # how clearly `fallacy` is its kind of weakness
    reason: str
    runner_up: str = ""  # the next most likely type, and its type score (what a reader weighs when unsure)
    runner_up_score: float = Field(default=0.0, ge=0.0, le=1.0)


class Analysis(BaseModel):
    sentences: list[SentenceLabel] = []
    candidates: list[Candidate] = []  # best first
    no_clear_fallacy: bool = True  # no candidate scores at or above `threshold`
    threshold: float = 0.5
    # a clear step's type is stated as its kind only at or above this type score; below it the report names the
    # likeliest two and says the analysis is unsure (0 on the lexical path, whose type score is its weakness)
    type_threshold: float = 0.0
