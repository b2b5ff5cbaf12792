"""Lexical scores: for each sentence and each taxonomy type, how strongly the cues (in the sentence and in the
sentences just before it) point to that kind of weak step, in [0, 1], with a one-line reason.

The rules are deliberately few and readable: each type needs its own signature cue (an either/or frame, an
escalation, a retreat to a modest reading...), and the surrounding evidence (a small sample stated earlier, a
correlation reported earlier, a target that was missed) raises the score. A hedge lowers it: a claim held back is
not the weak step. The learned head (agent.analysis.head) takes these scores as features beside the embedding.
"""
from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from agent.analysis.cues import SentenceCues
from agent.models import FALLACIES

TYPES: tuple[str, ...] = tuple(f for f in FALLACIES if f != "other")
CONTEXT = 3  # how many earlier sentences count as the evidence a step rests on


class Ctx:
    """A sentence's cues plus those of the sentences just before it."""

    def __init__(self, here: SentenceCues, before: list[SentenceCues], title: str = ""):
        self.here = here
        self.before = before
        self.title = title
        self.opening = False  # the text's first candidate sentence (mark_opening)

    def h(self, family: str) -> float:
        return 1.0 if self.here.has(family) else 0.0

    def n(self, family: str, cap: int = 3) -> int:
        return min(cap, len(self.here.cues.get(family, [])))

    def prior(self, family: str) -> float:
        return 1.0 if any(c.has(family) for c in self.before) else 0.0

    def q(self, family: str) -> str:
        """The words that matched, for a reason line."""
        return self.here.phrase(family) or next((c.phrase(family) for c in reversed(self.before) if c.has(family)), "")


def _clip(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def _hedged(c: Ctx) -> float:
    return 0.2 * min(2, c.n("hedge"))


def _hasty(c: Ctx) -> float:
    if not c.h("universal_scope"):
        return 0.35 * c.h("small_sample") * c.h("inference")
    return _clip(0.4 + 0.15 * c.h("inference") + 0.2 * c.h("small_sample") + 0.15 * c.prior("small_sample")
                 + 0.1 * c.h("booster") - _hedged(c) - 0.2 * c.h("controlled") - 0.3 * c.h("bounded_scope")
                 - 0.2 * ("method" in c.here.roles and not c.h("inference")))


def _dichotomy(c: Ctx) -> float:
    if not c.h("either_or"):
        return 0.0
    force = max(c.h(f) for f in ("prescriptive", "extreme_content", "booster", "inference", "future",
                                 "universal_scope"))
    return _clip(0.5 + 0.25 * force + 0.1 * c.h("inference") + 0.1 * (c.n("either_or") > 1) - _hedged(c))


def _authority(c: Ctx) -> float:
    if not c.h("authority"):
        return 0.0
    return _clip(0.35 + 0.2 * c.h("deference") + 0.3 * c.h("settled") + 0.1 * c.h("inference")
                 + 0.15 * c.h("justification")
                 + 0.1 * c.h("booster") - 0.3 * c.h("citation") - _hedged(c))


def _anthropo(c: Ctx) -> float:
    strong, weak = c.n("anthropomorphic"), c.n("mental_state")
    if not strong and not weak:
        return 0.0
    human = max(c.h("author_subject"), c.h("opponent_view"))
    return _clip(0.45 * (strong > 0) + 0.15 * max(0, strong - 1) + 0.12 * weak + 0.15 * c.h("ai_subject") * (strong > 0)
                 - 0.35 * c.h("redefinition") - 0.4 * human - _hedged(c))


def _leap(c: Ctx) -> float:
    if not c.h("capability"):
        return 0.0
    evidence = max(c.h("score"), c.prior("score"))
    return _clip(0.4 + 0.2 * evidence + 0.15 * c.h("inference") + 0.1 * c.h("booster") - _hedged(c))


def _unfalsifiable(c: Ctx) -> float:
    if not c.h("unfalsifiable"):
        return 0.0
    return _clip(0.55 + 0.15 * (c.n("unfalsifiable") > 1) + 0.1 * c.h("inference") + 0.1 * c.h("booster")
                 + 0.05 * c.h("universal_scope") - _hedged(c))


def _causation(c: Ctx) -> float:
    association = max(c.h("correlational"), c.prior("correlational"))
    if not c.h("causal"):
        weak = c.h("causal_weak") * association * c.h("inference")
        return _clip(0.5 * weak + 0.1 * c.h("prescriptive") * weak - 0.4 * c.h("controlled") - _hedged(c))
    return _clip(0.3 + 0.3 * association + 0.15 * c.h("inference") + 0.1 * c.h("prescriptive")
                 + 0.1 * c.h("booster") - 0.4 * c.h("controlled") - _hedged(c))


def _goalposts(c: Ctx) -> float:
    strong, weak = c.h("goal_shift"), c.h("goal_shift_weak")
    if not strong and not weak:
        return 0.0
    setup = (0.15 * max(c.prior("target_mention"), c.h("target_mention"))
             + 0.15 * max(c.prior("shortfall"), c.h("shortfall")))
    return _clip(0.4 * strong + 0.15 * weak + setup + 0.2 * c.h("success_claim") - _hedged(c))


def _strawman(c: Ctx) -> float:
    if not c.h("opponent_view"):
        return 0.0
    return _clip(0.3 + 0.2 * c.h("extreme_content") + 0.35 * c.h("dismissal") + 0.15 * c.h("attributed_view")
                 + 0.05 * c.h("booster") - _hedged(c))


def _slope(c: Ctx) -> float:
    steps = c.n("escalation")
    if not steps:
        return 0.0
    return _clip(0.45 + 0.2 * (steps - 1) + 0.1 * c.h("future") + 0.1 * c.h("extreme_content")
                 + 0.05 * c.h("booster") - _hedged(c))


def _begging(c: Ctx) -> float:
    circular = c.h("circular")
    echo = min(3, len(c.here.echoed))
    structural = max(c.h("justification"), c.h("inference")) * (echo >= 2)
    if not circular and not structural and not (c.here.repeated_terms and c.h("redefinition")):
        return 0.0
    return _clip(0.45 * circular + 0.35 * structural + 0.1 * max(0, echo - 2) + 0.15 * c.h("redefinition")
                 + 0.1 * c.h("inference") - _hedged(c))


def _equivocation(c: Ctx) -> float:
    repeat = min(2, len(c.here.repeated_terms) + (len(c.here.echoed) > 0))
    linked = max(c.h("inference"), c.h("justification"), c.h("redefinition"))
    if not repeat or not linked:
        return 0.0
    return _clip(0.3 + 0.1 * repeat + 0.2 * c.h("inference") + 0.1 * c.h("redefinition") + 0.05 * c.h("booster")
                 - 0.2 * c.h("circular") - _hedged(c))


def _motte(c: Ctx) -> float:
    if not c.h("retreat"):
        return 0.0
    bold = max(c.h("booster"), c.h("universal_scope"), c.h("inference"))
    return _clip(0.45 + 0.2 * bold + 0.15 * c.h("redefinition") - 0.5 * _hedged(c))


RULES: dict[str, Callable[[Ctx], float]] = {
    "equivocation": _equivocation,
    "motte and bailey": _motte,
    "begging the question": _begging,
    "hasty generalization": _hasty,
    "false dichotomy": _dichotomy,
    "appeal to authority": _authority,
    "anthropomorphism": _anthropo,
    "benchmark-to-capability leap": _leap,
    "unfalsifiable claim": _unfalsifiable,
    "correlation as causation": _causation,
    "moving the goalposts": _goalposts,
    "straw man": _strawman,
    "slippery slope": _slope,
}
assert set(RULES) == set(TYPES), "every taxonomy type needs a rule"


def contexts(cues: list[SentenceCues], title: str = "") -> list[Ctx]:
    return [Ctx(c, cues[max(0, i - CONTEXT):i], title) for i, c in enumerate(cues)]


def mark_opening(ctxs: list[Ctx], candidates: list[int]) -> None:
    """Flag the first candidate sentence of a text that has at least three. An abstract's opening sentence states
    the field's background ("Reward models are used to train assistants"), and a general statement there is not
    the overreach it would be after the results; the head learns how much that matters."""
    if len(candidates) >= 3:
        ctxs[candidates[0]].opening = True


# a model, system or agent named in a sentence or the one before it, by a common noun or a model-like name
# ("Llama-2-13B", "HelixRM", "GPT-4o"); pronouns do not count: "It argues a deliberately overconfident position"
# is an essay's note on itself. Every anthropomorphism sentence of the data names one (104 of 104).
_AGENT_NOUN = re.compile(r"\b(models?|systems?|agents?|AIs?|LLMs?|assistants?|networks?|polic(y|ies)|chatbots?|"
                         r"transformers?|classifiers?|monitors?|optimi[sz]ers?|checkpoints?|learners?|machines?|"
                         r"algorithms?|bots?|organisms?|generators?|engines?|planners?|reasoners?|predictors?|"
                         r"robots?)\b", re.I)
_AGENT_NAME = re.compile(r"\b[A-Z][\w-]*\d[\w-]*\b|\b[A-Z][a-z]+[A-Z]\w*\b|\b[A-Z]{2,}\w*\b")


def type_allowed(texts: list[str]) -> np.ndarray:
    """(n, len(TYPES)) bool: the types a sentence can be, given what it is about. Anthropomorphism reads intent
    into a model's behaviour, so a sentence that names no model or system (nor does the one before it) cannot be
    one, whatever its words of intent ("deliberately", "wants")."""
    allowed = np.ones((len(texts), len(TYPES)), dtype=bool)
    j = TYPES.index("anthropomorphism")
    for i, text in enumerate(texts):
        near = text if i == 0 else f"{texts[i - 1]} {text}"
        allowed[i, j] = bool(_AGENT_NOUN.search(near) or _AGENT_NAME.search(near))
    return allowed


def lexical_scores(ctxs: list[Ctx]) -> np.ndarray:
    """(n_sentences, len(TYPES)) scores in [0, 1]."""
    out = np.zeros((len(ctxs), len(TYPES)), dtype=np.float32)
    for i, c in enumerate(ctxs):
        for j, t in enumerate(TYPES):
            out[i, j] = RULES[t](c)
    return out


def _quoted(s: str) -> str:
    s = " ".join(s.split())
    return f"\u201c{s[:60]}\u201d" if s else ""


def reason(fallacy: str, c: Ctx) -> str:
    """One line saying what in the text points to this type (the matched words, quoted)."""
    q = c.q
    parts: dict[str, list[tuple[str, str]]] = {
        "hasty generalization": [("universal_scope", "a broad claim ({})"),
                                 ("small_sample", "from a small sample ({})")],
        "false dichotomy": [("either_or", "presents two options as the only ones ({})")],
        "appeal to authority": [("authority", "rests on who holds the view ({})"),
                                ("settled", "rather than evidence ({})")],
        "anthropomorphism": [("anthropomorphic", "ascribes feelings or intent to a model ({})"),
                             ("mental_state", "uses mental-state language ({})")],
        "benchmark-to-capability leap": [("capability", "reads a broad capability ({})"),
                                         ("score", "into a test score ({})")],
        "unfalsifiable claim": [("unfalsifiable", "framed so that no observation could count against it ({})")],
        "correlation as causation": [("causal", "causal wording ({})"),
                                     ("correlational", "for an association ({})")],
        "moving the goalposts": [("goal_shift", "changes the criterion of success ({})"),
                                 ("goal_shift_weak", "switches to another criterion ({})"),
                                 ("target_mention", "after a stated target ({})")],
        "straw man": [("opponent_view", "describes opponents' view ({})"),
                      ("extreme_content", "in an extreme form ({})"), ("dismissal", "then dismisses it ({})")],
        "slippery slope": [("escalation", "asserts a chain of escalating consequences ({})")],
        "begging the question": [("circular", "the support presupposes the conclusion ({})"),
                                 ("redefinition", "by definition ({})")],
        "equivocation": [("redefinition", "a term is used in a narrow sense ({})")],
        "motte and bailey": [("retreat", "a bold claim defended by retreating to a modest one ({})")],
    }
    # the first family is the type's signature and must be in this sentence; the others may be evidence stated
    # in the sentences before it (a small sample, a stated target), and say so: a reader looking for the quoted
    # words in this sentence would not find them
    bits = []
    for k, (fam, tmpl) in enumerate(parts.get(fallacy, [])):
        own = c.here.phrase(fam)
        if own:
            bits.append(tmpl.format(_quoted(own)))
        elif k and q(fam):
            bits.append(tmpl.format(_quoted(q(fam)) + " earlier"))
    if fallacy == "equivocation" and c.here.repeated_terms:
        bits.insert(0, f"the term \u201c{c.here.repeated_terms[0]}\u2026\u201d carries two senses in one inference")
    if not bits:
        return f"cues consistent with {fallacy}"
    return "; ".join(bits[:2])
