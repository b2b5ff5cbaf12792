"""Splitting text into units that keep their meaning: whole paragraphs, sentences when a paragraph is too big.
Shared by context fitting (agent.text.fitting) and chunking for the store (agent.corpus.store)."""
from __future__ import annotations

import re
from collections.abc import Iterable

from agent.text.sentences import split_sentences


def _hard_split(text: str, max_chars: int) -> list[str]:
    """Last resort for a 'sentence' longer than a chunk: cut at whitespace (and a word with no spaces at all, such
    as a URL or a run of symbols, into pieces of max_chars)."""
    pieces = [w[i:i + max_chars] for w in text.split() for i in range(0, len(w), max_chars)]
    return _pack(pieces, max_chars, " ")


def _pack(pieces: Iterable[str], max_chars: int, sep: str) -> list[str]:
    out: list[str] = []
    cur = ""
    for piece in pieces:
        if cur and len(cur) + len(sep) + len(piece) > max_chars:
            out.append(cur)
            cur = piece
        else:
            cur = f"{cur}{sep}{piece}" if cur else piece
    if cur:
        out.append(cur)
    return out


def paragraph_units(text: str, max_chars: int) -> list[str]:
    """Whole paragraphs (whitespace collapsed); one longer than max_chars is split between sentences (between
    words as a last resort) into pieces of at most max_chars."""
    units: list[str] = []
    for raw in re.split(r"\n\s*\n", text or ""):
        para = " ".join(raw.split())
        if not para:
            continue
        if len(para) <= max_chars:
            units.append(para)
            continue
        sentences: list[str] = []
        # split before collapsing whitespace: the splitter reads line starts (headings, bullets)
        for sent in (s.clean for s in split_sentences(raw)):
            sentences.extend([sent] if len(sent) <= max_chars else _hard_split(sent, max_chars))
        units.extend(_pack(sentences, max_chars, " "))
    return units


def chunk_text(text: str, max_chars: int = 1200) -> list[str]:
    """Chunks of whole paragraphs, packed up to max_chars; an oversize paragraph splits between sentences."""
    return _pack(paragraph_units(text, max_chars), max_chars, "\n\n")
