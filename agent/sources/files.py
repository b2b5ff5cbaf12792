"""Local files (.pdf, .html/.htm, .md, .txt) and the PDF text extraction that arxiv.py and web.py reuse."""
from __future__ import annotations

import io
import re
from pathlib import Path

from agent.errors import ExtractionError, InvalidSourceError
from agent.models import Paper, SourceRef
from agent.text.frontmatter import split_front_matter

MAX_FILE_BYTES = 100_000_000
SUFFIXES = {".pdf": "pdf", ".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown",
            ".txt": "text"}



def _clean_pdf_text(text: str) -> str:
    # Re-join words hyphenated across line ends ("align-\nment") and tidy spaces, so that quotes a reader
    # copies from the paper can be found in the text; keep line and paragraph breaks.
    text = re.sub(r"([a-z])-\n([a-z])", r"\1\2", text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _open_pdf(data: bytes):
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    head = data[:1024]
    if b"%PDF-" not in head:
        shown = head[:12].decode("ascii", "replace").strip() or "nothing"
        raise ExtractionError(f"not a PDF (it starts with {shown!r})")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("the PDF is encrypted")
        return reader
    except ExtractionError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ExtractionError(f"cannot read the PDF: {exc}") from None


def pdf_to_text(data: bytes) -> str:
    """The text of a PDF, pages separated by blank lines; ExtractionError if it is not a PDF or has no text."""
    return pdf_text_and_title(data)[0]


def pdf_text_and_title(data: bytes) -> tuple[str, str]:
    """(text, title from the PDF metadata or "") of a PDF; ExtractionError like pdf_to_text."""
    reader = _open_pdf(data)
    pages = []
    try:
        for page in reader.pages:
            pages.append(page.extract_text() or "")
        title = str((reader.metadata or {}).get("/Title") or "").strip()
    except Exception as exc:  # pypdf raises many internal types on broken streams
        raise ExtractionError(f"cannot read the PDF: {type(exc).__name__}: {exc}") from None
    text = _clean_pdf_text("\n\n".join(pages))
    if not text:
        raise ExtractionError("the PDF has no extractable text (a scanned image?)")
    return text, title


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
        from agent.sources.web import extract_html, require_prose, split_authors

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
            from agent.sources.web import split_authors

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
