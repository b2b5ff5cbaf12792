"""Retrieval quality of the store over agent/data/notes: recall@5 and MRR on a hand-labelled query set.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/retrieval_quality.py [--k 5] [-v]

Ingests agent/data/notes into a fresh temporary store, runs every query in bench/data/retrieval_labels.json and
ranks documents by their best chunk. recall@k = share of a query's relevant notes among the top k documents
(averaged over queries); MRR = mean of 1/rank of the first relevant document.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.corpus.ingest import ingest  # noqa: E402
from agent.corpus.store import Store  # noqa: E402
from agent.settings import Settings  # noqa: E402


def ranked_docs(store: Store, query: str, n: int) -> list[str]:
    """Document stems in order of their best-scoring chunk."""
    docs: list[str] = []
    for p in store.search(query, k=4 * n):
        stem = Path(p.url).stem
        if stem not in docs:
            docs.append(stem)
    return docs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("-v", "--verbose", action="store_true", help="print each query's ranking")
    args = ap.parse_args()
    labels = json.loads((ROOT / "bench" / "data" / "retrieval_labels.json").read_text())["queries"]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        summary = ingest([str(ROOT / "agent" / "data" / "notes")], settings, progress=False)
        store = Store(settings)
        n_docs, n_chunks = len(summary.added), store.stats()["chunks"]
        recalls, rr = [], []
        t0 = time.perf_counter()
        for item in labels:
            ranking = ranked_docs(store, item["q"], args.k)
            relevant = set(item["relevant"])
            recalls.append(len(relevant & set(ranking[: args.k])) / len(relevant))
            first = next((i for i, d in enumerate(ranking, 1) if d in relevant), None)
            rr.append(1.0 / first if first else 0.0)
            if args.verbose:
                print(f"{rr[-1]:.2f}  {item['q'][:70]:70}  -> {ranking[:3]}")
        dt = (time.perf_counter() - t0) / len(labels)
    print(f"corpus: {n_docs} notes, {n_chunks} chunks; {len(labels)} labelled queries")
    print(f"recall@{args.k}: {sum(recalls) / len(recalls):.3f}")
    print(f"MRR:      {sum(rr) / len(rr):.3f}")
    print(f"top-1 accuracy: {sum(r == 1.0 for r in rr) / len(rr):.3f}   ({dt * 1000:.1f} ms per query)")


if __name__ == "__main__":
    main()
