"""All file I/O of generated artefacts and caches, in one place.

Every write is atomic (write to a temp file in the same folder, fsync, rename), so a crash or Ctrl-C leaves
either the old file or the new one, never half of one. Paths are built from program-made slugs and hashes
only: text from papers never decides where a file goes.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from agent.errors import DissectError


class StorageError(DissectError):
    exit_code = 9


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def read_json(path: Path, default: Any = None) -> Any:
    """Read a JSON file; a missing or unreadable (e.g. truncated by an old crash) file gives `default`."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def sha256(data: str | bytes, n: int = 16) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:n]


def slugify(text: str, max_len: int = 60) -> str:
    """A filesystem-safe slug: ASCII letters, digits and dashes only; never empty, never '..'."""
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", norm).strip("-")[:max_len].strip("-")
    return slug or "untitled-" + sha256(text, 8)


def inside(base: Path, *parts: str) -> Path:
    """Join and check that the result stays under `base` (defence in depth on top of slugify)."""
    base = Path(base).resolve()
    path = base.joinpath(*parts).resolve()
    if base != path and base not in path.parents:
        raise StorageError(f"refusing to write outside {base}: {path}")
    return path


class DiskCache:
    """A key -> bytes cache on disk (fetched pages, PDFs, LLM responses), one file per entry."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, namespace: str, key: str) -> Path:
        return self.root / slugify(namespace, 40) / (sha256(key, 32) + ".bin")

    def get(self, namespace: str, key: str) -> bytes | None:
        try:
            return self._path(namespace, key).read_bytes()
        except OSError:
            return None

    def put(self, namespace: str, key: str, data: bytes) -> None:
        atomic_write_bytes(self._path(namespace, key), data)

    def get_json(self, namespace: str, key: str) -> Any:
        raw = self.get(namespace, key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None  # a corrupt entry is a miss, not an error

    def put_json(self, namespace: str, key: str, obj: Any) -> None:
        self.put(namespace, key, json.dumps(obj, ensure_ascii=False, default=str).encode("utf-8"))


def append_line(path: Path, line: str) -> None:
    """Append one line to a log file (JSONL); a log line is small enough to be written in one call."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line.rstrip("\n") + "\n")
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from None
