"""The daily post with the real embedded model (SmolLM2-135M-Instruct on CPU): schema-valid, the claim quote one of
the offered source sentences, every quote verified against the paper, the profile's voice in the prompt. The
dissection it rests on comes from the fast fake model: the point here is the post's own model call."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.digest.daily_post import daily_post_markdown, write_daily_post
from agent.digest.ranking import load_profile
from agent.models import DissectionDraft, DissectionResult, Provenance, SourceScan
from agent.pipeline.run import make_llm
from agent.publish.render import FENCE_CLOSE, FENCE_OPEN
from agent.settings import Settings
from agent.text.grounding import normalise, verify_draft
from tests.support.fakes import FakeBackend

PAPER = Path(__file__).resolve().parents[1] / "fixtures" / "papers" / "2601.10160.md"
pytestmark = pytest.mark.slow


def test_real_local_model_writes_a_grounded_daily_post(tmp_path):
    text = PAPER.read_text(encoding="utf-8")
    draft, checks = verify_draft(DissectionDraft.model_validate(
        FakeBackend.draft(f"x\n{FENCE_OPEN}\n{text}\n{FENCE_CLOSE}\n")), text)
    result = DissectionResult(
        scan=SourceScan(title="Contrastive Preference Tuning Eliminates Sycophancy", authors=["A. Author"],
                        published="2026-01-15", url="https://arxiv.org/abs/2601.10160", source_id="2601.10160",
                        kind="arxiv", text_origin="arxiv-html", first_line="Assistants trained with RLHF..."),
        dissection=draft, quotes=checks,
        provenance=Provenance(backend="fake", model="fake-critic-1", prompt_template_hash="x",
                              generated_at=datetime(2026, 1, 19, tzinfo=UTC), tool_version="test"))
    settings = Settings(data_dir=tmp_path / "data")
    llm = make_llm(settings)
    try:
        post = write_daily_post(result, text, 0.87, load_profile(), llm, settings)
    finally:
        llm.backend.close()
    assert post.backend == "local" and post.demo_model and post.model.startswith("SmolLM2")
    assert post.phrased_by_model, post.notes  # the grammar-constrained reply parsed
    quotes = [b for b in post.blocks if b.kind == "quote"]
    assert quotes and quotes[0].role == "its claim"
    assert all(normalise(q.text) in normalise(text) for q in quotes)
    assert post.closing == "born from Contrastive Preference Tuning Eliminates Sycophancy (arXiv, 0.87)"
    assert 0 < post.words <= 400
    md = daily_post_markdown(post)
    assert "Demo model" in md and post.closing in md.replace("\\", "")
    logged = (settings.log_dir / "llm.jsonl").read_text()
    assert '"valid": true' in logged
