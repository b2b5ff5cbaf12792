"""PDF text extraction (pypdf), shared by arXiv's PDFs, web pages that are PDFs and local files."""
from __future__ import annotations

import io
import re

from agent.errors import ExtractionError


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
