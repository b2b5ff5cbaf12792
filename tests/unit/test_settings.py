"""Settings are validated when they load: one clear line for every bad value (issue 9 item 10, issue 10)."""
from __future__ import annotations

import pytest

from agent.errors import ConfigError
from agent.settings import describe_settings, load_settings


@pytest.mark.parametrize("env, where", [
    ({"DISSECT_CONCURRENCY": "-1"}, "digest.concurrency"),
    ({"DISSECT_DIGEST_MAX": "-3"}, "digest.max"),
    ({"DISSECT_CONTEXT_TOKENS": "-10"}, "llm.context_tokens"),
    ({"DISSECT_MAX_OUTPUT_TOKENS": "0"}, "llm.max_output_tokens"),
    ({"DISSECT_HTTP_TIMEOUT": "-5"}, "sources.http_timeout_s"),
    ({"DISSECT_LLM_TIMEOUT": "0"}, "llm.timeout_s"),
    ({"DISSECT_DIGEST_THRESHOLD": "1.5"}, "digest.threshold"),
    ({"DISSECT_ARXIV_HTML_URL": "https://arxiv.org/html/{paper}"}, "sources.arxiv_html_url"),
    ({"DISSECT_ARXIV_PDF_URL": "file:///etc/{id}"}, "sources.arxiv_pdf_url"),
    ({"DISSECT_DIGEST_CATEGORIES": "cs.AI,../../etc"}, "digest.categories"),
    ({"DISSECT_LLM__TEMPERATURE": "7"}, "llm.temperature"),
])
def test_bad_values_are_one_clear_line(env, where):
    with pytest.raises(ConfigError) as err:
        load_settings(env=env)
    msg = str(err.value)
    assert msg.startswith(f"invalid setting {where}") and "\n" not in msg


def test_unknown_placeholder_names_the_allowed_ones():
    with pytest.raises(ConfigError, match=r"unknown placeholder \{paper\} \(allowed: \{id\}\)"):
        load_settings(env={"DISSECT_ARXIV_HTML_URL": "https://arxiv.org/html/{paper}"})


def test_nested_and_flat_names_and_precedence(tmp_path):
    cfg = tmp_path / "dissect.toml"
    cfg.write_text('backend = "openai"\n[digest]\nmax = 7\n[llm]\nthreads = 3\n')
    env = {"DISSECT_CONFIG": str(cfg), "DISSECT_LLM__THREADS": "2", "DISSECT_DIGEST_CATEGORIES": "cs.AI, cs.LG"}
    s = load_settings({"model": "m-from-flag"}, env=env)
    assert (s.llm.backend, s.llm.model, s.llm.threads, s.digest.max) == ("openai", "m-from-flag", 2, 7)
    assert s.digest.categories == ["cs.AI", "cs.LG"]
    origins = {r["name"]: r["origin"] for r in describe_settings(s, {"model": "m-from-flag"}, env=env)}
    assert origins["llm.model"] == "flag" and origins["llm.threads"] == "env DISSECT_LLM__THREADS"
    assert origins["digest.max"] == f"file {cfg}" and origins["llm.backend"] == f"file {cfg}"
    assert origins["llm.temperature"] == "default"


def test_unknown_keys_are_refused_and_secrets_never_shown(tmp_path):
    cfg = tmp_path / "dissect.toml"
    cfg.write_text("[llm]\nbakend = 'openai'\n")
    with pytest.raises(ConfigError, match="llm.bakend"):
        load_settings(env={"DISSECT_CONFIG": str(cfg)})
    s = load_settings(env={"OPENAI_API_KEY": "sk-secret"})
    row = next(r for r in describe_settings(s, env={"OPENAI_API_KEY": "sk-secret"}) if r["name"] == "llm.api_key")
    assert row["value"] == "(set)" and "sk-secret" not in str(describe_settings(s, env={}))
