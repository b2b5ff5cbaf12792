"""CPU thread counts for the local model (llama.cpp) and the embedder (onnxruntime) that degrade under load.

Both libraries default to one thread per logical core. A llama.cpp step ends in a barrier where every thread waits
for the slowest; on a machine that is doing other work some thread is always descheduled, so a run with every core
slows down by an order of magnitude (a dissection took 620 s instead of 57 s with one thread, on 2 busy cores;
bench/threads_bench.py: 96 tokens in 1.0 s idle, 29.6 s with a competing process per core). So the default is at
most half the usable cores (logical cores include SMT siblings, which add little to matrix work), never more than
the cores idle right now, and at least one. The libraries' wait policy is left as it is: making llama.cpp's threads
sleep instead of spin made two threads slower still under contention (34.9 s for the same 96 tokens).
`settings.llm.threads` (DISSECT_THREADS) overrides the choice.
"""
from __future__ import annotations

import math
import os


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask, e.g. a container's cpuset), else all of them."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def load_average() -> float:
    """The one-minute load average; 0.0 where the platform has none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def auto_threads(cores: int | None = None, load: float | None = None) -> int:
    """Half the usable cores, fewer when others are busy (never more than the idle ones), at least one."""
    cores = usable_cores() if cores is None else max(1, cores)
    load = load_average() if load is None else max(0.0, load)
    idle = cores - math.ceil(load)
    return max(1, min(cores // 2, idle))


def choose_threads(configured: int | None) -> int:
    """The thread count to use: the configured one when set (> 0), else `auto_threads()`."""
    return configured if configured and configured > 0 else auto_threads()
