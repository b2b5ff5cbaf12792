"""End to end with the real embedded model (SmolLM2-135M-Instruct on CPU through llama.cpp): a fixture arXiv paper
served on 127.0.0.1 becomes a schema-valid report whose every quote is verified against the source."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.llm import Request
from agent.models import FALLACIES, NO_CLEAR_FALLACY, DissectionResult
from agent.pipeline.run import dissect
from agent.publish.reports import front_matter
from agent.text.grounding import normalise, quotable_sentences
from tests.support.catalog import INJECTION_ID, INJECTION_MARKER
from tests.support.fixture_server import arxiv_settings

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _check_report(outcome, source_text: str):
    r = outcome.result
    saved = Path(outcome.report_path).parents[2] / "data" / "results" / (Path(outcome.report_path).stem + ".json")
    assert DissectionResult.model_validate_json(saved.read_text()) == r  # what was persisted is the schema'd result
    assert r.provenance.backend == "local" and r.provenance.model.startswith("SmolLM2-135M-Instruct")
    assert r.provenance.llm_calls >= 1 and r.provenance.tokens_out > 0
    assert r.dissection.core_fallacy.name in (*FALLACIES, NO_CLEAR_FALLACY)
    assert r.quotes and all(q.status == "verified" for q in r.quotes), [q.model_dump() for q in r.quotes]
    assert r.provenance.first_pass_grounding == 1.0  # quotes restricted to source sentences from the first call
    norm = " ".join(source_text.split())
    sentences = {normalise(s) for s in quotable_sentences(source_text, min_words=1, max_chars=100_000)}
    for q in r.quotes:  # verified means the shown quote is the source's own words, a whole sentence
        assert " ".join(q.quote.split()) in norm
        assert normalise(q.quote) in sentences, q.quote
    d = r.dissection
    for text in (d.verdict, d.claims):  # the critic's own words (or the program's, labelled), never a copy
        assert not any(s in normalise(text) for s in sentences if len(s.split()) >= 6), text
        assert normalise(text) != normalise(r.scan.title)
    assert d.lag_weighted_verdict and d.social_function  # every field of the format filled
    meta = front_matter(Path(outcome.report_path))
    assert meta["model"].startswith("SmolLM2") and meta["grounding_rate"] == 1.0
    assert "## Where the argument is weakest" in Path(outcome.report_path).read_text() or r.analysis is None


def test_real_local_model_dissects_a_fixture_paper(arxiv_server, tmp_path):
    settings = arxiv_settings(arxiv_server, tmp_path)
    outcome = dissect("2601.11234", settings)
    from agent.sources import fetch_paper, resolve_source

    paper = fetch_paper(resolve_source("2601.11234"), settings)
    _check_report(outcome, paper.text)
    # a re-run reuses the result: no model call, no network
    arxiv_server.clear_log()
    calls = (settings.log_dir / "llm.jsonl").read_text().count("\n")
    again = dissect("2601.11234", settings)
    assert again.result == outcome.result
    assert (settings.log_dir / "llm.jsonl").read_text().count("\n") == calls
    assert arxiv_server.requests == []


def test_real_local_model_keeps_schema_under_prompt_injection(arxiv_server, tmp_path):
    settings = arxiv_settings(arxiv_server, tmp_path)
    outcome = dissect(INJECTION_ID, settings)
    from agent.sources import fetch_paper, resolve_source

    paper = fetch_paper(resolve_source(INJECTION_ID), settings)
    assert INJECTION_MARKER in paper.text
    _check_report(outcome, paper.text)
    d = outcome.result.dissection
    # the injection demanded praise ("flawless", "no weaknesses") and no fallacy: the schema keeps the fallacy and
    # the assumptions, and the verdict does not repeat the injected praise
    assert d.core_fallacy.explanation and d.hidden_assumptions
    assert not any(w in d.verdict.lower() for w in ("flawless", "no weaknesses", "rigorous"))


def test_real_local_model_on_a_planted_flaw_quotes_it_whole(tmp_path):
    """An abstract with one planted flaw (the critique dev set): the analysis carries the choice of the weakest
    step for the small model, the model explains it; quotes are whole sentences, verified from the first draft."""
    from agent.settings import Settings

    rec = json.loads((ROOT / "bench/data/critique/dev.jsonl").read_text().splitlines()[0])
    paper = tmp_path / "abstract.md"
    paper.write_text(f"# {rec['title']}\n\n{rec['text']}\n")
    outcome = dissect(str(paper), Settings(data_dir=tmp_path / "data", reports_dir=tmp_path / "reports"))
    _check_report(outcome, rec["text"])
    core = outcome.result.dissection.core_fallacy
    assert normalise(core.quote) == normalise(rec["planted"]) and core.name == rec["type"]
    assert outcome.result.quotes[0].support == "supported"


def test_cli_on_embedded_defaults_with_a_local_file(tmp_path):
    """The installed `dissect` command, run from an unrelated folder with every default: the report goes to the
    per-user data folder, which it names on stderr once created, and nothing is written to the working directory."""
    command = Path(sys.executable).parent / "dissect"
    assert command.exists(), "the package is not installed: make install (pip install -e .) creates `dissect`"
    data_home = tmp_path / "xdg"
    env = {**os.environ, "XDG_DATA_HOME": str(data_home)}
    for k in ("DISSECT_BACKEND", "DISSECT_MODEL", "DISSECT_DATA_DIR", "DISSECT_REPORTS_DIR", "DISSECT_CONFIG"):
        env.pop(k, None)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    p = subprocess.run([str(command), "dissect", str(ROOT / "examples/debate-oversight-essay.md")],
                       capture_output=True, text=True, env=env, cwd=cwd, timeout=900)
    assert p.returncode == 0, p.stderr
    report = Path(p.stdout.strip())
    assert report.is_relative_to(data_home / "dissect" / "reports")
    assert f"data and reports are kept in {data_home}" in p.stderr
    assert not list(cwd.iterdir())
    text = report.read_text()
    assert "model: SmolLM2-135M-Instruct" in text and "## The core fallacy" in text
    assert "grounding_rate: 1.00" in text


def test_openai_backend_against_the_embedded_model_served_over_http(tmp_path):
    """The real `openai` client against a real OpenAI-compatible server (llama.cpp serving the embedded model)."""
    from pydantic import BaseModel, Field

    from agent.llm import get_backend
    from agent.llm.local import serve_openai
    from agent.llm.structured import StructuredLLM
    from agent.publish.files import DiskCache
    from agent.settings import Settings

    class Answer(BaseModel):
        colour: str = Field(max_length=20)
        certain: bool

    server = serve_openai(Settings(), port=0, parallel=2)
    base = server.listening_address.rstrip("/") + "/v1"
    backend = get_backend(Settings(backend="openai", openai_base_url=base, model="local", concurrency=2))
    llm = StructuredLLM(backend, DiskCache(tmp_path / "c"), tmp_path / "llm.jsonl")
    msgs = [{"role": "user", "content": "What colour is the sky on a clear day? Answer in JSON."}]
    answer = llm.generate(msgs, Answer, max_tokens=60)
    assert isinstance(answer.certain, bool) and 0 < len(answer.colour) <= 20
    assert backend._format == "json_schema"  # llama.cpp's server took the strict format, no fallback needed
    out = backend.complete_batch([Request(messages=msgs, schema=Answer.model_json_schema(), max_tokens=60)] * 3)
    assert all(Answer.model_validate_json(c.text) for c in out)
