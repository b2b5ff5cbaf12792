"""What a digest leaves in its checkpoint database, and how many model calls and batches it makes.

Runs a digest of the fixture papers (tests/support) against a local arXiv fixture server with the fake critic,
keeps the checkpoint thread instead of deleting it at the end, and prints the checkpoint bytes per selected paper,
model requests and batches. Works on older checkouts too (run it with that checkout's root as the argument), so a
change can be measured before and after:

    python bench/digest_checkpoint.py [ROOT] [--papers N]
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from datetime import date
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", nargs="?", default=str(Path(__file__).resolve().parents[1]))
    ap.add_argument("--papers", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, args.root)
    from langgraph.checkpoint.sqlite import SqliteSaver

    try:  # this layout
        from agent.digest.run import run_digest
        from agent.digest.window import resolve_window
        from tests.support.digest_arxiv import serve_digest_arxiv
        from tests.support.fakes import FakeBackend
        from tests.support.fixture_server import FixtureServer, arxiv_settings
    except ImportError:  # before the packages (commit d017b94 and earlier)
        from agent.schedule import resolve_window  # type: ignore[no-redef]
        from tests.fakes import FakeBackend  # type: ignore[no-redef]
        from tests.fixture_server import FixtureServer, arxiv_settings  # type: ignore[no-redef]
        from tests.fixtures.digest.serve import serve_digest_arxiv  # type: ignore[no-redef]

        from agent.digest import run_digest  # type: ignore[no-redef]

    class Counting(FakeBackend):
        def __init__(self):
            super().__init__()
            self.batches = 0

        def complete_batch(self, requests):
            self.batches += 1
            return super().complete_batch(requests)

    SqliteSaver.delete_thread = lambda self, thread_id: None  # keep what the run wrote
    server = FixtureServer()
    try:
        serve_digest_arxiv(server)
        with tempfile.TemporaryDirectory() as tmp:
            settings = arxiv_settings(server, Path(tmp), digest_max=args.papers, concurrency=4)
            backend = Counting()
            rec = run_digest(settings, resolve_window(day=date(2026, 1, 19), today=date(2026, 1, 21)),
                             backend=backend).record
            db = Path(settings.paths.data_dir if hasattr(settings, "paths") else settings.data_dir)
            conn = sqlite3.connect(str(db / "digest-checkpoints.sqlite"))
            total = 0
            for table in ("checkpoints", "writes"):
                cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
                blob_cols = [c for c in cols if c in ("checkpoint", "metadata", "value")]
                if blob_cols:
                    expr = " + ".join(f"coalesce(length({c}), 0)" for c in blob_cols)
                    total += conn.execute(f"SELECT coalesce(sum({expr}), 0) FROM {table}").fetchone()[0]
            n = len(rec["dissected"]) + len(rec["failed"])
            print(f"checkout: {args.root}")
            print(f"papers dissected: {len(rec['dissected'])}, failed: {len(rec['failed'])}")
            print(f"checkpoint bytes: {total:,} in all, {total / max(1, n):,.0f} per paper")
            print(f"model requests: {len(backend.requests)}, complete_batch calls: {backend.batches}")
    finally:
        server.close()


if __name__ == "__main__":
    main()
