"""A fast, deterministic stand-in model for unit tests of the pipeline (the real embedded model is exercised in
tests/e2e/test_e2e_local.py). It reads the fenced source text out of the prompt and quotes real sentences from it,
so grounding works; like a grammar-constrained backend it keeps to the enums of the request's schema (quotes, the
core fallacy's variants, names), and it answers any other schema (the critique's other passes) with a valid
object. Knobs make it misbehave the ways real models do."""
from __future__ import annotations

import json
import re

from agent.llm.base import Completion, LLMBackend, Request
from agent.publish.render import FENCE_CLOSE, FENCE_OPEN


class FakeBackend(LLMBackend):
    name = "fake"

    def __init__(self, *, invalid_first: int = 0, invent_quotes: bool = False, model: str = "fake-critic-1",
                 context_tokens: int = 8192):
        self.model = model
        self.context_tokens = context_tokens
        self.invalid_first = invalid_first  # how many replies are invalid JSON before a valid one
        self.invent_quotes = invent_quotes  # quotes that are not in the source (first reply only; enums ignored)
        self.requests: list[Request] = []  # the dissections' calls
        self.post_requests: list[Request] = []  # the daily post's

    def complete(self, request: Request) -> Completion:
        if (request.schema or {}).get("title") == "DailyPostDraft":
            return self.daily_post(request)
        self.requests.append(request)
        prompt = request.messages[1]["content"]
        if len(self.requests) <= self.invalid_first:
            text = '{"claims": "unterminated'
        else:
            text = json.dumps(self.reply(prompt, request.schema, invent=self.invent_quotes and len(self.requests) == 1))
        return Completion(text=text, model=self.model, tokens_in=len(prompt) // 4, tokens_out=len(text) // 4,
                          seconds=0.001, finish_reason="stop")

    @classmethod
    def reply(cls, prompt: str, schema: dict | None, invent: bool = False) -> dict:
        """A dissection when the schema asks for one (or none is given), else an object that fits the schema."""
        if schema is None or "core_fallacy" in schema.get("properties", {}):
            return cls.draft(prompt, invent=invent, schema=schema)
        return _instance(schema, schema, "")

    def daily_post(self, request: Request) -> Completion:
        """The digest's daily post (kept apart from `requests`, which are the dissections' calls)."""
        self.post_requests.append(request)
        choices = request.schema["properties"]["claim_quote"].get("enum") or ["The paper makes one claim."]
        text = json.dumps({"opening": "This one is worth a slow morning read.", "claim_quote": choices[0],
                           "push": "I would push on whether the evaluation supports the general claim.",
                           "takeaway": "Read it for the method, not the headline."})
        return Completion(text=text, model=self.model, tokens_in=100, tokens_out=len(text) // 4, seconds=0.001,
                          finish_reason="stop")

    @staticmethod
    def draft(prompt: str, invent: bool = False, schema: dict | None = None) -> dict:
        body = prompt.split(FENCE_OPEN, 1)[-1].split(FENCE_CLOSE, 1)[0]
        body = "\n".join(ln for ln in body.splitlines() if not re.match(r"(Title|Authors|Date): ", ln))
        sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join(body.split())) if len(s.split()) >= 6]
        sentences = [s for s in sentences if "omitted" not in s] or ["The source says nothing quotable here at all."]
        props = (schema or {}).get("properties", {})
        defs = (schema or {}).get("$defs", {})
        enum = defs.get("HiddenAssumption", {}).get("properties", {}).get("quote", {}).get("enum")
        pool = enum or sentences
        pick = lambda i: pool[i % len(pool)][:380]  # noqa: E731
        quote = (lambda i: f"A sentence the source never contained, number {i}.") if invent else pick
        name, core_quote = "hasty generalization", quote(1)
        variants = props.get("core_fallacy", {}).get("anyOf")
        if variants and not invent:
            first = variants[0]["properties"]
            name, core_quote = first["name"]["enum"][0], first["quote"]["enum"][0]
        elif not invent:
            names = defs.get("CoreFallacy", {}).get("properties", {}).get("name", {}).get("enum")
            name = names[0] if names else name
            core_enum = defs.get("CoreFallacy", {}).get("properties", {}).get("quote", {}).get("enum")
            core_quote = core_enum[0] if core_enum else core_quote
        block = re.search(r"<<<RELATED_WRITING(.*?)RELATED_WRITING>>>", prompt, re.S)
        n_related = len(re.findall(r"^\[\d+\] ", block.group(1) if block else prompt, re.M))
        if schema is not None:
            n_related = props["related"].get("maxItems", 0) if "related" in props else 0
        return {
            "claims": f"The work argues from {len(sentences)} sentences of evidence that its method settles the "
                      "question it raises.",
            "core_fallacy": {"quote": core_quote, "explanation": "It generalises from a narrow evaluation to a "
                                                                 "broad claim.", "name": name},
            "hidden_assumptions": [
                {"assumption": "The benchmark measures the property of interest.", "quote": quote(2),
                 "if_false": "The headline result says nothing about deployment."},
                {"assumption": "Results transfer to larger models.", "quote": quote(3),
                 "if_false": "The method may fail exactly where it matters."},
            ],
            "social_function": "Signals progress on safety to a broad audience.",
            "verdict": "Interesting evidence, overstated conclusion.",
            "lag_weighted_verdict": "Likely to age as a useful negative example.",
            "related": [{"passage": i + 1, "relation": "echoes its concern"} for i in range(n_related)],
        }


def _instance(node: dict, root: dict, name: str) -> object:
    """A small valid instance of a JSON schema node: first enum values, minimum sizes, prose that names its field."""
    if "$ref" in node:
        return _instance(root["$defs"][node["$ref"].rsplit("/", 1)[-1]], root, name)
    if "anyOf" in node:
        return _instance(node["anyOf"][0], root, name)
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if kind == "object":
        return {k: _instance(v, root, k) for k, v in node.get("properties", {}).items()}
    if kind == "array":
        return [_instance(node["items"], root, name) for _ in range(max(1, node.get("minItems", 1)))]
    if kind == "integer":
        return node.get("minimum", 1)
    if kind == "boolean":
        return True
    text = f"The fixture critic's {name.replace('_', ' ')} for this point, in its own words."
    return text[: node.get("maxLength", len(text))] if len(text) >= node.get("minLength", 0) else text
