"""The JSON schemas sent with each critique request, tightened per paper from the analysis.

- Quotes are an `enum` of whole source sentences from the first call (grammar-constrained backends cannot write
  an unfound quote; servers that honour JSON-schema enums neither).
- The core fallacy is written evidence first: quote, explanation, then name. Its names are ordered by the
  analysis' candidates, the rest of the taxonomy in a per-paper shuffle, so no name wins by its place in a list.
- For small models (`narrow` choices) the core fallacy is one of a few variants, one per top candidate in score
  order, each allowing only that candidate's type or "no clear fallacy": the program's analysis carries the
  choice, the model confirms and explains it.
- Prose caps are budgeted so that a whole reply fits max_tokens; the checks trim prose at a sentence end.
"""
from __future__ import annotations

import copy
import hashlib
import random
from dataclasses import dataclass

from agent.models import FALLACIES, NO_CLEAR_FALLACY, draft_json_schema

# caps in characters for what the model writes (before scaling to the token budget); minimums keep a grammar from
# closing a required field at once
PROSE_CAPS = {"claims": 700, "explanation": 600, "assumption": 240, "if_false": 300, "social_function": 400,
              "verdict": 450, "lag_weighted_verdict": 450, "relation": 200}
PROSE_MIN = {"claims": 40, "explanation": 30, "assumption": 15, "if_false": 15, "social_function": 25, "verdict": 25,
             "lag_weighted_verdict": 25, "relation": 10}
CHARS_PER_TOKEN = 3.0  # conservative for English prose inside JSON (escapes, numbers)
JSON_OVERHEAD = 450  # keys, braces and separators of a full draft
TYPES = tuple(f for f in FALLACIES if f != "other")
NARROW_SCALE = 0.55  # small models: prose caps times this
NARROW_ASSUMPTIONS = 2


@dataclass(frozen=True)
class CoreChoice:
    """One way the core fallacy may be written: this sentence, with one of these names."""

    sentence: str
    names: tuple[str, ...]


def paper_seed(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:12], 16)


def ordered_names(candidates: list[dict], no_clear: bool, seed: int) -> list[str]:
    """The taxonomy for one paper: the candidates' types in score order, then the other types in a per-paper
    shuffle, then "other"; "no clear fallacy" first when the analysis found no clear weak step, else last."""
    first = list(dict.fromkeys(c["fallacy"] for c in candidates if c["fallacy"] in TYPES))
    rest = [t for t in TYPES if t not in first]
    random.Random(seed).shuffle(rest)
    names = [*first, *rest, "other"]
    return [NO_CLEAR_FALLACY, *names] if no_clear else [*names, NO_CLEAR_FALLACY]


# Candidates this close to the best are a near tie the analysis cannot break, and the small model may choose among
# them. Wider lets the model choose more often, and a 135M model's choice is noise: with 0.1, test2 end to end found
# the planted sentence in 75% of the first 20 abstracts against 85% for the analysis' own first choice.
NEAR_TIE = 0.02


def narrow_core_choices(candidates: list[dict], no_clear: bool, threshold: float, quotable: set[str],
                        *, k: int = 3, margin: float = NEAR_TIE) -> list[CoreChoice]:
    """For small models, whose own choice between names is noise (a 135M model picks a fallacy on a clean text
    whatever the order): the program decides. When the analysis found a clear weak step, the core fallacy is one of
    the top candidates within `margin` of the best (at most k, score order), named by its own type; when it found
    none, it is "no clear fallacy" on the strongest candidate, the step examined. The model explains."""
    usable = [c for c in candidates if c["sentence"] in quotable and c["fallacy"] in TYPES]
    if not usable:
        return []
    best = usable[0]["score"]
    chosen = [c for c in usable if c["score"] >= best - margin and (no_clear or c["score"] >= threshold)][:k]
    if no_clear:
        return [CoreChoice(chosen[0]["sentence"], (NO_CLEAR_FALLACY,))]
    return [CoreChoice(c["sentence"], (c["fallacy"],)) for c in chosen]


def _prose(kind: str, cap: int, description: str = "") -> dict:
    out = {"type": "string", "minLength": PROSE_MIN[kind], "maxLength": cap}
    if description:
        out["description"] = description
    return out


def budget_caps(max_tokens: int, n_related: int, quote_chars: int, n_assumptions: int = 3,
                scale: float = 1.0) -> dict[str, int]:
    """PROSE_CAPS times `scale`, scaled down further if need be so that the longest reply the schema allows fits
    `max_tokens`."""
    counts = {"assumption": n_assumptions, "if_false": n_assumptions, "relation": n_related}
    prose = sum(cap * scale * counts.get(k, 1) for k, cap in PROSE_CAPS.items())
    room = max_tokens * CHARS_PER_TOKEN - JSON_OVERHEAD - quote_chars
    scale = scale * min(1.0, max(0.0, room / prose))
    return {k: max(PROSE_MIN[k] + 20, int(cap * scale)) for k, cap in PROSE_CAPS.items()}


def dissection_schema(*, n_related: int, quote_choices: list[str], names: list[str],
                      core_choices: list[CoreChoice] | None, max_tokens: int, narrow: bool = False) -> dict:
    """The schema of one dissection request (see the module docstring). `narrow` (small models): shorter prose
    and at most NARROW_ASSUMPTIONS assumptions: every token costs seconds on a CPU, and the program checks and
    replaces what a small model writes badly anyway."""
    schema = draft_json_schema(n_related, quote_choices or None)
    defs, props = schema["$defs"], schema["properties"]
    longest = max((len(q) for q in quote_choices), default=400)
    core_longest = max((len(c.sentence) for c in core_choices), default=longest) if core_choices else longest
    n_assumptions = NARROW_ASSUMPTIONS if narrow else 3
    caps = budget_caps(max_tokens, n_related, core_longest + n_assumptions * longest, n_assumptions,
                       NARROW_SCALE if narrow else 1.0)
    if narrow:
        props["hidden_assumptions"]["maxItems"] = NARROW_ASSUMPTIONS
    core = defs["CoreFallacy"]
    core["properties"]["explanation"] = _prose("explanation", caps["explanation"],
                                               core["properties"]["explanation"].get("description", ""))
    core["properties"]["name"] = {"type": "string", "enum": list(names),
                                  "description": core["properties"]["name"].get("description", "")}
    core["required"] = ["quote", "explanation", "name"]
    core["additionalProperties"] = False
    if core_choices:
        props["core_fallacy"] = {"anyOf": [
            {"type": "object", "properties": {
                "quote": {"type": "string", "enum": [c.sentence]},
                "explanation": copy.deepcopy(core["properties"]["explanation"]),
                "name": {"type": "string", "enum": list(c.names)}},
             "required": ["quote", "explanation", "name"], "additionalProperties": False}
            for c in core_choices]}
    ha = defs["HiddenAssumption"]
    for key in ("assumption", "if_false"):
        ha["properties"][key] = _prose(key, caps[key], ha["properties"][key].get("description", ""))
    ha["required"] = ["assumption", "quote", "if_false"]
    ha["additionalProperties"] = False
    for key in ("claims", "social_function", "verdict", "lag_weighted_verdict"):
        props[key] = _prose(key, caps[key], props[key].get("description", ""))
    props.pop("written_by_program", None)
    if "related" in props:
        rel = defs["Relation"]
        rel["properties"]["relation"] = _prose("relation", caps["relation"],
                                               rel["properties"]["relation"].get("description", ""))
        rel["required"] = ["passage", "relation"]
        rel["additionalProperties"] = False
    schema["additionalProperties"] = False
    return schema


def fields_schema(fields: dict[str, str], max_tokens: int, narrow: bool = False) -> dict:
    """A flat object of the named prose fields (a rewrite of a few fields): field -> cap kind."""
    caps = budget_caps(max_tokens, 0, 0, n_assumptions=1, scale=NARROW_SCALE if narrow else 1.0)
    props = {name: _prose(kind, caps[kind]) for name, kind in fields.items()}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
