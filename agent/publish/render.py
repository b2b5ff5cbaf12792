"""The Jinja environments: prompts (plain text) and reports (Markdown, HTML, Atom).

Untrusted text (from papers, pages, and the model, which read them) passes through filters that make it inert:
`md` escapes HTML and neutralises Markdown that could inject links or headings in Markdown reports; the HTML and
Atom environments autoescape.
"""
from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path

import jinja2
import yaml

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
FENCE_OPEN = "<<<SOURCE_TEXT"
FENCE_CLOSE = "SOURCE_TEXT>>>"


def md_inline(value: object) -> str:
    """Untrusted text for a Markdown report: one line, HTML escaped, no raw links, images or headings."""
    s = " ".join(str(value or "").split())
    s = html.escape(s, quote=False)
    s = s.replace("[", "\\[").replace("]", "\\]").replace("`", "\\`").replace("*", "\\*").replace("_", "\\_")
    s = s.replace("://", ":\u200b//").replace("www.", "www\u200b.")  # no bare autolinks from untrusted text
    # a leading "#", ">", "|" or list marker would change the line's meaning; "2601.10160" must stay as it is
    return re.sub(r"^(#|>|\||[*+-](?=\s)|\d+[.)](?=\s))", r"\\\1", s)


def yaml_value(value: object) -> str:
    return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000).strip().removesuffix("...").strip()


FENCE_TOKEN = "SOURCE_TEXT"


def fence(text: object) -> str:
    """Untrusted text for a prompt: the fence markers cannot be forged from inside it. Removing the token itself
    (repeatedly: removal can join the pieces of a nested one) leaves no way to spell a marker."""
    s = str(text or "")
    while FENCE_TOKEN in s:
        s = s.replace(FENCE_TOKEN, "SOURCE TEXT")
    return s


def safe_link(url: object) -> str:
    """A Markdown autolink for http(s) URLs only; anything else (javascript:, data:...) is shown as inert text."""
    u = str(url or "").strip()
    if re.fullmatch(r"https?://[^\s<>\"'`]+", u):
        return f"<{u}>"
    return md_inline(u)


@cache
def _env(kind: str) -> jinja2.Environment:
    if kind == "html":
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                 undefined=jinja2.StrictUndefined)
    else:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,
                                 undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                 trim_blocks=False, lstrip_blocks=False)
    env.filters["md"] = md_inline
    env.filters["link"] = safe_link
    env.filters["fence"] = fence
    env.filters["yaml"] = yaml_value
    env.filters["pct"] = lambda x: f"{100 * float(x):.0f}%"
    return env


def render(template: str, **ctx) -> str:
    kind = "html" if template.endswith((".html.j2", ".xml.j2")) else "text"
    return _env(kind).get_template(template).render(**ctx)


def render_prompt(name: str, **ctx) -> str:
    return render(f"prompts/{name}.md.j2", fence_open=FENCE_OPEN, fence_close=FENCE_CLOSE, **ctx).strip()


def prompt_template_hash() -> str:
    """Identifies the prompt templates a report was produced with (changes when a prompt changes)."""
    from agent.publish.files import sha256

    blobs = sorted((p.name, p.read_text(encoding="utf-8")) for p in (TEMPLATES / "prompts").glob("*.j2"))
    return sha256(repr(blobs), 12)
