#!/usr/bin/env python3
"""Ranking quality of the digest's relevance score on a labelled set of on- and off-topic abstracts, and what the
reader's votes add.

    HF_HUB_OFFLINE=1 DISSECT_THREADS=1 .venv/bin/python bench/ranking_precision.py
        [--labels bench/data/ranking_labels.json] [--profile FILE] [--threshold 0.35] [--votes 0,3,5,10,16] [-v]

Part 1 (the profile alone, every item): precision@5 and @10 (share of on-topic papers among the top k), the
threshold's precision and recall, and the full ranking with -v.

Part 2 (votes): the items are split in two, alternately within each label (sorted by id). A simulated reader votes
on N papers of the training half (up when on-topic, down when not; in a fixed shuffled order), and the other half,
which no vote touched, is ranked: precision@5, R-precision (precision at the number of on-topic items) and AUC
(the chance that an on-topic item outranks an off-topic one). Twice: with the default profile (the votes must not
make it worse), and with a blank profile ("machine learning research", no keywords), where the votes alone have to
teach the ranking what the reader wants. The corpus is left out (an empty store), so only the profile, keywords
and votes count.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.digest.ranking import Profile, load_profile, score_papers  # noqa: E402
from agent.digest.votes import VoteBook, VoteRecord  # noqa: E402
from agent.models import Paper, SourceRef  # noqa: E402

BLANK_PROFILE = Profile(facets=("Machine learning research.",))
SEED = 7


def papers_of(items: list[dict]) -> list[Paper]:
    return [Paper(ref=SourceRef(kind="arxiv", locator=it["id"]), title=it["title"], abstract=it["abstract"],
                  text=it["abstract"], text_origin="arxiv-abstract") for it in items]


def split(items: list[dict]) -> tuple[list[dict], list[dict]]:
    """(train, test): alternate items of each label, sorted by id, so both halves have both labels."""
    train, test = [], []
    for label in (1, 0):
        for i, it in enumerate(sorted((it for it in items if it["label"] == label), key=lambda it: it["id"])):
            (train if i % 2 == 0 else test).append(it)
    return train, test


def simulated_votes(train: list[dict], n: int) -> VoteBook:
    """The first n papers of a fixed shuffle of the training half, voted up if on-topic, down if not."""
    order = sorted(train, key=lambda it: it["id"])
    random.Random(SEED).shuffle(order)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return VoteBook(votes={it["id"]: VoteRecord(id=it["id"], vote="up" if it["label"] else "down", at=now,
                                                title=it["title"], text=f"{it['title']}. {it['abstract']}")
                           for it in order[:n]})


def quality(ranked, label: dict[str, int]) -> tuple[float, float, float]:
    """(precision@5, R-precision, AUC) of a ranking."""
    labels = [label[r.id] for r in ranked]
    pos = sum(labels)
    p5 = sum(labels[:5]) / 5
    r_prec = sum(labels[:pos]) / max(1, pos)
    # AUC: share of (on, off) pairs in which the on-topic item ranks higher
    wins = 0
    for i, li in enumerate(labels):
        if li:
            below = labels[i + 1:]
            wins += sum(1 for lj in below if not lj)
    pairs = pos * (len(labels) - pos)
    return p5, r_prec, wins / max(1, pairs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", default=str(Path(__file__).parent / "data" / "ranking_labels.json"))
    ap.add_argument("--profile", default=None)
    ap.add_argument("--threshold", type=float, default=0.35)
    ap.add_argument("--votes", default="0,3,5,10,16", help="numbers of simulated votes, comma-separated")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the full ranking of part 1")
    args = ap.parse_args()
    items = json.loads(Path(args.labels).read_text(encoding="utf-8"))["items"]
    label = {it["id"]: it["label"] for it in items}
    profile = load_profile(args.profile)

    print("== part 1: the profile alone, all items")
    t0 = time.perf_counter()
    ranked = score_papers(papers_of(items), profile)
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
    if args.verbose:
        for i, r in enumerate(ranked, 1):
            print(f"{i:2d}. {r.score:.3f} (sim {r.similarity:.3f}) {'ON ' if label[r.id] else 'off'} "
                  f"{r.title[:70]}  [{', '.join(r.keywords[:3])}]")

    train, test = split(items)
    n_test_on = sum(it["label"] for it in test)
    print(f"\n== part 2: votes on the training half ({len(train)} items), ranking the held-out half "
          f"({len(test)} items, {n_test_on} on-topic)")
    counts = [int(n) for n in args.votes.split(",") if n.strip()]
    for name, prof in (("default profile", profile), ("blank profile", BLANK_PROFILE)):
        for n in counts:
            book = simulated_votes(train, n)
            ranked = score_papers(papers_of(test), prof, votes=book)
            p5, r_prec, auc = quality(ranked, label)
            ups = sum(v.vote == "up" for v in book.votes.values())
            print(f"{name:16} {n:3d} votes ({ups} up): precision@5 {p5:.2f}   R-precision {r_prec:.2f}   "
                  f"AUC {auc:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
