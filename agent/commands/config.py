"""`dissect config`: every effective setting, where it came from (default, config file, environment variable or
flag) and what it means; `--json` for scripts. Secrets show as set or not, never their value."""
from __future__ import annotations

import json
import os
from pathlib import Path

from agent.commands import flag_overrides, terminal_safe
from agent.pricing import PRICES_AS_OF, effective_prices
from agent.settings import config_file_path, describe_settings

VALUE_WIDTH = 44


def _plain(value: object) -> object:
    """A JSON-ready copy of a setting's value (paths as strings, price tables as dicts)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return value


def cmd_config(args, settings) -> int:
    rows = describe_settings(settings, flag_overrides(args))
    prices = {name: p.model_dump() for name, p in sorted(effective_prices(settings).items())}
    if args.json:
        print(json.dumps({"config_file": str(config_file_path_or_none() or ""),
                          "settings": [{**r, "value": _plain(r["value"])} for r in rows],
                          "prices_usd_per_million_tokens": prices, "prices_as_of": PRICES_AS_OF}, indent=2))
        return 0
    path = config_file_path_or_none()
    print(f"config file: {path if path else '(none: ./dissect.toml or $DISSECT_CONFIG)'}")
    name_width = max(len(r["name"]) for r in rows)
    for r in rows:
        value = json.dumps(_plain(r["value"])) if not isinstance(r["value"], str) else r["value"]
        value = terminal_safe(value)
        if len(value) > VALUE_WIDTH:
            value = value[: VALUE_WIDTH - 3] + "..."
        print(f"{r['name']:<{name_width}}  {value:<{VALUE_WIDTH}}  {r['origin']}")
    if args.prices:
        print(f"\nprices, USD per million tokens in / out ({PRICES_AS_OF} list prices unless configured):")
        for name, p in prices.items():
            print(f"  {name:<24} {p['input']:>8.2f} {p['output']:>8.2f}")
    return 0


def config_file_path_or_none() -> Path | None:
    return config_file_path(os.environ)


def register(subparsers) -> None:
    p = subparsers.add_parser("config", help="show the effective settings and where each came from",
                              description=__doc__)
    p.add_argument("--json", action="store_true", help="settings, origins, descriptions and prices as JSON")
    p.add_argument("--prices", action="store_true", help="also list the price table")
    p.set_defaults(func=cmd_config)
