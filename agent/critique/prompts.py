"""The dissection's prompts: messages built from templates, untrusted text fenced (agent.publish.render.fence)."""
from __future__ import annotations

import re

from agent.models import FALLACIES, Paper, Passage
from agent.publish.render import fence, render_prompt
from agent.text.fitting import CLAIM_WORDS
from agent.text.grounding import SourceIndex

KIND_LABELS = {"arxiv": "paper", "web": "essay", "file": "document"}


def dissect_messages(paper: Paper, text: str, related: list[Passage], context_note: str = "") -> list[dict]:
    """The first call's messages. `context_note` says how the text was shortened ("" when it is whole)."""
    user = render_prompt("dissect", kind_label=KIND_LABELS[paper.ref.kind], title=paper.title,
                         authors=paper.authors[:8], published=paper.published, context_note=context_note,
                         text=fence(text), related=related)
    return [{"role": "system", "content": render_prompt("system", fallacies=FALLACIES)},
            {"role": "user", "content": user}]


def revise_messages(system: dict, title: str, draft_json: str, unverified: list, candidates: list[str]) -> list[dict]:
    return [system, {"role": "user", "content": render_prompt("revise", title=title, draft=draft_json,
                                                               unverified=unverified, candidates=candidates)}]


def quote_candidates(text: str, attempted: list[str], n: int = 16) -> list[str]:
    """Source sentences a revision may quote: those sharing most words with the failed quotes, then the most
    claim-dense ones; each short enough to fit the schema's quote length."""
    index = SourceIndex(text)
    sentences = [" ".join(text[a:b].split()) for a, b in index.sentences]
    sentences = list(dict.fromkeys(s for s in sentences if 6 <= len(s.split()) and len(s) <= 380))
    tried = [set(re.findall(r"\w+", q.casefold())) for q in attempted if q]

    def closeness(sent: str) -> float:
        words = set(re.findall(r"\w+", sent.casefold()))
        return max((len(words & t) / (len(t) or 1) for t in tried), default=0.0)

    by_closeness = sorted(sentences, key=closeness, reverse=True)[: n // 2]
    by_claims = sorted(sentences, key=lambda s: -len(CLAIM_WORDS.findall(s)))
    return list(dict.fromkeys([*by_closeness, *by_claims]))[:n]


def claim_queries(paper: Paper, limit: int = 4) -> list[str]:
    """Retrieval queries from what the paper claims, not only its title."""
    sentences = re.split(r"(?<=[.!?])\s+", paper.abstract or paper.text[:4000])
    claims = sorted((s for s in sentences if len(s.split()) > 5), key=lambda s: -len(CLAIM_WORDS.findall(s)))
    return [paper.title, *claims[:limit]]


def first_line(paper: Paper) -> str:
    """The first sentence of the abstract (or text), copied by the program for the report's source scan."""
    source = paper.abstract or "\n".join(ln for ln in paper.text.splitlines() if not ln.lstrip().startswith("#"))
    text = " ".join(source.split())
    m = re.match(r"(.{20,600}?[.!?])(\s|$)", text)
    return m.group(1) if m else text[:300]
