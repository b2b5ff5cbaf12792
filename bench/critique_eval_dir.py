#!/usr/bin/env python3
"""Figures from the results an interrupted `bench/critique_eval.py` model run left in its work dir.

A model run prints only at the end; on a slow machine it may be stopped early. Its work dir
(/tmp/dissect-critique-eval-*, printed at the start) keeps every finished dissection's result
(data/results/*.json): this reads them back and prints the same figures over the texts that finished.

Usage:  python bench/critique_eval_dir.py WORK_DIR [--split test2] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import critique_eval as ce  # noqa: E402


def outcomes(work: Path) -> list[ce.Outcome]:
    out = []
    for path in sorted((work / "data" / "results").glob("*.json")):
        res = json.loads(path.read_text())
        stem = Path(res["scan"]["source_id"]).stem
        clean = stem.endswith("-clean")
        rid = stem[: -len("-clean")] if clean else stem
        d, prov = res["dissection"], res["provenance"]
        fallacy = ce.named_fallacy(d)
        out.append(ce.Outcome(rid, clean, fallacy, d["core_fallacy"]["quote"] if fallacy else "",
                              float(prov.get("seconds") or 0), prov.get("tokens_in", 0), prov.get("tokens_out", 0),
                              dict(prov.get("stage_seconds", {})), ce.prose_fields(d),
                              [(point, quote) for _, point, quote in ce.quoted_points(d)],
                              first_grounding=prov.get("first_pass_grounding")))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", type=Path)
    ap.add_argument("--split", default="test2")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    records = {r["id"]: r for r in ce.load_records(args.split, None)}
    done = [o for o in outcomes(args.work) if o.record_id in records]
    pairs = ce.labelled_pairs()
    summary = ce.summarise(done, records, pairs, model_run=True)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        ce.print_report(summary, f"finished dissections in {args.work}, {args.split} split")
    return 0


if __name__ == "__main__":
    sys.exit(main())
