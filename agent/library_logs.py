"""The one place that decides what the libraries underneath may log: nothing, unless -v.

Without it, a refused page prints trafilatura's "discarding data: ..." and a broken arXiv answer prints the arxiv
package's "Skipping entry ..." above our one error line. Their findings reach the user as that line already; their
own words are for debugging, so `dissect -v` lets them through.
"""
from __future__ import annotations

import logging

LIBRARY_LOGGERS = (
    "arxiv", "feedparser", "trafilatura", "htmldate", "courlan", "justext", "readability", "lxml", "pypdf",
    "urllib3", "requests", "charset_normalizer", "chardet", "httpx", "httpcore", "openai", "chromadb",
    "sentence_transformers", "transformers", "xgrammar",
)
QUIET = logging.CRITICAL + 1  # above every level a library logs at


def quiet_library_logs(verbose: bool = False) -> None:
    """Silence the libraries' loggers (verbose=False) or let them log at their own levels again (verbose=True)."""
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else QUIET)
