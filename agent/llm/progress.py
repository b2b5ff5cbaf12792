"""Progress of a long model call (tokens so far, seconds elapsed), from a backend that streams to whoever listens.

A backend calls `generation_progress(tokens, elapsed)` as tokens arrive and `generation_done()` at the end; the
command line installs a listener that shows it (`listening`). Without a listener both are no-ops, so a backend
never needs to know whether a person is watching.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Listener = Callable[[int, float, bool], None]  # (tokens so far, seconds elapsed, done)

_listener: Listener | None = None
_lock = threading.Lock()


def generation_progress(tokens: int, elapsed: float) -> None:
    listener = _listener
    if listener is not None:
        listener(tokens, elapsed, False)


def generation_done(tokens: int, elapsed: float) -> None:
    listener = _listener
    if listener is not None:
        listener(tokens, elapsed, True)


def has_listener() -> bool:
    return _listener is not None


@contextmanager
def listening(listener: Listener | None) -> Iterator[None]:
    """Send progress to `listener` inside the block (None: nobody listens)."""
    global _listener
    with _lock:
        previous, _listener = _listener, listener
    try:
        yield
    finally:
        with _lock:
            _listener = previous
