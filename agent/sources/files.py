"""Local files (.pdf, .html/.htm, .md, .txt)."""
from __future__ import annotations

import re
from pathlib import Path

from agent.errors import ExtractionError, InvalidSourceError
from agent.models import Paper, SourceRef
from agent.sources.pdf import pdf_text_and_title, pdf_to_text
from agent.sources.web import extract_html, require_prose, split_authors
from agent.text.frontmatter import split_front_matter

MAX_FILE_BYTES = 100_000_000
SUFFIXES = {".pdf": "pdf", ".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown",
            ".txt": "text"}



def _decode(data: bytes, path: Path) -> str:
    if b"\x00" in data[:8192]:
        raise ExtractionError(f"{path} looks binary, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # old Windows-encoded notes


def _title_from_filename(path: Path) -> str:
    return re.sub(r"[_-]+", " ", path.stem).strip() or path.name


def _markdown_title(text: str) -> str:
    for line in text.splitlines():
        m = re.match(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", line)
        if m:
            return m.group(1)
    return ""


def read_file(path: Path) -> Paper:
    """Read a local .pdf/.html/.htm/.md/.txt file into a Paper."""
    path = Path(path).expanduser()
    kind = SUFFIXES.get(path.suffix.lower())
    if not path.exists():
        raise InvalidSourceError(f"file not found: {path}")
    if path.is_dir():
        raise InvalidSourceError(f"{path} is a directory, not a file")
    if kind is None:
        raise InvalidSourceError(f"unsupported file type {path.suffix or '(none)'!r} for {path} "
                                 "(use .pdf, .html, .htm, .md or .txt)")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ExtractionError(f"{path} is {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte cap")
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidSourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not data.strip():
        raise ExtractionError(f"{path} is empty")
    path = path.resolve()
    meta: dict = {}
    authors: list[str] = []
    if kind == "pdf":
        try:
            text, title = pdf_text_and_title(data)
        except ExtractionError as exc:
            raise ExtractionError(f"{path}: {exc}") from None
    elif kind == "html":
        if b"\x00" in data[:8192]:
            raise ExtractionError(f"{path} looks binary, not HTML")
        text, meta = extract_html(data, path.as_uri())
        require_prose(text, str(path))
        title, authors = meta.get("title", ""), split_authors(meta.get("author", ""))
    else:
        text = _decode(data, path).strip()
        if not text:
            raise ExtractionError(f"{path} has no text")
        title = ""
        if kind == "markdown":
            front, text = split_front_matter(text)
            meta = {k: str(front[k]) for k in ("title", "author", "date", "url") if front.get(k)}
            authors = split_authors(meta.get("author", ""))
            title = meta.get("title") or _markdown_title(text)
    return Paper(
        ref=SourceRef(kind="file", locator=str(path)),
        title=title or _title_from_filename(path),
        authors=authors,
        published=meta.get("date", "") or "",
        url=meta.get("url", ""),
        text=text,
        text_origin=kind,
    )


__all__ = ["pdf_text_and_title", "pdf_to_text", "read_file"]
