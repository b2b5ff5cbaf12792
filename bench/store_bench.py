"""Store benchmark: ingest throughput, query latency at 1k and 10k chunks, size on disk.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/store_bench.py [--big 10000]

1. Ingest 500 paragraphs (50 documents of 10) through Store.upsert_document: chunking + embedding + Chroma
   writes, reported as paragraphs/s and chunks/s.
2. Fill the store to 1,000 and then 10,000 chunks (embedded paragraphs, added in bulk) and time 100 queries
   through Store.search (query embedding included) and with the query vector precomputed (Chroma alone):
   median and p95.
Paragraphs are built by recombining sentences of agent/data/notes with a fixed seed: realistic length and vocabulary.

Client vs embedded (a shared store for a team):

    .venv/bin/python bench/store_bench.py --chroma-server --big 2000      # starts `chroma run` on 127.0.0.1
    .venv/bin/python bench/store_bench.py --chroma-url http://host:8000    # a server you run (empty collections!)

runs the same steps against the embedded store and against the server (Store with store.chroma_url) and prints
both. With --chroma-url the server's `passages` collection must start empty: the bench adds to it.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.corpus.embeddings import embed  # noqa: E402
from agent.corpus.store import PASSAGES, Store  # noqa: E402
from agent.settings import Settings  # noqa: E402
from tests.support.chroma_server import ChromaServer  # noqa: E402


def sentences() -> list[str]:
    out = []
    for note in sorted((ROOT / "agent" / "data" / "notes").glob("*.md")):
        body = note.read_text().split("---", 2)[-1]
        out += [s for s in re.split(r"(?<=[.!?])\s+", " ".join(body.split())) if len(s.split()) > 5]
    return out


def paragraphs(n: int, rng: random.Random, pool: list[str]) -> list[str]:
    paras = []
    for i in range(n):
        sents, size = [], rng.randint(250, 600)
        while sum(map(len, sents)) < size:
            sents.append(rng.choice(pool))
        paras.append(f"({i}) " + " ".join(sents))
    return paras


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def fill(store: Store, target: int, rng: random.Random, pool: list[str], batch: int = 256) -> float:
    col = store._cols[PASSAGES]
    t0, added = time.perf_counter(), 0
    while col.count() < target:
        n = min(batch, target - col.count())
        texts = paragraphs(n, rng, pool)
        base = col.count()
        ids = [f"bulk#{base + i}" for i in range(n)]
        metas = [{"doc_id": f"bulk-{(base + i) // 10}", "chunk": (base + i) % 10, "title": "bulk"} for i in range(n)]
        col.add(ids=ids, embeddings=embed(texts), documents=texts, metadatas=metas)
        added += n
    return added / (time.perf_counter() - t0) if added else 0.0


def latency(store: Store, queries: list[str]) -> dict[str, float]:
    col = store._cols[PASSAGES]
    store.search(queries[0], k=5)  # warm
    full, chroma = [], []
    for q in queries:
        t0 = time.perf_counter()
        store.search(q, k=5)
        full.append((time.perf_counter() - t0) * 1000)
        vec = embed([q])
        t0 = time.perf_counter()
        col.query(query_embeddings=vec, n_results=5, include=["documents", "metadatas", "distances"])
        chroma.append((time.perf_counter() - t0) * 1000)
    return {"median_ms": statistics.median(full), "p95_ms": pct(full, 0.95),
            "chroma_median_ms": statistics.median(chroma), "chroma_p95_ms": pct(chroma, 0.95)}


def measure(store: Store, label: str, big: int, queries: list[str], pool: list[str]) -> None:
    rng = random.Random(7)  # the same documents for every store measured
    local = not store.url
    docs = [paragraphs(10, rng, pool) for _ in range(50)]
    t0 = time.perf_counter()
    chunks = sum(store.upsert_document(f"doc-{i}", "\n\n".join(d), {"title": f"Doc {i}"})[1]
                 for i, d in enumerate(docs))
    dt = time.perf_counter() - t0
    flat = [p for d in docs for p in d]
    t1 = time.perf_counter()
    embed(flat)
    emb_dt = time.perf_counter() - t1
    print(f"[{label}] ingest: 500 paragraphs -> {chunks} chunks in {dt:.1f} s: {500 / dt:.1f} paragraphs/s, "
          f"{chunks / dt:.1f} chunks/s (embedding the 500 paragraphs alone: {500 / emb_dt:.1f}/s)")
    if local:
        print(f"[{label}]   size on disk after ingest: {dir_size(store.path) / 1e6:.1f} MB")
    for target in sorted({1000, big}):
        rate = fill(store, target, rng, pool)
        lat = latency(store, queries)
        size = f"; size on disk {dir_size(store.path) / 1e6:.1f} MB" if local else ""
        print(f"[{label}] {store._cols[PASSAGES].count():>6} chunks: query top-5 median {lat['median_ms']:.1f} ms, "
              f"p95 {lat['p95_ms']:.1f} ms (Chroma alone: median {lat['chroma_median_ms']:.2f} ms, "
              f"p95 {lat['chroma_p95_ms']:.2f} ms); bulk fill {rate:.0f} chunks/s{size}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--big", type=int, default=10_000, help="chunks for the large query test")
    server = ap.add_mutually_exclusive_group()
    server.add_argument("--chroma-url", help="also measure a client of this Chroma server (empty collections)")
    server.add_argument("--chroma-server", action="store_true",
                        help="start `chroma run` on 127.0.0.1 and also measure a client of it")
    ap.add_argument("--client-first", action="store_true", help="measure the client before the embedded store "
                                                                   "(to see how much the order matters)")
    args = ap.parse_args()
    rng = random.Random(7)
    pool = sentences()
    labels = json.loads((ROOT / "bench" / "data" / "retrieval_labels.json").read_text())["queries"]
    queries = [q["q"] for q in labels]
    queries += [" ".join(rng.sample(rng.choice(pool).split(), 6)) for _ in range(100 - len(queries))]
    embed(["warm up the model"])
    with tempfile.TemporaryDirectory() as tmp:
        def embedded() -> None:
            measure(Store(Settings(data_dir=Path(tmp) / "embedded")), "embedded", args.big, queries, pool)

        if not args.client_first:
            embedded()
        if args.chroma_url:
            store = Store(Settings(data_dir=Path(tmp) / "client", chroma_url=args.chroma_url))
            measure(store, f"client of {args.chroma_url}", args.big, queries, pool)
        elif args.chroma_server:
            with ChromaServer(Path(tmp) / "server") as srv:
                store = Store(Settings(data_dir=Path(tmp) / "client", chroma_url=srv.url))
                measure(store, "client of chroma run on 127.0.0.1", args.big, queries, pool)
        if args.client_first:
            embedded()


if __name__ == "__main__":
    main()
