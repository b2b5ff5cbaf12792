"""Bad input end to end (issue 9, item 9): the real command in a fresh process, so that what reaches stderr is what a
user sees: one error line, the right exit code, and no stray log lines from the libraries underneath."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import catalog
from tests.support.hostile_pages import NAV_ONLY, TRUNCATED_FEED

ROOT = Path(__file__).resolve().parents[2]


def run_cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    (tmp_path / "data").mkdir(exist_ok=True)
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--data-dir", str(tmp_path / "data"), *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DISSECT_THREADS": "1", **(env or {})})
    return proc.returncode, proc.stderr.strip().splitlines()


def test_html_files_with_no_prose_exit_5_with_one_line(tmp_path):
    (tmp_path / "empty.html").write_text("<html><body></body></html>")
    (tmp_path / "nav.html").write_text(NAV_ONLY)
    for name in ("empty.html", "nav.html"):
        code, err = run_cli(tmp_path, "dissect", "-q", str(tmp_path / name))
        assert (code, len(err)) == (5, 1), err
        assert err[0].startswith("error: ") and name in err[0]


def test_a_malformed_arxiv_answer_exits_4_with_one_line(fixture_server, tmp_path):
    fixture_server.route("/api/query", TRUNCATED_FEED, content_type=catalog.ATOM_TYPE)
    env = {"DISSECT_ARXIV_API_URL": fixture_server.url_for("/api/query"), "DISSECT_HTTP_RETRIES": "0",
           "DISSECT_ARXIV_DELAY": "0"}
    code, err = run_cli(tmp_path, "dissect", "-q", catalog.PAPERS[0].id, env=env)
    assert (code, len(err)) == (4, 1), err
    assert "not an Atom feed" in err[0]
