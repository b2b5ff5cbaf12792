"""Subcommands beyond `dissect`: each module has `register(subparsers)`; handlers are `func(args, settings) -> int`.
Shared here: how commands talk to the terminal."""
from __future__ import annotations

import re
import sys
from collections.abc import Callable

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: object) -> str:
    """Untrusted text (titles, passages) for the terminal: no control characters, escape sequences or
    bidirectional overrides that could rewrite what the user sees."""
    return _CONTROL.sub("", str(text or ""))


def progress_printer(quiet: bool) -> Callable[[str], None]:
    """Status lines on stderr for long work, only when a person is watching (not under cron or a pipe)."""
    if quiet or not sys.stderr.isatty():
        return lambda _msg: None
    return lambda msg: print(f"  {terminal_safe(msg)}", file=sys.stderr, flush=True)
