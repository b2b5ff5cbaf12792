"""The package as a user installs it: a wheel built from the tree carries the templates, the default profile and
the bundled notes, and its `dissect` command works from any folder (a real process: the console script)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.openai_server import OpenAIFixture

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the tree (so the build leaves nothing in the checkout)."""
    src = tmp_path_factory.mktemp("src")
    shutil.copytree(ROOT / "agent", src / "agent", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(out), str(src)], check=True, capture_output=True, timeout=300)
    return next(out.glob("dissect-*.whl"))


def test_the_wheel_carries_templates_profile_notes_and_the_command(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {n for n in names if n.startswith("agent/templates/")}
    on_disk = {str(p.relative_to(ROOT)) for p in (ROOT / "agent" / "templates").rglob("*") if p.is_file()}
    assert templates == on_disk
    assert {"agent/templates/prompts/dissect.md.j2", "agent/templates/profile/interest.md"} <= names
    notes = {n for n in names if n.startswith("agent/data/notes/")}
    assert len(notes) == len(list((ROOT / "agent" / "data" / "notes").glob("*.md"))) > 0
    assert "agent/data/README.md" in names and not any("__pycache__" in n for n in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "dissect = agent.cli_main:console_main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_installed_command_dissects_a_file_from_another_folder(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    command = target / "bin" / "dissect"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(ROOT / "examples" / "debate-oversight-essay.md", elsewhere / "essay.md")
    server = OpenAIFixture()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISSECT_")}
    env.update({"PYTHONPATH": str(target), "XDG_DATA_HOME": str(tmp_path / "xdg"), "DISSECT_BACKEND": "openai",
                "OPENAI_BASE_URL": server.base_url, "DISSECT_MODEL": server.model, "DISSECT_THREADS": "1"})
    try:
        def dissect(*argv: str) -> subprocess.CompletedProcess:
            return subprocess.run([str(command), *argv], capture_output=True, text=True, env=env, cwd=elsewhere,
                                  timeout=300)

        where = subprocess.run([sys.executable, "-c", "import agent; print(agent.__file__)"], capture_output=True,
                               text=True, env=env, cwd=elsewhere, check=True).stdout
        assert Path(where.strip()).is_relative_to(target)  # the installed copy, not the checkout
        assert dissect("--version").stdout.startswith("dissect ")
        ingest = dissect("ingest", "--bundled", "-q")
        assert ingest.returncode == 0, ingest.stderr
        run = dissect("dissect", "essay.md")
        assert run.returncode == 0, run.stderr
        report = Path(run.stdout.strip())
        assert report.is_relative_to(tmp_path / "xdg" / "dissect" / "reports")
        assert "## The core fallacy" in report.read_text()
        assert sorted(p.name for p in elsewhere.iterdir()) == ["essay.md"]  # nothing written where it ran
        result = json.loads(dissect("dissect", "essay.md", "--json").stdout)
        assert result["related"], "the bundled notes were ingested and retrieved"
    finally:
        server.close()
