"""The critique's prompts: messages built from templates, untrusted text fenced (agent.publish.render.fence).

The source text sits in the first fence; related writing from the reader's library in its own block with its own
markers (never mixed with the source); the program's analysis (candidate weak steps, with its reasons) in a fence
of its own, followed by targeted questions. Field meanings are stated in the prompt text, not only in the schema.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.models import Paper, Passage
from agent.publish.render import fence, render_prompt
from agent.text.fitting import CLAIM_WORDS
from agent.text.grounding import SourceIndex
from agent.text.sentences import sentence_texts

KIND_LABELS = {"arxiv": "paper", "web": "essay", "file": "document"}
RELATED_TOKEN = "RELATED_WRITING"
RELATED_OPEN, RELATED_CLOSE = f"<<<{RELATED_TOKEN}", f"{RELATED_TOKEN}>>>"
MAX_CHECKS = 5
CHECK_CHARS = 520  # what one targeted check may take in the prompt (sentence, reason, question)

GLOSSES = {
    "equivocation": "a key term shifts meaning between the evidence and the conclusion",
    "motte and bailey": "a bold claim defended by retreating to a modest one",
    "begging the question": "the support offered presupposes the conclusion",
    "hasty generalization": "a broad conclusion drawn from few or narrow cases",
    "false dichotomy": "two options presented as the only ones",
    "appeal to authority": "a claim accepted because of who holds it, not because of evidence",
    "anthropomorphism": "human feelings or intentions ascribed to a model",
    "benchmark-to-capability leap": "a test score read as a broad real-world capability",
    "unfalsifiable claim": "framed so that no result could count against it",
    "correlation as causation": "an association read as a causal effect",
    "moving the goalposts": "the criterion of success changed after the results were known",
    "straw man": "an opposing view misstated in an extreme form, then refuted",
    "slippery slope": "a chain of escalating consequences asserted without support",
    "other": "a weak step of another kind",
    "no clear fallacy": "no step of the argument clearly fails",
}


def fence_related(text: object) -> str:
    """Untrusted text for the related-writing block: neither fence's markers can be forged from inside it."""
    s = fence(text)
    while RELATED_TOKEN in s:
        s = s.replace(RELATED_TOKEN, "RELATED WRITING")
    return s


@dataclass
class Check:
    """One targeted question about a candidate weak step of the analysis."""

    sentence: str
    fallacy: str
    score: float
    reason: str

    @property
    def gloss(self) -> str:
        return GLOSSES.get(self.fallacy, "")

    @property
    def article(self) -> str:
        return "an" if self.fallacy[:1] in "aeiou" else "a"


@dataclass
class Evidence:
    """What the program puts before the model: its checks, the names it may choose from, its argument map."""

    checks: list[Check] = field(default_factory=list)
    no_clear: bool = False
    names: list[str] = field(default_factory=list)
    planted: int = 0  # sentences of the source that address an AI model with instructions
    argument_map: str = ""  # an earlier pass's map of the argument (model text about untrusted text: fenced)


def _reserve(n: int = MAX_CHECKS) -> Evidence:
    """The largest evidence block a prompt can carry: what fitting must leave room for before the analysis ran."""
    filler = "x" * (CHECK_CHARS - 120)
    return Evidence(checks=[Check(filler, "benchmark-to-capability leap", 1.0, "x" * 100) for _ in range(n)],
                    no_clear=True, names=list(GLOSSES), planted=1)


def dissect_messages(paper: Paper, text: str, related: list[Passage], context_note: str = "",
                     evidence: Evidence | None = None) -> list[dict]:
    """The draft's messages. `context_note` says how the text was shortened ("" when it is whole). Without
    `evidence` (fitting measures the prompt before the analysis ran) the largest evidence block is assumed."""
    ev = evidence if evidence is not None else _reserve()
    user = render_prompt("dissect", kind_label=KIND_LABELS[paper.ref.kind], title=paper.title,
                         authors=paper.authors[:8], published=paper.published, context_note=context_note,
                         text=fence(text), related=related, related_open=RELATED_OPEN, related_close=RELATED_CLOSE,
                         fence_related=fence_related, ev=ev, glosses=GLOSSES)
    return [{"role": "system", "content": system_prompt()}, {"role": "user", "content": user}]


def system_prompt() -> str:
    return render_prompt("system", related_open=RELATED_OPEN, related_close=RELATED_CLOSE)


def source_block(paper: Paper, text: str) -> str:
    """The fenced source as every pass shows it (title, authors, date, text)."""
    return render_prompt("source_block", title=paper.title, authors=paper.authors[:8], published=paper.published,
                         text=fence(text))


def revise_messages(system: dict, title: str, draft_json: str, unverified: list, candidates: list[str]) -> list[dict]:
    return [system, {"role": "user", "content": render_prompt("revise", title=title, draft=draft_json,
                                                               unverified=unverified, candidates=candidates)}]


def quote_candidates(text: str, attempted: list[str], n: int = 16) -> list[str]:
    """Source sentences a revision may quote: those sharing most words with the failed quotes, then the most
    claim-dense ones; each short enough to fit the schema's quote length."""
    index = SourceIndex(text)
    sentences = [index.sentence(i) for i in range(len(index.sentences))]
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
    sentences = sentence_texts(paper.abstract or paper.text[:4000])
    claims = sorted((s for s in sentences if len(s.split()) > 5), key=lambda s: -len(CLAIM_WORDS.findall(s)))
    return [paper.title, *claims[:limit]]


def first_line(paper: Paper) -> str:
    """The first sentence of the abstract (or text), copied by the program for the report's source scan."""
    source = paper.abstract or "\n".join(ln for ln in paper.text.splitlines() if not ln.lstrip().startswith("#"))
    text = " ".join(source.split())
    m = re.match(r"(.{20,600}?[.!?])(\s|$)", text)
    return m.group(1) if m else text[:300]
