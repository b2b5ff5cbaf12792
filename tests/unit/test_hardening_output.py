"""Control characters never leave the program (issue 9, item 5): escape sequences, C0/C1 controls and bidi
overrides in a title, the text or a server's model name reach no .md, .html, index, feed or terminal line."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.commands import terminal_safe
from agent.critique.prompts import dissect_messages
from agent.models import Paper, SourceRef
from agent.publish.digest_page import digest_markdown, feed_xml
from agent.publish.files import write_json
from agent.publish.render import md_inline, yaml_value
from agent.publish.reports import REPORTS_FOLDER, report_markdown, write_index
from agent.publish.site import build_site
from agent.settings import Settings
from agent.text.safe import clean_text
from tests.support.site_fixtures import fixture_records, make_result

FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
TITLE = "\x1b]0;pwned\x07Reward \x1b[31mhacking\x1b[0m \u202eseton\u202c\u2066x\u2069 \x9b2J done\x00\x08"
MODEL = "gpt-\x1b[2J\x1b[Hclean\u202e-model\r"
VERDICT = "Overstated\x1b[8m hidden\x1b[28m; \u200fsee\u200e \x85notes\x7f."


@pytest.mark.parametrize("raw, expected", [
    ("\x1b[31mRed\x1b[0m title", "Red title"),
    ("a\x1b]8;;http://evil.example\x07link\x1b]8;;\x07 b", "alink b"),
    ("ab\u202ecba\u2066x\u2069 \u061c\u200e\u200f", "abcbax "),
    ("x\r\ny\rz", "x\nyz"),
    ("caf\u00e9 \u4e2d\u6587 \U0001F469\u200d\U0001F4BB", "caf\u00e9 \u4e2d\u6587 \U0001F469\u200d\U0001F4BB"),
    ("tab\there\nnext line", "tab\there\nnext line"),
    ("C1\x9b2Jcsi\x85nel\x90dcs", "C1csineldcs"),
    ("lone\ud800surrogate\ufffe", "lonesurrogate"),
    ("line\u2028sep", "line\u2028sep"),
    (None, ""),
])
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected


def test_an_unterminated_escape_string_does_not_eat_the_rest():
    assert clean_text("a\x1b]title without end\nThe paper goes on.") == "a\nThe paper goes on."


def test_filters_and_terminal():
    for out in (md_inline(TITLE), yaml_value({"title": TITLE, "authors": [TITLE]}), terminal_safe(TITLE),
                terminal_safe(MODEL)):
        assert not FORBIDDEN.search(out), repr(out)
    assert "hacking" in md_inline(TITLE) and "clean" in terminal_safe(MODEL)


def test_every_published_file_is_free_of_control_characters(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", reports_dir=tmp_path / "reports")
    result = make_result(title=TITLE, source_id="2601.10160", url="https://arxiv.org/abs/2601.10160",
                         when="2026-01-15T06:50:00+00:00", verdict=VERDICT, model=MODEL,
                         authors=["Ada \x1b[1mBold\x1b[0m", "\u202eBo"])
    write_json(settings.paths.data_dir / "results" / f"{result.slug}.json", result.model_dump(mode="json"))
    md = Path(settings.paths.reports_dir) / REPORTS_FOLDER / f"{result.slug}.md"
    md.parent.mkdir(parents=True)
    md.write_text(report_markdown(result), encoding="utf-8")
    records = fixture_records([result, *_others()])
    records[1] = records[1].model_copy(update={"model": MODEL})
    for rec in records:
        write_json(settings.paths.data_dir / "digests" / f"{rec.date}.json", rec.model_dump(mode="json"))
    outputs = {"report": report_markdown(result), "digest": digest_markdown(records[1]),
               "feed": feed_xml(settings, records), "index": write_index(settings).read_text(encoding="utf-8"),
               "prompt": "\n".join(m["content"] for m in dissect_messages(Paper(
                   ref=SourceRef(kind="file", locator="/tmp/x.md"), title=TITLE, authors=[MODEL], text=VERDICT,
                   text_origin="markdown"), VERDICT, []))}
    site = build_site(settings)
    outputs |= {str(p.relative_to(site)): p.read_text(encoding="utf-8") for p in site.rglob("*")
                if p.suffix in (".html", ".xml", ".json", ".js", ".md")}
    assert len(outputs) > 6
    dirty = {name: FORBIDDEN.findall(text) for name, text in outputs.items() if FORBIDDEN.search(text)}
    assert dirty == {}
    assert "hacking" in outputs["report"] and "hacking" in outputs["feed"] and "hacking" in outputs["index"]


def _others():
    return [make_result(title="Debate improves scalable oversight", source_id="2601.11234",
                        url="https://arxiv.org/abs/2601.11234", when="2026-01-14T07:10:00+00:00"),
            make_result(title="Reward hacking detection with probes", source_id="2601.12007",
                        url="https://arxiv.org/abs/2601.12007", when="2026-01-14T07:20:00+00:00")]
