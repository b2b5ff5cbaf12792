"""`dissect logs`: the recent model calls from <data_dir>/logs/llm.jsonl: when, model, tokens, seconds and cost
(from the price table: `dissect config --prices`). `--full` also shows each prompt and response, recorded only while
full logging is on (`llm.log_full`, DISSECT_LOG_FULL=1). `--json` prints the entries with their cost."""
from __future__ import annotations

import json
import os
from pathlib import Path

from agent.commands import terminal_safe
from agent.errors import ConfigError
from agent.pricing import call_cost, format_usd, total_cost

TAIL_BYTES_PER_ENTRY = 64 * 1024  # how far back to read per requested entry (full entries hold whole prompts)


def read_recent(path: Path, n: int) -> list[dict]:
    """The last `n` well-formed entries of a JSON-lines log, oldest first; a torn or foreign line is skipped."""
    if not path.exists():
        return []
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - n * TAIL_BYTES_PER_ENTRY))
        lines = f.read().splitlines()
    if size > n * TAIL_BYTES_PER_ENTRY:
        lines = lines[1:]  # the first line read is probably cut
    entries = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries[-n:]


def with_cost(settings, entry: dict) -> dict:
    """The entry with `cost_usd`: 0 for an answer from the cache, None when the model has no known price."""
    if entry.get("cached"):
        cost: float | None = 0.0
    else:
        cost = call_cost(settings, str(entry.get("backend", "")), str(entry.get("model", "")),
                         int(entry.get("tokens_in", 0) or 0), int(entry.get("tokens_out", 0) or 0))
    return {**entry, "cost_usd": cost}


def _full_text(entry: dict) -> list[str]:
    lines = []
    for m in entry.get("messages") or []:
        if isinstance(m, dict):
            lines.append(f"  --- {terminal_safe(m.get('role', '?'))} ---")
            lines += [f"  {terminal_safe(x)}" for x in str(m.get("content", "")).splitlines()]
    if "response" in entry:
        lines.append("  --- response ---")
        lines += [f"  {terminal_safe(x)}" for x in str(entry["response"]).splitlines()]
    return lines


def cmd_logs(args, settings) -> int:
    if args.n < 1:
        raise ConfigError("-n must be at least 1")
    path = settings.log_dir / "llm.jsonl"
    entries = [with_cost(settings, e) for e in read_recent(path, args.n)]
    if not args.full:
        entries = [{k: v for k, v in e.items() if k not in ("messages", "response")} for e in entries]
    if args.json:
        print(json.dumps(entries, indent=2, ensure_ascii=False))
        return 0
    if not entries:
        print(f"no model calls logged yet in {path}")
        return 0
    print(f"{'at':<25} {'backend':<7} {'model':<32} {'in':>7} {'out':>6} {'s':>7} {'cost':>9}  note")
    for e in entries:
        note = "cached" if e.get("cached") else ("" if e.get("valid", True) else "invalid: " + str(e.get("note", "")))
        print(terminal_safe(f"{str(e.get('at', '')):<25} {str(e.get('backend', '')):<7} "
                            f"{str(e.get('model', ''))[:32]:<32} {e.get('tokens_in', 0):>7} "
                            f"{e.get('tokens_out', 0):>6} {float(e.get('seconds', 0) or 0):>7.1f} "
                            f"{format_usd(e['cost_usd']):>9}  {note[:60]}"))
        if args.full:
            print("\n".join(_full_text(e)) or "  (prompt and response not recorded: full logging was off)")
    print(f"{len(entries)} calls, {sum(int(e.get('tokens_in', 0) or 0) for e in entries)} tokens in, "
          f"{sum(int(e.get('tokens_out', 0) or 0) for e in entries)} out, cost "
          f"{format_usd(total_cost([e['cost_usd'] for e in entries]))}; log {path}")
    if args.full and not any("messages" in e for e in entries):
        print("full logging is off: set DISSECT_LOG_FULL=1 (or llm.log_full = true) to record prompts and responses")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("logs", help="recent model calls: model, tokens, seconds, cost", description=__doc__)
    p.add_argument("-n", type=int, default=20, metavar="N", help="how many of the latest calls (default 20)")
    p.add_argument("--full", action="store_true", help="also show prompts and responses (when full logging was on)")
    p.add_argument("--json", action="store_true", help="the entries as JSON, with their cost")
    p.set_defaults(func=cmd_logs)
