"""What the program itself can say from its analysis (agent.analysis), for fields whose model text failed a check.

Every text here is written from the analysis stage's finding (the candidate weak step, its type, score and reason,
and the sentences' roles) with fixed wording per taxonomy type; the report labels such fields "written by the
program from its analysis", so a reader never takes them for the critic's own judgement.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from agent.analysis.cues import find_cues
from agent.models import NO_CLEAR_FALLACY, HiddenAssumption

# per type: what the step assumes, what breaks without it, and how the judgement ages as the field moves
TYPE_FINDINGS: dict[str, tuple[str, str, str]] = {
    "hasty generalization": (
        "The few models, tasks or cases studied stand for the whole class the conclusion names.",
        "The result holds for the cases studied and says nothing yet about the rest.",
        "As more models, scales and settings are tested this will be settled either way; a broad claim from few "
        "cases is what the next round of evaluations most often overturns, so it ages badly unless replicated."),
    "false dichotomy": (
        "The two options named are the only ones available.",
        "A third course (partial measures, other methods, combinations) escapes the forced choice.",
        "New methods keep appearing between the two poles, so a framing with only two options gets weaker as "
        "the field moves."),
    "appeal to authority": (
        "Who holds the view is evidence enough for it.",
        "The claim stands unsupported until evidence for it is shown.",
        "Expert opinion in a fast-moving field changes quickly; the claim is worth what its evidence is worth, and "
        "that does not improve with time."),
    "anthropomorphism": (
        "The model's behaviour is best explained by human-like wants, feelings or intentions.",
        "The same behaviour has a mechanical explanation (training signal, prompt cues), and the framing misleads.",
        "Interpretability tools will increasingly test such readings directly; until they do, mental-state "
        "language should be read as metaphor, and the judgement does not soften with time."),
    "benchmark-to-capability leap": (
        "The benchmark measures the broad capability the conclusion names.",
        "The score shows performance on the test's items, not the capability in real use.",
        "Benchmarks saturate and are replaced quickly, so a capability claim read off one score ages fast unless "
        "it is confirmed on newer, harder tests."),
    "unfalsifiable claim": (
        "A hypothesis that every outcome confirms still says something about the world.",
        "No evaluation can count against the claim, so no evaluation supports it either.",
        "New evidence cannot move a claim framed to fit any result; the judgement stays the same however the field "
        "moves, until the claim is restated so that some result could refute it."),
    "correlation as causation": (
        "The association reported reflects a causal effect, with no common cause or reverse direction.",
        "The recommended intervention may do nothing, since the association alone does not show an effect.",
        "Controlled experiments (ablations, interventions) are becoming cheap; the causal reading stands or falls "
        "with them, and until then it should be read as a correlation."),
    "moving the goalposts": (
        "The criterion adopted after the results is as meaningful as the one set before them.",
        "By the original criterion the result is a failure, and the success claim does not stand.",
        "Later work will be judged by pre-registered targets; a success declared by a changed criterion does not "
        "become more convincing with time."),
    "straw man": (
        "The opposing view described is the one its proponents actually hold.",
        "The results refute only an extreme position nobody holds, and the real view stands.",
        "As the debate moves on, the real opposing positions will be tested directly; refuting a caricature does "
        "not age into refuting them."),
    "slippery slope": (
        "Each step of the chain follows from the one before without any check in between.",
        "The chain stops at the first step that does not follow, and the final consequence is unsupported.",
        "Each step is an empirical claim that new systems will test; the chain weakens with every step that does "
        "not happen on schedule."),
    "begging the question": (
        "The conclusion can be assumed in the support offered for it.",
        "The argument gives no independent reason to accept its conclusion.",
        "A circular argument stays circular as the field moves; only independent evidence would change the "
        "judgement."),
    "equivocation": (
        "The key term keeps one meaning throughout the argument.",
        "The conclusion follows only for the narrower sense of the term the evidence supports.",
        "As the field's vocabulary is pinned down (by benchmarks and definitions), the two senses will be pulled "
        "apart and the conclusion will have to be restated for the narrow one."),
    "motte and bailey": (
        "Defending the modest claim also defends the bold one.",
        "Only the modest claim is supported; the bold thesis remains unargued.",
        "Later evidence can bear on the bold claim; until it is argued for directly, the judgement does not "
        "change."),
}
TYPE_GLOSS = {
    "hasty generalization": "a broad conclusion drawn from few or narrow cases",
    "false dichotomy": "two options presented as the only ones",
    "appeal to authority": "a claim resting on who holds it",
    "anthropomorphism": "human feelings or intentions read into a model's behaviour",
    "benchmark-to-capability leap": "a test score read as a broad capability",
    "unfalsifiable claim": "a claim framed so that no result could count against it",
    "correlation as causation": "an association read as a causal effect",
    "moving the goalposts": "a success criterion changed after the results",
    "straw man": "an opposing view refuted in a form its holders do not hold",
    "slippery slope": "a chain of escalating consequences asserted step by step",
    "begging the question": "support that presupposes the conclusion",
    "equivocation": "a key term that shifts meaning between evidence and conclusion",
    "motte and bailey": "a bold claim defended by retreating to a modest one",
}
# per role of a sentence that shows no clear flaw: what a step of that kind still takes for granted, and what
# follows if it does not hold (an assumption of a sound text is still worth naming: it is where a reader checks)
ROLE_FINDINGS: dict[str, tuple[str, str]] = {
    "claim": ("The evidence reported is enough to carry this conclusion as stated.",
              "The conclusion outruns its evidence, and only a narrower version of it stands."),
    "result": ("The measure reported tracks the property the conclusions are about.",
               "The figures describe the measure, and the conclusion about the property needs other evidence."),
    "method": ("The setup described stands for the situations the conclusions are about.",
               "The results describe behaviour in this setup and say less about the situations the conclusions "
               "name."),
    "limitation": ("The limits named here are the ones that matter for the conclusions.",
                   "A limit left unstated could narrow the conclusions further than the text admits."),
    "background": ("The problem described is as real and pressing as the text presents it.",
                   "If it is overstated, the work answers a smaller problem than it presents, though its results may "
                   "still stand."),
}
ROLE_ORDER = ("claim", "result", "method", "limitation", "background")
_PHRASE_STOP = frozenset("""a an the of to in on and or is are was were be been being that this these those it its for
with as by at from not no than which who whom whose their they them we our us can may might will would could should has
have had do does did so such into onto over under about after before also only just more most less very any all each
both while when where whether if then thus therefore hence because since although though but yet however here there
what how why paper work study authors show shows shown find finds found use uses used using propose present
demonstrate suggest suggests argue argues report reports further new often many much some other others own same
across within without between through among per via upon""".split())
_VERBS = frozenset("""design designs refuse refuses take takes taking make makes give gives lead leads believe act acts
perform performs rely relies hold holds need needs seem seems remain remains become becomes keep keeps""".split())
_METHOD = re.compile(r"\b(we|our)\s+(design|create|develop|generate|simulate|prompt|sample|recruit|annotate|label|"
                     r"elicit|deploy|present|introduce|examine|investigate|assess|benchmark|interview)\b", re.I)
_COMPARISON = re.compile(r"\b(than|twice|times|outperforms?|exceeds?|gains?|concentrated)\b|\d", re.I)
_INFERENCE = re.compile(r"\b(suggests?|suggesting|indicates?|indicating|implies|implying|appears? to|seems? to)\b",
                        re.I)
FIRST_PERSON = re.compile(r"\b(we|our|ours)\b", re.I)
# where a motivating sentence turns from what it takes as given to the gap it opens
_TURN = re.compile(r",\s+(but|yet|although|though|whereas|while|raising|leaving|which|so that|making)\b|"
                   r",\s+(a|an|the) (problem|property|question|concern|gap) (that|which)\b|"
                   r",\s+on the premise\b|;|:\s|\s[\u2013\u2014-]\s", re.I)
PREMISE_WORDS = (5, 24)  # a premise shorter than this says nothing; a longer one is not quoted in a point
_TOKEN = re.compile(r"[A-Za-z0-9][\w'’.%-]*[\w%]|[A-Za-z0-9]|[^\w\s]")
# a clear weak step of uncertain kind: what it assumes and how the judgement ages, whichever kind it is
UNSURE_FINDING = (
    "The evidence the text reports before this step is enough to carry the conclusion it draws.",
    "Only a narrower conclusion stands, one the reported evidence does reach.",
    "The step's conclusion is an empirical claim that later work can test directly; until it does, the judgement "
    "stays that the text claims more here than it shows, whatever kind of flaw the step turns out to be.")
# the lag-weighted verdict when no step is clearly weak (a sound text's assumptions come from ROLE_FINDINGS)
NO_FINDING_LAG = ("No step was found that depends on a fast-moving assumption, so the judgement should hold as the "
                  "field moves, unless new results contradict the reported evidence.")


def _a(name: str) -> str:
    """A type's name with its article ("an appeal to authority"; none before a gerund: "begging the question")."""
    if name.split(" ", 1)[0].endswith("ing"):
        return name
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def _below(x: float) -> str:
    """A score below a threshold, shown so that it does not round up to it (0.6955 -> "0.69", not "0.70")."""
    return f"{math.floor(x * 100) / 100:.2f}"


def key_phrases(sentence: str, k: int = 2, max_words: int = 4) -> list[str]:
    """The sentence's most specific phrases (runs of content words, longest and most concrete first): what an
    assumption written from a template points at, so a reader sees which words of the sentence it is about."""
    runs: list[list[str]] = [[]]
    for tok in _TOKEN.findall(sentence):
        low = tok.casefold()
        if low in _PHRASE_STOP or low in _VERBS or not tok[0].isalnum() or (low.endswith("ed") and len(low) > 4):
            runs.append([])  # a phrase is a run of content words; verbs and participles end one
        else:
            runs[-1].append(tok)
    scored = []
    for n, run in enumerate(r[:max_words] for r in runs if r):
        concrete = sum(bool(re.search(r"\d", w)) or (w[:1].isupper() and w.casefold() != w) for w in run)
        if len(run) > 1 or len(run[0]) >= 6:
            scored.append((-(len(run) + 0.5 * concrete), n, " ".join(run)))
    return [p for *_, p in sorted(scored)[:k]]


def sentence_role(sentence: str) -> str:
    """The role that decides what a sound step of this kind takes for granted (claim before result before method)."""
    cues = find_cues(sentence)
    if "release" in cues.roles:
        return "release"
    if cues.roles == ["background"]:  # what the role lexicon leaves out: setups, hedged caveats, comparisons
        if _METHOD.search(sentence):
            return "method"
        if "hedge" in cues.cues and FIRST_PERSON.search(sentence):  # a caveat about the work itself
            return "limitation"
        if _INFERENCE.search(sentence):  # "the advantage suggests that ...": a hedged conclusion
            return "claim"
        if _COMPARISON.search(sentence):
            return "result"
    return next((r for r in ROLE_ORDER if r in cues.roles), "background")


def _whole_word(phrase: str, sentence: str) -> str:
    """A cue phrase as the sentence has it: the reasons cut a repeated term to its stem ("aligne…")."""
    if not phrase.endswith("\u2026"):
        return phrase
    m = re.search(r"\b" + re.escape(phrase[:-1]) + r"[\w'’-]*", sentence, re.I)
    return m.group(0) if m else phrase


def _pointed(text: str, phrases: list[str]) -> str:
    return f"{text[:-1]} (here: {', '.join(f'“{p}”' for p in phrases)})." if phrases else text


def premise(sentence: str) -> str:
    """The premise a motivating sentence states before it turns to the gap or the question it opens ("X is the
    backbone of most pipelines, yet ..." -> "X is the backbone of most pipelines"); "" when that is too short or
    too long to quote in a point."""
    m = _TURN.search(sentence)
    clause = (sentence[:m.start()] if m else sentence).strip().rstrip(".?!")
    return clause if PREMISE_WORDS[0] <= len(clause.split()) <= PREMISE_WORDS[1] else ""


def role_assumption(quote: str) -> HiddenAssumption:
    """What a step with no clear flaw takes for granted, from its role, pointed at the sentence's own words (a
    release sentence takes nothing for granted about the argument: it gets the claim's assumption, which the
    support check then finds unsupported there). A motivating sentence's is its premise, quoted: judged blind, the
    generic "the problem is as real as presented" read as fitting almost any abstract."""
    role = sentence_role(quote)
    assumption, if_false = ROLE_FINDINGS["claim" if role == "release" else role]
    said = premise(quote) if role == "background" else ""
    text = f"The text takes this premise as given: \u201c{said}\u201d." if said else _pointed(assumption,
                                                                                             key_phrases(quote))
    return HiddenAssumption(assumption=text, quote=quote, if_false=if_false)


def is_role_assumption(h: HiddenAssumption) -> bool:
    """Whether an assumption is a role's (generic: what any step of that kind takes for granted)."""
    return h.if_false in _ROLE_IF_FALSE


_ROLE_IF_FALSE = frozenset(f for _, f in ROLE_FINDINGS.values())


@dataclass(frozen=True)
class Finding:
    """The analysis stage's view of a text, reduced to what fallback fields need."""

    sentence: str  # the weakest step's sentence ("" when there is none)
    fallacy: str  # its taxonomy type, or NO_CLEAR_FALLACY
    score: float
    reason: str
    threshold: float
    n_sentences: int
    roles: dict[str, int]  # how many sentences carry each role
    type_score: float = 1.0  # the analysis' confidence in the type (1: the critic's own type, or no head)
    runner_up: str = ""  # the next most likely type when the analysis is unsure of this one ("" when sure)
    runner_up_score: float = 0.0
    weakest: bool = True  # the analysis ranks this step first (not so when the critic chose another one)

    @classmethod
    def from_analysis(cls, analysis: dict | None, core_name: str = "", core_quote: str = "") -> Finding:
        """The finding about `core_quote` (the dissection's core fallacy, named `core_name` by the model or the
        program), else about the analysis' strongest candidate. The score is the analysis' own for that sentence
        and type (0 when the analysis gave that sentence another type or none)."""
        a = analysis or {}
        cands = a.get("candidates") or []
        own = next((c for c in cands if c["sentence"] == core_quote), None) if core_quote else None
        pick: Any = own or (None if core_quote else (cands[0] if cands else None))
        name = core_name.strip().casefold()
        if name == NO_CLEAR_FALLACY or (not name and (pick is None or a.get("no_clear_fallacy", True))):
            fallacy = NO_CLEAR_FALLACY
        else:
            fallacy = name if name in TYPE_FINDINGS else (pick["fallacy"] if pick else NO_CLEAR_FALLACY)
        same = pick is not None and pick["fallacy"] == fallacy
        threshold = float(a.get("threshold", 0.0))
        # the analysis vouches for a step only where it finds it clearly weak; below its threshold (a critic that
        # named a step the analysis passed) the reading is the critic's, and the points say so
        backed = same and float(pick["score"]) >= threshold
        roles: dict[str, int] = {}
        for s in a.get("sentences") or []:
            for r in s.get("roles") or []:
                roles[r] = roles.get(r, 0) + 1
        best = cands[0]["score"] if cands else 0.0
        # unsure of the kind: the analysis' own type for this sentence scored below its type threshold
        unsure = backed and fallacy != NO_CLEAR_FALLACY and pick.get("runner_up") in TYPE_FINDINGS and \
            float(pick.get("type_score", 1.0)) < float(a.get("type_threshold", 0.0))
        return cls(sentence=core_quote or (pick["sentence"] if pick else ""), fallacy=fallacy,
                   score=float(pick["score"]) if same else (float(best) if fallacy == NO_CLEAR_FALLACY else 0.0),
                   reason=pick["reason"] if backed else "", threshold=threshold,
                   n_sentences=len(a.get("sentences") or []), roles=roles,
                   weakest=backed and pick is cands[0],
                   type_score=float(pick["type_score"]) if unsure else 1.0,
                   runner_up=pick["runner_up"] if unsure else "",
                   runner_up_score=float(pick.get("runner_up_score", 0.0)) if unsure else 0.0)

    @property
    def clear(self) -> bool:
        return self.fallacy in TYPE_FINDINGS

    @property
    def unsure(self) -> bool:
        """A clear weak step whose kind the analysis cannot tell with confidence (its type score is below the
        analysis' type threshold): the points say so and rest on what is sure, that the step is the weakest."""
        return self.clear and bool(self.runner_up)

    def _flagged(self) -> str:
        if not self.reason:  # the type is the critic's, not the analysis' (which gave this sentence no such reading)
            faint = self._scored_below()
            return f"the critic reads this step as {_a(self.fallacy)}" + (f", {faint}" if faint else "")
        if self.unsure:
            return (f"the analysis rates this {self._rank} (score {self.score:.2f}) but is unsure of its kind: "
                    f"it reads most like {_a(self.fallacy)} ({self.reason}; type score "
                    f"{_below(self.type_score)}), else {_a(self.runner_up)} ({self.runner_up_score:.2f})")
        return f"the analysis reads this step as {_a(self.fallacy)} ({self.reason}; score {self.score:.2f})"

    def _scored_below(self) -> str:
        """For a critic's reading the analysis shares but not as clearly weak: its score against its threshold."""
        if 0 < self.score < self.threshold:
            return f"which the analysis scored {self.score:.2f}, below its threshold of {self.threshold:.2f}"
        return ""

    @property
    def _rank(self) -> str:
        return "the weakest step" if self.weakest else "a weak step"

    def explanation(self) -> str:
        if not self.clear:
            return (f"No step of the argument clearly fails: the strongest candidate scored {self.score:.2f}, below "
                    f"the analysis threshold of {self.threshold:.2f}.")
        flagged = self._flagged()
        if self.unsure:  # no gloss of a type it may not be: what holds of either reading
            return (f"{flagged[:1].upper()}{flagged[1:]}. Either way, this step concludes more than the evidence "
                    "the text reports can carry.")
        return (f"{flagged[:1].upper()}{flagged[1:]}: {TYPE_GLOSS[self.fallacy]}. The evidence the text reports does "
                "not reach that far.")

    def claims(self) -> str:
        r = self.roles
        parts = [f"{r.get('claim', 0)} claim sentence{'s' if r.get('claim', 0) != 1 else ''}",
                 f"{r.get('result', 0)} reporting results", f"{r.get('method', 0)} describing methods"]
        if r.get("limitation"):
            parts.append(f"{r['limitation']} stating limitations")
        return (f"Of the text's {self.n_sentences} sentences, {', '.join(parts)}. The argument runs from the reported "
                f"results to its claims; {self._claims_step()}.")

    def _claims_step(self) -> str:
        if not self.clear:
            return f"the analysis rates its weakest step as not clearly weak (score {self.score:.2f})"
        if self.reason:
            step = "its weakest step" if self.weakest else "a weak step"
            return f"the analysis rates {step} as {_a(self.fallacy)} (score {self.score:.2f})"
        return f"the critic reads its weakest step as {_a(self.fallacy)}, " + (
            self._scored_below() or "a reading the analysis does not share")

    def social_function(self) -> str:
        r = self.roles
        if r.get("release"):
            what = "It offers the field resources (data, code or models) along with its findings"
        elif r.get("result", 0) >= r.get("claim", 0):
            what = "It reports results that others can build on or check"
        else:
            what = "It argues for a position more than it reports results"
        tail = (", and states its main conclusion more strongly than its evidence allows, which positions the work "
                "as settling a question that remains open." if self.clear else ", within the limits it states.")
        return what + tail

    def verdict(self) -> str:
        if not self.clear:
            return ("The analysis found no clearly weak step; the conclusions appear to stay within the reported "
                    "evidence. Read it for its results.")
        if self.unsure:
            return (f"The argument is {'weakest' if self.weakest else 'weak'} at this step (score {self.score:.2f}), "
                    f"which the analysis reads most "
                    f"like {_a(self.fallacy)} or {_a(self.runner_up)}. Its conclusion should be read as no stronger "
                    "than the evidence it reports.")
        return (f"The argument is weakest where {self._flagged()}. Its conclusion should be read as no stronger than "
                "the evidence it reports.")

    def _kind_findings(self) -> tuple[str, str, str]:
        """What a clear step assumes, what breaks without it and how it ages: its type's, or either type's."""
        return UNSURE_FINDING if self.unsure else TYPE_FINDINGS[self.fallacy]

    def lag_weighted_verdict(self) -> str:
        return self._kind_findings()[2] if self.clear else NO_FINDING_LAG

    def assumption(self, quote: str = "") -> HiddenAssumption:
        """The type's assumption when the analysis finds `quote` (default: the finding's sentence) clearly weak in
        this way, pointed at the words that showed it; else what the sentence's role takes for granted."""
        quote = quote or self.sentence
        if not (self.clear and quote == self.sentence and self.reason and self.score >= self.threshold):
            return role_assumption(quote)
        assumption, if_false, _ = self._kind_findings()
        # the words that showed it, as far as they are in this sentence (a reason may cite evidence stated earlier)
        phrases = [w for w in (_whole_word(p, quote) for p in
                               dict.fromkeys(re.findall(r"\u201c([^\u201d]{2,60})\u201d", self.reason)))
                   if w.casefold() in quote.casefold()][:3]
        return HiddenAssumption(assumption=_pointed(assumption, phrases or key_phrases(quote)), quote=quote,
                                if_false=if_false)

    def field(self, path: str) -> str:
        """The program's text for a prose field path of the dissection (see agent.critique.copies.prose_fields)."""
        if path.startswith("hidden_assumptions"):
            h = self.assumption()
            return h.assumption if path.endswith(".assumption") else h.if_false
        return {"claims": self.claims, "core_fallacy.explanation": self.explanation,
                "social_function": self.social_function, "verdict": self.verdict,
                "lag_weighted_verdict": self.lag_weighted_verdict}[path]()
