"""The reader's votes (agent.digest.votes), their use in the ranking, negative keywords, and the feedback command.
The embedder is the real MiniLM; no network."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from agent.cli_main import main as cli_main
from agent.corpus.embeddings import embed
from agent.digest.ranking import load_profile, score_papers
from agent.digest.votes import (
    MIN_VOTES,
    LearnedTaste,
    VoteBook,
    VoteRecord,
    arxiv_paper_id,
    clear_vote,
    known_paper,
    learn_taste,
    load_votes,
    record_vote,
    votes_for_ranking,
    votes_path,
)
from agent.errors import ConfigError, InvalidSourceError
from agent.models import Paper, SourceRef
from agent.publish.files import DiskCache

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 20, tzinfo=UTC)

INTERP = [("Sparse autoencoders recover features of refusal",
           "We train sparse autoencoders on a chat model's residual stream and find features that mediate refusal."),
          ("Circuits for indirect object identification",
           "We reverse-engineer the attention heads that implement indirect object identification in a transformer."),
          ("Probing hidden goals with linear probes",
           "Linear probes on activations detect a hidden objective that the model does not state in its output.")]
POLICY = [("Compute governance for frontier AI",
           "We propose licensing regimes and compute thresholds for regulating frontier AI developers."),
          ("International institutions for AI risk",
           "An international agency could coordinate safety standards for advanced AI between governments."),
          ("Liability law and AI harms", "We analyse how tort liability could assign responsibility for AI harms.")]


def paper(pid: str, title: str, abstract: str) -> Paper:
    return Paper(ref=SourceRef(kind="arxiv", locator=pid), title=title, abstract=abstract, text=abstract,
                 text_origin="arxiv-abstract")


def vote(pid: str, v: str, title: str, abstract: str) -> VoteRecord:
    return VoteRecord(id=pid, vote=v, at=NOW, title=title, text=f"{title}. {abstract}")


# ---- ids --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, pid", [
    ("2601.10160", "2601.10160"), ("2601.10160v2", "2601.10160"), ("arXiv:2601.10160", "2601.10160"),
    ("https://arxiv.org/abs/2601.10160v3", "2601.10160"), ("https://arxiv.org/pdf/2601.10160.pdf", "2601.10160"),
    ("hep-th/9901001v1", "hep-th/9901001"),
])
def test_any_form_of_an_arxiv_id_names_the_paper_without_version(text, pid):
    assert arxiv_paper_id(text) == pid


@pytest.mark.parametrize("text", ["2601.1016", "1300.12345", "notes/x.md", "https://example.org/post", "", "up"])
def test_anything_else_is_one_clear_line(text):
    with pytest.raises(InvalidSourceError) as err:
        arxiv_paper_id(text)
    assert "\n" not in str(err.value) and ("arXiv id" in str(err.value) or "empty" in str(err.value))


# ---- the votes file -----------------------------------------------------------------------------------------
def test_votes_are_stored_per_paper_latest_wins_and_text_is_kept(tmp_path):
    record_vote(tmp_path, "2601.10160", "up", title="T", text="T. abstract", now=NOW)
    record_vote(tmp_path, "2601.10160", "hide", now=NOW)  # no text this time: the snapshot stays
    record_vote(tmp_path, "2601.00001", "down", now=NOW)
    book = load_votes(tmp_path)
    assert {k: v.vote for k, v in book.votes.items()} == {"2601.10160": "hide", "2601.00001": "down"}
    assert book.votes["2601.10160"].text == "T. abstract"
    assert book.hidden() == {"2601.10160"}
    assert [v.id for v in book.learnable()] == ["2601.10160"]
    assert json.loads(votes_path(tmp_path).read_text())["version"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert clear_vote(tmp_path, "2601.10160").vote == "hide"
    assert clear_vote(tmp_path, "2601.10160") is None
    assert load_votes(tmp_path).hidden() == set()


def test_a_damaged_votes_file_is_reported_and_never_overwritten(tmp_path):
    votes_path(tmp_path).write_text('{"version": 1, "votes": {"x": ')
    with pytest.raises(ConfigError, match="damaged"):
        load_votes(tmp_path)
    with pytest.raises(ConfigError):
        record_vote(tmp_path, "2601.10160", "up")
    assert votes_path(tmp_path).read_text() == '{"version": 1, "votes": {"x": '


def test_concurrent_feedback_commands_lose_no_vote(tmp_path):
    script = ("import sys; from agent.digest.votes import record_vote\n"
              "for i in range(15): record_vote(sys.argv[1], f'2601.{int(sys.argv[2]) + i:05d}', 'up')\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), str(start)], cwd=ROOT)
             for start in (10000, 20000, 30000)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    assert len(load_votes(tmp_path).votes) == 45


def test_known_paper_reads_the_metadata_cache_by_bare_or_pinned_id(tmp_path):
    cache = DiskCache(tmp_path / "cache")
    cache.put_json("arxiv-meta", "2601.00002v2", {"id": "2601.00002", "title": "Pinned", "abstract": "An  abstract."})
    assert known_paper(tmp_path / "cache", "2601.00002") == ("Pinned", "Pinned. An abstract.")
    assert known_paper(tmp_path / "cache", "2601.00003") == ("", "")
    record_vote(tmp_path / "data", "2601.00002", "up")  # voted before its metadata was known: no text stored
    assert load_votes(tmp_path / "data").votes["2601.00002"].text == ""
    assert votes_for_ranking(tmp_path / "data", tmp_path / "cache").votes["2601.00002"].text == "Pinned. An abstract."


# ---- the learned component ---------------------------------------------------------------------------------------
def test_logistic_taste_separates_and_needs_a_contrast():
    rng = np.random.default_rng(0)
    direction = rng.normal(size=384)
    direction /= np.linalg.norm(direction)

    def unit(v):
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    pos = unit(rng.normal(size=(6, 384)) * 0.05 + direction)
    neg = unit(rng.normal(size=(6, 384)) * 0.05 - direction)
    taste = LearnedTaste.fit(pos, neg)
    assert taste.probability(pos).min() > 0.8 and taste.probability(neg).max() < 0.2
    assert LearnedTaste.fit(pos[:0], neg) is None
    assert LearnedTaste.fit(pos, neg[:0]) is None
    assert LearnedTaste.fit(pos, neg[:0], background=neg) is not None  # only "up" votes: the others contrast


def test_taste_waits_for_a_few_votes_and_its_weight_grows():
    votes = [vote(f"2601.0000{i}", "up" if i % 2 else "down", *INTERP[i % 3]) for i in range(MIN_VOTES - 1)]
    assert learn_taste(VoteBook(votes={v.id: v for v in votes}), embed) is None
    more = [vote(f"2601.0001{i}", "up" if i % 2 else "down", *POLICY[i % 3]) for i in range(6)]
    book = VoteBook(votes={v.id: v for v in [*votes, *more]})
    taste = learn_taste(book, embed)
    assert taste is not None and 0 < taste.weight < 0.5


# ---- the ranking ---------------------------------------------------------------------------------------------------
def test_hidden_papers_never_rank_and_votes_move_the_ranking():
    profile = load_profile()
    candidates = [paper("2601.20001", "Attribution graphs for a model's refusals",
                        "We trace which internal features and attention heads cause a chat model to refuse."),
                  paper("2601.20002", "A treaty framework for frontier AI",
                        "We design an international treaty with compute caps and inspections for frontier AI."),
                  paper("2601.20003", "Hidden paper", "Sycophancy and reward hacking in RLHF-trained assistants.")]
    before = score_papers(candidates, profile)
    assert {r.id for r in before} == {"2601.20001", "2601.20002", "2601.20003"}
    assert all(r.learned is None for r in before)
    book = VoteBook(votes={v.id: v for v in [
        *(vote(f"2601.1000{i}", "up", t, a) for i, (t, a) in enumerate(INTERP)),
        *(vote(f"2601.1100{i}", "down", t, a) for i, (t, a) in enumerate(POLICY)),
        VoteRecord(id="2601.20003", vote="hide", at=NOW)]})
    after = score_papers(candidates, profile, votes=book)
    assert [r.id for r in after if r.id == "2601.20003"] == []
    by_id = {r.id: r for r in after}
    interp, policy = by_id["2601.20001"], by_id["2601.20002"]
    assert interp.learned > 0.5 > policy.learned
    old = {r.id: r.score for r in before}
    assert interp.score - policy.score > old["2601.20001"] - old["2601.20002"]


def test_negative_keywords_halve_the_score(tmp_path):
    text = (ROOT / "agent" / "templates" / "profile" / "interest.md").read_text(encoding="utf-8")
    prof_path = tmp_path / "p.md"
    prof_path.write_text(text.replace("avoid:\n", "avoid:\n  - red teaming\n", 1), encoding="utf-8")
    profile = load_profile(prof_path)
    assert "red teaming" in profile.avoid and profile.voice.startswith("First person")
    p = paper("2601.30001", "Automated red teaming of chat models", "We automate red teaming of chat models "
              "for jailbreaks and measure how safety training holds up.")
    plain = score_papers([p], load_profile())[0]
    avoided = score_papers([p], profile)[0]
    assert avoided.avoided == ["red teaming"]
    assert avoided.score == pytest.approx(plain.score / 2, abs=0.002)


@pytest.mark.parametrize("front, message", [("avoid: {a: 1}", "avoid must be a list"),
                                            ("voice: [1, 2]", "voice must be text")])
def test_bad_avoid_or_voice_is_a_config_error(tmp_path, front, message):
    path = tmp_path / "p.md"
    path.write_text(f"---\n{front}\n---\nAlignment of AI systems.\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_profile(path)


# ---- the command ---------------------------------------------------------------------------------------------------
def test_feedback_command_records_hides_and_refuses_bad_ids(tmp_path, capsys):
    data = tmp_path / "data"
    assert cli_main(["feedback", "2601.10160v2", "hide", "--data-dir", str(data)]) == 0
    assert "recorded: hide 2601.10160" in capsys.readouterr().out
    assert load_votes(data).hidden() == {"2601.10160"}
    assert cli_main(["feedback", "2601.10160", "up", "--json", "--data-dir", str(data)]) == 0
    assert json.loads(capsys.readouterr().out)["vote"] == "up"
    assert cli_main(["feedback", "2601.1016", "up", "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "malformed arXiv id" in err and "Traceback" not in err
    assert cli_main(["feedback", "2601.10160", "clear", "--data-dir", str(data)]) == 0
    assert load_votes(data).votes == {}
