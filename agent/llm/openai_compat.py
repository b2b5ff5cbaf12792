"""Any OpenAI-compatible server (OpenAI, vLLM, llama.cpp server, Ollama, SGLang) through the `openai` client.

Structured output: `response_format={"type": "json_schema", ...}` first; servers that reject it (llama.cpp's
server answers 500, some answer 400) get `{"type": "json_object", "schema": ...}`, and the last resort is plain
`json_object` with the schema in the prompt. This changes only the request format, never the model. The format that
worked is remembered for the process.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from agent.errors import ConfigError, LLMError
from agent.llm.base import Completion, LLMBackend, Request
from agent.publish.render import render_prompt
from agent.settings import Settings
from agent.text.safe import clean_text

FORMATS = ("json_schema", "json_object+schema", "json_object")


def _response_format(kind: str, schema: dict) -> dict:
    if kind == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "dissection", "schema": schema, "strict": False}}
    if kind == "json_object+schema":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_object"}


def _with_schema_hint(messages: list[dict], schema: dict) -> list[dict]:
    hint = render_prompt("schema_hint", schema=json.dumps(schema))
    return [*messages[:-1], {**messages[-1], "content": messages[-1]["content"] + "\n\n" + hint}]


class OpenAIBackend(LLMBackend):
    name = "openai"

    def __init__(self, settings: Settings):
        try:
            import openai
        except ImportError:
            raise ConfigError("the openai backend needs the openai package") from None
        if not settings.llm.model:
            raise ConfigError("the openai backend needs a model name: set DISSECT_MODEL or --model")
        self._openai = openai
        self.model = settings.llm.model
        self.context_tokens = settings.llm.context_tokens
        self.base_url = settings.llm.base_url or None
        kwargs: dict[str, Any] = dict(
            api_key=settings.llm.api_key or "not-needed",  # local servers accept any key
            base_url=self.base_url,
            timeout=settings.llm.timeout_s,
            max_retries=2,  # the client retries 429/5xx/connection errors with backoff
        )
        self.client = openai.OpenAI(**kwargs)
        self._async_kwargs = kwargs
        self.concurrency = max(1, settings.digest.concurrency)
        self._format: str | None = None  # the structured-output format this server accepted
        self._async_clients: dict[int, tuple[asyncio.AbstractEventLoop, Any]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._loop_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self.deadline_s = settings.llm.timeout_s  # for the whole request, reply included

    # -- helpers ----------------------------------------------------------------------------------------
    def _where(self) -> str:
        return self.base_url or "api.openai.com"

    def _translate(self, exc: Exception) -> LLMError:
        o = self._openai
        if isinstance(exc, o.APITimeoutError):
            return LLMError(f"model {self.model} at {self._where()} timed out")
        if isinstance(exc, o.APIConnectionError):
            return LLMError(f"cannot reach the OpenAI-compatible server at {self._where()}")
        if isinstance(exc, o.AuthenticationError):
            return LLMError(f"the server at {self._where()} rejected the API key (set OPENAI_API_KEY)")
        if isinstance(exc, o.NotFoundError):
            return LLMError(f"the server at {self._where()} does not know model {self.model!r}")
        if isinstance(exc, o.APIStatusError):
            return LLMError(f"model {self.model} at {self._where()} failed: HTTP {exc.status_code}")
        return LLMError(f"model {self.model} failed: {exc}")

    def _is_format_rejection(self, exc: Exception) -> bool:
        """A server that does not support this response_format (llama.cpp's answers 500, others 400/422), as
        opposed to any other failure, which must surface as itself."""
        o = self._openai
        if not isinstance(exc, (o.BadRequestError, o.InternalServerError, o.UnprocessableEntityError)):
            return False
        text = str(getattr(exc, "body", "") or "") + " " + str(getattr(exc, "message", "") or exc)
        return any(w in text.lower() for w in ("response_format", "json_schema", "json schema", "schema"))

    def _kwargs(self, request: Request, fmt: str | None) -> dict:
        messages = request.messages
        kw: dict = dict(model=self.model, max_tokens=request.max_tokens, temperature=request.temperature)
        if request.schema is not None and fmt is not None:
            kw["response_format"] = _response_format(fmt, request.schema)
            if fmt == "json_object":
                messages = _with_schema_hint(messages, request.schema)
        kw["messages"] = messages
        return kw

    def _completion(self, resp, seconds: float) -> Completion:
        if not resp.choices:
            raise LLMError(f"model {self.model} returned no choices")
        choice = resp.choices[0]
        usage = resp.usage
        return Completion(
            text=choice.message.content or "",
            model=clean_text(getattr(resp, "model", None) or self.model)[:200],  # the server's word: untrusted
            tokens_in=getattr(usage, "prompt_tokens", 0) or 0,
            tokens_out=getattr(usage, "completion_tokens", 0) or 0,
            seconds=seconds,
            finish_reason=choice.finish_reason or "",
        )

    def _formats(self, request: Request) -> list[str | None]:
        if request.schema is None:
            return [None]
        return [self._format] if self._format else list(FORMATS)

    # -- the interface ----------------------------------------------------------------------------------
    def complete(self, request: Request) -> Completion:
        last: Exception | None = None
        for fmt in self._formats(request):
            t0 = time.perf_counter()
            try:
                resp = self._within_deadline(self._kwargs(request, fmt))
            except LLMError:
                raise
            except Exception as exc:  # noqa: BLE001 - translated below
                if fmt is not None and self._format is None and self._is_format_rejection(exc):
                    last = exc
                    continue
                raise self._translate(exc) from None
            if fmt is not None:
                self._format = fmt
            return self._completion(resp, time.perf_counter() - t0)
        raise self._translate(last) if last else LLMError("no structured-output format accepted")

    def complete_batch(self, requests: list[Request]) -> list[Completion | Exception]:
        """Concurrent requests, at most `concurrency` in flight, for sync callers (the pipeline). They run on this
        backend's own event-loop thread, so a caller that already runs a loop (a notebook) is not disturbed, and
        one async client serves every batch. Async callers use `acomplete_batch`."""
        if len(requests) <= 1 or self.concurrency == 1:
            return super().complete_batch(requests)
        if self._format is None and any(r.schema is not None for r in requests):
            # learn the structured-output format on the first request, then fan out the rest
            first = super().complete_batch(requests[:1])
            return first + self.complete_batch(requests[1:])
        return asyncio.run_coroutine_threadsafe(self.acomplete_batch(requests), self._background_loop()).result()

    def _deadline_error(self) -> LLMError:
        return LLMError(f"model {self.model} at {self._where()} timed out: no whole answer within "
                        f"{self.deadline_s:g} s (llm.timeout_s)")

    def _within_deadline(self, kwargs: dict[str, Any]) -> Any:
        """One request under a total deadline: the client's timeout is per read, so a server that trickles its reply
        a byte at a time would otherwise hold the run forever. The abandoned read ends with its own timeout."""
        with self._loop_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dissect-openai-sync")
        create: Any = self.client.chat.completions.create
        future = self._pool.submit(create, **kwargs)
        try:
            return future.result(timeout=self.deadline_s)
        except FutureTimeout:
            raise self._deadline_error() from None

    async def acomplete(self, request: Request) -> Completion:
        """One request from async code (the structured-output format must be known: see complete)."""
        fmt = self._format if request.schema is not None else None
        t0 = time.perf_counter()
        try:
            resp = await asyncio.wait_for(self._async_client().chat.completions.create(**self._kwargs(request, fmt)),
                                          timeout=self.deadline_s)
        except TimeoutError:
            raise self._deadline_error() from None
        except Exception as exc:  # noqa: BLE001 - translated
            raise self._translate(exc) from None
        return self._completion(resp, time.perf_counter() - t0)

    async def acomplete_batch(self, requests: list[Request]) -> list[Completion | Exception]:
        sem = asyncio.Semaphore(self.concurrency)

        async def one(req: Request) -> Completion | Exception:
            async with sem:
                try:
                    return await self.acomplete(req)
                except LLMError as exc:
                    return exc

        return list(await asyncio.gather(*(one(r) for r in requests)))

    # -- lifetime ---------------------------------------------------------------------------------------
    def _async_client(self):
        """One AsyncOpenAI client per event loop (an httpx async client belongs to the loop it was first used in)."""
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(id(loop))
        if client is None:
            client = self._async_clients[id(loop)] = (loop, self._openai.AsyncOpenAI(**self._async_kwargs))
        return client[1]

    def _background_loop(self) -> asyncio.AbstractEventLoop:
        with self._loop_lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="dissect-openai", daemon=True)
                self._thread.start()
            return self._loop

    def close(self) -> None:
        """Close the clients and stop the event-loop thread and the worker threads this backend started."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self.client.close()
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            for owner, client in list(self._async_clients.values()):
                if owner is loop:
                    asyncio.run_coroutine_threadsafe(client.close(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()
        self._loop = self._thread = None
        self._async_clients.clear()
