"""Hostile or empty pages that several hardening tests serve: a navigation-only page, a truncated Atom feed."""
from __future__ import annotations

from tests.support import catalog

NAV_ONLY = ("<!doctype html><html><head><title>Example Site</title></head><body><nav><ul>"
            + "".join(f"<li><a href='/{w.lower()}'>{w}</a></li>" for w in ("Home", "About", "Blog", "Contact"))
            + "</ul></nav><main><h1>Welcome</h1><p>Read our latest posts.</p></main>"
            "<footer>Copyright 2024 Example Inc. All rights reserved.</footer></body></html>")
TRUNCATED_FEED = ('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
                  + catalog.PAPERS[0].entry_xml[:400])
