"""The one model interface every backend implements: chat messages in, text (JSON when a schema is given) out."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from agent.fingerprint import weights_digest


@dataclass
class Request:
    messages: list[dict[str, str]]  # [{"role": "system"|"user"|"assistant", "content": ...}]
    schema: dict[str, Any] | None = None  # JSON schema the reply must satisfy (constrained when possible)
    max_tokens: int = 1024
    temperature: float = 0.0


@dataclass
class Completion:
    text: str
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    finish_reason: str = ""
    cached: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class LLMBackend(ABC):
    """A configured model. Backends raise agent.errors.LLMError on failure and never switch models."""

    name: str = "base"  # "local", "openai", "gpu"
    model: str = ""  # the model as named in reports
    context_tokens: int = 8192  # the window prompts are fitted into

    @abstractmethod
    def complete(self, request: Request) -> Completion: ...

    def complete_batch(self, requests: list[Request]) -> list[Completion | Exception]:
        """Generate for many requests. Backends that batch (gpu) or run concurrently (openai) override this.
        Each item is a Completion or the exception that request raised: one failure never sinks the rest."""
        out: list[Completion | Exception] = []
        for req in requests:
            try:
                out.append(self.complete(req))
            except Exception as exc:  # noqa: BLE001 - isolation is the point
                out.append(exc)
        return out

    def identity(self) -> dict[str, Any]:
        """What decides this backend's output besides the request (agent.fingerprint): kind, endpoint, the weights'
        digest or the remote model's name, thread count and context window."""
        return {"backend": self.name, "model": self.model, "endpoint": getattr(self, "base_url", None) or "",
                "weights": weights_digest(getattr(self, "path", None)), "threads": getattr(self, "threads", 0),
                "context_tokens": self.context_tokens}

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes in this model. The default is a conservative estimate (3.2 chars/token);
        backends with a tokenizer at hand override it."""
        return int(len(text) / 3.2) + 1

    def close(self) -> None:  # noqa: B027 - most backends start nothing
        """Stop what this backend started (servers, threads, clients). Safe to call twice."""

    def __enter__(self) -> LLMBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
