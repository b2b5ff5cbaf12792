"""The commands: one module per command, each with `register(subparsers)` and handlers `func(args, settings) -> int`
(agent.cli_main builds the parser from them). Shared here: how commands talk to the terminal."""
from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

from agent.llm.progress import Listener
from agent.text.safe import clean_text

PROGRESS_LOG = logging.getLogger("dissect.progress")
GENERATION_LOG_EVERY_S = 10.0  # with -v: one log line per this many seconds of a long model call
GENERATION_SHOW_AFTER_S = 2.0  # on a terminal: say nothing about calls shorter than this


GLOBAL_FLAGS = ("backend", "model", "data_dir", "reports_dir")  # the global options that are settings


def flag_overrides(args: object) -> dict[str, object]:
    """The settings given as flags on the command line (None: not given)."""
    return {k: getattr(args, k, None) for k in GLOBAL_FLAGS}


def terminal_safe(text: object) -> str:
    """Untrusted text (titles, passages, model names) for the terminal: no control characters, escape sequences
    or bidirectional overrides that could rewrite what the user sees (agent.text.safe.clean_text)."""
    return clean_text(text or "")


def progress_printer(quiet: bool) -> Callable[[str], None]:
    """Status lines for long work (each stage as it starts): logged with -v; otherwise printed on stderr only when
    a person is watching (not under cron or a pipe)."""
    if PROGRESS_LOG.isEnabledFor(logging.INFO):
        return lambda msg: PROGRESS_LOG.info("%s", terminal_safe(msg))
    if quiet or not sys.stderr.isatty():
        return lambda _msg: None
    return lambda msg: print(f"  {terminal_safe(msg)}", file=sys.stderr, flush=True)


def generation_printer(quiet: bool) -> Listener | None:
    """Shows a long model call's progress (tokens so far, seconds): a line rewritten in place on a terminal, a log
    line every few seconds with -v, nothing otherwise."""
    if PROGRESS_LOG.isEnabledFor(logging.INFO):
        last = [0.0]

        def log_it(tokens: int, elapsed: float, done: bool) -> None:
            if done or elapsed - last[0] >= GENERATION_LOG_EVERY_S:
                last[0] = 0.0 if done else elapsed
                PROGRESS_LOG.info("model: %d tokens %s %.0f s", tokens, "in" if done else "so far,", elapsed)
        return log_it
    if quiet or not sys.stderr.isatty():
        return None
    shown = [0.0]

    def show(tokens: int, elapsed: float, done: bool) -> None:
        now = time.monotonic()
        if done:
            if shown[0]:
                print("\r\033[K", end="", file=sys.stderr, flush=True)
            shown[0] = 0.0
        elif elapsed >= GENERATION_SHOW_AFTER_S and now - shown[0] >= 0.5:
            shown[0] = now
            print(f"\r  model: {tokens} tokens so far, {elapsed:.0f} s", end="", file=sys.stderr, flush=True)
    return show
