"""Coalesce concurrent single requests into `complete_batch` calls.

The digest dissects papers in parallel threads, each running the per-paper graph, which asks its model for one
completion at a time. Wrapped in a CoalescingBackend, the requests that arrive within `window_s` of each other
go to the real backend as one `complete_batch`: one padded batch on the GPU backend, concurrent requests through
the async client on the openai backend. The wrapper keeps the backend's name and model, so caching, provenance
and reports are exactly as without it.
"""
from __future__ import annotations

import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from agent.errors import LLMError
from agent.llm.base import Completion, LLMBackend, Request


class CoalescingBackend(LLMBackend):
    def __init__(self, inner: LLMBackend, *, max_batch: int, window_s: float = 0.2, parallel: bool = False):
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self.context_tokens = inner.context_tokens
        self.max_batch = max(1, max_batch)
        self.window_s = window_s
        self.batches: list[int] = []  # sizes of the batches sent, for logs and tests
        self._queue: queue.Queue[tuple[Request, Future] | None] = queue.Queue()
        # openai: batches may overlap (a new batch need not wait for a slow one); gpu/local: one at a time
        self._pool = ThreadPoolExecutor(max_workers=self.max_batch if parallel else 1,
                                        thread_name_prefix="llm-batch")
        self._thread = threading.Thread(target=self._collect, name="llm-coalescer", daemon=True)
        self._thread.start()

    def complete(self, request: Request) -> Completion:
        fut: Future = Future()
        self._queue.put((request, fut))
        out = fut.result()
        if isinstance(out, Exception):
            raise out
        return out

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def _collect(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = threading.Event()
            timer = threading.Timer(self.window_s, deadline.set)
            timer.start()
            while len(batch) < self.max_batch and not deadline.is_set():
                try:
                    item = self._queue.get(timeout=0.01)
                except queue.Empty:
                    continue
                if item is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(item)
            timer.cancel()
            self._pool.submit(self._dispatch, batch)

    def _dispatch(self, batch: list[tuple[Request, Future]]) -> None:
        self.batches.append(len(batch))
        try:
            outs = self.inner.complete_batch([req for req, _ in batch])
        except Exception as exc:  # noqa: BLE001 - a backend bug must not leave callers waiting forever
            outs = [exc] * len(batch)
        if len(outs) != len(batch):
            outs = [LLMError(f"backend {self.name} returned {len(outs)} results for {len(batch)} requests")] * len(batch)
        for (_, fut), out in zip(batch, outs):
            fut.set_result(out)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=True)
        self.inner.close()
