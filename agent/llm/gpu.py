"""In-process batched generation with transformers: many prompts per `generate`, for digests and backfills.

On CUDA: bf16 weights, a static KV cache and compiled decoding (CUDA graphs), because eager `generate` pays
~110 ms of Python and kernel-launch overhead per step whatever the model size (see NOTES-offline.md). The
compiled graphs live on the model object, which is loaded once per process and shared by every backend built
for the same path, so the ~45 s first compile is paid once per digest. Batches are padded to a few standard
sizes and lengths so the same graphs are replayed instead of recompiled.
On CPU (tests, CI, machines without CUDA) the same code runs eager in fp32, in small fixed batches.

Structured output is grammar-constrained (xgrammar, see gpu_grammar.py); a reply that still fails validation
(e.g. cut off by its token budget) is regenerated alone, so one bad paper never sinks its batch.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from agent.errors import LLMError
from agent.llm.base import Completion, LLMBackend, Request
from agent.llm.special_tokens import neutralise_messages, tokenizer_special_strings
from agent.settings import Settings

log = logging.getLogger("dissect.llm.gpu")

EXTRA_HINT = "the gpu backend needs the [gpu] extra: pip install -e '.[gpu]'"
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64)  # compiled batches are padded up to one of these: a few graphs, reused
CPU_BATCH = 4  # CPU decoding is compute-bound: bigger batches only add latency to every paper
LENGTH_BUCKET = 64  # compiled prompts are left-padded to a multiple of this...
NEW_TOKENS_BUCKET = 128  # ...and the token budget rounded up to a multiple of this (static cache shapes)
RETRY_REPETITION_PENALTY = 1.15  # a solo retry must differ from the greedy reply that failed
MEMORY_HEADROOM = 0.8  # share of free GPU memory the KV cache and activations may take

_MODELS: dict[tuple, tuple[Any, Any]] = {}  # (path, device, dtype) -> (model, tokenizer), one per process
_LOAD_LOCK = threading.Lock()


def _require_extra() -> None:
    try:
        import jsonschema  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
        import xgrammar  # noqa: F401
    except ImportError as exc:
        raise LLMError(f"{EXTRA_HINT} (missing: {exc.name})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def escape_control_chars(text: str) -> str:
    """The grammar's JSON strings admit raw control characters (U+0000-U+001F), which strict JSON parsers
    reject; re-serialising escapes them and changes nothing else a parser sees."""
    if not any(ord(c) < 0x20 for c in text):
        return text
    try:
        return json.dumps(json.loads(text, strict=False), ensure_ascii=False, separators=(",", ":"))
    except ValueError:
        return text  # not JSON at all: validation reports it


def _load(path: Path, device: Any, dtype: Any) -> tuple[Any, Any]:
    """Model and tokenizer from a local HF folder or GGUF file; never from the hub."""
    key = (str(path.resolve()), str(device), str(dtype))
    with _LOAD_LOCK:
        if key in _MODELS:
            return _MODELS[key]
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if path.is_file():
            if path.suffix.lower() != ".gguf":
                raise LLMError(f"the gpu backend loads a Hugging Face folder or a .gguf file, not {path.name}")
            folder, extra = path.parent, {"gguf_file": path.name}
        elif (path / "config.json").is_file():
            folder, extra = path, {}
        else:
            raise LLMError(f"not a Hugging Face model folder (no config.json): {path}")
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, **extra)
            model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=dtype, **extra)
        except Exception as exc:  # noqa: BLE001 - transformers raises many kinds; the user needs one line
            raise LLMError(f"cannot load gpu model {path.name}: {_first_line(exc)}") from None
        model.to(device).eval()
        tokenizer.padding_side = "left"  # decoding appends on the right: every row's last token must be real
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        if not getattr(tokenizer, "chat_template", None):
            raise LLMError(f"gpu model {path.name} has no chat template: use an instruction-tuned model")
        _MODELS[key] = (model, tokenizer)
        return _MODELS[key]


def _row_budget_criteria(start: int, budgets: list[int], device: Any):
    """Stops each row at its own request's max_tokens inside one shared `generate`."""
    import torch
    from transformers import StoppingCriteria

    class RowBudget(StoppingCriteria):
        def __init__(self) -> None:
            self.limit = torch.tensor([start + b for b in budgets], device=device)

        def __call__(self, input_ids, scores, **kwargs):
            return input_ids.shape[1] >= self.limit

    return RowBudget()


class GpuBackend(LLMBackend):
    name = "gpu"

    def __init__(self, settings: Settings, *, compile: bool | None = None, max_batch: int | None = None,
                 retry_invalid: bool = True):
        """`compile`: None = compiled static-cache decoding on CUDA, eager on CPU; True/False forces it (bench).
        `max_batch` caps the batch (default 64 on CUDA, 4 on CPU). `retry_invalid=False` keeps invalid replies
        as errors without solo retries (the bench uses it to time one pass)."""
        _require_extra()
        if not settings.llm.model:
            raise LLMError("the gpu backend needs a model: set DISSECT_MODEL to a Hugging Face folder or a GGUF file")
        path = Path(settings.llm.model).expanduser()
        if not path.exists():
            raise LLMError(f"gpu model not found: {path}")
        device, dtype = self._pick_device(settings)
        model, tokenizer = _load(path, device, dtype)
        name = path.name.removesuffix(".gguf") if path.is_file() else path.name
        self._setup(settings, model, tokenizer, name, device, compile, max_batch, retry_invalid)

    @classmethod
    def wrap(cls, settings: Settings, model: Any, tokenizer: Any, name: str, *, compile: bool | None = None,
             max_batch: int | None = None, retry_invalid: bool = True) -> GpuBackend:
        """A backend around a model already in memory (the benchmark's random-weight shapes)."""
        _require_extra()
        self = cls.__new__(cls)
        tokenizer.padding_side = "left"
        self._setup(settings, model, tokenizer, name, model.device, compile, max_batch, retry_invalid)
        return self

    @staticmethod
    def _pick_device(settings: Settings):
        import torch

        if torch.cuda.is_available():
            return torch.device("cuda"), torch.bfloat16
        log.warning("CUDA is not available: the gpu backend runs on CPU (fp32, eager), slowly")
        if settings.llm.threads:
            torch.set_num_threads(settings.llm.threads)  # oversubscribed OpenMP threads spin: let the user cap them
        return torch.device("cpu"), torch.float32

    def _setup(self, settings, model, tokenizer, name, device, compile, max_batch, retry_invalid) -> None:
        import torch

        self._torch = torch
        self.settings = settings
        self.device = torch.device(device)
        self.dtype = next(model.parameters()).dtype
        self.compiled = (self.device.type == "cuda") if compile is None else compile
        self.model = name
        self.hf_model, self.tokenizer = model, tokenizer
        self.special = tokenizer_special_strings(tokenizer)  # broken wherever they appear in a message
        cfg = model.config
        self.context_tokens = min(settings.llm.context_tokens, getattr(cfg, "max_position_embeddings", None) or 1 << 30)
        self.vocab_size = model.get_output_embeddings().weight.shape[0]
        eos = model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        tok_eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
        self.stop_ids = sorted({*eos, *tok_eos})
        self.batch_cap = max_batch or (BATCH_SIZES[-1] if self.device.type == "cuda" else CPU_BATCH)
        self.retry_invalid = retry_invalid
        self.stats = {"generate_calls": 0, "oom_halvings": 0, "solo_retries": 0, "tokens_in": 0, "tokens_out": 0}
        self._grammars: Any = None  # GrammarCache, built on first use
        self._compile_config = self._make_compile_config() if self.compiled else None

    # ---- public interface ----------------------------------------------------------------------------

    def complete(self, request: Request) -> Completion:
        out = self.complete_batch([request])[0]
        if isinstance(out, Exception):
            raise out
        return out

    def complete_batch(self, requests: list[Request]) -> list[Completion | Exception]:
        results: list[Completion | Exception | None] = [None] * len(requests)
        prepared: list[tuple[int, list[int], Request]] = []
        for i, req in enumerate(requests):
            try:
                prepared.append((i, *self._prepare(req)))
            except LLMError as exc:
                results[i] = exc
        for batch in self._plan(prepared):
            for (i, _, _), out in zip(batch, self._run(batch), strict=True):
                results[i] = out
        for i, ids, req in prepared:
            done = results[i]
            assert done is not None  # every prepared request was in some batch
            if isinstance(done, Completion) and req.schema is not None:
                done.text = escape_control_chars(done.text)
                reason = self.check_output(done.text, req.schema)
                if reason is not None:
                    results[i] = self._retry_alone((i, ids, req), reason)
        return results  # type: ignore[return-value]

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def check_output(self, text: str, schema: dict[str, Any]) -> str | None:
        """None when the reply satisfies the schema, else why not (one line)."""
        from agent.llm.gpu_grammar import validate

        return validate(text, schema)

    # ---- planning ------------------------------------------------------------------------------------

    def _prepare(self, req: Request) -> tuple[list[int], Request]:
        messages = neutralise_messages(req.messages, self.special)  # typed control tokens stay text
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        room = self.context_tokens - len(ids)
        if room < 16:
            raise LLMError(f"prompt of {len(ids)} tokens does not fit the {self.context_tokens}-token context window")
        max_tokens = max(1, min(req.max_tokens, self.settings.llm.max_output_tokens, room))
        if req.schema is not None:
            self._grammar(req.schema)  # compiled (and cached) now, so a bad schema fails its request only
        return ids, Request(req.messages, req.schema, max_tokens, req.temperature)

    def _plan(self, items: list[tuple[int, list[int], Request]]) -> list[list[tuple[int, list[int], Request]]]:
        """Batches of similar prompt length (a long prompt must not make 63 short ones pay for its padding),
        as big as memory allows; one sampling temperature per batch, since `generate` takes one."""
        groups: dict[float, list] = defaultdict(list)
        for item in items:
            groups[round(item[2].temperature, 4)].append(item)
        batches = []
        for group in groups.values():
            group.sort(key=lambda it: len(it[1]), reverse=True)
            current: list = []
            for item in group:
                if current:
                    longest = len(current[0][1])
                    cache_len = longest + max(it[2].max_tokens for it in current + [item])
                    # a new bucket when this prompt is under half the batch's longest, or the batch is full
                    if len(item[1]) * 2 < longest or len(current) >= self._batch_size_for(cache_len):
                        batches.append(current)
                        current = []
                current.append(item)
            if current:
                batches.append(current)
        return batches

    def _batch_size_for(self, cache_len: int) -> int:
        """How many rows of `cache_len` tokens fit in free GPU memory (KV cache + one layer's activations +
        fp32 logits), rounded down to a standard size; a fixed small batch on CPU."""
        if self.device.type != "cuda":
            return self.batch_cap
        cfg = self.hf_model.config
        free, _ = self._torch.cuda.mem_get_info(self.device)
        heads = cfg.num_attention_heads
        kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
        elem = self._torch.finfo(self.dtype).bits // 8
        kv = 2 * cfg.num_hidden_layers * kv_heads * head_dim * elem * cache_len
        act = cache_len * (4 * cfg.hidden_size + 3 * getattr(cfg, "intermediate_size", 4 * cfg.hidden_size)) * elem
        per_row = kv + act + 3 * 4 * self.vocab_size
        fit = int(free * MEMORY_HEADROOM // per_row)
        return max([b for b in BATCH_SIZES if b <= min(fit, self.batch_cap)] or [1])

    # ---- generation ----------------------------------------------------------------------------------

    def _run(self, batch: list, repetition_penalty: float | None = None) -> list[Completion | Exception]:
        """Generate for one batch; on CUDA out-of-memory, halve it (and the cap for the rest of the run)."""
        torch = self._torch
        try:
            return self._generate([ids for _, ids, _ in batch], [req for _, _, req in batch], repetition_penalty)
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            if len(batch) == 1:
                n = len(batch[0][1])
                return [LLMError(f"gpu out of memory on a single prompt of {n} tokens: lower max_output_tokens")]
            half = len(batch) // 2
            self.batch_cap = max(b for b in BATCH_SIZES if b <= half)
            self.stats["oom_halvings"] += 1
            log.warning("gpu out of memory at batch %d: retrying as two batches of <= %d", len(batch), half)
            return self._run(batch[:half], repetition_penalty) + self._run(batch[half:], repetition_penalty)
        except LLMError as exc:
            return [exc] * len(batch)
        except RuntimeError as exc:  # a CUDA or compiler failure: each request of the batch reports it
            err = LLMError(f"gpu generation failed: {_first_line(exc)}")
            return [err] * len(batch)

    def _generate(self, prompts: list[list[int]], reqs: list[Request], repetition_penalty: float | None):
        torch = self._torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        n = len(prompts)
        rows, budgets = list(prompts), [r.max_tokens for r in reqs]
        grammars = [self._grammar(r.schema) if r.schema is not None else None for r in reqs]
        if self.compiled and n <= BATCH_SIZES[-1]:
            # filler rows (copies that stop after one token) keep the batch at a standard, already-compiled size
            fill = next(b for b in BATCH_SIZES if b >= n) - n
            rows, budgets, grammars = rows + [prompts[-1]] * fill, budgets + [1] * fill, grammars + [None] * fill
        enc = self.tokenizer.pad({"input_ids": rows}, padding=True, return_tensors="pt",
                                 pad_to_multiple_of=LENGTH_BUCKET if self.compiled else None)
        width = enc["input_ids"].shape[1]
        max_new = max(budgets)
        if self.compiled:
            bucketed = -(-max_new // NEW_TOKENS_BUCKET) * NEW_TOKENS_BUCKET
            max_new = min(bucketed, max(max_new, self.context_tokens - width))
        # left padding to a length bucket can take up to LENGTH_BUCKET - 1 tokens of the window: never run past it
        max_new = max(1, min(max_new, self.context_tokens - width))
        kwargs: dict[str, Any] = dict(
            max_new_tokens=max_new, pad_token_id=self.tokenizer.pad_token_id, eos_token_id=self.stop_ids,
            stopping_criteria=StoppingCriteriaList([_row_budget_criteria(width, budgets, self.device)]),
            repetition_penalty=repetition_penalty, top_p=None, top_k=None,
        )
        temperature = reqs[0].temperature
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature)
        else:
            kwargs.update(do_sample=False, temperature=None)
        processor = None
        if any(g is not None for g in grammars):
            from agent.llm.gpu_grammar import BatchGrammarProcessor

            processor = BatchGrammarProcessor(grammars, self.vocab_size)
            kwargs["logits_processor"] = LogitsProcessorList([processor])
        if self.compiled:
            kwargs.update(cache_implementation="static", compile_config=self._compile_config)
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = self.hf_model.generate(input_ids=enc["input_ids"].to(self.device),
                                         attention_mask=enc["attention_mask"].to(self.device), **kwargs)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        self.stats["generate_calls"] += 1
        new_tokens = out[:n, width:].tolist()
        stop = set(self.stop_ids)
        results: list[Completion] = []
        for i in range(n):
            toks = new_tokens[i][: budgets[i]]
            end = next((k for k, t in enumerate(toks) if t in stop), None)
            finish = "stop" if end is not None else "length"
            toks = toks if end is None else toks[:end]
            results.append(Completion(
                text=self.tokenizer.decode(toks, skip_special_tokens=True), model=self.model,
                tokens_in=len(prompts[i]), tokens_out=len(toks), seconds=round(seconds, 3), finish_reason=finish,
                extra={"device": self.device.type, "batch_size": n, "compiled": self.compiled,
                       "constrained": grammars[i] is not None},
            ))
        self.stats["tokens_in"] += sum(c.tokens_in for c in results)
        self.stats["tokens_out"] += sum(c.tokens_out for c in results)
        return results

    def _retry_alone(self, item: tuple[int, list[int], Request], reason: str) -> Completion | Exception:
        attempts = max(1, self.settings.llm.retries) if self.retry_invalid else 0
        for attempt in range(1, attempts + 1):
            self.stats["solo_retries"] += 1
            out = self._run([item], repetition_penalty=RETRY_REPETITION_PENALTY)[0]
            if isinstance(out, Exception):
                return out
            out.text = escape_control_chars(out.text)
            reason = self.check_output(out.text, item[2].schema or {}) or ""
            if not reason:
                out.extra["solo_retries"] = attempt
                return out
        return LLMError(f"gpu model {self.model}: reply does not validate against the schema "
                        f"after {attempts} solo retries: {reason}")

    def _grammar(self, schema: dict[str, Any]):
        if self._grammars is None:
            from agent.llm.gpu_grammar import GrammarCache  # deferred: xgrammar is part of the optional extra

            self._grammars = GrammarCache(self.tokenizer, self.vocab_size, self.stop_ids)
        grammars: Any = self._grammars
        try:
            return grammars.get(schema)
        except (RuntimeError, ValueError) as exc:
            raise LLMError(f"the gpu backend cannot compile this JSON schema: {_first_line(exc)}") from None

    def _make_compile_config(self):
        from transformers import CompileConfig

        dynamo = self._torch._dynamo.config
        # every (batch size, cache length) pair is one graph; the default limit of 8 would fall back to eager
        for knob in ("cache_size_limit", "recompile_limit"):
            if hasattr(dynamo, knob):
                setattr(dynamo, knob, max(getattr(dynamo, knob), 64))
        if self.device.type == "cuda":
            return CompileConfig(fullgraph=True, mode="reduce-overhead")
        cfg = CompileConfig(fullgraph=False, mode="default")  # CUDA graphs do not exist on CPU
        cfg._compile_all_devices = True  # transformers otherwise compiles only on accelerators
        return cfg
