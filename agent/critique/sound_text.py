"""What the program says of a text with no clear weak step: the limit it states, else the conclusion it qualifies,
else that no assumption was found (agent.critique.checks.program_assumption picks among them in that order).

Why these and not a template: judged blind, every template the program wrote on sound texts (the opening premise
quoted as "taken as given", a role's generic assumption) was supported in 7 of 169 cases, the commonest reason being
that the text "already guards against" the assumption named; a stated limit or a qualified conclusion is what the
text does instead of assuming (docs/analysis.md).
"""
from __future__ import annotations

import re
from collections.abc import Callable

from agent.critique.findings import FIRST_PERSON, sentence_role
from agent.models import NONE_FOUND, NOT_HIDDEN, HiddenAssumption


def _prose_sentences(analysis: dict | None, title: str = "") -> list[str]:
    """The analysed sentences a point about the text's own stance may quote: at least six words, not the title,
    not a heading."""
    return [s["text"] for s in (analysis or {}).get("sentences") or []
            if len(s["text"].split()) >= 6 and s["text"] != title.strip() and not s["text"].startswith("#")]


# where a text bounds its own claim, by the ways abstracts do it (each a family of phrasings, not one example's
# words); not "at least in": that is the retreat of a motte and bailey
_LIMIT_FAMILIES = {
    "open question": r"remains? (untested|unclear|unknown|unresolved|open|an open question|to be (established|shown|"
                     r"tested|seen))|an open question",
    "claim declined": r"we (do not|did not|make no|cannot yet|cannot) (claim|test|evaluate|study|measure|address|"
                      r"examine|know|extrapolate|estimate|assess|establish|distinguish|rule out)|make no claims?|"
                      r"no claim (about|that)",
    "not shown": r"(does|do|did) not (establish|show|test|imply|address|measure|evaluate|cover|capture|rule out|"
                 r"transfer|generali[sz]e|license|warrant)|not (yet )?(tested|known|evaluated|established|examined|"
                 r"measured)|(does|do|did) not rule (this|it|them) out",
    "may not carry over": r"may not (transfer|generali[sz]e|hold|extend|carry over|reflect|apply)",
    "scope": r"limited to|(within|in|for|across) (the|these|this|our) ([\w-]+ ){0,3}(that )?we (study|studied|test|"
             r"tested|examine|examined|consider|considered|evaluate|evaluated)|"
             r"(only|holds?|applies|apply) (with)?in this (regime|setting|setup|sample)|in this (regime|sample)",
    "confound": r"may (partly |partially |in part |also )?(reflect|come from|be due|stem|be explained by|be driven by)|"
                r"(also|both) (increase|increases|rise|rises|grow|grows|scale|scales|vary|varies) with|confound",
    "negative result": r"(is|was|were|are) (therefore |thus |also )?not (supported|replicated|(statistically )?"
                       r"significant)|(did|does|do) not (meet|reach|achieve)|falls? short of",
    "concession": r"(although|though) (these|this|the|our|both|it|they)\b[^.;]{0,80}?\b(differ|differs|remain|"
                  r"remains|not|only|limited|small|few|narrow)",
    "later test": r"(could|would|will|can) (test|tell|settle|determine) (how|whether)|testing whether|"
                  r"(that|which)( \w+){0,4} (can|could|would|will) (test|settle|check|falsify)|"
                  r"confirmatory (study|studies)|next step|future work|we leave",
    "caveat": r"cannot (yet )?(rule out|be excluded|exclude|distinguish)|caveats?|limitations?|untested|"
              r"bound rather than",
}
_STATED_LIMIT = re.compile(r"\b(" + "|".join(f"(?:{f})" for f in _LIMIT_FAMILIES.values()) + r")\b", re.I)
STATED_LIMIT_IF_FALSE = ("Read past this limit, the results would be taken to show more than the text claims for "
                         "them.")


def stated_limit(analysis: dict | None, title: str = "") -> str:
    """The first sentence in which the text bounds its own claim ("whether the gains carry over to agentic settings
    remains untested"), "" when it has none.

    Why: on a text with no clear weak step, the honest point about its assumptions is where it declines to make
    one, and that sentence is what shows it. A blind panel judged the points the program wrote on sound texts
    from the roles and the opening premise supported in 0 of 85 cases, the commonest reason being that the text
    "already guards against" the assumption named (docs/analysis.md)."""
    # a release sentence bounds nothing ("we release the environment so that others can test mitigations")
    return _first_after_setup(analysis, title,
                              lambda text, role: role != "release" and bool(_STATED_LIMIT.search(text)))


def _first_after_setup(analysis: dict | None, title: str, wanted: Callable[[str, str], bool]) -> str:
    """The first prose sentence, from where the text says what it did (first person, a method or a result) on, for
    which `wanted(text, role)` holds; "" when none does. Before that point, "X remains unclear" is the gap the text
    opens and "X suggests Y" is background, not the text's own limit or conclusion."""
    begun = False
    for text in _prose_sentences(analysis, title):
        role = sentence_role(text)
        begun = begun or bool(FIRST_PERSON.search(text)) or role in ("method", "result")
        if begun and wanted(text, role):
            return text
    return ""


def _here(pattern: re.Pattern[str], quote: str) -> str:
    """' (here: “the words”)': the words of `quote` that `pattern` matched, for an entry to point at; "" if none."""
    m = pattern.search(quote)
    return f" (here: \u201c{m.group(0)}\u201d)" if m else ""


def limit_assumption(quote: str) -> HiddenAssumption:
    """The entry for a sentence that states the text's own limit: the assumption a reader might supply is the one
    the text declines, pointed at the words that decline it."""
    return HiddenAssumption(
        assumption=f"{NOT_HIDDEN} the text states this limit of its own claim{_here(_STATED_LIMIT, quote)}, so its "
                   "conclusions hold only within it and it does not assume the rest.",
        quote=quote, if_false=STATED_LIMIT_IF_FALSE)


# where a text offers a conclusion as what its evidence suggests rather than as settled; others' views ("critics
# argue that ... may") are not the text's own qualification
_QUALIFIED = re.compile(r"\b(suggests?|suggesting|indicates?|indicating|(is|are|was|were) consistent with|"
                        r"appears? to|seems? to|tentative(ly)?|preliminary)\b", re.I)
_OTHERS_VIEW = re.compile(r"\b(critics|skeptics|sceptics|proponents|opponents|some argue|it has been argued|"
                          r"prior work|previous work|earlier work)\b", re.I)
QUALIFIED_IF_FALSE = ("Read without the qualifier, the conclusion would be taken as settled by evidence that only "
                      "points to it.")


def qualified_conclusion(analysis: dict | None, title: str = "") -> str:
    """The first sentence, after the text says what it did, that offers a conclusion as what the evidence
    suggests ("the advantage suggests that ..."), "" when there is none. On a text with no clear weak step and
    no stated limit, that qualification is what the text does instead of assuming its conclusion settled."""
    return _first_after_setup(analysis, title,
                              lambda text, _: bool(_QUALIFIED.search(text)) and not _OTHERS_VIEW.search(text))


def qualified_assumption(quote: str) -> HiddenAssumption:
    """The entry for a conclusion the text qualifies: the assumption it declines is that its evidence settles it."""
    return HiddenAssumption(
        assumption=f"{NOT_HIDDEN} the text qualifies this conclusion{_here(_QUALIFIED, quote)}, so it offers it as "
                   "what the evidence points to and does not assume the evidence settles it.",
        quote=quote, if_false=QUALIFIED_IF_FALSE)


def no_assumption_found() -> HiddenAssumption:
    """The entry for a text with no clear weak step, no stated limit and no qualified conclusion: no sentence shows
    an assumption, so none is named and none is quoted. Why not a template: judged blind, a sound text's opening
    premise quoted as "taken as given" was supported in 0 of 73 cases and a role's generic assumption in 7 of 96
    (docs/analysis.md); a point no sentence supports is worse than saying none was found."""
    return HiddenAssumption(
        assumption=f"{NONE_FOUND} no sentence of the text shows an assumption it needs and leaves unstated, nor a "
                   "limit or a qualification it states.",
        quote="", if_false="The closest calls are the weakest candidates the analysis lists.")
