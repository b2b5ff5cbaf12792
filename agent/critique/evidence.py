"""From the analysis stage to what a request carries: the analysis run on the fitted text (with planted
instructions set aside), the targeted checks a prompt asks, the quotes a schema allows, and the result's summary.

Small models (`narrow`): a few quote choices (the top candidates, then the claim sentences) and the core fallacy
restricted to the top candidates' own types; capable models (`wide`): every quotable sentence and the whole
taxonomy, ordered by the candidates, for them to weigh the program's checks against the text.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from agent.analysis import analyse_text
from agent.critique.prompts import MAX_CHECKS, Check, Evidence
from agent.critique.schema import CoreChoice, narrow_core_choices, ordered_names, paper_seed
from agent.models import AnalysisSummary, Passage, WeakStep
from agent.text.grounding import quotable_sentences
from agent.text.injection import PLACEHOLDER, find_instructions, finding, strip_instructions

ANALYSIS_DIR = Path(__file__).resolve().parent.parent / "analysis"
TOP_K = 8  # candidates the analysis keeps
NARROW_QUOTES = 6  # quote choices a small model gets
WIDE_QUOTES = 120  # and a capable one (a bound on the schema's size)
WIDE_QUOTE_CHARS = 30_000


@lru_cache(maxsize=1)
def analysis_version() -> str:
    """Digest of the analysis code and its head weights: a change in either changes every dissection's input."""
    h = hashlib.sha256()
    for path in sorted(ANALYSIS_DIR.glob("*.py")) + sorted(ANALYSIS_DIR.glob("*.npz")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def model_text(text: str) -> str:
    """The fitted text as a model may see it: instructions planted in it replaced by a placeholder
    (agent.text.injection), everything else unchanged, so its sentences are still the source's own words."""
    return strip_instructions(text)


def model_related(related: list[Passage]) -> list[Passage]:
    """Related passages as a model may see them: planted instructions removed from their text and title."""
    return [p.model_copy(update={"text": strip_instructions(p.text), "title": strip_instructions(p.title)})
            for p in related]


def quotable(text: str) -> list[str]:
    """The whole sentences a model may quote: those of the text it sees, placeholders left out."""
    return [s for s in quotable_sentences(model_text(text)) if PLACEHOLDER not in s]


def run_analysis(text: str, title: str = "", related: list[Passage] | None = None) -> tuple[dict, list[str]]:
    """The analysis of the fitted text as the job keeps it (JSON-safe): sentences, candidates (planted
    instructions are never candidates), whether a clear weak step was found, the analysis version and the planted
    instructions; with the notes the report shows about instructions planted in the text or the related writing."""
    a = analyse_text(text, title=title, top_k=TOP_K)
    found = find_instructions(text)
    planted = [i.sentence for i in found]
    out = a.model_dump()
    out["candidates"] = [c for c in out["candidates"]
                         if not any(c["sentence"] in p or p in c["sentence"] for p in planted)]
    out["planted"] = planted
    out["version"] = analysis_version()
    notes = [finding(found)] if found else []
    in_related = [i for p in related or [] for i in find_instructions(f"{p.title}\n\n{p.text}")]
    if in_related:
        n = len(in_related)  # named, never quoted: the reader's own library must not carry it into the report
        notes.append(f"Related writing from the library addresses the reader's AI ({n} instruction"
                     f"{'s' if n != 1 else ''} kept out of the critic's view)")
    return out, notes


def summary(analysis: dict | None, k: int = 5) -> AnalysisSummary | None:
    """What the result shows of the analysis: the candidate weak steps with their scores."""
    if not analysis:
        return None
    return AnalysisSummary(
        candidates=[WeakStep(sentence=c["sentence"], fallacy=c["fallacy"], score=c["score"], reason=c["reason"],
                             type_score=c.get("type_score", 1.0), runner_up=c.get("runner_up", ""),
                             runner_up_score=c.get("runner_up_score", 0.0))
                    for c in analysis.get("candidates", [])[:k]],
        no_clear_fallacy=bool(analysis.get("no_clear_fallacy", True)), threshold=analysis.get("threshold", 0.0),
        type_threshold=analysis.get("type_threshold", 0.0),
        sentences=len(analysis.get("sentences", [])), version=analysis.get("version", ""),
        planted_instructions=list(analysis.get("planted", [])))


def _wide_quotes(sentences: list[str], first: list[str]) -> list[str]:
    out = list(dict.fromkeys([*first, *sentences]))[:WIDE_QUOTES]
    while sum(map(len, out)) > WIDE_QUOTE_CHARS and len(out) > 1:
        out.pop()
    return out


def request_evidence(text: str, analysis: dict | None, *, narrow: bool
                     ) -> tuple[Evidence, list[str], list[CoreChoice] | None]:
    """(what the prompt shows, the quote enum, the core fallacy's variants or None) for one draft request."""
    a = analysis or {}
    sentences = quotable(text)
    allowed_quotes = set(sentences)
    cands = [c for c in a.get("candidates", []) if c["sentence"] in allowed_quotes]
    no_clear = bool(a.get("no_clear_fallacy", True))
    threshold = float(a.get("threshold", 0.5))
    names = ordered_names(cands, no_clear, paper_seed(text))
    planted = len(a.get("planted", []))
    if narrow:
        claims = [s["text"] for s in a.get("sentences", [])
                  if "claim" in s.get("roles", []) and s["text"] in allowed_quotes]
        quotes = list(dict.fromkeys([*(c["sentence"] for c in cands[:4]), *claims]))[:NARROW_QUOTES]
        quotes = quotes if len(quotes) >= 2 else sentences
        core = narrow_core_choices(cands, no_clear, threshold, allowed_quotes) or None
        named = {n for c in core for n in c.names} if core else set(names)
        checks = [Check(c["sentence"], c["fallacy"], c["score"], c["reason"]) for c in cands[:3]]
        ev = Evidence(checks=checks, no_clear=no_clear, names=[n for n in names if n in named], planted=planted)
        return ev, quotes, core
    checks = [Check(c["sentence"], c["fallacy"], c["score"], c["reason"]) for c in cands[:MAX_CHECKS]]
    ev = Evidence(checks=checks, no_clear=no_clear, names=names, planted=planted)
    return ev, _wide_quotes(sentences, []), None
