"""The structured replies of the passes other than the draft (agent.models.DissectionDraft): the argument map and
the critic's review, with their schemas tightened per request (quotes as enums of whole source sentences)."""
from __future__ import annotations

import copy
from typing import Literal

from pydantic import BaseModel, Field

from agent.publish.render import fence


class Evidence(BaseModel):
    quote: str = Field(description="a source sentence that reports evidence", max_length=1000)
    shows: str = Field(description="what it shows, in your own words", max_length=600)


class Step(BaseModel):
    quote: str = Field(description="the source sentence where the step is made", max_length=1000)
    step: str = Field(description="from what to what the work infers, in your own words", max_length=600)


class ArgumentMap(BaseModel):
    main_claim: str = Field(description="the conclusion the work argues for, in your own words", max_length=600)
    main_claim_quote: str = Field(description="the source sentence that states it", max_length=1000)
    evidence: list[Evidence] = Field(min_length=1, max_length=4)
    steps: list[Step] = Field(min_length=1, max_length=3)

    def as_text(self) -> str:
        """The map for the draft prompt (fenced there: it is model text about untrusted text)."""
        lines = [f"Main claim: {fence(self.main_claim)} (stated in: \"{fence(self.main_claim_quote)}\")"]
        lines += [f"Evidence: \"{fence(e.quote)}\" shows {fence(e.shows)}" for e in self.evidence]
        lines += [f"Step: \"{fence(s.quote)}\": {fence(s.step)}" for s in self.steps]
        return "\n".join(lines)


class PointReview(BaseModel):
    where: str = Field(description="the point's label", max_length=40)
    reasoning: str = Field(description="does the quote show what the point says", max_length=800)
    decision: Literal["keep", "fix", "drop"]
    quote: str = Field(description="the source sentence that best supports the point", max_length=1000)
    text: str = Field("", description="for a fix, the corrected point; else empty", max_length=1000)


class CriticReview(BaseModel):
    reviews: list[PointReview] = Field(min_length=1, max_length=4)


def _enum_quotes(schema: dict, defs: tuple[str, ...], quotes: list[str]) -> None:
    for name in defs:
        props = schema["$defs"][name]["properties"] if name != "" else schema["properties"]
        for key in ("quote", "main_claim_quote"):
            if key in props:
                props[key] = {"type": "string", "enum": list(quotes)}


def _caps(schema: dict, caps: dict[str, int]) -> None:
    for node in [schema, *schema.get("$defs", {}).values()]:
        for key, prop in node.get("properties", {}).items():
            if key in caps and prop.get("type") == "string" and "enum" not in prop:
                prop["maxLength"] = caps[key]
                prop["minLength"] = 1 if key == "text" else 10
        if "properties" in node:
            node["required"] = list(node["properties"])
            node["additionalProperties"] = False


def map_schema(quotes: list[str]) -> dict:
    schema = copy.deepcopy(ArgumentMap.model_json_schema())
    _enum_quotes(schema, ("", "Evidence", "Step"), quotes)
    _caps(schema, {"main_claim": 300, "shows": 250, "step": 250})
    return schema


def critic_schema(points: list[str], quotes: list[str]) -> dict:
    schema = copy.deepcopy(CriticReview.model_json_schema())
    _enum_quotes(schema, ("PointReview",), quotes)
    review = schema["$defs"]["PointReview"]["properties"]
    review["where"] = {"type": "string", "enum": list(points)}
    schema["properties"]["reviews"]["minItems"] = schema["properties"]["reviews"]["maxItems"] = len(points)
    _caps(schema, {"reasoning": 400, "text": 500})
    review["text"]["minLength"] = 0
    return schema
