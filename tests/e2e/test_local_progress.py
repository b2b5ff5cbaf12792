"""Progress of a long call to the embedded model: streamed when someone listens, with the same reply as a plain
call, and the thread count the backend chose recorded on it."""
from __future__ import annotations

import pytest

from agent.llm.base import Request
from agent.llm.local import LocalBackend
from agent.llm.progress import listening
from agent.settings import Settings

pytestmark = pytest.mark.slow


def test_streamed_progress_gives_the_same_reply_as_a_plain_call():
    backend = LocalBackend(Settings(context_tokens=1024, max_output_tokens=256, threads=1))
    schema = {"type": "object", "properties": {"colours": {"type": "array", "items": {"type": "string"},
                                                          "maxItems": 3}}, "required": ["colours"]}
    request = Request(messages=[{"role": "user", "content": "Name three colours as JSON."}], schema=schema,
                      max_tokens=60)
    try:
        plain = backend.complete(request)
        seen: list[tuple[int, float, bool]] = []
        with listening(lambda tokens, elapsed, done: seen.append((tokens, elapsed, done))):
            streamed = backend.complete(request)
    finally:
        backend.close()
    assert (streamed.text, streamed.tokens_in, streamed.tokens_out, streamed.finish_reason) == (
        plain.text, plain.tokens_in, plain.tokens_out, plain.finish_reason)
    counts = [t for t, _, done in seen if not done]
    assert counts == sorted(counts) and counts[-1] > 3 and seen[-1][2] is True
    assert backend.threads == 1
