#!/usr/bin/env python3
"""Calibrate the support scorer (agent.critique.support) on labelled (point, quote) pairs: a grid search of its
thresholds for agreement with the labels, printed with the leave-one-out estimate and the shipped thresholds'
agreement. The shipped constants in agent/critique/support.py were set from this output.

Usage:  python bench/support_calibration.py [--pairs bench/data/critique/support.jsonl]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from agent.critique.support import calibrate  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=Path, default=ROOT / "bench" / "data" / "critique" / "support.jsonl")
    args = ap.parse_args()
    if not args.pairs.is_file():
        print(f"error: no such file: {args.pairs}", file=sys.stderr)
        return 2
    print(json.dumps(calibrate(args.pairs), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
