#!/usr/bin/env python3
"""Benchmark `cli.py dissect` on the embedded defaults: wall time and peak memory (cold and cached), time per graph
stage, tokens in/out and grounding over the fixture papers, each run as a user runs it (a fresh process).

arXiv is replaced by the test fixture server on 127.0.0.1 (the same papers the tests use), so no network is needed.
Usage:  python bench/dissect_bench.py [--papers 2601.10160,2601.11234,...] [--backend local]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.catalog import FULLTEXT_PAPERS, serve_arxiv_catalog  # noqa: E402
from tests.support.fixture_server import FixtureServer  # noqa: E402

# Runs the CLI as a child and reports that child's peak RSS (RUSAGE_CHILDREN covers only it).
PEAK = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
        "print('PEAK_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
        "sys.exit(r.returncode)")

MODEL_STAGES = {"draft", "revise", "map", "critic", "rewrite"}  # the model passes' stage names

def run(source: str, env: dict, cwd: Path) -> tuple[dict | None, float, int, str]:
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", PEAK, sys.executable, str(ROOT / "cli.py"), "dissect", source, "--json"],
                       capture_output=True, text=True, env=env, cwd=cwd)
    wall = time.perf_counter() - t0
    peak = next((int(line.split()[1]) for line in p.stderr.splitlines() if line.startswith("PEAK_KB")), 0)
    err = next((line for line in p.stderr.splitlines() if line.startswith("error")), "")
    return (json.loads(p.stdout) if p.returncode == 0 else None), wall, peak // 1024, err


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--papers", default=",".join(p.id for p in FULLTEXT_PAPERS))
    ap.add_argument("--backend", default="local")
    args = ap.parse_args()
    server = FixtureServer()
    serve_arxiv_catalog(server)
    work = Path(tempfile.mkdtemp(prefix="dissect-bench-"))
    # data (and the model-call log the calls column counts) in the work dir, not the user's data folder
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "DISSECT_BACKEND": args.backend,
           "DISSECT_DATA_DIR": str(work / "data"),
           "DISSECT_ARXIV_API_URL": server.url_for("/api/query"), "DISSECT_ARXIV_HTML_URL": server.url + "/html/{id}",
           "DISSECT_ARXIV_PDF_URL": server.url + "/pdf/{id}", "DISSECT_ARXIV_DELAY": "0.05"}
    print(f"machine: {os.cpu_count()} cores; backend {args.backend}; work dir {work}")
    header = (f"{'paper':<11} {'origin':<15} {'run':<6} {'wall s':>7} {'peak MB':>8} {'in tok':>7} {'out tok':>7} "
              f"{'calls':>5} {'ground':>6} {'1st':>5}  stages (s)")
    print("calls: model calls this run made; ground: quotes found in the final report; 1st: in the first draft")
    print(header)
    print("-" * len(header))
    rows = []
    log = work / "data" / "logs" / "llm.jsonl"
    n_calls = lambda: log.read_text().count("\n") if log.exists() else 0  # noqa: E731
    for pid in args.papers.split(","):
        for label in ("cold", "cached"):
            before = n_calls()
            result, wall, peak, err = run(pid, env, work)
            new_calls = n_calls() - before
            if result is None:
                print(f"{pid:<11} {'':<15} {label:<6} {wall:7.1f} {peak:8d}  FAILED: {err}")
                continue
            p = result["provenance"]
            # a cached run reuses the earlier result, provenance included: its stage times are the first run's
            stages = ("(earlier result reused)" if label == "cached" and new_calls == 0 else
                      " ".join(f"{k}={v:.1f}" for k, v in p["stage_seconds"].items() if v >= 0.05))
            print(f"{pid:<11} {result['scan']['text_origin']:<15} {label:<6} {wall:7.1f} {peak:8d} "
                  f"{p['tokens_in']:7d} {p['tokens_out']:7d} {new_calls:5d} "
                  f"{p['grounding_rate']:6.0%} {p['first_pass_grounding'] or 0:5.0%}  {stages}")
            rows.append((label, wall, peak, p))
    cold = [r for r in rows if r[0] == "cold"]
    cached = [r for r in rows if r[0] == "cached"]
    if cold:
        n = len(cold)
        print(f"\npapers: {n}; cold: mean wall {sum(r[1] for r in cold) / n:.1f} s, "
              f"max peak {max(r[2] for r in cold)} MB; "
              f"cached: mean wall {sum(r[1] for r in cached) / max(1, len(cached)):.1f} s")
        quotes_final = sum(r[3]["grounding_rate"] for r in cold) / n
        quotes_first = sum(r[3]["first_pass_grounding"] for r in cold) / n
        print(f"grounding (mean over papers): final {quotes_final:.0%}, first draft {quotes_first:.0%}; "
              f"revised: {sum(r[3]['revised'] for r in cold)}/{n}")
        model_s = sum(sum(v for k, v in r[3]["stage_seconds"].items() if k in MODEL_STAGES) for r in cold)
        tokens_out = sum(r[3]["tokens_out"] for r in cold)
        print(f"tokens: in {sum(r[3]['tokens_in'] for r in cold)}, out {tokens_out}; "
              f"model seconds/output token {model_s / max(1, tokens_out):.3f}")
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
