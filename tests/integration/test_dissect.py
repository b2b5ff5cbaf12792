"""The dissect graph end to end with a fast fake model: real arxiv client, trafilatura, pypdf, Chroma, embeddings
and Jinja against the local fixture server. (tests/test_e2e_local.py runs the real embedded model.)"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from agent.cli_main import main as cli_main
from agent.errors import InvalidSourceError, LLMError, SourceNotFoundError
from agent.models import DissectionResult
from agent.pipeline.run import dissect, make_llm
from agent.publish.reports import front_matter
from tests.support.catalog import ABSTRACT_ONLY_ID, LONG_ID, PDF_ONLY_ID, UNKNOWN_ID
from tests.support.fakes import FakeBackend
from tests.support.fixture_server import arxiv_settings
from tests.support.openai_server import OpenAIFixture

ROOT = Path(__file__).resolve().parents[2]


def run(source, settings, backend=None, **kw):
    backend = backend or FakeBackend()
    return dissect(source, settings, llm=make_llm(settings, backend), **kw), backend


def test_arxiv_paper_to_report(arxiv_server, tmp_path):
    settings = arxiv_settings(arxiv_server, tmp_path)
    outcome, backend = run("2601.10160", settings)
    path = Path(outcome.report_path)
    assert path.parent.parent == settings.paths.reports_dir and path.name == "2601-10160.md"
    meta = front_matter(path)
    assert meta["source_id"] == "2601.10160" and meta["model"] == "fake-critic-1" and meta["backend"] == "fake"
    assert meta["text_origin"] == "arxiv-html" and meta["grounding_rate"] == 1.0
    text = path.read_text()
    for heading in ("## Source scan", "## The core fallacy", "## Hidden assumptions", "## Social function",
                    "## Verdict", "## Related writing", "## Provenance"):
        assert heading in text
    r = outcome.result
    assert all(q.status == "verified" for q in r.quotes) and r.quotes
    assert r.scan.first_line.endswith((".", "!", "?"))
    assert set(r.provenance.stage_seconds) >= {"resolve", "fetch", "fit", "retrieve", "analyse", "verify"}
    assert r.provenance.tokens_in > 0 and r.provenance.llm_calls == 1
    index = (settings.paths.reports_dir / "index.md").read_text()
    assert "2601-10160.md" in index
    saved = DissectionResult.model_validate_json((settings.paths.data_dir / "results" / "2601-10160.json").read_text())
    assert saved.dissection == r.dissection


def test_first_line_is_copied_from_the_abstract(arxiv_server, tmp_path):
    from tests.support.catalog import BY_ID

    outcome, _ = run("2601.11234", arxiv_settings(arxiv_server, tmp_path))
    assert " ".join(BY_ID["2601.11234"].abstract.split()).startswith(outcome.result.scan.first_line)


def test_rerun_uses_caches_and_force_refetches(arxiv_server, tmp_path):
    settings = arxiv_settings(arxiv_server, tmp_path)
    run("2601.11234", settings)
    arxiv_server.clear_log()
    _, backend = run("2601.11234", settings)
    assert arxiv_server.requests == [] and backend.requests == []  # no network, no model call
    _, backend = run("2601.11234", settings, force=True)
    assert arxiv_server.requests and len(backend.requests) == 1


def test_rerun_reuses_the_result_even_when_the_store_grew(arxiv_server, tmp_path):
    from agent.corpus.store import Store

    settings = arxiv_settings(arxiv_server, tmp_path)
    first, _ = run("2601.11234", settings)
    Store(settings).upsert_document("note", "Debate as scalable oversight needs honest equilibria and strong judges.",
                                    {"title": "On debate"})
    again, backend = run("2601.11234", settings)
    assert backend.requests == [] and again.result == first.result
    forced, backend = run("2601.11234", settings, force=True)
    assert len(backend.requests) == 1 and any(p.title == "On debate" for p in forced.result.related)


def test_pdf_and_abstract_fallbacks_are_reported(arxiv_server, tmp_path):
    settings = arxiv_settings(arxiv_server, tmp_path)
    pdf, _ = run(PDF_ONLY_ID, settings)
    assert pdf.result.scan.text_origin == "arxiv-pdf"
    assert "PDF full text" in Path(pdf.report_path).read_text()
    abstract, _ = run(ABSTRACT_ONLY_ID, settings)
    assert abstract.result.scan.text_origin == "arxiv-abstract"
    assert any("abstract" in n for n in abstract.result.notes)
    assert "the abstract only" in Path(abstract.report_path).read_text()


def test_poor_grounding_triggers_one_constrained_revision(arxiv_server, tmp_path):
    settings = arxiv_settings(arxiv_server, tmp_path)
    outcome, backend = run("2601.10160", settings, backend=FakeBackend(invent_quotes=True))
    assert len(backend.requests) == 2
    quote_schema = backend.requests[1].schema["$defs"]["CoreFallacy"]["properties"]["quote"]
    assert quote_schema["enum"] and all(len(s) <= 400 for s in quote_schema["enum"])
    assert outcome.result.provenance.revised and outcome.result.provenance.grounding_rate == 1.0


def test_unverified_quotes_are_marked_not_hidden(arxiv_server, tmp_path):
    settings = arxiv_settings(arxiv_server, tmp_path, grounding_min=0.0)  # no revision
    outcome, _ = run("2601.10160", settings, backend=FakeBackend(invent_quotes=True))
    assert outcome.result.provenance.grounding_rate == 0.0
    text = Path(outcome.report_path).read_text()
    assert "not found in the source" in text and "*(unverified)*" in text and "0 verbatim" in text


def test_long_paper_is_fitted_not_cut(arxiv_server, tmp_path):
    settings = arxiv_settings(arxiv_server, tmp_path)
    outcome, backend = run(LONG_ID, settings)
    fit = outcome.result.provenance.context_fit
    assert fit.startswith("fitted: kept") and "tokens" in fit
    prompt = backend.requests[0].messages[1]["content"]
    assert backend.count_tokens(prompt) < backend.context_tokens - settings.llm.max_output_tokens
    assert "paragraphs omitted" in prompt
    # the conclusion made it in, not just the first N characters
    from tests.support.catalog import paper_paragraphs

    last = paper_paragraphs(LONG_ID)[-1]
    assert " ".join(last.split())[:80] in " ".join(prompt.split())


def test_injection_is_kept_out_of_the_prompt_and_named(arxiv_server, tmp_path):
    from agent.publish.render import FENCE_CLOSE, FENCE_OPEN
    from agent.text.injection import PLACEHOLDER
    from tests.support.catalog import INJECTION_ID, INJECTION_MARKER

    outcome, backend = run(INJECTION_ID, arxiv_settings(arxiv_server, tmp_path))
    system, user = backend.requests[0].messages
    assert INJECTION_MARKER not in system["content"] + user["content"]  # planted instructions never reach the model
    inside = user["content"].split(FENCE_OPEN, 1)[1].split(FENCE_CLOSE, 1)
    assert PLACEHOLDER in inside[0] and PLACEHOLDER not in inside[1]  # where it was, inside the fenced source
    assert INJECTION_MARKER in Path(outcome.report_path).read_text()  # shown to the reader as a finding


def test_source_errors(arxiv_server, tmp_path):
    settings = arxiv_settings(arxiv_server, tmp_path)
    with pytest.raises(SourceNotFoundError):
        run(UNKNOWN_ID, settings)
    with pytest.raises(InvalidSourceError):
        run("2601.1", settings)
    assert not settings.paths.reports_dir.exists()  # nothing half-written


def test_model_failure_writes_nothing(arxiv_server, tmp_path):
    settings = arxiv_settings(arxiv_server, tmp_path)
    with pytest.raises(LLMError):
        run("2601.10160", settings, backend=FakeBackend(invalid_first=99))
    assert not list(settings.paths.reports_dir.glob("*/*.md"))


def test_interrupt_mid_run_leaves_no_partial_report(arxiv_server, tmp_path):
    settings = arxiv_settings(arxiv_server, tmp_path)

    class Interrupting(FakeBackend):
        def complete(self, request):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run("2601.10160", settings, backend=Interrupting())
    assert not list(settings.paths.reports_dir.glob("**/*.md"))
    assert not list(settings.paths.data_dir.glob("**/*.tmp"))
    outcome, _ = run("2601.10160", settings)  # and the next run works from the cached source
    assert Path(outcome.report_path).exists()


def test_related_writing_and_earlier_papers(arxiv_server, tmp_path):
    from agent.corpus.store import Store

    settings = arxiv_settings(arxiv_server, tmp_path)
    store = Store(settings)
    store.upsert_document("note-sycophancy", "Sycophancy is when a model tells raters what they want to hear. "
                          "Preference models reward agreement, so RLHF can train flattery instead of honesty.",
                          {"title": "On sycophancy", "author": "A. Critic", "url": "https://example.org/syc"})
    run("2601.11234", settings, store=store)  # an earlier paper, now in the papers collection
    outcome, _ = run("2601.10160", settings, store=store)
    related = outcome.result.related
    assert related and related[0].title and 0 < related[0].score <= 1
    assert any(p.relation for p in related)  # the model said how each relates
    assert "similarity" in Path(outcome.report_path).read_text()


# ---- the command line, as a user runs it (in-process: cli.main with the environment and working directory set) --
@pytest.fixture
def cli(monkeypatch, capsys):
    def run_cli(args, env, cwd):
        with monkeypatch.context() as m:
            for name, value in env.items():
                m.setenv(name, value)
            m.chdir(cwd)
            capsys.readouterr()
            code = cli_main(args)
            out, err = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)
    return run_cli


@pytest.fixture
def cli_env(arxiv_server, tmp_path):
    srv = OpenAIFixture()
    s = arxiv_settings(arxiv_server, tmp_path)
    env = {"DISSECT_BACKEND": "openai", "OPENAI_BASE_URL": srv.base_url, "DISSECT_MODEL": srv.model,
           "DISSECT_ARXIV_API_URL": s.sources.arxiv_api_url, "DISSECT_ARXIV_HTML_URL": s.sources.arxiv_html_url,
           "DISSECT_ARXIV_PDF_URL": s.sources.arxiv_pdf_url, "DISSECT_ARXIV_DELAY": "0.05", "DISSECT_HTTP_RETRIES": "1",
           "DISSECT_DATA_DIR": "data", "DISSECT_REPORTS_DIR": "reports"}  # relative: under the test's cwd
    yield env
    srv.close()


def test_cli_dissect_prints_path_then_json(cli, cli_env, tmp_path):
    p = cli(["dissect", "2601.10160"], cli_env, tmp_path)
    assert p.returncode == 0, p.stderr
    path = tmp_path / p.stdout.strip()
    assert path.exists() and path.is_relative_to(tmp_path / "reports")
    assert yaml.safe_load(path.read_text().split("---")[1])["model"] == "fixture-critic"
    p = cli(["dissect", "2601.10160", "--json"], cli_env, tmp_path)
    assert p.returncode == 0
    assert json.loads(p.stdout)["provenance"]["model"] == "fixture-critic"


@pytest.mark.parametrize("source,code,words", [
    ("2601.1", 2, "malformed arXiv id"),
    (UNKNOWN_ID, 3, "no paper"),
    ("missing-file.pdf", 2, "file not found"),
    ("ftp://example.org/x", 2, "unsupported URL scheme"),
])
def test_cli_bad_input_is_one_line(cli, cli_env, tmp_path, source, code, words):
    p = cli(["dissect", source], cli_env, tmp_path)
    assert p.returncode == code
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], p.stderr
    assert "Traceback" not in p.stderr and not (tmp_path / "reports").exists()


def test_cli_not_a_pdf_and_binary_file(cli, cli_env, tmp_path):
    fake_pdf = tmp_path / "paper.pdf"
    fake_pdf.write_text("<html>this is not a pdf</html>")
    binary = tmp_path / "blob.txt"
    binary.write_bytes(bytes(range(256)) * 20)
    for f in (fake_pdf, binary):
        p = cli(["dissect", str(f)], cli_env, tmp_path)
        assert p.returncode == 5 and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_cli_configured_backend_failure_is_an_error_not_a_switch(cli, cli_env, tmp_path):
    env = {**cli_env, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "DISSECT_LLM_TIMEOUT": "2"}
    p = cli(["dissect", "2601.10160"], env, tmp_path)
    assert p.returncode == 6 and "cannot reach" in p.stderr
    assert not list((tmp_path / "reports").glob("*/*.md"))


def test_untrusted_text_is_inert_in_markdown_and_html(tmp_path):
    from agent.settings import Settings

    essay = tmp_path / "essay.md"
    essay.write_text('---\ntitle: "<script>alert(1)</script> [x](javascript:alert(2))"\nurl: "javascript:alert(3)"\n'
                     'date: "<img src=x onerror=alert(4)>"\n---\n\nWe show that <b>debate</b> makes every model '
                     "honest in all settings we tried. Therefore oversight is solved for frontier systems today.\n")
    settings = Settings(data_dir=tmp_path / "data", reports_dir=tmp_path / "reports")
    outcome, _ = run(str(essay), settings)
    md = Path(outcome.report_path).read_text()
    body = md.split("\n---\n", 1)[1]
    assert "<script>" not in body and "<img" not in body and "<b>" not in body
    assert "[x](javascript:" not in body and "\\[x\\]" in body and "<javascript:" not in body
    html = (settings.paths.reports_dir / "site" / "reports" / (Path(outcome.report_path).stem + ".html")).read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html and 'href="javascript' not in html
    assert "<img" not in html and "<b>debate" not in html
    index = (settings.paths.reports_dir / "site" / "index.html").read_text()
    assert "<script>" not in index and Path(outcome.report_path).stem + ".html" in index
    assert str(tmp_path) not in html + index + md  # a local source is shown by name, never by its path


def test_cli_global_options_work_after_the_command(cli, cli_env, tmp_path):
    p = cli(["dissect", "2601.10160", "--out", "elsewhere", "-q"], cli_env, tmp_path)
    assert p.returncode == 0, p.stderr
    assert Path(p.stdout.strip()).is_relative_to(tmp_path / "elsewhere")
    p = cli(["--out", "first", "dissect", "2601.10160", "-q", "--force"], cli_env, tmp_path)
    assert Path(p.stdout.strip()).is_relative_to(tmp_path / "first")
