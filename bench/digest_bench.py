#!/usr/bin/env python3
"""Digest throughput: papers per minute for a 20-paper digest against an OpenAI-compatible server on 127.0.0.1.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/digest_bench.py [--papers 20] [--latency 2.0] [--concurrency 1 8]

The model is tests/openai_server.py (a fixture server answering valid DissectionDraft JSON after a fixed latency
per call); arXiv is tests/fixture_server.py serving a search feed of the labelled abstracts of
bench/data/ranking_labels.json (threshold 0, so the top N are all dissected; HTML and PDF answer 404, so each
paper is read from its abstract, and the arXiv politeness delay is 0 because the server is local). Everything
else is real: the digest graph, ranking with MiniLM, the per-paper dissect graph, Chroma, grounding, reports.
Each concurrency level runs in a fresh data folder, so nothing is cached.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.digest.run import run_digest  # noqa: E402
from agent.digest.window import resolve_window  # noqa: E402
from tests.support.fixture_server import FixtureServer, Response, arxiv_settings  # noqa: E402
from tests.support.openai_server import OpenAIFixture  # noqa: E402

DAY = date(2026, 1, 21)  # a Wednesday: the window is Mon 19 - Tue 20


def feed(n_items: int) -> str:
    items = json.loads((ROOT / "bench" / "data" / "ranking_labels.json").read_text())["items"]
    entries = []
    for i, it in enumerate(items[:n_items]):
        pid = f"2601.{20000 + i}"
        ts = f"2026-01-20T{10 + i % 12:02d}:00:00Z"
        entries.append(f"""  <entry>
    <id>http://arxiv.org/abs/{pid}v1</id>
    <title>{escape(it['title'])}</title>
    <updated>{ts}</updated>
    <link href="https://arxiv.org/abs/{pid}v1" rel="alternate" type="text/html"/>
    <summary>{escape(it['abstract'])}</summary>
    <category term="cs.AI" scheme="http://arxiv.org/schemas/atom"/>
    <published>{ts}</published>
    <author>
      <name>Bench Author {i}</name>
    </author>
  </entry>
""")
    return ("<?xml version='1.0' encoding='UTF-8'?>\n<feed xmlns:opensearch=\"http://a9.com/-/spec/opensearch/1.1/\" "
            "xmlns:arxiv=\"http://arxiv.org/schemas/atom\" xmlns=\"http://www.w3.org/2005/Atom\">\n"
            "  <id>https://arxiv.org/api/bench</id>\n  <title>arXiv Query: bench</title>\n"
            "  <updated>2026-01-21T06:00:00Z</updated>\n"
            f"  <opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>\n"
            f"  <opensearch:totalResults>{len(entries)}</opensearch:totalResults>\n"
            "  <opensearch:startIndex>0</opensearch:startIndex>\n" + "".join(entries) + "</feed>\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", type=int, default=20)
    ap.add_argument("--latency", type=float, default=2.0, help="seconds per model call")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--base-url", help="a real OpenAI-compatible server instead of the fixture (e.g. cli.py serve)")
    ap.add_argument("--model", default="local", help="model name for --base-url")
    args = ap.parse_args()
    body = feed(32)
    arxiv = FixtureServer()
    arxiv.handler("/api/query", lambda req: Response(body if req.param("start", "0") in ("", "0") else
                                                     body.split("  <entry>")[0] + "</feed>\n", 200,
                                                     "application/atom+xml"))
    llm = None if args.base_url else OpenAIFixture(latency=args.latency)
    base_url, model = (args.base_url, args.model) if args.base_url else (llm.base_url, llm.model)
    what = f"the server at {base_url}" if args.base_url else f"a fixture with {args.latency:.1f} s latency per call"
    print(f"digest of {args.papers} papers, model: {what}, {os.cpu_count()} CPU cores")
    try:
        for conc in args.concurrency:
            with tempfile.TemporaryDirectory() as tmp:
                s = arxiv_settings(arxiv, Path(tmp), backend="openai", model=model, openai_base_url=base_url,
                                   concurrency=conc, digest_max=args.papers, digest_threshold=0.0,
                                   arxiv_delay_s=0.0, http_retries=0)
                log = Path(tmp) / "data" / "logs" / "llm.jsonl"
                t0 = time.perf_counter()
                rec = run_digest(s, resolve_window(day=DAY, today=DAY)).record
                secs = time.perf_counter() - t0
                n = len(rec["dissected"])
                calls = log.read_text().count("\n") if log.exists() else 0
                print(f"concurrency {conc}: {n} dissected, {len(rec['failed'])} failed, "
                      f"{calls} model calls, {secs:.1f} s, {60 * n / secs:.1f} papers/minute")
    finally:
        if llm is not None:
            llm.close()
        arxiv.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
