"""What model calls cost: a price table per model (USD per million tokens in and out), the cost of a report, and the
estimate a digest checks against its cap before each paper.

The defaults are the list prices that the vendors published for their well-known hosted models, as of
`PRICES_AS_OF`; prices change, so `settings.cost.prices` (dissect.toml `[cost.prices."name"]` or the environment
variable `DISSECT_COST__PRICES` as JSON) adds to or overrides them. Models run on your own hardware (the `local`
and `gpu` backends) cost 0. A model with no known price has no cost (None), never a guessed one.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from agent.settings import Settings

PRICES_AS_OF = "2025-06"
OWN_HARDWARE_BACKENDS = ("local", "gpu")
CHARS_PER_TOKEN = 3.2  # the same conservative ratio the backends use to count tokens without a tokenizer
PROMPT_FRAME_TOKENS = 1500  # system prompt, instructions, schema hint and related passages around the paper
CALLS_PER_PAPER = 2  # the analysis and, when a quote is not found, one grounding revision
TYPICAL_PAPER_CHARS = 60_000  # an arXiv paper's full text, for estimates made before it is fetched (--dry-run)


class ModelPrice(BaseModel):
    model_config = {"extra": "forbid"}

    input: float = Field(ge=0, description="USD per million prompt tokens")
    output: float = Field(ge=0, description="USD per million completion tokens")


# List prices in USD per million tokens (input, output), standard tier, as of PRICES_AS_OF.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    name: ModelPrice(input=i, output=o)
    for name, (i, o) in {
        "gpt-4o": (2.50, 10.00),
        "gpt-4o-mini": (0.15, 0.60),
        "gpt-4.1": (2.00, 8.00),
        "gpt-4.1-mini": (0.40, 1.60),
        "gpt-4.1-nano": (0.10, 0.40),
        "o3": (2.00, 8.00),
        "o4-mini": (1.10, 4.40),
        "claude-opus-4": (15.00, 75.00),
        "claude-sonnet-4": (3.00, 15.00),
        "claude-3-7-sonnet": (3.00, 15.00),
        "claude-3-5-haiku": (0.80, 4.00),
        "gemini-2.5-pro": (1.25, 10.00),
        "gemini-2.5-flash": (0.30, 2.50),
    }.items()
}


def price_for(prices: dict[str, ModelPrice], model: str) -> ModelPrice | None:
    """The price of `model`: an exact entry, else the longest entry the name starts with at a `-` boundary (a
    server reports dated snapshots: gpt-4o-mini-2024-07-18 is priced as gpt-4o-mini). A provider prefix
    (`openai/gpt-4o`) is ignored when the full name has no entry."""
    for name in (model, model.rsplit("/", 1)[-1]):
        if name in prices:
            return prices[name]
        best = max((k for k in prices if re.match(re.escape(k) + r"(-|$)", name)), key=len, default=None)
        if best is not None:
            return prices[best]
    return None


def effective_prices(settings: Settings) -> dict[str, ModelPrice]:
    """The defaults with the configured entries on top."""
    return {**DEFAULT_PRICES, **settings.cost.prices}


def cost_of(settings: Settings, model: str, tokens_in: int, tokens_out: int) -> float | None:
    """USD for `tokens_in` prompt and `tokens_out` completion tokens of `model` under the configured backend:
    0.0 on your own hardware (local, gpu), None when the model's price is unknown."""
    return call_cost(settings, settings.llm.backend, model, tokens_in, tokens_out)


def call_cost(settings: Settings, backend: str, model: str, tokens_in: int, tokens_out: int) -> float | None:
    """`cost_of` for a call made with `backend` (a logged call may predate the configured backend)."""
    if backend in OWN_HARDWARE_BACKENDS:
        return 0.0
    price = price_for(effective_prices(settings), model)
    if price is None:
        return None
    return round((tokens_in * price.input + tokens_out * price.output) / 1_000_000, 6)


def estimate_paper_tokens(settings: Settings, paper_chars: int) -> tuple[int, int]:
    """(tokens in, tokens out) a dissection of a text of `paper_chars` characters may take at most: each call sends
    the paper fitted into the context window with the prompt around it and may use the whole reply budget."""
    window_in = settings.llm.context_tokens - settings.llm.max_output_tokens
    per_call_in = min(int(max(0, paper_chars) / CHARS_PER_TOKEN) + PROMPT_FRAME_TOKENS, window_in)
    return CALLS_PER_PAPER * per_call_in, CALLS_PER_PAPER * settings.llm.max_output_tokens


def estimate_paper_cost(settings: Settings, paper_chars: int, model: str | None = None) -> float | None:
    """An upper estimate in USD of dissecting a text of `paper_chars` characters with the configured model (None
    when its price is unknown). The digest compares it with what the cap has left before each paper."""
    tokens_in, tokens_out = estimate_paper_tokens(settings, paper_chars)
    return cost_of(settings, model or settings.llm.model, tokens_in, tokens_out)


def total_cost(costs: list[float | None]) -> float | None:
    """The sum of the known costs; None when none is known (a digest page then says "unknown")."""
    known = [c for c in costs if c is not None]
    return round(sum(known), 6) if known else None


def format_usd(amount: float | None) -> str:
    """$0.0123 / $1.23 / "unknown" (no price for the model)."""
    if amount is None:
        return "unknown"
    return f"${amount:.4f}" if amount < 1 else f"${amount:.2f}"
