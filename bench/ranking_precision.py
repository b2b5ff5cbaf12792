#!/usr/bin/env python3
"""Ranking quality of the digest's relevance score on a labelled set of on- and off-topic abstracts.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/ranking_precision.py [--labels bench/data/ranking_labels.json]
        [--profile FILE] [--threshold 0.35]

Prints precision@5 and @10 (share of on-topic papers among the top k), the threshold's precision and recall,
and the full ranking. The corpus is left out (an empty store), so only the profile and keywords count.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.digest.ranking import load_profile, score_papers  # noqa: E402
from agent.models import Paper, SourceRef  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", default=str(Path(__file__).parent / "data" / "ranking_labels.json"))
    ap.add_argument("--profile", default=None)
    ap.add_argument("--threshold", type=float, default=0.35)
    args = ap.parse_args()
    items = json.loads(Path(args.labels).read_text(encoding="utf-8"))["items"]
    papers = [Paper(ref=SourceRef(kind="arxiv", locator=it["id"]), title=it["title"], abstract=it["abstract"],
                    text=it["abstract"], text_origin="arxiv-abstract") for it in items]
    label = {it["id"]: it["label"] for it in items}
    t0 = time.perf_counter()
    ranked = score_papers(papers, load_profile(args.profile))
    seconds = time.perf_counter() - t0
    for k in (5, 10):
        hits = sum(label[r.id] for r in ranked[:k])
        print(f"precision@{k}: {hits / k:.2f} ({hits}/{k})")
    above = [r for r in ranked if r.score >= args.threshold]
    pos = sum(label.values())
    tp = sum(label[r.id] for r in above)
    print(f"threshold {args.threshold}: precision {tp / max(1, len(above)):.2f}, recall {tp / max(1, pos):.2f} "
          f"({len(above)} above the bar, {pos} on-topic of {len(items)})")
    on = [r.score for r in ranked if label[r.id]]
    off = [r.score for r in ranked if not label[r.id]]
    print(f"lowest on-topic score {min(on):.3f}, highest off-topic score {max(off):.3f}; "
          f"scored {len(items)} abstracts in {seconds:.1f} s")
    for i, r in enumerate(ranked, 1):
        print(f"{i:2d}. {r.score:.3f} (sim {r.similarity:.3f}) {'ON ' if label[r.id] else 'off'} {r.title[:70]}"
              f"  [{', '.join(r.keywords[:3])}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
