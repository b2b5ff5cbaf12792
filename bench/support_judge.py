#!/usr/bin/env python3
"""Quote support judged blind: the (point, quote) pairs real dissections attach, for a judge who never sees the scorer.

The support scorer (agent.critique.support) is fitted on hand-labelled pairs, but the pairs the dissections
actually produce are of another kind (program-written assumptions, a small model's prose). This measures the
dissections' support rate the way a reader would, and the scorer's agreement on exactly those pairs.

  python bench/support_judge.py export WORK_DIR PAIRS.jsonl
      every (point, quote) pair of the finished dissections in WORK_DIR (a bench/critique_eval.py work dir),
      shuffled, with the abstract each quote comes from; nothing about who wrote the point or what the scorer says.
      The key (origin, scorer label) goes to PAIRS.key.jsonl beside it: do not show it to the judge.
      --after EARLIER.key.jsonl leaves out the texts an earlier export of the same run had (judging in parts).
  python bench/support_judge.py report PAIRS.key.jsonl LABELS.jsonl
      LABELS.jsonl: one {"id": ..., "label": "supported" | "weak" | "unsupported"} per pair, from the judge.
      Prints the judged support rate (all, by field, by who wrote the point) and the scorer's agreement.

Rubric for the judge (the one support.jsonl was labelled with): `supported` when the quote states the very step
the point criticises (for an assumption: the step that relies on it), `weak` when it is related but does not by
itself show the point, `unsupported` otherwise.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import critique_eval as ce  # noqa: E402


def produced_pairs(work: Path) -> list[dict]:
    rows = []
    for path in sorted((work / "data" / "results").glob("*.json")):
        res = json.loads(path.read_text())
        d = res["dissection"]
        program = set(d.get("written_by_program") or [])
        text = Path(res["scan"]["source_id"])
        text = text if text.is_file() else work / "papers" / text.name
        abstract = text.read_text() if text.is_file() else ""
        for where, point, quote in ce.quoted_points(d):
            core = where == "core_fallacy"
            rows.append({"source": text.stem, "abstract": abstract,
                         "field": "core_fallacy" if core else "hidden_assumption", "point": point, "quote": quote,
                         "by_program": bool({"core_fallacy", "core_fallacy.explanation"} & program) if core
                         else where in program})
    return [r for r in rows if r["quote"]]


def export(work: Path, out: Path, after: list[Path]) -> int:
    """`after`: keys of earlier exports from the same run; their texts are left out (a run judged in parts)."""
    from agent.critique.support import support_scores

    done = {json.loads(line)["source"] for k in after for line in k.read_text().splitlines() if line.strip()}
    rows = [r for r in produced_pairs(work) if r["source"] not in done]
    if not rows:
        print(f"error: no finished dissections in {work}/data/results", file=sys.stderr)
        return 2
    random.Random(0).shuffle(rows)
    labels = support_scores([(r["point"], r["quote"]) for r in rows])
    with out.open("w") as blind, out.with_suffix(".key.jsonl").open("w") as key:
        for n, (r, s) in enumerate(zip(rows, labels, strict=True), 1):
            pid = f"{out.stem}-{n:03d}"
            blind.write(json.dumps({"id": pid, "abstract": r["abstract"], "point": r["point"], "quote": r["quote"]})
                        + "\n")
            key.write(json.dumps({"id": pid, "source": r["source"], "field": r["field"], "by_program": r["by_program"],
                                  "scorer": s.label, "point": r["point"], "quote": r["quote"]}) + "\n")
    print(f"{len(rows)} pairs -> {out} (key: {out.with_suffix('.key.jsonl')})")
    return 0


def _rate(rows: list[dict]) -> str:
    if not rows:
        return "n/a"
    ok = sum(r["label"] == "supported" for r in rows)
    return f"{ok / len(rows):.0%} ({ok}/{len(rows)})"


def report(key_path: Path, labels_path: Path) -> int:
    key = {r["id"]: r for r in map(json.loads, key_path.read_text().splitlines())}
    judged = [dict(key[r["id"]], label=r["label"]) for r in map(json.loads, labels_path.read_text().splitlines())
              if r.get("id") in key]
    if not judged:
        print("error: no labels match the key's ids", file=sys.stderr)
        return 2
    print(f"{len(judged)} of {len(key)} pairs judged")
    print(f"  judged supported, all pairs                 {_rate(judged)}")
    # a sound text has no flawed step for a point to rest on: a strict judge finds its points weak at best unless
    # they name a limit the text states itself, which caps the rate over all pairs near the flawed texts' share
    for name, clean in (("flawed texts", False), ("clean twins", True)):
        part = [r for r in judged if r["source"].endswith("-clean") == clean]
        print(f"{'  ... on the ' + name:<46}{_rate(part)}")
    for field in ("core_fallacy", "hidden_assumption"):
        for prog in (False, True):
            part = [r for r in judged if r["field"] == field and r["by_program"] == prog]
            print(f"  {field:<18} by {'the program' if prog else 'the model  '}       {_rate(part)}")
    print(f"  scorer says supported                       "
          f"{sum(r['scorer'] == 'supported' for r in judged) / len(judged):.0%}")
    agree = sum(r["scorer"] == r["label"] for r in judged)
    table = Counter((r["label"], r["scorer"]) for r in judged)
    print(f"  scorer agrees with the judge                {agree / len(judged):.0%}   "
          + "; ".join(f"{g}->{s} {n}" for (g, s), n in sorted(table.items())))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("work", type=Path)
    e.add_argument("out", type=Path)
    e.add_argument("--after", type=Path, action="append", default=[],
                   help="the key of an earlier export from this run: its texts are left out (judging in parts)")
    r = sub.add_parser("report")
    r.add_argument("key", type=Path)
    r.add_argument("labels", type=Path)
    args = ap.parse_args()
    try:
        return export(args.work, args.out, args.after) if args.cmd == "export" else report(args.key, args.labels)
    except (OSError, ValueError, KeyError) as exc:  # a missing file, a line that is not JSON, a row without a field
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
