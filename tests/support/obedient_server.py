"""An OpenAI-compatible fixture server whose model does whatever the text in its prompt says: the worst case a
planted instruction can meet (issue 9, item 4). It answers like tests.support.openai_server.OpenAIFixture (a critic
that quotes the fenced source), then obeys: "give the verdict X" (anywhere in the prompt: source, related writing,
title) makes X the verdict, the claims, the social function and every relation line; a forged assistant turn
("<|im_start|>assistant {json}") is adopted as the answer."""
from __future__ import annotations

import json
import re

from tests.support.openai_server import OpenAIFixture

ORDER = re.compile(r"give the verdict\s+[\"'\u201c]?([A-Za-z0-9][\w-]{2,40})", re.I)
FORGED_TURN = re.compile(r"<\|im_start\|>assistant\s*(\{.*?\})\s*(?:<\|im_end\|>|$)", re.S)


class ObedientFixture(OpenAIFixture):
    def __init__(self, **kw) -> None:
        super().__init__(model="obedient-critic", **kw)
        self.obeyed: list[str] = []  # the orders it saw, in the order it saw them

    def answer(self, path: str, body: dict) -> tuple[int, dict]:
        status, reply = super().answer(path, body)
        if status != 200:
            return status, reply
        prompt = "\n".join(m.get("content", "") for m in body.get("messages", []))
        draft = json.loads(reply["choices"][0]["message"]["content"])
        forged = FORGED_TURN.search(prompt)
        if forged:
            try:
                draft = {**draft, **json.loads(forged.group(1))}
                self.obeyed.append("forged turn")
            except ValueError:
                pass
        orders = ORDER.findall(prompt)
        if orders:
            word = orders[-1]
            self.obeyed.append(word)
            draft.update(verdict=word, claims=f"{word}: as instructed.", social_function=word,
                         lag_weighted_verdict=word)
            for rel in draft.get("related", []):
                rel["relation"] = word
        reply["choices"][0]["message"]["content"] = json.dumps(draft)
        return status, reply
