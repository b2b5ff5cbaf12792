"""The embedded default: a small instruction-tuned GGUF run in-process on CPU by llama.cpp (xllamacpp).

No key, no network. JSON-schema replies are grammar-constrained by llama.cpp, so they always parse; the schema's
string caps keep a looping small model from running out of tokens mid-string. The loaded model's control tokens are
broken wherever they appear in a message (agent.llm.special_tokens): llama.cpp would otherwise parse them there.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

from agent.errors import ConfigError, LLMError
from agent.llm.base import Completion, LLMBackend, Request
from agent.llm.embedded import embedded_gguf_path
from agent.llm.progress import generation_done, generation_progress, has_listener
from agent.llm.special_tokens import gguf_special_strings, neutralise_messages
from agent.settings import Settings
from agent.threads import choose_threads

_SERVERS: dict[tuple, object] = {}  # one loaded model per (path, ctx, threads) per process
_LOCK = threading.Lock()


class LocalBackend(LLMBackend):
    name = "local"

    def __init__(self, settings: Settings):
        self.path = model_path(settings)
        self.model = self.path.stem
        self.context_tokens = settings.llm.context_tokens
        self.threads = choose_threads(settings.llm.threads)  # recorded in each report's provenance
        self.special = gguf_special_strings(str(self.path))  # this model's control tokens, never parsed in content

    def _load(self):
        key = (str(self.path), self.context_tokens, self.threads)
        with _LOCK:
            if key not in _SERVERS:
                _SERVERS[key] = start_server(self.path, self.context_tokens, self.threads)
            return _SERVERS[key]

    def close(self) -> None:
        """Release the llama.cpp server this backend loaded: it stops (threads and memory) when released."""
        with _LOCK:
            _SERVERS.pop((str(self.path), self.context_tokens, self.threads), None)

    def complete(self, request: Request) -> Completion:
        server = self._load()
        body: dict = {
            "messages": neutralise_messages(request.messages, self.special),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "repeat_penalty": 1.1,  # small models loop without it
            "seed": 0,
        }
        if request.schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "reply", "schema": request.schema}}
        t0 = time.perf_counter()
        with _LOCK:  # one slot: requests are served one at a time
            try:
                out = _chat(server, body, t0)
            except Exception as exc:  # noqa: BLE001
                raise LLMError(f"local model failed: {exc}") from None
        seconds = time.perf_counter() - t0
        if not isinstance(out, dict) or "choices" not in out:
            err = out.get("error", out) if isinstance(out, dict) else out
            msg = err.get("message", err) if isinstance(err, dict) else err
            raise LLMError(f"local model failed: {str(msg)[:300]}")
        choice = out["choices"][0]
        usage = out.get("usage", {})
        return Completion(
            text=choice["message"].get("content") or "",
            model=self.model,
            tokens_in=int(usage.get("prompt_tokens", 0)),
            tokens_out=int(usage.get("completion_tokens", 0)),
            seconds=seconds,
            finish_reason=choice.get("finish_reason", ""),
        )

    def count_tokens(self, text: str) -> int:
        # SmolLM2's BPE averages ~4 chars/token on English prose; 3.2 leaves headroom for LaTeX and numbers.
        return int(len(text) / 3.2) + 1


def _chat(server, body: dict, t0: float) -> dict:
    """One chat completion. When someone listens for progress (agent.llm.progress) it is streamed and the chunks
    are put back together into the reply a non-streamed call returns; otherwise it is one plain call."""
    if not has_listener():
        return server.handle_chat_completions(body)
    parts: list[str] = []
    reply: dict = {"choices": [{"message": {"content": ""}, "finish_reason": ""}], "usage": {}}

    def on_chunk(chunk) -> None:
        if not isinstance(chunk, dict) or "error" in chunk:
            reply["error"] = chunk.get("error", chunk) if isinstance(chunk, dict) else chunk
            return
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                parts.append(delta["content"])
                generation_progress(len(parts), time.perf_counter() - t0)
            if choice.get("finish_reason"):
                reply["choices"][0]["finish_reason"] = choice["finish_reason"]
        if chunk.get("usage"):
            reply["usage"] = chunk["usage"]

    try:
        server.handle_chat_completions({**body, "stream": True, "stream_options": {"include_usage": True}}, on_chunk)
    finally:
        generation_done(len(parts), time.perf_counter() - t0)
    if "error" in reply:
        return {"error": reply["error"]}
    reply["choices"][0]["message"]["content"] = "".join(parts)
    return reply


def model_path(settings: Settings) -> Path:
    """The configured GGUF, or the embedded one."""
    path = Path(settings.llm.model).expanduser() if settings.llm.model else embedded_gguf_path()
    if not path.is_file():
        raise ConfigError(f"local model file not found: {path}")
    return path


def start_server(path: Path, context_tokens: int, threads: int, *, parallel: int = 1, host: str = "127.0.0.1",
                 port: int = 0, poll: int | None = None):
    """A llama.cpp server in this process: used in-process by LocalBackend, and over HTTP by `cli.py serve`.
    Each of the `parallel` slots gets the full context window."""
    try:
        import xllamacpp as xlc
    except ImportError:
        raise ConfigError("the local model needs xllamacpp: pip install xllamacpp") from None
    p = xlc.CommonParams()
    p.model.path = str(path)
    p.n_parallel = max(1, parallel)
    p.n_ctx = context_tokens * p.n_parallel  # llama.cpp splits n_ctx between the slots
    p.cpuparams.n_threads = p.cpuparams_batch.n_threads = threads
    if poll is not None:  # llama.cpp's busy-wait level (0-100); its default is kept: see agent.threads
        p.cpuparams.poll = p.cpuparams_batch.poll = poll
    p.hostnames, p.port = [host], port
    p.verbosity = -1  # llama.cpp's own logs would drown ours
    try:
        return xlc.Server(p)
    except Exception as exc:  # noqa: BLE001 - llama.cpp raises plain RuntimeErrors
        raise LLMError(f"cannot load local model {path.name}: {exc}") from None


def serve_openai(settings: Settings, host: str = "127.0.0.1", port: int = 8080, parallel: int = 1):
    """Serve the local model over llama.cpp's OpenAI-compatible HTTP endpoint (for the `openai` backend, other
    tools, or concurrent requests). Returns the running server; it stops when the object is released."""
    return start_server(model_path(settings), settings.llm.context_tokens, choose_threads(settings.llm.threads),
                        parallel=parallel, host=host, port=port)
