"""Lexical cue families: what a careful reader's eye catches in a sentence before weighing the argument.

Each family is a list of regular expressions; a sentence's cues are the families that match it, with the words
that matched (kept for the one-line reasons). Roles say what a sentence does in the argument (claim, result,
method, ...). Nothing here decides that a step is weak: `agent.analysis.scoring` combines cues, their context and
the learned head into candidate weak steps.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_W = r"[\w'’-]+"  # one word
_AI = (r"(?:model|models|agent|agents|assistant|assistants|network|networks|policy|policies|system|systems|"
       r"llm|llms|ai|chatbot|chatbots|transformer|transformers|classifier|reward model|it|its)")


def _rx(*patterns: str) -> list[re.Pattern[str]]:
    return [re.compile(p, re.I) for p in patterns]


# ---- cue families -------------------------------------------------------------------------------------------
CUE_PATTERNS: dict[str, list[re.Pattern[str]]] = {
    # inference: the sentence draws a conclusion
    "inference": _rx(r"\b(therefore|thus|hence|consequently|accordingly|it follows|this (shows|means|proves|"
                     r"establishes|demonstrates)|which (shows|means|proves|establishes|demonstrates)|"
                     r"we (conclude|infer)|so (that )?(we|the|it|they|this|these|every|all|any|labs?|developers?|no|"
                     r"an?))\b",
                     r"^(so|thus|hence)\b", r"\b(as a result|for this reason|in short|in sum|showing that|"
                     r"(we|one) can (safely |therefore )?(say|conclude|assume|infer))\b"),
    # booster: certainty beyond what a finding gives
    "booster": _rx(r"\b(unsolvable|impossible|meaningless|an illusion|hopeless|worthless|useless|beyond repair)\b",
                  r"\b(clearly|obviously|plainly|undoubtedly|fundamentally|perfectly|unquestionably|certainly|"
           r"definitively|"
                   r"conclusively|beyond (any )?doubt|without (a )?doubt|settled?|proves?|proven|establish(es|ed)?|"
                   r"no one disputes|undeniabl[ey]|fully|entirely|completely|thoroughly|easily refute\w*|"
                   r"puts? to rest|dismantles?|genuine(ly)?|truly|really|in fact|inevitabl[ey]|"
                   r"needs? no (further|additional)|requires? no (further|additional))\b"),
    # hedge: a claim held back
    "hedge": _rx(r"\b(may|might|could|suggests?|suggesting|indicat(es|ing)|appears? to|it appears|seems? to|possibly|"
                 r"perhaps|"
                 r"likely|unlikely|preliminary|tentative(ly)?|we hypothes[iz]e|partial(ly)?|in part|"
                 r"remains? (an )?open|left (open|to future work)|future work|we (do|did) not (claim|test|know|study|"
                 r"extrapolate|rank|estimate)|cannot (rule out|be excluded|exclude)|not (yet )?(tested|known)|"
                 r"limited to|limitations?|caveat|uncertain(ty)?|we leave)\b"),
    # universal scope and generalisation
    "universal_scope": _rx(r"\b(all|every|any|each and every|no)\s+(\w+[\s-]){0,3}?(models?|systems?|agents?|tasks?|"
                           r"settings?|domains?|languages?|humans?|people|users?|architectures?|scales?|sizes?|"
                           r"transformers?|networks?|jailbreaks?|attacks?|attackers?|techniques?|methods?|kinds?|"
                           r"environments?|situations?|contexts?|circumstances|deployments?|conditions|problems?|"
                           r"objectives?|goals?|purposes?|cases|policies|assistants?|labs?|families)\b",
                           r"\b(always|never|universal(ly)?|invariabl[ey]|whenever|wherever|in every case|"
                           r"without exception|whatever their|regardless of (size|scale|architecture|training)|"
                           r"in general|generally|of every (scale|size|kind)|across the board)\b",
                           r"\b(language|neural|frontier|transformer|preference-trained|trained) (language )?"
                           r"(models|networks|agents|systems)( in general| generally)?\b(?! (we|that we) (test|stud))"),
    # a small or single sample
    "small_sample": _rx(r"\b(one|two|three|four|five|a single|a handful of|single|both|a few|a pair of|"
                        r"a small)\s+(?:\w+[\s-]){0,3}?(model (families|sizes)|runs?|models?|datasets?|examples?|"
                        r"layers?|cases?|seeds?|"
                        r"annotators?|participants?|prompts?|tasks?|assistants?|agents?|replications?|families|"
                        r"family|settings?|environments?|gridworlds?|languages?)\b",
                        r"\b(this|a|one) (single )?(run|case study|example|anecdote|toy \w+)\b",
                        r"\b(a|one) (single|small|toy|two-layer|one-layer|tiny) ([\w-]+ ){0,2}(model|network|run)\b",
                        r"\b(of|in) our \w+ (run|case|example)s?\b", r"\b(\d{1,2}) (prompts|participants|"
                        r"annotators)\b"),
    # causal language
    "causal_weak": _rx(r"\b(makes?|improves?|increases?|reduces?|adds?|boosts?|lowers?|raises?|"
                       r"prevents?|produces?|yields?|creates?)\b"),
    "causal": _rx(r"\b(causes?|caused|causal(ly)?|makes? (\w+ ){0,3}(more|less|better|worse)|what (makes|produces|"
                  r"drives|causes)|is what|drives?|produces?|responsible for|the mechanism|directly (reduces?|"
                  r"increases?|improves?|causes?|lowers?|raises?)|because of|prevents?|proves that \w+ (are|is) "
                  r"what)\b"),
    # a prediction stated as certain
    "future": _rx(r"\b(will|cannot|can never|is bound to|hopeless(ly)?)\b"),
    # prescription drawn from a finding
    "prescriptive": _rx(r"\b(should|must|ought to|need to|have to)\b"),
    # a claim of success
    "success_claim": _rx(r"\b(succeeds?|success|a success|passes|works|qualifies|achieves|clearly does|"
                         r"which it does|is faithful|are faithful|excels)\b"),
    # correlational evidence
    "correlational": _rx(r"\b(correlat\w*|associat\w*|related to|relationship|tend(s|ed)? to|r\s?=|spearman|"
                         r"pearson|(models|developers|users|checkpoints|teams|countries|prompts|layers|those|"
                         r"assistants) (with|who|whose|that) (more|higher|lower|larger|fewer|greater|opened|saw|"
                         r"use|used)|(higher|more|larger|lower) \w+ (were|was|had|showed|scored))\b"),
    # controlled evidence (supports causal language)
    "controlled": _rx(r"\b(randomi[sz]ed|controlled (experiment|study|trial)|ablat\w*|intervention|clamp\w*|"
                      r"steering (experiment|intervention)s?|we (steer|control)|controlling for|counterfactual|"
                      r"held fixed|a/b test)\b"),
    # anthropomorphic language: mental states ascribed to a model
    "anthropomorphic": _rx(r"\b(anxious|nervous|worried|afraid|eager|keen|jealous|envious|angry|sad|lonely|bored|"
                           r"curious|ashamed|guilty|grateful|hopeful|pretends?|pretending|conspires?|plots?|"
                           r"schemes? to|trusts? (each other|one another|the user)|agreed in spirit|sense(s)? that|"
                           r"hopes? to|is trying to deceive|plans? to)\b",
                  r"\b(wants?|wanted|wishes|desires?|craves?|longs? for|longs to|yearns?|fears?|feared|resents?|"
                           r"enjoys?|hates?|loves|is proud|proud of|embarrassed|frustrated|uneasy|uncomfortable|"
                           r"feels?|genuinely cares|cares about|is determined|determined to|dreams? of|ambitions?|"
                           r"out of spite|its (own )?survival|would not die|true (intentions?|beliefs?|goals?|self)|"
                           r"real intentions?|secretly|deliberately|knowingly|suspects?|is afraid|happy to|"
                           r"is eager|wishes|punish(es)?|sincerely|in secret|cover (it|this|them) up|lies to|"
                           r"out of (spite|fear|pride)|to survive)\b"),
    # weaker mental-state verbs, often used loosely of models
    "mental_state": _rx(r"\b((has|have) decided|decides?|believes?|knows?|realis(es|ed)|realiz(es|ed)|"
                        r"is (aware|conscious)|understands?|thinks|is (really )?thinking|intends?|tries to|"
                        r"chooses?|chose)\b"),
    "author_subject": _rx(r"^(we|our|i)\b", r"\b(we|i) (deliberately|believe|think|want|chose|decided)\b"),
    "ai_subject": _rx(r"\b(the|our|this|each|an?) (fine-tuned |trained |base )?" + _AI + r"\b",
                      r"^(it|they)\b"),
    # appeal to authority
    "authority": _rx(r"\b(senior|well-known|famous|celebrated|influential|leading|top|eminent) (figures|names|voices|"
                     r"people|scientists|researchers|experts|thinkers)\b", r"\b(heads? of|luminaries|big names|"
                     r"the godfathers?)\b",
                  r"\b(experts?|leading (researchers|scientists|labs?)|prominent|eminent|renowned|"
                     r"world-renowned|respected|well-known|distinguished|senior (researchers|staff|scientists)|"
                     r"chief scientist|founders? of|pioneers?|laureates?|nobel|turing award|authorities|"
                     r"open letter|signed by|endorsed|reviewed by|top (universities|labs)|"
                     r"major labs?|most (respected|eminent|senior)|by virtue of)\b"),
    "deference": _rx(r"\b((publicly )?(described|called|characteri[sz]ed|labell?ed|declared) (it|them|this|"
                     r"that)( that way| as)?|drawn up by|designed by|proposed by|written by \w+ (figures|experts))\b",
                  r"\b(agree|agrees|has (said|stated|argued|claimed)|have (said|stated|long maintained)|"
                     r"long maintained|described (it|the \w+) as|according to|as \w+ (has|have) (said|noted|stated)|"
                     r"endorsed|confirms?|having been (assigned|reviewed|approved)|since (its|their) authors)\b"),
    "settled": _rx(r"\b(settled?|settles|requires? no|needs? no|no further (checking|validation|evidence)|"
                   r"beyond (question|doubt)|can be (taken|treated) (to be |as )?|we (adopt|take|accept)|"
                   r"is (assured|correct|established)|remove any doubt|the correct one)\b"),
    "citation": _rx(r"\b(et al\.?|\(\d{4}[a-z]?\)|\d{4}[a-z]?\)|following \w+|as in \w+|see \w+)\b"),
    # either/or framing
    "either_or": _rx(r"\b(whether to|choose whether to)\b.{3,120}\bor (to )?\b", r"\bthe only (path|route|way|option|"
             r"choice|course)( left| remaining)?\b",
                  r"\beither\b.{3,160}\bor\b", r"\b(only|just) (two|2) (options|alternatives|choices|"
                     r"possibilities|paths)\b", r"\b(two alternatives only|stark choice|no third (path|way|option)|"
                     r"no middle ground|nothing in between|the only (remaining |other )?(option|alternative|choice|"
                     r"way)|must choose between|choose between|or else|the choice is (simple|clear|binary|stark))\b",
                     r"\b(now|today)\b.{1,60}\bor\b.{1,60}\b(forever|for good|never)\b",
                     r"\bunless\b.{3,120}\bthe only\b", r"\bif\b.{3,80}\bnot\b.{3,80}\bthe only\b"),
    # unfalsifiable framing
    "unfalsifiable": _rx(r"\b((is|are) (itself|themselves) (a sign|evidence|proof)|all the same|too (subtle|subtly|"
                         r"well hidden|deeply hidden)\b.{0,20}\b(for|to)|for any (probe|test|method|measurement|"
                         r"evaluation)( of ours)? (or anyone|to))\b",
                  r"\b(no (evidence|measurement|test|result|experiment|probe|observation)s? (of \w+ \w+ )?"
                         r"(could|can|would|will)( ever)?)\b",
                         r"\b(whatever (the )?(score|result|evidence|behaviou?r|outcome|the \w+ (reports?|shows?))|"
                         r"whether or not|regardless of (what|the result|whether)|no matter what|"
                         r"any (result|outcome|evidence)|either way|absence of evidence|"
                         r"no (test|probe|analysis|experiment) (could|can) (ever )?(reveal|detect|show)|"
                         r"cannot be (observed|measured|tested)|like consistent ones|itself the strongest evidence|"
                         r"(entirely|fully|perfectly) consistent with (our|the|this) (hypothesis|theory|view)|"
                         r"in ways (that )?no|"
                         r"(exactly|precisely) what an? \w+ \w+ would|(only|merely|just) shows? how (well|good|skilled|"
                         r"careful)|tells? us nothing|can (always )?be explained (away|as)|would pass every|"
                         r"cannot be detected|need not show)\b"),
    # redefinition of a term
    "redefinition": _rx(r"\b(an? (\w+ ){1,2}is one that|are those that|simply means|just means)\b",
                  r"\b(we define|defined as|by (definition|which we mean|\w+ we (simply |only )?mean)|"
                        r"we (simply |only )?mean|in (this|the \w+|a \w+) sense|in the sense (that|of)|"
                        r"we count as|count(s|ed)? as|what it means (for|to)|we call|is what we mean|"
                        r"by (this|that|the|its|our) ([\w']+ )?(measure|definition|criterion|standard))\b"),
    # retreat to a modest reading
    "retreat": _rx(r"\b(put differently|to put it (modestly|simply|another way)|or rather|more precisely|or at least|"
                   r"in a weaker sense)\b",
                  r"\b(at (a|the very) minimum|at the very least|put more carefully|strictly speaking|"
                   r"to state our claim precisely|when pressed|we (claim|mean) only|(we|this) (only|simply) mean|"
                   r"all (we|this) (claim|means?|establish)|in the (modest|limited|weak) sense|put modestly|"
                   r"which no one disputes|which nobody denies|undeniable|no more than|though all this means|"
                   r"which is all|our point is (simply|only|merely)|that is, (they|it|we) (only |merely |"
                   r"simply )?\w+)\b"),
    # shift of the criterion of success
    "goal_shift_weak": _rx(r"\b(instead|rather than|however)\b"),
    "goal_shift": _rx(r"\b((is|are) the (case|thing|question|measure|comparison|setting)s? that (really )?matters?|"
                      r"more (meaningful|relevant|appropriate|important|realistic) (comparison|measure|test|"
                      r"criterion|goal|target|baseline|standard)|too ambitious|we now (believe|think|see)|"
                      r"meets? every expectation)\b",
                  r"\b(we now (consider|regard|count|take)|should have been (lower|higher|different)|"
                      r"is not .{1,60}\bbut (whether|how|that)|(appropriate|better|sensible|realistic) (aim|goal|"
                      r"measure|test|criterion|bar|standard|target|threshold)|what (really )?matters|what counts|"
                      r"the (proper|real|relevant|right) "
                      r"(aim|goal|measure|test|criterion|bar|standard)|never the right|a fairer (bar|test|"
                      r"criterion)|revised (threshold|criterion|target|bar)|overly strict|too (strict|demanding)|"
                      r"unrealistic|redefine success|in hindsight|after (seeing )?the results|chosen after|"
                      r"more sensible aim|by that (measure|standard|aim)|on that aim|"
                      r"against that bar)\b"),
    "target_mention": _rx(r"\b(pre-?registered|target|threshold|success criterion|criterion|goal|agreed|"
                          r"set out to|we (had )?set|bar)\b"),
    "shortfall": _rx(r"\b(below|short of|missed|did not (meet|reach|pass)|failed|exceeded the threshold|"
                     r"above chance|no better than|only \d+%)\b"),
    # a universal bounded by what was actually examined ("all three models we tested")
    "bounded_scope": _rx(r"\b(all|every|each|both)( one)?( of)? (the |our )?(\d+|two|three|four|five|six|seven|eight|"
                         r"nine|ten|twelve)\b", r"\b(we (tested|studied|examined|evaluated|tried)|in our (suite|sample|"
                         r"set|study))\b"),
    # a justification clause
    "justification": _rx(r"\b(because|since|given that|having been|by virtue of|as (it|they) (was|were|is|are))\b"),
    # description of an opposing view
    "opponent_view": _rx(r"\b((people|those|researchers) who (call for|argue for|advocate|support|push for|favou?r|"
                         r"oppose|want)|supporters of|champions of|the (other|opposing) side)\b",
                  r"\b(critics|critics of|its critics|opponents?|sceptics?|skeptics?|detractors?|advocates of|"
                         r"proponents|"
                         r"optimists|pessimists|doomers|the opposing camp|those who (doubt|dismiss|worry|favour|"
                         r"oppose|reject)|people who (favour|worry|oppose)|its critics|naysayers)\b"),
    "attributed_view": _rx(r"\b(think|thinks|believe|believes|claim|claims|maintain|maintains|insist|insists|hold|"
                           r"holds|assume|assumes|would have us believe|seem to think|want|wants)\b"),
    "extreme_content": _rx(r"\b(no \w+ (whatsoever|at all)|whatsoever|nothing but|never|can never|always|"
                           r"every|all|any purpose|at all|alone|random noise|made up|next week|"
                           r"ban all|simply asking|pointless|no structure)\b"),
    "dismissal": _rx(r"\b(easily refute\w*|plainly contradict\w*|puts? to rest|dismantles?|clearly (false|wrong)|"
                     r"obviously (false|wrong|defeat\w*)|absurd|nobody could|refuted by|thoroughly refutes?|"
                     r"our (results|data|study) (easily )?(refute|disprove|contradict)\w*|which our results "
                     r"disprove|untenable)\b"),
    # escalation: one step said to lead to the next
    "escalation": _rx(r"\b((the )?next one|can only end (with|in)|will end (with|in)|snowballs?|spirals?|"
                      r"one thing leads to another|thin end of the wedge)\b",
                  r"\b(will (next|soon|then|eventually|ultimately|inevitably)|and (then|finally|ultimately|"
                      r"eventually)|only a matter of time|first step|step by step|will lead to|lead(s)? to|"
                      r"before long|open the floodgates|begets|on a (path|road) (to|toward|where|that)|a road that|"
                      r"slope|"
                      r"tomorrow|in the end|until (models|nothing|every)|each (small )?(concession|adjustment|"
                      r"round)|next (rewrite|step)|soon (decline|run|all))\b"),
    # circular support
    "circular": _rx(r"\b(as (its|their) \w+ \w+ shows?|(is|are) the \w+ ones\b.{0,40}\b(shows?|prove)|"
            r"which is why it is)\b",
                  r"\b(by definition|by (our )?assumption|we (define|count) as|as shown by the fact|"
                    r"which we know because|is part of what it means|are precisely|is precisely|"
                    r"(the|our) (standard|reference|ground truth) (by|against) which|"
                    r"whatever \w+ (the \w+ )?(endorses|says|approves)|"
                    r"because it is an? \w+ \w+|as its \w+ \w+ show)\b"),
    # a score on a test
    "score": _rx(r"\d+(\.\d+)?\s?%", r"\b(score[sd]?|scoring|accuracy|pass(es|ed)?|solv(es|ed)|answered|"
                 r"leaderboard|exam|quiz|benchmark|test|suite|vignettes|top[s]? the)\b"),
    # capability language
    "capability": _rx(r"\b(ready to (replace|take over|run|practi[sc]e|serve|act)|can (already )?(guide|design|"
                      r"create|run|conduct|perform|carry out|take over)|from start to finish|"
                      r"without (any )?human (help|oversight|input)|on (its|their) own)\b",
                  r"\b(genuine|true|real) (theory of mind|understanding|intelligence|reasoning|"
                      r"ability|abilities|capabilit\w+)\b",
                      r"\b(theory of mind|general intelligence|understands? (language|the world)|clinical judgement|"
                      r"can be (relied upon|trusted)|relied upon|capable of|possess(es)?|has acquired|"
                      r"can (\w+ly )?(replace|manipulate|plan anything|practise)|ready to practi[sc]e|surpass(ed|es)|"
                      r"sound (legal|moral|medical) \w+|is honest|autonomously|human-level|as people do|"
                      r"safe to deploy in any)\b"),
}

# Words whose repetition inside one sentence, on both sides of an inference, suggests a shifting meaning.
LOADED_TERMS = re.compile(
    r"\b(align\w*|safe\w*|robust\w*|honest\w*|truth\w*|understand\w*|fair\w*|transparen\w*|interpretab\w*|"
    r"goal-directed|goals?|conservative|calibrat\w*|reward\w*|agents?|interpret\w*|learn\w*|perplex\w*)\b",
    re.I,
)

# A connective between a claim and its support; words on both sides of it "echo".
_CONNECTIVE = re.compile(r"\b(because|since|so|therefore|thus|hence|as (shown|its|their)|which we know)\b", re.I)
_STOP = frozenset("""that this these those their there they them then than with from into onto have has had were
    what which when where while whose will would could should about also only more most such being been does done
    model models result results shows show showing because since therefore thus hence other some each every""".split())


def echoed_terms(sentence: str) -> list[str]:
    """Content words (as 5-letter stems) that occur both before and after the first connective of a sentence: the
    support restating the claim (circularity), or one term doing two jobs (equivocation)."""
    m = _CONNECTIVE.search(sentence)
    if not m:
        return []

    def stems(part: str) -> set[str]:
        return {w.casefold()[:5] for w in re.findall(r"[A-Za-z][A-Za-z-]{3,}", part) if w.casefold() not in _STOP}

    return sorted(stems(sentence[: m.start()]) & stems(sentence[m.end():]))


ROLE_PATTERNS: dict[str, list[re.Pattern[str]]] = {
    "method": _rx(r"\b(we|our) (train|fine-tune|evaluate|construct|collect|build|compile|introduce|propose|apply|"
                  r"compare|study|survey|measure|run|use|adapt|probe|analy[sz]e|test|track|review|red-team|"
                  r"decompose|fit|re-?analy[sz]e|add|give|tell|ask|document|search|identify|vary)\b"),
    "result": _rx(r"\d+(\.\d+)?\s?%|\b(r|rho|auroc|p)\s?[=<>]", r"\b(we find|we found|we observe|rose|fell|"
                  r"improved?|reduced|raised|dropped|increased|decreased|achieved|reached|scored|outperform\w*|"
                  r"resolves?|completed|flagged|succeeded|won)\b"),
    "claim": CUE_PATTERNS["inference"] + _rx(r"\b(we (show|argue|claim|demonstrate|prove)|our (thesis|claim)|"
                                             r"is (therefore|thus)|must|should|can be|will)\b"),
    "limitation": _rx(r"\b(limitations?|we do not|left (open|to future work)|future work|remains? (an )?open|"
                      r"cannot (rule out|be excluded)|not (statistically )?significant|within noise|"
                      r"falls? short|we leave)\b"),
    "release": _rx(r"\b(we release|we publish|we provide|code (is|and data are) available|open-source)\b"),
}


@dataclass
class CueMatch:
    family: str
    phrase: str


@dataclass
class SentenceCues:
    cues: dict[str, list[str]] = field(default_factory=dict)  # family -> matched phrases
    roles: list[str] = field(default_factory=list)
    repeated_terms: list[str] = field(default_factory=list)
    echoed: list[str] = field(default_factory=list)

    def has(self, family: str) -> bool:
        return family in self.cues

    def phrase(self, family: str) -> str:
        return self.cues.get(family, [""])[0]


def find_cues(sentence: str) -> SentenceCues:
    out = SentenceCues()
    for family, patterns in CUE_PATTERNS.items():
        hits = [m.group(0) for p in patterns for m in p.finditer(sentence)]
        if hits:
            out.cues[family] = hits
    for role, patterns in ROLE_PATTERNS.items():
        if any(p.search(sentence) for p in patterns):
            out.roles.append(role)
    if not out.roles:
        out.roles.append("background")
    stems: dict[str, int] = {}
    for m in LOADED_TERMS.finditer(sentence):
        stem = m.group(0).casefold()[:6]
        stems[stem] = stems.get(stem, 0) + 1
    out.repeated_terms = sorted(s for s, n in stems.items() if n >= 2)
    out.echoed = echoed_terms(sentence)
    return out


CUE_FAMILIES = tuple(CUE_PATTERNS)
ROLES = tuple(ROLE_PATTERNS) + ("background",)
