"""A fast, deterministic stand-in model for unit tests of the pipeline (the real embedded model is exercised in
tests/test_e2e_local.py). It reads the fenced source text out of the prompt and quotes real sentences from it, so
grounding works; knobs make it misbehave the ways real models do."""
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
        self.invent_quotes = invent_quotes  # quotes that are not in the source (first reply only)
        self.requests: list[Request] = []

    def complete(self, request: Request) -> Completion:
        self.requests.append(request)
        prompt = request.messages[1]["content"]
        if len(self.requests) <= self.invalid_first:
            text = '{"claims": "unterminated'
        else:
            text = json.dumps(self.draft(prompt, invent=self.invent_quotes and len(self.requests) == 1))
        return Completion(text=text, model=self.model, tokens_in=len(prompt) // 4, tokens_out=len(text) // 4,
                          seconds=0.001, finish_reason="stop")

    @staticmethod
    def draft(prompt: str, invent: bool = False) -> dict:
        body = prompt.split(FENCE_OPEN, 1)[-1].split(FENCE_CLOSE, 1)[0]
        body = "\n".join(ln for ln in body.splitlines() if not re.match(r"(Title|Authors|Date): ", ln))
        sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join(body.split())) if len(s.split()) >= 6]
        sentences = [s for s in sentences if "omitted" not in s] or ["The source says nothing quotable here at all."]
        pick = lambda i: sentences[i % len(sentences)][:380]  # noqa: E731
        quote = (lambda i: f"A sentence the source never contained, number {i}.") if invent else pick
        n_related = len(re.findall(r"^\[\d+\] ", prompt, re.M))
        return {
            "claims": f"The work argues that {pick(0)[:200]}",
            "core_fallacy": {"name": "hasty generalization", "quote": quote(1),
                             "explanation": "It generalises from a narrow evaluation to a broad claim."},
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
