"""A shared store: the related-writing store as a client of a real Chroma server (`chroma run` on 127.0.0.1).

One client ingests (the `dissect ingest` command in-process), another process retrieves what it stored; neither
creates an embedded store of its own; a server that is down is one line and exit 7.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli_main import main
from agent.corpus.store import Store
from agent.data import notes_dir
from agent.errors import StoreError
from agent.settings import Settings
from tests.support.chroma_server import ChromaServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    with ChromaServer(tmp_path_factory.mktemp("chroma-server") / "db") as server:
        yield server


def test_ingest_on_one_client_and_retrieve_from_another(chroma, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DISSECT_CHROMA_URL", chroma.url)
    ingester = tmp_path / "machine-a"
    assert main(["ingest", "--bundled", "-q", "--data-dir", str(ingester)]) == 0
    assert f"added {len(list(notes_dir().glob('*.md')))}" in capsys.readouterr().out
    assert not (ingester / "chroma").exists()  # nothing embedded: the server holds the corpus

    reader = tmp_path / "machine-b"
    env = {**os.environ, "DISSECT_CHROMA_URL": chroma.url, "DISSECT_DATA_DIR": str(reader),
           "PYTHONPATH": str(ROOT), "DISSECT_THREADS": "1"}
    found = subprocess.run([sys.executable, "-m", "agent", "corpus", "search", "a policy that games its reward signal",
                            "--k", "3", "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert found.returncode == 0, found.stderr
    passages = json.loads(found.stdout)
    assert passages and "reward-hacking.md" in passages[0]["url"] and passages[0]["score"] > 0.3
    assert not (reader / "chroma").exists()

    stats = Store(Settings(data_dir=tmp_path / "machine-c", chroma_url=chroma.url)).stats()
    assert stats["documents"] == len(list(notes_dir().glob("*.md"))) and stats["path"] == chroma.url


def test_a_second_ingest_through_another_client_adds_nothing(chroma, tmp_path):
    first = Store(Settings(data_dir=tmp_path / "a", chroma_url=chroma.url))
    text = "Debate lets a weak judge supervise strong debaters.\n\nThe honest side is claimed to win."
    assert first.upsert_document("debate-note", text, {"title": "Debate", "url": "https://example.org/debate"}) == (
        "added", 1)
    second = Store(Settings(data_dir=tmp_path / "b", chroma_url=chroma.url))
    assert second.upsert_document("debate-note", text, {"title": "Debate"})[0] == "unchanged"
    assert second.search("a weak judge supervises strong debaters", k=1)[0].title == "Debate"


def test_a_server_that_is_down_is_one_line_and_exit_7(tmp_path, monkeypatch, capsys):
    down = ChromaServer(tmp_path / "never-started")
    monkeypatch.setenv("DISSECT_CHROMA_URL", down.url)
    assert main(["corpus", "stats", "--data-dir", str(tmp_path / "d")]) == 7
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: cannot reach the Chroma server at {down.url}")
    with pytest.raises(StoreError, match="cannot reach the Chroma server"):
        Store(Settings(data_dir=tmp_path / "d", chroma_url=down.url))


def test_a_chroma_url_with_a_path_is_refused(tmp_path):
    with pytest.raises(StoreError, match="host\\[:port\\]"):
        Store(Settings(data_dir=tmp_path, chroma_url="http://127.0.0.1:9/some/path"))
