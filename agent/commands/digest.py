"""`cli.py digest`: the daily job. Exit codes (also in the README):

    0   the digest was published (also when nothing new was found), or a --dry-run listed the ranking
    1   an unexpected error (run with -v for the traceback)
    2   bad flags, settings or interest profile; or arXiv rejected the query
    4   arXiv could not be reached (after retries)
    7   the related-writing store is unusable
    8   another digest is running (the lock is held by a live process)
    9   a write failed (disk full, read-only folder): the previous page, index and feed are intact
    10  the digest was published, but every selected paper failed (the model or the network is likely down)
    130 interrupted: a re-run resumes where it stopped
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import date
from pathlib import Path

from agent.commands import generation_printer, progress_printer, terminal_safe
from agent.digest.logfile import digest_logging
from agent.digest.window import DigestOptions, resolve_window
from agent.errors import ConfigError, DissectError
from agent.llm.progress import listening
from agent.pricing import TYPICAL_PAPER_CHARS, estimate_paper_cost, format_usd
from agent.publish.lock import RunLock

ALL_FAILED = 10


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def cost_estimate_line(settings, n_selected: int) -> str:
    """What dissecting the selected papers may cost at most, and the cap, for the dry run."""
    per_paper = estimate_paper_cost(settings, TYPICAL_PAPER_CHARS)
    cap = settings.digest.max_cost_usd
    model = settings.llm.model or settings.llm.backend
    total = None if per_paper is None else per_paper * n_selected
    line = (f"estimated cost: up to {format_usd(per_paper)} a paper, {format_usd(total)} for {n_selected} "
            f"with {model}")
    if per_paper is None:
        line += " (no price known for it: set cost.prices, see `dissect config --prices`)"
    return line + (f"; cap {format_usd(cap)}" if cap else "; no cap (--max-cost)")


def _dry_run(args, settings, window, opts) -> int:
    from agent.digest.run import plan_digest  # deferred: the pipeline (langgraph, chromadb) loads only to run

    ranked, skipped = plan_digest(settings, window, max_n=args.max, force=args.force, opts=opts)
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in ranked], indent=2, ensure_ascii=False))
        return 0
    print(f"digest {window.day}: papers submitted {window.start} to {window.end}, {len(ranked)} candidates, "
          f"{len(skipped)} skipped, bar {settings.digest.threshold:.2f}")
    for i, r in enumerate(ranked, 1):
        mark = "*" if r.selected else " "
        title = " ".join(r.title.split())
        print(f"{mark}{i:3d}. {r.score:.3f}  {r.id:<12} {terminal_safe(title)[:90]}")
    for s in skipped:
        print(f"  skip  {s['id']:<12} {s['why']}")
    print(cost_estimate_line(settings, sum(1 for r in ranked if r.selected)))
    if not ranked:
        print("nothing new in this window (yet)")
    return 0


def cmd_digest(args, settings) -> int:
    from agent.digest.run import run_digest  # deferred: the pipeline (langgraph, chromadb) loads only to run

    if args.max is not None and args.max < 0:
        raise ConfigError("--max must be 0 or more")
    if args.max_cost is not None:
        if args.max_cost < 0:
            raise ConfigError("--max-cost must be 0 or more (0: no cap)")
        settings.digest.max_cost_usd = args.max_cost
    window = resolve_window(day=args.date, since=args.since)
    opts = DigestOptions.for_settings(settings)
    if args.dry_run:
        return _dry_run(args, settings, window, opts)
    with digest_logging(settings, opts) as log_path:
        try:
            with RunLock(Path(settings.paths.data_dir) / "digest.lock", "digest"), \
                    listening(generation_printer(args.quiet)):
                run = run_digest(settings, window, max_n=args.max, force=args.force, opts=opts,
                                 progress=progress_printer(args.quiet))
        except DissectError as exc:  # cli.py prints it; the log keeps it for whoever reads cron's aftermath
            logging.getLogger("dissect.digest").error("digest %s stopped: %s (exit %d)", window.thread_id, exc,
                                                      exc.exit_code, extra={"file_only": True})
            raise
    rec = run.record
    if args.json:
        print(json.dumps(rec, indent=2, ensure_ascii=False))
    else:
        print(Path(settings.paths.reports_dir) / "digests" / f"{rec['date']}.md")
        if not args.quiet:
            print(f"digest {rec['date']}{' (resumed)' if run.resumed else ''}: {len(rec['dissected'])} dissected, "
                  f"{len(rec['failed'])} failed, {len(rec['others'])} more listed; log {log_path}", file=sys.stderr)
    return ALL_FAILED if run.all_failed else 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "digest", help="find, rank and dissect the new alignment papers of the last arXiv announcement",
        description="Search arXiv for the window, skip papers already dissected, rank by relevance to the interest "
                    "profile, dissect the best, and publish reports/digests/<date>.md, reports/index.md and "
                    "reports/feed.xml. A killed run resumes where it stopped when run again.")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--date", type=_day, metavar="YYYY-MM-DD",
                      help="the digest of this announcement day (default: today, UTC; weekends mean Friday)")
    when.add_argument("--since", type=_day, metavar="YYYY-MM-DD",
                      help="cover every paper submitted from this day to today (catching up)")
    p.add_argument("--max", type=int, metavar="N", help="dissect at most N papers for the day, counting earlier runs "
                                                        "of the day (default: digest_max)")
    p.add_argument("--dry-run", action="store_true", help="print the ranked list with scores and do nothing else")
    p.add_argument("--max-cost", type=float, metavar="USD",
                   help="stop dissecting (and publish what is done) when the next paper would take the day's model "
                        "cost past USD (default: digest.max_cost_usd; 0: no cap)")
    p.add_argument("--json", action="store_true", help="machine-readable output (with --dry-run: the ranked list)")
    p.add_argument("--force", action="store_true",
                   help="re-dissect papers already dissected and start the day's run over")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the digest's path")
    p.set_defaults(func=cmd_digest)
