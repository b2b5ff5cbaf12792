#!/usr/bin/env python3
"""Related-writing retrieval on paraphrased queries: dense MiniLM alone vs dense fused with BM25.

    HF_HUB_OFFLINE=1 DISSECT_THREADS=1 .venv/bin/python bench/retrieval_paraphrase.py [--split test|dev|all]
        [--no-distractors] [-v]

Ingests the CC-BY essays of bench/data/essays/ (ten Distill articles, see its README.md) into a fresh temporary
store, with the project's own notes (agent/data/notes) beside them as distractors, then asks every labelled query of
bench/data/essays/queries.json through Store.related, the path dissections use, once with hybrid=False (today's
dense ranking) and once with hybrid=True (dense + BM25, reciprocal rank fusion). Documents are ranked by their
first passage. Prints, per method: right essay first (count), recall@5 (one right essay per query, so the share of
queries with it in the top 5) and MRR (mean of 1/rank of the right essay; 0 when absent from the list).

The 'dev' queries were used to check the fusion's constants; the 'test' queries never were: quote those.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.corpus.ingest import ingest  # noqa: E402
from agent.corpus.store import Store  # noqa: E402
from agent.settings import Settings  # noqa: E402
from agent.text.frontmatter import split_front_matter  # noqa: E402

ESSAYS = ROOT / "bench" / "data" / "essays"
NOTES = ROOT / "agent" / "data" / "notes"  # the project's own notes: distractors
DEPTH = 10  # passages asked of related(): at most two per document, so at least five documents


def essay_titles() -> dict[str, str]:
    """Title (as the store keeps it) -> essay file stem."""
    titles = {}
    for path in sorted(ESSAYS.glob("*.md")):
        if path.name == "README.md":
            continue
        meta, _ = split_front_matter(path.read_text(encoding="utf-8"))
        titles[str(meta["title"])] = path.stem
    return titles


def ranked_documents(store: Store, query: str, hybrid: bool, titles: dict[str, str]) -> list[str]:
    """Documents in the order of their first passage: essay stems, or 'other:<title>' for a distractor."""
    docs: list[str] = []
    for p in store.related([query], k=DEPTH, hybrid=hybrid):
        name = titles.get(p.title, f"other:{p.title}")
        if name not in docs:
            docs.append(name)
    return docs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["test", "dev", "all"], default="test")
    ap.add_argument("--no-distractors", action="store_true", help="leave agent/data/notes out of the store")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each query's top three documents")
    args = ap.parse_args()
    labels = json.loads((ESSAYS / "queries.json").read_text(encoding="utf-8"))["queries"]
    labels = [q for q in labels if args.split == "all" or q["split"] == args.split]
    titles = essay_titles()
    sources = [str(ESSAYS / f"{stem}.md") for stem in titles.values()]
    if not args.no_distractors:
        sources.append(str(NOTES))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        summary = ingest(sources, settings, progress=False)
        store = Store(settings)
        stats = store.stats()
        print(f"store: {stats['documents']} documents ({len(titles)} essays"
              f"{'' if args.no_distractors else ', the rest the project notes'}), {stats['chunks']} chunks; "
              f"{len(labels)} {args.split} queries; ingest failures: {len(summary.failed)}")
        store.related(["warm-up"], k=1)  # load the embedder and build the BM25 index outside the timings
        for hybrid, label in ((False, "dense only"), (True, "dense + BM25 (RRF)")):
            first, in_top5, rr = 0, 0, []
            t0 = time.perf_counter()
            for item in labels:
                docs = ranked_documents(store, item["q"], hybrid, titles)
                rank = docs.index(item["essay"]) + 1 if item["essay"] in docs else 0
                first += rank == 1
                in_top5 += 0 < rank <= 5
                rr.append(1.0 / rank if rank else 0.0)
                if args.verbose:
                    mark = "ok " if rank == 1 else f"r{rank or '-'}"
                    print(f"  {label[:5]} {mark:3} {item['essay'][:24]:24} {item['q'][:60]:60} -> {docs[:3]}")
            ms = (time.perf_counter() - t0) * 1000 / max(1, len(labels))
            n = len(labels)
            print(f"{label:20} right essay first {first}/{n}   recall@5 {in_top5 / n:.3f}   "
                  f"MRR {sum(rr) / n:.3f}   ({ms:.0f} ms per query)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
