#!/usr/bin/env python3
"""Static site rebuild time against the number of published reports (the site is rebuilt after every dissect
and digest, so this is what each of them adds).

    DISSECT_THREADS=1 .venv/bin/python bench/site_build.py [--reports 50 200 500] [--digests 20]

Reports are the site tests' fixture results (tests/support/site_fixtures.py) copied under new ids and titles,
spread over several months, with one digest record a day naming some of them. For each size it prints the
first build (every report's facet similarity is embedded with MiniLM, then cached) and a rebuild after one more
report (one new embedding), in seconds, and the pages written.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.publish.files import write_json  # noqa: E402
from agent.publish.site import build_site  # noqa: E402
from agent.settings import load_settings  # noqa: E402
from tests.support.site_fixtures import _entry, fixture_records, fixture_results  # noqa: E402

TOPICS = ["reward hacking in RL agents", "scalable oversight with debate", "sycophancy after preference tuning",
          "probing for deception", "corrigibility under shutdown", "jailbreaks of safety training",
          "evaluations of dangerous capabilities", "governance of frontier AI"]


def write_reports(data_dir: Path, n: int, first: int = 0) -> list:
    base = fixture_results()
    out = []
    for i in range(first, first + n):
        r = base[i % 3].model_copy(deep=True)
        r.scan.source_id = f"2601.{20000 + i}"
        r.scan.url = f"https://arxiv.org/abs/{r.scan.source_id}"
        r.scan.title = f"A study of {TOPICS[i % len(TOPICS)]}, part {i}"
        r.provenance.generated_at = r.provenance.generated_at - timedelta(days=i % 120)
        write_json(data_dir / "results" / f"{r.slug}.json", r.model_dump(mode="json"))
        out.append(r)
    return out


def write_digests(data_dir: Path, results: list, n_days: int) -> None:
    template = fixture_records(fixture_results())[0]
    for day in range(n_days):
        picked = results[day::n_days][:5]
        when = template.generated_at - timedelta(days=day)
        rec = template.model_copy(update={"date": when.date().isoformat(), "generated_at": when,
                                          "dissected": [_entry(r, 0.9 - 0.05 * k) for k, r in enumerate(picked)],
                                          "failed": [], "others": []})
        write_json(data_dir / "digests" / f"{rec.date}.json", rec.model_dump(mode="json"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports", type=int, nargs="+", default=[50, 200, 500])
    ap.add_argument("--digests", type=int, default=20)
    args = ap.parse_args()
    print(f"{'reports':>8} {'pages':>6} {'first build s':>14} {'rebuild +1 s':>13}")
    for n in args.reports:
        with tempfile.TemporaryDirectory() as tmp:
            settings = load_settings({"data_dir": Path(tmp) / "data", "reports_dir": Path(tmp) / "reports"})
            results = write_reports(settings.paths.data_dir, n)
            write_digests(settings.paths.data_dir, results, args.digests)
            t0 = time.perf_counter()
            root = build_site(settings)
            first = time.perf_counter() - t0
            write_reports(settings.paths.data_dir, 1, first=n)
            t0 = time.perf_counter()
            build_site(settings)
            again = time.perf_counter() - t0
            pages = sum(1 for _ in root.rglob("*.html"))
            print(f"{n:>8} {pages:>6} {first:>14.2f} {again:>13.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
