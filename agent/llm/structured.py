"""Structured generation on top of any backend: validate against a pydantic model, retry invalid output,
cache by the request's fingerprint (agent.fingerprint), and log every call (model, tokens in/out, seconds) to
<data_dir>/logs/llm.jsonl.

`generate` is one request; `generate_batch` sends many through the backend's `complete_batch` (one padded batch on
the gpu backend, concurrent requests on the openai backend), retries the invalid ones as a batch again, and returns
each item's object or its error, so that one bad reply never sinks the others.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from agent.errors import LLMError
from agent.fingerprint import request_fingerprint
from agent.llm.base import Completion, LLMBackend, Request
from agent.publish.files import DiskCache, append_line
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
    billed_in: int = 0  # tokens of calls actually made (a cached reply costs nothing)
    billed_out: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, c: Completion) -> None:
        self.calls += 1
        self.cached += int(c.cached)
        self.tokens_in += c.tokens_in
        self.tokens_out += c.tokens_out
        if not c.cached:
            self.billed_in += c.tokens_in
            self.billed_out += c.tokens_out
        self.seconds += c.seconds
        self.model = c.model or self.model

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "errors"}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> CallStats:
        return cls(**{k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__})


def parse_json_reply(text: str) -> object:
    """Parse a model's JSON reply; tolerate a Markdown code fence around it (common with unconstrained servers)."""
    s = text.strip()
    if s.startswith("```"):
        s = s.split("\n", 1)[1] if "\n" in s else s
        s = s.rsplit("```", 1)[0]
    return json.loads(s)


@dataclass
class Ask(Generic[T]):
    """One structured request: messages, the pydantic model the reply must validate as, and the (possibly
    tightened) JSON schema sent to the backend."""

    messages: list[dict]
    output: type[T]
    max_tokens: int
    schema: dict | None = None
    temperature: float = 0.0
    stats: CallStats | None = None  # the caller's counters (per paper)


@dataclass
class _Attempt:
    ask: Ask
    convo: list[dict]
    first_key: str = ""
    problem: str = ""
    result: Any = None  # the validated object, or an LLMError


class StructuredLLM:
    def __init__(self, backend: LLMBackend, cache: DiskCache, log_path, *, retries: int = 2, log_full: bool = False):
        self.backend = backend
        self.cache = cache
        self.log_path = log_path
        self.retries = retries
        self.log_full = log_full  # settings.llm.log_full: the log also keeps each prompt and response
        self._identity: dict[str, Any] | None = None

    def identity(self) -> dict[str, Any]:
        if self._identity is None:
            self._identity = self.backend.identity()
        return self._identity

    @staticmethod
    def _from_cache(entry: dict) -> Completion | None:
        """A cached completion, or None when the entry is not one this version wrote (a miss, not a crash)."""
        try:
            return Completion(**{**entry, "cached": True, "seconds": 0.0})
        except TypeError:
            return None

    def _key(self, req: Request) -> str:
        return request_fingerprint(self.identity(), req.messages, req.schema, req.max_tokens, req.temperature)

    def _log(self, req_key: str, c: Completion, ok: bool, note: str = "", messages: list[dict] | None = None) -> None:
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
        if self.log_full:
            entry.update(messages=messages or [], response=c.text)
        append_line(self.log_path, json.dumps(entry))
        log.info("llm %s %s in=%d out=%d %.1fs%s", self.backend.name, c.model, c.tokens_in, c.tokens_out,
                 c.seconds, " (cached)" if c.cached else "")

    # -- one request ------------------------------------------------------------------------------------
    def generate(self, messages: list[dict], schema_model: type[T], *, max_tokens: int, temperature: float = 0.0,
                 force: bool = False, stats: CallStats | None = None, schema: dict | None = None) -> T:
        """One validated object of `schema_model`. Invalid output is retried with the validation error shown to
        the model; after `retries` extra attempts it is an LLMError."""
        ask = Ask(messages, schema_model, max_tokens, schema, temperature, stats)
        out = self.generate_batch([ask], force=force)[0]
        if isinstance(out, Exception):
            raise out
        return out

    # -- many requests ----------------------------------------------------------------------------------
    def generate_batch(self, asks: list[Ask], *, force: bool = False) -> list[Any]:
        """Each ask's validated object, or the LLMError it ended with. Cached replies are served without a model
        call; the rest go to the backend as one batch per attempt."""
        todo = [_Attempt(a, list(a.messages)) for a in asks]
        pending = list(todo)
        for attempt in range(self.retries + 1):
            if not pending:
                break
            reqs = [Request(messages=p.convo, schema=p.ask.schema or p.ask.output.model_json_schema(),
                            max_tokens=p.ask.max_tokens,
                            temperature=p.ask.temperature if attempt == 0 else max(p.ask.temperature, 0.4))
                    for p in pending]
            keys = [self._key(r) for r in reqs]
            replies: list[Any] = []  # Completion, Exception, or None before the batch fills it
            for k in keys:
                cached = None if force else self.cache.get_json("llm", k)
                replies.append(self._from_cache(cached) if cached is not None else None)
            misses = [i for i, r in enumerate(replies) if r is None]
            if misses:
                fresh = self.backend.complete_batch([reqs[i] for i in misses])
                for i, c in zip(misses, fresh, strict=True):
                    replies[i] = c
            still: list[_Attempt] = []
            for p, req, key, c in zip(pending, reqs, keys, replies, strict=True):
                p.first_key = p.first_key or key
                if isinstance(c, Exception) or c is None:
                    p.result = c if isinstance(c, LLMError) else LLMError(f"model {self.backend.model} failed: {c}")
                    continue
                if p.ask.stats is not None:
                    p.ask.stats.add(c)
                try:
                    p.result = p.ask.output.model_validate(parse_json_reply(c.text))
                except (ValueError, ValidationError) as exc:
                    problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    if c.finish_reason == "length":
                        problem = f"reply cut off at max_tokens ({req.max_tokens}): {problem}"
                    self._log(key, c, ok=False, note=problem, messages=req.messages)
                    if p.ask.stats is not None:
                        p.ask.stats.errors.append(problem)
                    p.problem = problem
                    p.convo = [*p.ask.messages, {"role": "assistant", "content": c.text[:2000]},
                               {"role": "user", "content": render_prompt("retry", problem=problem)}]
                    still.append(p)
                    continue
                if not c.cached:
                    # cached under the first attempt's key too, so a re-run skips the failed attempts as well
                    entry = {k: v for k, v in c.__dict__.items() if k != "cached"}
                    for k in {key, p.first_key}:
                        self.cache.put_json("llm", k, entry)
                self._log(key, c, ok=True, messages=req.messages)
            pending = still
        for p in pending:
            p.result = LLMError(f"model {self.backend.model} returned invalid JSON {self.retries + 1} times: "
                                f"{p.problem}")
        return [p.result for p in todo]
