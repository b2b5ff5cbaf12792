"""Throughput of the gpu backend against the hardware's limit, and papers/minute for a digest-sized batch.

Run on the GPU machine (see docs/gpu.md):   python bench/gpu_generate.py --shapes qwen2-0.5b
                                            python bench/gpu_generate.py --shapes llama-3-8b --skip-papers
Check that it runs on a CPU:                python bench/gpu_generate.py --smoke

Part 1 drives GpuBackend's own batch generation (padding, grammar, stopping, static cache, compile) over
RANDOM-WEIGHT models of real shapes: tokens/s are honest, the text is noise. "decode tok/s" excludes prefill
(a max_tokens=1 run of the same batch is subtracted); "x HBM bound" divides it by bandwidth / weight bytes, the
batch-1 decode ceiling (above 1 at larger batches is the point of batching).
Part 2 sends N dissection prompts of realistic length, constrained by the DissectionDraft schema, through
GpuBackend.complete_batch, loaded from a folder like any model (random weights unless --model is given).
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from agent.llm.base import Completion, Request  # noqa: E402
from agent.llm.gpu import GpuBackend  # noqa: E402
from agent.llm.gpu_grammar import validate  # noqa: E402
from agent.models import DissectionDraft  # noqa: E402
from agent.publish.files import write_json  # noqa: E402
from agent.settings import Settings  # noqa: E402
from bench.gpu_synth import build_model, build_tokenizer, save_random_model  # noqa: E402

SCHEMA = DissectionDraft.model_json_schema()
WORDS = ("alignment reward model oversight deceptive scaling benchmark capability evaluation policy agent "
         "human feedback preference honesty interpretability circuit training objective generalisation risk "
         "we show that the results suggest however our method outperforms baseline significantly").split()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny shape, batch 1 and 2, a few tokens (runs on CPU)")
    p.add_argument("--shapes", default="qwen2-0.5b,llama-3-8b")
    p.add_argument("--batches", default="1,8,16,32,64")
    p.add_argument("--prompt-len", type=int, default=512)
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--modes", default="eager,compiled", help="eager, compiled or both")
    p.add_argument("--constrained-batches", default="1,32", help="batch sizes also run grammar-constrained")
    p.add_argument("--bandwidth", type=float, default=3.35e12, help="memory bandwidth, bytes/s (H100 SXM: 3.35e12)")
    p.add_argument("--papers", type=int, default=32)
    p.add_argument("--paper-prompt-tokens", type=int, default=4000)
    p.add_argument("--paper-max-tokens", type=int, default=1400)
    p.add_argument("--model", default="", help="a real model folder/GGUF for part 2 (default: random qwen2-0.5b)")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-papers", action="store_true")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--json", default="", help="also write the results here")
    args = p.parse_args(argv)
    if args.smoke:
        args.shapes, args.batches, args.constrained_batches = "tiny", "1,2", "2"
        args.prompt_len, args.new_tokens = 32, 8
        args.papers, args.paper_prompt_tokens, args.paper_max_tokens = 4, 200, 48
    return args


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed_generate(backend: GpuBackend, prompts, reqs) -> tuple[float, int]:
    sync()
    t0 = time.perf_counter()
    out = backend._generate(prompts, reqs, None)  # the backend's one-batch path, without planning or retries
    sync()
    return time.perf_counter() - t0, sum(c.tokens_out for c in out)


def throughput(args, settings: Settings) -> list[dict]:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    tokenizer = build_tokenizer()
    specials = set(tokenizer.all_special_ids)
    vocab = [i for i in range(len(tokenizer)) if i not in specials]
    rows = []
    for shape in args.shapes.split(","):
        model = build_model(shape, tokenizer, dtype=dtype, device=device)
        weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
        bound = args.bandwidth / weight_bytes
        print(f"# {shape}: {weight_bytes / 1e9:.2f} GB of {str(dtype).split('.')[-1]} weights (RANDOM), "
              f"batch-1 HBM bound {bound:.1f} tok/s at {args.bandwidth:.3g} B/s", flush=True)
        for mode in args.modes.split(","):
            backend = GpuBackend.wrap(settings, model, tokenizer, shape, compile=mode == "compiled",
                                      max_batch=max(ints(args.batches)), retry_invalid=False)
            for batch in ints(args.batches):
                for constrained in (False, True) if batch in ints(args.constrained_batches) else (False,):
                    rng = random.Random(batch)
                    prompts = [[rng.choice(vocab) for _ in range(args.prompt_len)] for _ in range(batch)]
                    schema = SCHEMA if constrained else None
                    full = [Request([], schema, args.new_tokens) for _ in range(batch)]
                    one = [Request([], schema, 1) for _ in range(batch)]
                    # first calls compile (compiled mode) and warm the allocator; they are timed apart
                    warm, _ = timed_generate(backend, prompts, full)
                    timed_generate(backend, prompts, one)
                    t_pre, _ = timed_generate(backend, prompts, one)
                    t_all, toks = timed_generate(backend, prompts, full)
                    decode = (toks - batch) / max(t_all - t_pre, 1e-9)
                    row = dict(shape=shape, weights="random", mode=mode, batch=batch, prompt=args.prompt_len,
                               new=args.new_tokens, constrained=constrained, tokens=toks, seconds=round(t_all, 3),
                               tok_s=round(toks / t_all, 1), decode_tok_s=round(decode, 1),
                               x_hbm_bound=round(decode / bound, 3), first_call_s=round(warm, 1), device=device)
                    rows.append(row)
                    print_row(row, len(rows) == 1)
        del model, backend
        if device == "cuda":
            torch.cuda.empty_cache()
    return rows


def print_row(r: dict, header: bool) -> None:
    if header:
        print(f"{'shape':<11} {'mode':<8} {'batch':>5} {'prompt':>6} {'new':>5} {'constr':>6} {'tok/s':>9} "
              f"{'decode tok/s':>12} {'x HBM bound':>11} {'1st call s':>10}")
    print(f"{r['shape']:<11} {r['mode']:<8} {r['batch']:>5} {r['prompt']:>6} {r['new']:>5} "
          f"{'yes' if r['constrained'] else 'no':>6} {r['tok_s']:>9.1f} {r['decode_tok_s']:>12.1f} "
          f"{r['x_hbm_bound']:>11.3f} {r['first_call_s']:>10.1f}", flush=True)


def paper_prompt(backend: GpuBackend, rng: random.Random, target_tokens: int) -> list[dict]:
    words = []
    while backend.count_tokens(" ".join(words)) < target_tokens:
        words += [rng.choice(WORDS) for _ in range(200)]
    paper = " ".join(words)
    while backend.count_tokens(paper) > target_tokens:
        paper = paper[: int(len(paper) * 0.97)]
    return [{"role": "system", "content": "You dissect AI-alignment papers. Reply with JSON only."},
            {"role": "user", "content": f"Dissect the paper between the markers.\n<paper>\n{paper}\n</paper>"}]


def papers_per_minute(args, settings: Settings) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        if args.model:
            path, weights = args.model, "real"
        else:
            dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
            shape = "tiny" if args.smoke else "qwen2-0.5b"
            path, weights = str(save_random_model(Path(tmp) / shape, shape, dtype=dtype)), f"random {shape}"
        s = settings.model_copy(update=dict(model=path, max_output_tokens=args.paper_max_tokens))
        t0 = time.perf_counter()
        backend = GpuBackend(s, retry_invalid=False)
        load_s = time.perf_counter() - t0
        rng = random.Random(0)
        reqs = [Request(paper_prompt(backend, rng, int(args.paper_prompt_tokens * rng.uniform(0.8, 1.2))),
                        SCHEMA, args.paper_max_tokens) for _ in range(args.papers)]
        result = dict(weights=weights, model=backend.model, papers=args.papers, device=backend.device.type,
                      compiled=backend.compiled, load_s=round(load_s, 1))
        for run in ("cold", "warm"):  # cold includes compiling the decode graphs; warm is the steady state
            before = dict(backend.stats)
            sync()
            t0 = time.perf_counter()
            out = backend.complete_batch(reqs)
            sync()
            wall = time.perf_counter() - t0
            valid = sum(validate(c.text, SCHEMA) is None
                        for c, r in zip(out, reqs, strict=True) if isinstance(c, Completion))
            result[run] = dict(seconds=round(wall, 1), papers_per_min=round(args.papers / wall * 60, 1),
                               valid=valid, tokens_in=backend.stats["tokens_in"] - before["tokens_in"],
                               tokens_out=backend.stats["tokens_out"] - before["tokens_out"],
                               generate_calls=backend.stats["generate_calls"] - before["generate_calls"])
        result["stats"] = backend.stats
    print(f"# papers/minute ({weights} weights, {args.papers} dissection prompts of ~{args.paper_prompt_tokens} "
          f"tokens, max {args.paper_max_tokens} out, DissectionDraft schema, {result['device']}, "
          f"compiled={result['compiled']}, load {result['load_s']} s)")
    for run in ("cold", "warm"):
        r = result[run]
        print(f"{run:<5} {r['papers_per_min']:>8.1f} papers/min  {r['seconds']:>7.1f} s  valid {r['valid']}/"
              f"{args.papers}  tokens in {r['tokens_in']} out {r['tokens_out']}  generate calls {r['generate_calls']}")
    if weights.startswith("random"):
        print("  (random weights write noise up to every string's maxLength, so replies run to max tokens and many "
              "are cut off: an upper bound on work per paper, not a quality figure)")
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = Settings(backend="gpu", model="unused", threads=args.threads, context_tokens=8192)
    device = "cuda: " + torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu (NOT a GPU figure)"
    print(f"# torch {torch.__version__}, device {device}")
    results: dict = {}
    if not args.skip_throughput:
        results["throughput"] = throughput(args, settings)
    if not args.skip_papers:
        results["papers"] = papers_per_minute(args, settings)
    if args.json:
        write_json(Path(args.json), results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
