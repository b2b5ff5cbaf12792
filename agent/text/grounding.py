"""Quote verification and repair.

A quote is *verified* when, after normalisation (Unicode NFKC, curly quotes and dashes folded, PDF line-break
hyphenation undone, whitespace collapsed, case folded), it occurs in the source text; the report then shows the
source's own wording of that span. A quote that almost matches one passage of the source (a small model paraphrasing a
word or two) is *repaired*: replaced by the source's sentence and marked so. Anything else is *unverified* and shown
as such. Nothing here calls a model.
"""
from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

from agent.models import DissectionDraft, QuoteCheck

_FOLD = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
                       "\u2212": "-", "\u00a0": " ", "\u00ad": ""})
MIN_QUOTE_WORDS = 4
REPAIR_MIN_RATIO = 0.85


def _norm_char(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch).translate(_FOLD).casefold()


def normalise(text: str) -> str:
    return build_index(text)[0]


def build_index(text: str) -> tuple[str, list[int]]:
    """Normalised text plus, for each of its characters, the offset of the original character it came from."""
    text = re.sub(r"(\w)-\s*\n\s*(\w)", r"\1\2", text) if "\n" in text else text
    out: list[str] = []
    idx: list[int] = []
    last_space = True
    for i, ch in enumerate(text):
        n = _norm_char(ch)
        for c in n:
            if c.isspace() or c in "\"'`":
                # quotes vary too much between model and source to be worth matching; spaces collapse
                if c.isspace() and not last_space:
                    out.append(" ")
                    idx.append(i)
                    last_space = True
                continue
            out.append(c)
            idx.append(i)
            last_space = False
    while out and out[-1] == " ":
        out.pop()
        idx.pop()
    return "".join(out), idx


_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]\u201d\u2019]*\s+|\n\s*\n")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence; sentences may span single line breaks, never a blank line."""
    spans, start = [], 0
    for m in _BOUNDARY.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if len(text[a:b].split()) >= 3]


class SourceIndex:
    """The source text prepared once for many quote checks."""

    def __init__(self, text: str):
        self.text = re.sub(r"(\w)-\s*\n\s*(\w)", r"\1\2", text)
        self.norm, self.map = build_index(self.text)
        self.sentences = sentence_spans(self.text)
        self._sent_words = [set(re.findall(r"\w+", self.text[a:b].casefold())) for a, b in self.sentences]

    def find(self, quote: str) -> str | None:
        """The source's own wording of `quote` when it occurs verbatim after normalisation."""
        q = normalise(quote.strip().strip("\"'\u201c\u201d").strip())
        if not q:
            return None
        pos = self.norm.find(q)
        if pos < 0:
            return None
        start, end = self.map[pos], self.map[pos + len(q) - 1] + 1
        return " ".join(self.text[start:end].split())

    def repair(self, quote: str) -> str | None:
        """The source sentence `quote` almost matches, or None."""
        words = set(re.findall(r"\w+", quote.casefold()))
        if len(words) < MIN_QUOTE_WORDS:
            return None
        scored = sorted(
            ((len(words & sw) / len(words), i) for i, sw in enumerate(self._sent_words) if sw), reverse=True
        )[:8]
        qn = normalise(quote)
        best, best_ratio = None, 0.0
        for overlap, i in scored:
            if overlap < 0.6:
                break
            a, b = self.sentences[i]
            sent = " ".join(self.text[a:b].split())
            sn = normalise(sent)
            sm = SequenceMatcher(None, qn, sn, autojunk=False)
            ratio = sm.ratio()
            # a quote that is a slightly-off part of a longer sentence: compare with the span it matches
            covered = sum(block.size for block in sm.get_matching_blocks()) / max(1, len(qn))
            score = max(ratio, covered if covered >= 0.92 else 0.0)
            if score > best_ratio:
                best, best_ratio = sent, score
        return best if best_ratio >= REPAIR_MIN_RATIO else None


def check_quote(index: SourceIndex, where: str, quote: str) -> QuoteCheck:
    quote = " ".join(quote.split())
    if len(quote.split()) < MIN_QUOTE_WORDS:
        return QuoteCheck(where=where, quote=quote, status="unverified", original=quote)
    found = index.find(quote)
    if found is not None:
        return QuoteCheck(where=where, quote=found, status="verified")
    repaired = index.repair(quote)
    if repaired is not None:
        return QuoteCheck(where=where, quote=repaired, status="repaired", original=quote)
    return QuoteCheck(where=where, quote=quote, status="unverified", original=quote)


def verify_draft(draft: DissectionDraft, source_text: str) -> tuple[DissectionDraft, list[QuoteCheck]]:
    """Check every quote of a draft against the source. Returns the draft with quotes replaced by the source's
    own wording where found or repaired, and one QuoteCheck per quote."""
    index = SourceIndex(source_text)
    # small models repeat themselves: an assumption stated twice is reported once
    seen: set[str] = set()
    unique = []
    for h in draft.hidden_assumptions:
        key = normalise(h.assumption)
        if key not in seen:
            seen.add(key)
            unique.append(h)
    draft = draft.model_copy(update={"hidden_assumptions": unique})
    checks = [check_quote(index, "core_fallacy", draft.core_fallacy.quote)]
    checks += [check_quote(index, f"hidden_assumptions[{i}]", h.quote) for i, h in enumerate(draft.hidden_assumptions)]
    fixed = draft.model_copy(deep=True)
    fixed.core_fallacy.quote = checks[0].quote
    for h, c in zip(fixed.hidden_assumptions, checks[1:]):
        h.quote = c.quote
    return fixed, checks


def grounding_rate(checks: list[QuoteCheck]) -> float:
    if not checks:
        return 0.0
    return sum(c.status != "unverified" for c in checks) / len(checks)
