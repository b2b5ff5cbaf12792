"""Structured generation on top of any backend: validate against a pydantic model, retry invalid output,
cache by (model, prompt hash), and log every call (model, tokens in/out, seconds) to data/logs/llm.jsonl."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from agent.errors import LLMError
from agent.llm.base import Completion, LLMBackend, Request
from agent.publish.files import DiskCache, append_line, sha256
from agent.publish.render import render_prompt

log = logging.getLogger("dissect.llm")
T = TypeVar("T", bound=BaseModel)


@dataclass
class CallStats:
    calls: int = 0
    cached: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    model: str = ""
    errors: list[str] = field(default_factory=list)

    def add(self, c: Completion) -> None:
        self.calls += 1
        self.cached += int(c.cached)
        self.tokens_in += c.tokens_in
        self.tokens_out += c.tokens_out
        self.seconds += c.seconds
        self.model = c.model or self.model


def parse_json_reply(text: str) -> object:
    """Parse a model's JSON reply; tolerate a Markdown code fence around it (common with unconstrained servers)."""
    s = text.strip()
    if s.startswith("```"):
        s = s.split("\n", 1)[1] if "\n" in s else s
        s = s.rsplit("```", 1)[0]
    return json.loads(s)


class StructuredLLM:
    def __init__(self, backend: LLMBackend, cache: DiskCache, log_path, *, retries: int = 2):
        self.backend = backend
        self.cache = cache
        self.log_path = log_path
        self.retries = retries

    @staticmethod
    def _from_cache(entry: dict) -> Completion | None:
        """A cached completion, or None when the entry is not one this version wrote (a miss, not a crash)."""
        try:
            return Completion(**{**entry, "cached": True, "seconds": 0.0})
        except TypeError:
            return None

    def _key(self, req: Request) -> str:
        blob = json.dumps(
            [self.backend.name, self.backend.model, req.messages, req.schema, req.max_tokens, req.temperature],
            sort_keys=True,
        )
        return sha256(blob, 40)

    def _log(self, req_key: str, c: Completion, ok: bool, note: str = "") -> None:
        entry = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "backend": self.backend.name,
            "model": c.model,
            "prompt_hash": req_key,
            "tokens_in": c.tokens_in,
            "tokens_out": c.tokens_out,
            "seconds": round(c.seconds, 3),
            "cached": c.cached,
            "finish": c.finish_reason,
            "valid": ok,
        }
        if note:
            entry["note"] = note[:300]
        append_line(self.log_path, json.dumps(entry))
        log.info("llm %s %s in=%d out=%d %.1fs%s", self.backend.name, c.model, c.tokens_in, c.tokens_out,
                 c.seconds, " (cached)" if c.cached else "")

    def generate(self, messages: list[dict], schema_model: type[T], *, max_tokens: int, temperature: float = 0.0,
                 force: bool = False, stats: CallStats | None = None, schema: dict | None = None) -> T:
        """One validated object of `schema_model`. Invalid output is retried with the validation error shown to
        the model; after `retries` extra attempts it is an LLMError."""
        stats = stats if stats is not None else CallStats()
        schema = schema or schema_model.model_json_schema()  # a tightened schema must still validate as the model
        convo = list(messages)
        problem = ""
        first_key = ""
        for attempt in range(self.retries + 1):
            req = Request(messages=convo, schema=schema, max_tokens=max_tokens,
                          temperature=temperature if attempt == 0 else max(temperature, 0.4))
            key = self._key(req)
            first_key = first_key or key
            cached = None if force else self.cache.get_json("llm", key)
            c = self._from_cache(cached) if cached is not None else None
            if c is None:
                c = self.backend.complete(req)
            stats.add(c)
            try:
                obj = schema_model.model_validate(parse_json_reply(c.text))
            except (ValueError, ValidationError) as exc:
                problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                if c.finish_reason == "length":
                    problem = f"reply cut off at max_tokens ({max_tokens}): {problem}"
                self._log(key, c, ok=False, note=problem)
                stats.errors.append(problem)
                convo = [*messages, {"role": "assistant", "content": c.text[:2000]},
                         {"role": "user", "content": render_prompt("retry", problem=problem)}]
                continue
            if not c.cached:
                # cached under the first attempt's key too, so a re-run skips the failed attempts as well
                entry = {k: v for k, v in c.__dict__.items() if k != "cached"}
                for k in {key, first_key}:
                    self.cache.put_json("llm", k, entry)
            self._log(key, c, ok=True)
            return obj
        raise LLMError(f"model {self.backend.model} returned invalid JSON {self.retries + 1} times: {problem}")
