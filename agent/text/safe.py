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
