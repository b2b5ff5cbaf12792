"""The Jinja environments: prompts (plain text) and reports (Markdown, HTML, Atom).

Untrusted text (from papers, pages, and the model, which read them) passes through filters that make it inert:
`md` escapes HTML and neutralises Markdown that could inject links or headings in Markdown reports; the HTML and
Atom environments autoescape. Every expression of every template, in both environments, also passes through
agent.text.safe.clean_text (the `finalize` hook): no escape sequence, control character or bidi override is ever
written out.
"""
from __future__ import annotations

import html
import re
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import urlsplit

import jinja2
import markupsafe
import yaml

from agent.llm.embedded import default_model_for
from agent.pricing import format_usd
from agent.publish.files import sha256
from agent.text.safe import clean_text, clean_tree, defang_word, shorten_angle_runs

TEMPLATES = Path(str(resources.files("agent") / "templates"))  # shipped inside the package (a real folder)
FENCE_OPEN = "<<<SOURCE_TEXT"
FENCE_CLOSE = "SOURCE_TEXT>>>"


def md_inline(value: object) -> str:
    """Untrusted text for a Markdown report: one line, HTML escaped, no raw links, images or headings."""
    s = " ".join(clean_text(value or "").split())
    s = html.escape(s, quote=False)
    s = s.replace("[", "\\[").replace("]", "\\]").replace("`", "\\`").replace("*", "\\*").replace("_", "\\_")
    s = s.replace("://", ":\u200b//").replace("www.", "www\u200b.")  # no bare autolinks from untrusted text
    # a leading "#", ">", "|" or list marker would change the line's meaning; "2601.10160" must stay as it is
    return re.sub(r"^(#|>|\||[*+-](?=\s)|\d+[.)](?=\s))", r"\\\1", s)


def yaml_value(value: object) -> str:
    dumped = yaml.safe_dump(clean_tree(value), default_flow_style=True, allow_unicode=True, width=10_000)
    return dumped.strip().removesuffix("...").strip()


FENCE_TOKEN = "SOURCE_TEXT"


def fence(text: object) -> str:
    """Untrusted text for a prompt: the fence markers cannot be forged from inside it, not even by lookalikes.
    Every spelling that looks like the token (fullwidth, zero-width characters inside, Cyrillic or Greek letters,
    any case) becomes "SOURCE TEXT", and runs of three angle brackets are cut to two: no marker can be spelled."""
    return shorten_angle_runs(defang_word(str(text or ""), FENCE_TOKEN, "SOURCE TEXT"))


def safe_link(url: object) -> str:
    """A Markdown autolink for http(s) URLs only; anything else (javascript:, data:...) is shown as inert text."""
    u = str(url or "").strip()
    if re.fullmatch(r"https?://[^\s<>\"'`]+", u):
        return f"<{u}>"
    return md_inline(u)


ORIGIN_LABELS = {
    "arxiv-html": "arXiv HTML full text",
    "arxiv-pdf": "arXiv PDF full text (the HTML rendering was unavailable)",
    "arxiv-abstract": "the abstract only (neither HTML nor PDF full text could be fetched)",
    "web": "the web page's main text",
    "pdf": "a local PDF",
    "html": "a local HTML file",
    "markdown": "a local Markdown file",
    "text": "a local text file",
}
_HTTP_URL = re.compile(r"https?://[^\s<>\"'`\\]+")


def safe_url(url: object) -> str:
    """The URL when it is plain http(s), else "" (javascript:, data: and file paths never become links)."""
    u = str(url or "").strip()
    return u if _HTTP_URL.fullmatch(u) else ""


def file_name(locator: str) -> str:
    """The last component of a local path (POSIX or Windows): published output never shows the file layout."""
    name = PureWindowsPath(locator).name if "\\" in locator else PurePosixPath(locator).name
    return name or "local file"


def source_label(kind: str, source_id: str, url: str = "") -> str:
    """How a source is named in published output: arXiv id, the web page's host, or a local file's name."""
    if kind == "arxiv":
        return f"arXiv:{source_id}"
    if kind == "file":
        return file_name(source_id)
    return urlsplit(safe_url(url) or source_id).hostname or "web page"


def is_demo_model(model: str) -> bool:
    """True for output of the embedded demo model (in-process, or served by `cli.py serve` under its name)."""
    return bool(model) and model.lower().removesuffix(".gguf") == default_model_for("local").lower()


def _finalize(value: object) -> object:
    """Every {{ expression }}'s value on its way out: text without control characters (already-escaped Markup
    stays Markup, so autoescape does not escape it twice)."""
    if isinstance(value, markupsafe.Markup):
        return markupsafe.Markup(clean_text(value))
    if value is None or isinstance(value, (int, float, jinja2.Undefined)):
        return value
    return clean_text(value)


@cache
def _env(kind: str) -> jinja2.Environment:
    if kind == "html":
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                 undefined=jinja2.StrictUndefined, finalize=_finalize)
    else:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,
                                 undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                 trim_blocks=False, lstrip_blocks=False, finalize=_finalize)
    env.filters["md"] = md_inline
    env.filters["link"] = safe_link
    env.filters["fence"] = fence
    env.filters["yaml"] = yaml_value
    env.filters["usd"] = format_usd
    env.filters["pct"] = lambda x: f"{100 * float(x):.0f}%"
    env.filters["safe_url"] = safe_url
    env.filters["source"] = lambda scan: source_label(scan.kind, scan.source_id, scan.url)
    env.tests["demo_model"] = is_demo_model
    return env


def render(template: str, **ctx) -> str:
    kind = "html" if template.endswith((".html.j2", ".xml.j2")) else "text"
    return _env(kind).get_template(template).render(**ctx)


def render_prompt(name: str, **ctx) -> str:
    return render(f"prompts/{name}.md.j2", fence_open=FENCE_OPEN, fence_close=FENCE_CLOSE, **ctx).strip()


def prompt_template_hash() -> str:
    """Identifies the prompt templates a report was produced with (changes when a prompt changes)."""
    blobs = sorted((p.name, p.read_text(encoding="utf-8")) for p in (TEMPLATES / "prompts").glob("*.j2")
                   if not p.name.startswith("daily_post"))  # the daily post is not part of a dissection
    return sha256(repr(blobs), 12)
