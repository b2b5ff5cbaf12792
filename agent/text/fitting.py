"""Fitting a long source into the model's context window, deliberately.

When the whole text fits the token budget, it goes in whole. Otherwise the text is split into paragraphs and we keep,
in the original order: the opening paragraphs (abstract and introduction state the claims), the closing ones
(conclusion, limitations), and then the paragraphs densest in claim language ("we show", "results", numbers,
"outperforms", "demonstrate", "safe", "aligned"...) until the budget is spent. Each gap is marked with
"[... N paragraphs omitted ...]" so the model knows text is missing. Quotes are still verified against the full text.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from agent.text.paragraphs import paragraph_units

CLAIM_WORDS = re.compile(
    r"\b(we (show|find|demonstrate|prove|argue|propose|introduce|present|claim)|our (results|method|findings)|"
    r"results? (show|suggest|indicate)|outperform\w*|significant\w*|state[- ]of[- ]the[- ]art|evidence|"
    r"therefore|thus|implies|conclude\w*|aligned|alignment|safe(ty)?|deceptive|honest\w*|risk\w*|limitation\w*|"
    r"\d+(\.\d+)?\s?%)",
    re.I,
)


@dataclass
class Fitted:
    text: str
    description: str  # one line for the report's provenance
    kept_paragraphs: int
    total_paragraphs: int


MAX_PARAGRAPH_CHARS = 2000  # a bigger paragraph (a PDF page without blank lines) is split into sentences


def paragraphs(text: str) -> list[str]:
    return paragraph_units(text, MAX_PARAGRAPH_CHARS)


def fit_to_budget(text: str, budget_tokens: int, count: Callable[[str], int]) -> Fitted:
    total = count(text)
    paras = paragraphs(text)
    if total <= budget_tokens:
        return Fitted(text, f"whole text ({total:,} tokens)", len(paras), len(paras))
    costs = [count(p) + 2 for p in paras]
    n = len(paras)
    keep: set[int] = set()
    spent = 0

    def take(i: int) -> bool:
        nonlocal spent
        if i in keep or spent + costs[i] > budget_tokens:
            return False
        keep.add(i)
        spent += costs[i]
        return True

    # the opening (about 35% of the budget) and the closing (about 15%); a paragraph too big for what is left is
    # skipped, not a reason to stop (one giant table must not cost the rest of the introduction)
    for i in range(n):
        if spent > 0.35 * budget_tokens:
            break
        take(i)
    closing_start = spent
    for i in range(n - 1, -1, -1):
        if spent - closing_start > 0.15 * budget_tokens:
            break
        take(i)
    # then the most claim-dense paragraphs of the middle
    density = sorted(
        (i for i in range(n) if i not in keep),
        key=lambda i: len(CLAIM_WORDS.findall(paras[i])) / (costs[i] ** 0.5),
        reverse=True,
    )
    for i in density:
        take(i)
        if budget_tokens - spent < 20:
            break
    out: list[str] = []
    gap = 0
    for i in range(n):
        if i in keep:
            if gap:
                out.append(f"[... {gap} paragraph{'s' if gap > 1 else ''} omitted ...]")
                gap = 0
            out.append(paras[i])
        else:
            gap += 1
    if gap:
        out.append(f"[... {gap} paragraph{'s' if gap > 1 else ''} omitted ...]")
    desc = (f"fitted: kept {len(keep)} of {n} paragraphs (opening, closing, most claim-dense), "
            f"~{spent:,} of {total:,} tokens")
    return Fitted("\n\n".join(out), desc, len(keep), n)
