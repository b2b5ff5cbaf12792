"""Quote verification, snapped to whole source sentences.

A quote is checked against the source's sentences (agent.text.sentences, the project's one splitter):

- *verified*: after normalisation (Unicode NFKC, curly quotes and dashes folded, PDF line-break hyphenation undone,
  whitespace collapsed, case folded) the quote occurs in the source and covers enough of the sentence it comes
  from. The report shows that WHOLE sentence in the source's own wording; when the model quoted only part of it,
  the check says so (`snapped`).
- *repaired*: the quote almost matches one sentence (a small model changing a word or two): the source's sentence
  is shown instead, marked as such.
- *unverified*: anything else, including a fragment ("we show that our": found verbatim, but too little of a
  sentence to stand for it). Shown as unverified, never hidden.

Nothing here calls a model.
"""
from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from difflib import SequenceMatcher

from agent.models import DissectionDraft, QuoteCheck
from agent.text.sentences import split_sentences

_FOLD = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
                       "\u2212": "-", "\u00a0": " ", "\u00ad": ""})
_HYPHEN_BREAK = re.compile(r"(\w)-[ \t]*\n\s*(\w)")
MIN_QUOTE_WORDS = 4  # fewer words never stand for a sentence
FRAGMENT_WORDS = 6  # a part of a sentence needs at least this many words...
FRAGMENT_SHARE = 0.4  # ...and this share of the sentence's words to be snapped to it rather than refused
REPAIR_MIN_RATIO = 0.85
QUOTABLE_KINDS = ("sentence", "bullet")


def _norm_char(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch).translate(_FOLD).casefold()


def normalise(text: str) -> str:
    return build_index(text)[0]


def dehyphenate(text: str) -> str:
    """Undo PDF line-break hyphenation ("align-\\nment" -> "alignment")."""
    return _HYPHEN_BREAK.sub(r"\1\2", text) if "\n" in text else text


def build_index(text: str) -> tuple[str, list[int]]:
    """Normalised text plus, for each of its characters, the offset of the original character it came from."""
    text = dehyphenate(text)
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


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each quotable sentence of `text` (prose sentences and bullet items, 3+ words)."""
    return [(s.start, s.end) for s in split_sentences(text)
            if s.kind in QUOTABLE_KINDS and len(s.text.split()) >= 3]


def quotable_sentences(text: str, *, min_words: int = 6, max_chars: int = 400) -> list[str]:
    """The whole sentences of `text` a quote may be, in text order, whitespace collapsed and line-break hyphenation
    undone (so each one verifies against the text it came from): what a quote `enum` offers a model."""
    fixed = dehyphenate(text)
    out = [" ".join(fixed[a:b].split()) for a, b in sentence_spans(fixed)]
    return list(dict.fromkeys(s for s in out if len(s.split()) >= min_words and len(s) <= max_chars))


class SourceIndex:
    """The source text prepared once for many quote checks."""

    def __init__(self, text: str):
        self.text = dehyphenate(text)
        self.norm, self.map = build_index(self.text)
        self.sentences = sentence_spans(self.text)
        self._starts = [a for a, _ in self.sentences]
        self._sent_words = [set(_words(self.text[a:b])) for a, b in self.sentences]

    def sentence(self, i: int) -> str:
        a, b = self.sentences[i]
        return " ".join(self.text[a:b].split())

    def _sentence_at(self, offset: int) -> int | None:
        i = bisect_right(self._starts, offset) - 1
        if i >= 0 and self.sentences[i][0] <= offset < self.sentences[i][1]:
            return i
        return None

    def locate(self, quote: str) -> tuple[int, int] | None:
        """(start, end) offsets in `self.text` of `quote`'s first verbatim occurrence after normalisation."""
        q = normalise(quote.strip().strip("\"'\u201c\u201d").strip())
        if not q:
            return None
        pos = self.norm.find(q)
        if pos < 0:
            return None
        return self.map[pos], self.map[pos + len(q) - 1] + 1

    def find(self, quote: str) -> str | None:
        """The source's own wording of `quote` when it occurs verbatim after normalisation (the span itself)."""
        span = self.locate(quote)
        return None if span is None else " ".join(self.text[span[0]:span[1]].split())

    def snap(self, quote: str) -> tuple[str, bool] | None:
        """(the whole sentence or sentences `quote` comes from, whether the quote was only part of them), or None
        when the quote is not in the source or is a fragment too small to stand for its sentence."""
        span = self.locate(quote)
        if span is None:
            return None
        first, last = self._sentence_at(span[0]), self._sentence_at(span[1] - 1)
        if first is None or last is None:  # in a heading, a marker or between sentences: not a quotable sentence
            return None
        start, end = self.sentences[first][0], self.sentences[last][1]
        whole = " ".join(self.text[start:end].split())
        n_quote, n_whole = len(_words(quote)), len(_words(whole))
        if n_quote >= n_whole - 1:  # the whole sentence (give or take a closing word the model dropped)
            return whole, False
        if n_quote < FRAGMENT_WORDS or n_quote < FRAGMENT_SHARE * n_whole:
            return None
        return whole, True

    def repair(self, quote: str) -> str | None:
        """The source sentence `quote` almost matches, or None."""
        words = set(_words(quote))
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
            sent = self.sentence(i)
            sn = normalise(sent)
            sm = SequenceMatcher(None, qn, sn, autojunk=False)
            ratio = sm.ratio()
            # a quote that is a slightly-off part of a longer sentence: compare with the span it matches
            covered = sum(block.size for block in sm.get_matching_blocks()) / max(1, len(qn))
            score = max(ratio, covered if covered >= 0.92 and len(qn) >= FRAGMENT_SHARE * len(sn) else 0.0)
            if score > best_ratio:
                best, best_ratio = sent, score
        return best if best_ratio >= REPAIR_MIN_RATIO else None


def check_quote(index: SourceIndex, where: str, quote: str) -> QuoteCheck:
    quote = " ".join(quote.split())
    if len(_words(quote)) < MIN_QUOTE_WORDS:
        return QuoteCheck(where=where, quote=quote, status="unverified", original=quote)
    snapped = index.snap(quote)
    if snapped is not None:
        whole, partial = snapped
        return QuoteCheck(where=where, quote=whole, status="verified", snapped=partial,
                          original=quote if partial else "")
    if index.locate(quote) is None:
        repaired = index.repair(quote)
        if repaired is not None:
            return QuoteCheck(where=where, quote=repaired, status="repaired", original=quote)
    return QuoteCheck(where=where, quote=quote, status="unverified", original=quote)


def verify_draft(draft: DissectionDraft, source_text: str) -> tuple[DissectionDraft, list[QuoteCheck]]:
    """Check every quote of a draft against the source. Returns the draft with each quote replaced by the whole
    source sentence it was found in (or repaired to), and one QuoteCheck per quote."""
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
    for i, h in enumerate(draft.hidden_assumptions):  # an entry that quotes nothing by design has no quote to check
        where = f"hidden_assumptions[{i}]"
        checks.append(QuoteCheck(where=where, quote="", status="none") if h.none_found
                      else check_quote(index, where, h.quote))
    fixed = draft.model_copy(deep=True)
    fixed.core_fallacy.quote = checks[0].quote
    for h, c in zip(fixed.hidden_assumptions, checks[1:], strict=False):
        h.quote = c.quote
    return fixed, checks


def grounding_rate(checks: list[QuoteCheck]) -> float:
    """Verified or repaired quotes over all quotes; an entry that quotes nothing by design is no quote."""
    quoted = [c for c in checks if c.status != "none"]
    if not quoted:
        return 0.0
    return sum(c.status != "unverified" for c in quoted) / len(quoted)
