"""Thread defaults under load: the embedded model (llama.cpp) and the embedder (onnxruntime), each timed idle and
while every core is busy with a competing process, with the old default (one thread per core) and the new one
(agent.threads: at most half the cores, none of the busy ones). `--no-spin` adds llama.cpp with every core and its
threads sleeping instead of spin-waiting (poll 0), the alternative agent.threads measured and rejected.

    .venv/bin/python bench/threads_bench.py [--repeats 3] [--tokens 96] [--only model|embedder] [--no-spin]

Prints, for each setting, the median seconds idle and loaded and their ratio (loaded / idle): the smaller the
ratio, the better the setting degrades when the machine has other work. A figure, not a test.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.corpus.embeddings import _Encoder  # noqa: E402
from agent.data import notes_dir  # noqa: E402
from agent.llm import embedded_gguf_path  # noqa: E402
from agent.llm.local import start_server  # noqa: E402
from agent.threads import auto_threads, load_average, usable_cores  # noqa: E402


def _spin(stop_at: float) -> None:
    while time.time() < stop_at:
        pass


class CompetingLoad:
    """One busy process per usable core, for as long as the block runs (at most `limit_s`)."""

    def __init__(self, limit_s: float = 1800.0):
        self.limit_s = limit_s
        self.procs: list[mp.Process] = []

    def __enter__(self) -> CompetingLoad:
        stop_at = time.time() + self.limit_s
        self.procs = [mp.Process(target=_spin, args=(stop_at,), daemon=True) for _ in range(usable_cores())]
        for p in self.procs:
            p.start()
        time.sleep(1.0)  # let the scheduler see them
        return self

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.join()


def median_seconds(work: Callable[[], None], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def generation(threads: int, poll: int | None, tokens: int) -> Callable[[], None]:
    server = start_server(embedded_gguf_path(), 2048, threads, poll=poll)
    prompt = " ".join((notes_dir() / "reward-hacking.md").read_text().split()[:250])
    body = {"messages": [{"role": "user", "content": f"Summarise in detail:\n\n{prompt}"}], "max_tokens": tokens,
            "temperature": 0.0, "seed": 0, "ignore_eos": True}
    server.handle_chat_completions(body)  # warm

    def run() -> None:
        server.handle_chat_completions(body)
    return run


def embedding(threads: int) -> Callable[[], None]:
    encoder = _Encoder(threads)
    texts = [p for note in sorted(notes_dir().glob("*.md")) for p in note.read_text().split("\n\n") if len(p) > 200]
    texts = (texts * 4)[:64]
    encoder.encode_batch(texts[:8])  # warm

    def run() -> None:
        for i in range(0, len(texts), 16):
            encoder.encode_batch(texts[i : i + 16])
    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=96, help="tokens generated per model call")
    ap.add_argument("--only", choices=["model", "embedder"], help="time only the model or only the embedder")
    ap.add_argument("--no-spin", action="store_true", help="add the model on every core with sleeping threads")
    args = ap.parse_args()
    cores = usable_cores()
    auto = auto_threads(cores, 0.0)  # the choice on an idle machine; under load it only gets smaller
    print(f"{cores} usable cores, load average {load_average():.2f} at start; old default: {cores} threads; "
          f"new default: {auto} thread(s) on an idle machine, fewer under load")
    settings = [
        ("model, old default", lambda: generation(cores, None, args.tokens)),
        ("model, new default", lambda: generation(auto, None, args.tokens)),
        ("embedder, old default", lambda: embedding(cores)),
        ("embedder, new default", lambda: embedding(auto)),
    ]
    if args.no_spin:
        settings.insert(2, ("model, all cores, poll 0", lambda: generation(cores, 0, args.tokens)))
    print(f"{'setting':<24} {'idle s':>8} {'loaded s':>9} {'loaded/idle':>12}")
    for label, make in settings:
        if args.only and not label.startswith(args.only):
            continue
        work = make()
        idle = median_seconds(work, args.repeats)
        with CompetingLoad():
            loaded = median_seconds(work, args.repeats)
        print(f"{label:<24} {idle:8.2f} {loaded:9.2f} {loaded / idle:11.1f}x", flush=True)
    print(f"(median of {args.repeats}; model: {args.tokens} tokens after a ~350-token prompt; embedder: 64 "
          f"paragraphs in batches of 16; competing load: {cores} busy processes)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
