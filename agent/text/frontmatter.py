"""YAML front matter: the one parser, for Markdown sources (title, author, date) and for our own reports."""
from __future__ import annotations

import re

import yaml


def split_front_matter(text: str) -> tuple[dict, str]:
    """YAML front matter of a Markdown file (title, author, date...) and the body without it."""
    m = re.match(r"^---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(\r?\n|$)", text, re.S)
    if not m:
        return {}, text
    try:
        meta = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        return {}, text  # not front matter after all: keep the text as it is
    if not isinstance(meta, dict):
        return {}, text
    return {str(k): v for k, v in meta.items()}, text[m.end():].lstrip("\n")
