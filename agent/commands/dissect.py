"""`dissect dissect SOURCE`: one paper or essay -> a report. Prints the report's path (or the result as JSON)."""
from __future__ import annotations

import sys

from agent.commands import generation_printer, progress_printer, terminal_safe
from agent.llm.progress import listening
from agent.pipeline.run import dissect
from agent.pricing import format_usd


def cmd_dissect(args, settings) -> int:
    with listening(generation_printer(args.quiet)):
        outcome = dissect(args.source, settings, force=args.force, progress=progress_printer(args.quiet))
    if args.json:
        print(outcome.result.model_dump_json(indent=2))
        return 0
    p = outcome.result.provenance
    print(outcome.report_path)
    if not args.quiet:
        threads = f", {p.threads} thread{'s' * (p.threads != 1)}" if p.threads else ""
        cost = "" if p.backend in ("local", "gpu") else f", cost {format_usd(p.cost_usd)}"
        print(f"model {terminal_safe(p.model)} ({p.backend}{threads}), grounding {p.grounding_rate:.0%}, "
              f"{p.tokens_in} tokens in / {p.tokens_out} out, {p.seconds:.1f} s{cost}", file=sys.stderr)
    return 0


def register(subparsers) -> None:
    d = subparsers.add_parser("dissect", help="dissect one paper or essay: an arXiv id, a URL or a file")
    d.add_argument("source", metavar="SOURCE",
                   help="arXiv id (2601.10160, hep-th/9901001), arxiv.org URL, any http(s) URL, or a file")
    d.add_argument("--force", action="store_true", help="refetch the source and call the model again")
    d.add_argument("--json", action="store_true", help="print the structured result as JSON instead of the path")
    d.add_argument("-q", "--quiet", action="store_true", help="print only the result")
    d.set_defaults(func=cmd_dissect)
