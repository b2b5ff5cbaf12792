"""Data shipped inside the package: the bundled related-writing notes and the manifest of well-known essays
(README.md here says what they are and their licence). Located through importlib.resources, so an installed copy
finds them wherever it was installed."""
from __future__ import annotations

from importlib import resources
from pathlib import Path


def _packaged(name: str) -> Path:
    path = resources.files(__name__) / name
    if not isinstance(path, Path):  # a zipped install: the files are not on disk
        raise FileNotFoundError(f"{name} is inside a zipped package; install dissect unzipped")
    return path


def notes_dir() -> Path:
    """The folder of bundled notes (Markdown, MIT): what `dissect ingest --bundled` adds."""
    return _packaged("notes")


def sources_manifest() -> Path:
    """The TOML list of well-known alignment essays, by URL (ingesting them needs the network)."""
    return _packaged("sources.toml")
