"""dissect: grounded critiques of AI-alignment papers. The command line: parse, load settings, call, print.

The `dissect` console script (pyproject's [project.scripts]) and the checkout's `cli.py` both call `main`. Each
command lives in its own module under agent/commands/ with `register(subparsers)`; every module there that has
one is a command. The global options (`--backend`, `--model`, `--data-dir`, `--out`, `-v`) work before the
command's name and after any (sub)command's name: `dissect corpus search "x" --data-dir d`.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path

import agent.commands
from agent import __version__
from agent.commands import flag_overrides, terminal_safe
from agent.corpus.embeddings import configure as configure_embedder
from agent.errors import DissectError
from agent.library_logs import quiet_library_logs
from agent.settings import describe_settings, load_settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never fetch model weights from a hub at run time
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # Chroma: no telemetry calls

PROG = "dissect"
# The order commands are listed in `dissect --help`; commands not named here follow alphabetically.
COMMAND_ORDER = ("dissect", "digest", "ingest", "corpus", "site", "feedback", "serve", "config", "logs", "setup")


class CommandParser(argparse.ArgumentParser):
    """argparse with a one-line usage (`usage: dissect corpus search [options] QUERY`) and one error line after
    it; `--help` still shows every option."""

    def format_usage(self) -> str:
        words = []
        for action in self._actions:
            if action.option_strings or action.help == argparse.SUPPRESS:
                continue
            if isinstance(action, argparse._SubParsersAction):
                words.append("COMMAND ...")
            else:
                name = action.metavar or action.dest.upper()
                words.append(f"[{name} ...]" if action.nargs in ("*", "?") else str(name))
        return f"usage: {self.prog} [options] {' '.join(words)}".rstrip() + "\n"

    def error(self, message: str):  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {message} (`{self.prog} -h` lists the options)\n")


def _add_global_options(parser: argparse.ArgumentParser, default) -> None:
    """Options every command takes. On the top-level parser they have defaults; after a command's name they are
    set only when given (SUPPRESS), so they never reset a value given earlier on the line."""
    parser.add_argument("--backend", choices=["local", "openai", "gpu"], default=default,
                        help="LLM backend (DISSECT_BACKEND)")
    parser.add_argument("--model", default=default, help="model name or path (DISSECT_MODEL)")
    parser.add_argument("--data-dir", default=default,
                        help="caches, store, logs and (by default) reports (DISSECT_DATA_DIR; default "
                             "$XDG_DATA_HOME/dissect, i.e. ~/.local/share/dissect)")
    parser.add_argument("--out", dest="reports_dir", default=default,
                        help="reports folder (DISSECT_REPORTS_DIR; default <data-dir>/reports)")
    parser.add_argument("-v", "--verbose", action="store_true", default=default or False,
                        help="log each stage as it starts and every model call")


def _command_modules() -> list:
    """Every module of agent.commands that defines `register`, in COMMAND_ORDER."""
    names = [m.name for m in pkgutil.iter_modules(agent.commands.__path__) if not m.name.startswith("_")]
    modules = [importlib.import_module(f"agent.commands.{name}") for name in names]
    modules = [m for m in modules if hasattr(m, "register")]
    rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
    return sorted(modules, key=lambda m: (rank.get(m.__name__.rsplit(".", 1)[1], len(rank)), m.__name__))


def _every_subparser(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            action.metavar = action.metavar or "COMMAND"  # "required: COMMAND", not the dest's name
            for sub in dict.fromkeys(action.choices.values()):  # aliases map to the same parser
                yield sub
                yield from _every_subparser(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog=PROG, description=__doc__.split("\n\n")[0],
                           epilog="`dissect COMMAND -h` shows a command's options. Exit codes: README.md.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _add_global_options(parser, None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _command_modules():
        module.register(sub)
    for command in _every_subparser(parser):
        _add_global_options(command, argparse.SUPPRESS)
    return parser


def _new_default_data_dir(settings, args: argparse.Namespace) -> Path | None:
    """The default data folder when it does not exist yet, else None. Once a command has created it, the user is
    told where it is, so nobody wonders where their corpus went (a folder they named needs no announcement)."""
    data_dir = settings.paths.data_dir
    if data_dir.exists():
        return None
    rows = describe_settings(settings, flag_overrides(args))
    return data_dir if next(r["origin"] for r in rows if r["name"] == "paths.data_dir") == "default" else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (also for usage errors, --help and --version: 2, 0, 0)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits on usage errors, --help and --version
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    # -v: our own loggers at INFO (set on each call, so an in-process caller's next run starts quiet again)
    logging.getLogger("dissect").setLevel(logging.INFO if args.verbose else logging.NOTSET)
    quiet_library_logs(args.verbose)  # arxiv, trafilatura, urllib3...: their lines only with -v
    new_data_dir = None
    try:
        settings = load_settings(flag_overrides(args))
        configure_embedder(settings.llm.threads)  # also where no store is opened (the digest's ranking)
        new_data_dir = _new_default_data_dir(settings, args)
        return args.func(args, settings)
    except DissectError as exc:
        print(f"error: {terminal_safe(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: nothing half-written was kept; run the command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - a bug still gets one line; -v shows the traceback
        if args.verbose:
            raise
        detail = terminal_safe(" ".join(str(exc).split())[:300])
        print(f"error: unexpected {type(exc).__name__}: {detail} (run with -v for details)", file=sys.stderr)
        return 1
    finally:
        if new_data_dir is not None and new_data_dir.exists():
            print(f"dissect: data and reports are kept in {new_data_dir} (a new folder; --data-dir or "
                  "DISSECT_DATA_DIR changes it)", file=sys.stderr)


def console_main() -> None:
    """The `dissect` console script."""
    sys.exit(main())
