"""clean_text: the one function that makes untrusted text inert for display, wherever it leaves the program.

Titles, paper text, passages and a server's model name may carry characters that act on whoever displays them:
terminal escape sequences (colour, cursor moves, window titles, OSC 8 links), other C0/C1 control characters
(a bare carriage return overwrites a terminal line), bidirectional overrides and isolates that reorder what a reader
sees (a "Trojan Source" title), and characters an XML parser rejects (the Atom feed). clean_text removes them all;
escaping for the format (HTML, Markdown, YAML) is the render filters' separate job (agent.publish.render).

Applied at every exit: the Markdown filters and both Jinja environments' finalize hook (every {{ }} of every report,
index, digest page, feed and prompt), and the terminal printer (agent.commands.terminal_safe).
"""
from __future__ import annotations

import re
import unicodedata

# Whole escape sequences first, so that no "[31m" is left behind: CSI (ESC [ or the C1 CSI U+009B) with its
# parameters, OSC / DCS / APC / PM / SOS strings up to their terminator (or line end), and two-character ESC
# sequences.
_ESCAPE_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_][^\x07\x1b\x9c\n]{0,512}(?:\x07|\x1b\\|\x9c)?"  # bounded: a stray one cannot eat a paper
    r"|\x1b[ -/]*[0-~]?"
)
# Then single characters: C0 controls but tab and newline, DEL, C1 controls, bidi embeddings, overrides, isolates
# and marks, lone surrogates, and the noncharacters U+FFFE/U+FFFF (not allowed in XML). (U+2028/U+2029 are
# text, not controls: the filters that need them gone, JSON for scripts, handle them.)
_CONTROL_CHARS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff\ufffe\uffff]"
)


def clean_text(value: object) -> str:
    """`value` as text with escape sequences, control characters (except tab and newline) and bidirectional
    controls removed. A Windows line end (CR LF) becomes a newline; a lone CR is dropped."""
    s = "" if value is None else str(value)
    if s.isascii() and s.isprintable():  # the common case: nothing to do
        return s
    s = s.replace("\r\n", "\n")
    s = _ESCAPE_SEQUENCES.sub("", s)
    return _CONTROL_CHARS.sub("", s)


def clean_tree(value: object) -> object:
    """clean_text applied to every string inside dicts, lists and tuples (for YAML front matter and JSON views)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_tree(k): clean_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(clean_tree(v) for v in value)
    return value


# ---- lookalikes -------------------------------------------------------------------------------------------

# Letters from other scripts that render like Latin capitals (Unicode confusables, the ones that matter for
# spelling marker words): Cyrillic and Greek capitals and small letters, and a few symbols.
_CONFUSABLES = str.maketrans({
    **dict.fromkeys("АаΑα", "A"), **dict.fromkeys("ВΒβв", "B"), **dict.fromkeys("СсϹϲⅭ", "C"),
    **dict.fromkeys("ЕеΕε", "E"), **dict.fromkeys("НΗн", "H"), **dict.fromkeys("ІіΙιӀ", "I"),
    **dict.fromkeys("ЈјϳͿ", "J"), **dict.fromkeys("КкΚκ", "K"), **dict.fromkeys("МмΜ", "M"),
    **dict.fromkeys("ΝИ", "N"), **dict.fromkeys("ОоΟο০〇", "O"), **dict.fromkeys("РрΡρ", "P"),
    **dict.fromkeys("Ѕѕ", "S"), **dict.fromkeys("ТтΤτ", "T"), **dict.fromkeys("ՍՄ∪⋃", "U"),
    **dict.fromkeys("ХхΧχ", "X"), **dict.fromkeys("УуΥ", "Y"), **dict.fromkeys("Ζ", "Z"),
    **dict.fromkeys("\u2017\u02cd\u0332\u2381", "_"),
})


def _skeleton(text: str) -> tuple[str, list[int]]:
    """What `text` looks like, for matching: NFKC (fullwidth and compatibility forms), format characters (Cf:
    zero-width and bidi) dropped, confusable letters mapped to Latin, upper case; and, for each character of the
    skeleton, the index of the character of `text` it came from."""
    if text.isascii():
        return text.upper(), list(range(len(text)))
    chars: list[str] = []
    origin: list[int] = []
    for i, c in enumerate(text):
        if c.isascii():
            chars.append(c.upper())
            origin.append(i)
            continue
        for d in unicodedata.normalize("NFKC", c):
            if unicodedata.category(d) == "Cf":
                continue
            d = d.translate(_CONFUSABLES).upper()
            chars.extend(d)
            origin.extend([i] * len(d))
    return "".join(chars), origin


def defang_word(text: str, word: str, replacement: str) -> str:
    """`text` with every spelling of `word` (an upper-case ASCII word such as SOURCE_TEXT) that looks like it,
    however written (fullwidth, zero-width characters inside, Cyrillic or Greek lookalikes, other case), replaced
    by `replacement`, which must not look like `word`. Repeated, since a replacement can join the pieces of a
    nested spelling."""
    if _skeleton(replacement)[0] == word:
        raise ValueError("the replacement looks like the word it replaces")
    while True:
        skeleton, origin = _skeleton(text)
        at = skeleton.find(word)
        if at < 0:
            return text
        spans = []
        while at >= 0:
            spans.append((origin[at], origin[at + len(word) - 1] + 1))
            at = skeleton.find(word, at + len(word))
        for start, end in reversed(spans):
            text = text[:start] + replacement + text[end:]


_ANGLE_RUNS = re.compile(r"[<\uff1c\ufe64]{3,}|[>\uff1e\ufe65]{3,}")


def shorten_angle_runs(text: str) -> str:
    """Runs of three or more angle brackets (ASCII, fullwidth or small forms) cut to two ASCII ones, so that no
    "<<<" or ">>>" of a prompt fence can be spelled."""
    return _ANGLE_RUNS.sub(lambda m: "<<" if m.group(0)[0] in "<\uff1c\ufe64" else ">>", text)
