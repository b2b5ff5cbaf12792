"""Sources: turn what the user typed into a SourceRef, and a SourceRef into a Paper with its full text
(agent.sources.resolve); the polite HTTP layer, arXiv, web pages, local files and PDFs beside it."""
from __future__ import annotations

from agent.library_logs import quiet_library_logs

# Fetching and extracting is where library log lines come from: quiet by default (the CLI's -v turns them back on).
quiet_library_logs()

from agent.sources.resolve import fetch_paper, resolve_source  # noqa: E402 - after the loggers are quieted

__all__ = ["fetch_paper", "resolve_source"]
