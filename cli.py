#!/usr/bin/env python3
"""dissect: grounded critiques of AI-alignment papers. A thin command line over agent/: parse, call, print."""
from __future__ import annotations

import argparse
import logging
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never fetch model weights from a hub at run time
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # Chroma: no telemetry calls


def cmd_dissect(args, settings) -> int:
    from agent.commands import progress_printer
    from agent.pipeline.run import dissect

    outcome = dissect(args.source, settings, force=args.force, progress=progress_printer(args.quiet))
    if args.json:
        print(outcome.result.model_dump_json(indent=2))
    else:
        p = outcome.result.provenance
        print(outcome.report_path)
        if not args.quiet:
            print(f"model {p.model} ({p.backend}), grounding {p.grounding_rate:.0%}, "
                  f"{p.tokens_in} tokens in / {p.tokens_out} out, {p.seconds:.1f} s", file=sys.stderr)
    return 0


def _add_common(parser: argparse.ArgumentParser, default) -> None:
    """Options every command takes, before or after the command's name (`cli.py --out x dissect ...` and
    `cli.py dissect ... --out x` both work; after the name, they are only set when given)."""
    parser.add_argument("--backend", choices=["local", "openai", "gpu"], default=default,
                        help="LLM backend (DISSECT_BACKEND)")
    parser.add_argument("--model", default=default, help="model name or path (DISSECT_MODEL)")
    parser.add_argument("--data-dir", default=default, help="caches, store and logs (DISSECT_DATA_DIR, default ./data)")
    parser.add_argument("--out", dest="reports_dir", default=default,
                        help="reports folder (DISSECT_REPORTS_DIR, default ./reports)")
    parser.add_argument("-v", "--verbose", action="store_true", default=default or False,
                        help="log every step and model call")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cli.py", description=__doc__)
    _add_common(parser, None)
    sub = parser.add_subparsers(dest="command", required=True)

    d = sub.add_parser("dissect", help="dissect one paper or essay: an arXiv id, a URL or a file")
    d.add_argument("source", help="arXiv id (2601.10160, hep-th/9901001), arxiv.org URL, any http(s) URL, or a file")
    d.add_argument("--force", action="store_true", help="refetch the source and call the model again")
    d.add_argument("--json", action="store_true", help="print the structured result as JSON instead of the path")
    d.add_argument("-q", "--quiet", action="store_true", help="print only the result")
    d.set_defaults(func=cmd_dissect)

    for module in ("agent.commands.corpus", "agent.commands.digest", "agent.commands.serve",
                   "agent.commands.site"):
        try:
            mod = __import__(module, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        mod.register(sub)
    for command in sub.choices.values():
        _add_common(command, argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    from agent.errors import DissectError
    from agent.settings import load_settings

    try:
        overrides = {k: getattr(args, k, None) for k in ("backend", "model", "data_dir", "reports_dir")}
        settings = load_settings(overrides)
        return args.func(args, settings)
    except DissectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: nothing half-written was kept", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - a bug still gets one line; -v shows the traceback
        if args.verbose:
            raise
        detail = " ".join(str(exc).split())[:300]
        print(f"error: unexpected {type(exc).__name__}: {detail} (run with -v for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
