#!/usr/bin/env python3
"""Fit and measure the support scorer (agent.critique.support) on the labelled (point, quote) pairs of
bench/data/critique/: support.jsonl (53 pairs), support_test.jsonl (104 pairs, labelled by a different hand on
other abstracts) and support_judged*.jsonl (1,420 pairs from real dissections, labelled blind; see
bench/support_judge.py; held out). Prints the honest figures (each of the first two files judged by the model
fitted on the other; grouped cross-validation by abstract over both), the shipped model's in-sample figures and
its agreement on the judged pairs. `--write` saves the model fitted on the first two files to
agent/critique/support.npz.

Usage:  python bench/support_calibration.py [--write]
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

from agent.critique.support import MODEL_PATH, calibrate  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true",
                    help=f"save the model fitted on the hand-labelled files to {MODEL_PATH}")
    args = ap.parse_args()
    figures, model = calibrate()
    print(json.dumps(figures, indent=1))
    if args.write:
        model.save(MODEL_PATH)
        print(f"wrote {MODEL_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
