"""The one sentence splitter of the project.

`split_sentences(text)` returns every unit a reader would call a sentence, with (start, end) character offsets into
the text exactly as given, so `text[s.start:s.end] == s.text` always holds and a quote can be snapped back to its
source. Rules, in order:

- a blank line always ends a sentence (paragraphs never merge); a single line break does not (PDF and Markdown
  wrap lines mid-sentence), except before a bullet, a heading, a table row or an omission marker;
- a Markdown heading (`# ...`) is one unit of kind "heading"; each bullet or numbered item starts a unit of kind
  "bullet" (its marker is left out of the span); a fitting marker such as "[... 3 paragraphs omitted ...]" is one
  unit of kind "marker", wherever it stands;
- inside a paragraph a sentence ends at `.`, `!`, `?` or an ellipsis, after any closing quotes or brackets,
  followed by whitespace and a word that does not start in lower case. A full stop does not end a sentence after a
  known abbreviation (e.g., i.e., et al., Fig., Sec., Eq., cf., vs., ...), after an initial ("J. Smith"), or
  inside a token (3.5, arXiv:2601.10160, https://example.org/a.b, v1.2).

Nothing here changes the text (no hyphenation repair, no whitespace folding); `Sentence.clean` is the text with
its whitespace collapsed, which is what prompts and reports show.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

SentenceKind = Literal["sentence", "bullet", "heading", "marker"]


@dataclass(frozen=True)
class Sentence:
    text: str  # the source's own characters, text[start:end]
    start: int
    end: int
    kind: SentenceKind = "sentence"

    @property
    def clean(self) -> str:
        return " ".join(self.text.split())


# Lower-cased tokens (without their final full stop) after which a full stop does not end a sentence.
ABBREVIATIONS = frozenset(
    """e.g i.e cf vs viz al resp approx incl dept univ corp ltd jr sr dr mr mrs ms prof jan feb mar apr jun jul aug
    sep sept oct nov dec w.r.t w.l.o.g a.k.a u.s u.k""".split()
)
# Abbreviations that are also ordinary words ("say no. Then"): they hold a sentence together only before a
# number, a bracket or a single capital ("Fig. 3", "Eq. (2)", "App. B", "No. 5", "pp. 10-12").
REFERENCE_ABBREVIATIONS = frozenset("fig figs sec secs eq eqs tab tabs app apx ch chap no nos vol vols pp p ref refs"
                                    .split())
# "etc." ends a sentence when a capitalised word follows (it usually closes a list at the end of a sentence).
_ENDS_ALLOWED = frozenset({"etc"})
# A single capital letter is an initial ("J. Smith") unless it names a part of the paper ("Appendix A. We ...").
_LABEL_WORDS = frozenset(
    "appendix section table figure fig part type class model group condition step phase stage level setting "
    "plan option case experiment study task variant method version app apx fig sec tab eq".split()
)

_MARKER = re.compile(r"\[\s*(?:\.\.\.|…)[^\]\n]{0,80}?omitted[^\]\n]{0,40}?\]", re.I)
_HEADING = re.compile(r"[ \t]{0,3}#{1,6}[ \t]+")
_BULLET = re.compile(r"[ \t]*(?:[-*+•‣◦▪–]|\d{1,3}[.)]|\(?[a-zA-Z0-9]{1,3}\))[ \t]+(?=\S)")
_TABLE_ROW = re.compile(r"[ \t]*\|")
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n\s*")
# candidate ends: terminal punctuation, closing quotes/brackets, then whitespace
_END = re.compile(r"(?:[.!?]+|…)[\"'”’)\]*_]*(?=\s)")
_OPEN = "\"'“‘([{*_"


def _token_before(text: str, dot: int) -> str:
    """The non-space token that ends at `dot` (the full stop itself excluded), without leading brackets/quotes."""
    i = dot
    while i > 0 and not text[i - 1].isspace():
        i -= 1
    return text[i:dot].lstrip("\"'“‘([{")


def _previous_word(text: str, before: int) -> str:
    m = re.search(r"(\w+)\W*$", text[:before])
    return m.group(1).casefold() if m else ""


def _is_boundary(text: str, m: re.Match[str], seg_end: int) -> bool:
    punct = m.group(0).rstrip("\"'”’)]*_")
    nxt = re.compile(r"\s+").match(text, m.end())
    after = nxt.end() if nxt else m.end()
    if after >= seg_end:
        return True
    ch = text[after]
    if ch.islower():
        return False  # "e.g. the", "vs. a", "... and" never start a new sentence
    if not (ch.isupper() or ch.isdigit() or ch in _OPEN or not ch.isalnum()):
        return False
    if punct != ".":
        return True  # ! ? ... (an ellipsis before a capital ends the sentence)
    dot = m.start()
    token = _token_before(text, dot)
    low = token.casefold()
    if low in ABBREVIATIONS or low.rstrip(".") in ABBREVIATIONS:
        return False
    if low in REFERENCE_ABBREVIATIONS:
        label = ch.isdigit() or ch == "(" or (ch.isupper() and not text[after + 1:after + 2].isalpha())
        return not label
    if low in _ENDS_ALLOWED:
        return True
    if len(token) == 1 and token.isupper():
        # an initial, unless it labels a part of the paper ("Appendix A.", "Model B.")
        start = dot - len(token)
        return _previous_word(text, start) in _LABEL_WORDS
    if re.fullmatch(r"(?:[A-Za-z]\.){1,3}[A-Za-z]", token):
        return False  # dotted initialisms such as "U.S." or "Ph.D."
    return True


def _split_prose(text: str, start: int, end: int, kind: SentenceKind, out: list[Sentence]) -> None:
    """Sentences of the paragraph-like span text[start:end]; omission markers become their own units."""
    pos = start
    for mk in _MARKER.finditer(text, start, end):
        _split_plain(text, pos, mk.start(), kind, out)
        _emit(text, mk.start(), mk.end(), "marker", out)
        pos = mk.end()
    _split_plain(text, pos, end, kind, out)


def _split_plain(text: str, start: int, end: int, kind: SentenceKind, out: list[Sentence]) -> None:
    pos = start
    for m in _END.finditer(text, start, end):
        if _is_boundary(text, m, end):
            _emit(text, pos, m.end(), kind, out)
            pos = m.end()
            kind = "sentence" if kind == "bullet" else kind  # a bullet's second sentence is plain prose
    _emit(text, pos, end, kind, out)


def _emit(text: str, start: int, end: int, kind: SentenceKind, out: list[Sentence]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        out.append(Sentence(text[start:end], start, end, kind))


def _line_kind(line: str) -> tuple[str, int]:
    """(kind of a line, length of its prefix to skip): heading, bullet, table, marker or prose."""
    if m := _HEADING.match(line):
        return "heading", m.end()
    if _TABLE_ROW.match(line):
        return "table", 0
    if (m := _MARKER.match(line.strip())) and m.end() == len(line.strip()):
        return "marker", 0
    if m := _BULLET.match(line):
        return "bullet", m.end()
    return "prose", 0


def split_sentences(text: str) -> list[Sentence]:
    """Every sentence, bullet item, heading and omission marker of `text`, in order, with offsets into `text`."""
    text = text or ""
    out: list[Sentence] = []
    para_start = 0
    bounds = [(m.start(), m.end()) for m in _BLANK_LINE.finditer(text)] + [(len(text), len(text))]
    for blank_start, blank_end in bounds:
        _split_block(text, para_start, blank_start, out)
        para_start = blank_end
    return out


def _split_block(text: str, start: int, end: int, out: list[Sentence]) -> None:
    """One paragraph (no blank line inside): group its lines into runs of prose, bullets, headings, tables."""
    run_start, run_kind = start, "prose"
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        line_end = end if nl < 0 else nl
        kind, skip = _line_kind(text[pos:line_end])
        if kind in ("heading", "table", "marker", "bullet"):
            _flush(text, run_start, pos, run_kind, out)
            if kind == "bullet":
                run_start, run_kind = pos + skip, "bullet"
            else:
                if kind == "heading":
                    _emit(text, pos + skip, line_end, "heading", out)
                elif kind == "marker":
                    _emit(text, pos, line_end, "marker", out)
                elif kind == "table":
                    _emit(text, pos, line_end, "sentence", out)
                run_start, run_kind = line_end, "prose"
        pos = line_end + 1
    _flush(text, run_start, end, run_kind, out)


def _flush(text: str, start: int, end: int, kind: str, out: list[Sentence]) -> None:
    if start < end:
        _split_prose(text, start, end, "bullet" if kind == "bullet" else "sentence", out)


def sentence_texts(text: str) -> list[str]:
    """The prose sentences and bullet items of `text` (no headings, no omission markers), whitespace collapsed."""
    return [s.clean for s in split_sentences(text) if s.kind in ("sentence", "bullet")]


def first_sentence(text: str, min_chars: int = 20) -> str:
    """The first prose sentence of at least `min_chars` characters (whitespace collapsed), else the first one."""
    prose = sentence_texts(text)
    return next((s for s in prose if len(s) >= min_chars), prose[0] if prose else "")
