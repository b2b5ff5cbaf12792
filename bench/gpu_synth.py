"""Random-weight models of real shapes, with a tokenizer trained on the spot, for the gpu backend's tests and
benchmark. Nothing is downloaded: the GPU machine has no network and CI has no weights.

Throughput depends on the shapes, not on the weights, so random weights give honest tokens/s; what such a model
writes is noise (every figure taken with one must say "random weights").
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

# Real shapes (from the models' published config.json files).
SHAPES: dict[str, dict[str, Any]] = {
    "qwen2-0.5b": dict(arch="qwen2", hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                       num_attention_heads=14, num_key_value_heads=2, vocab_size=151936,
                       max_position_embeddings=32768, rope_theta=1e6, tie_word_embeddings=True),
    "llama-3-8b": dict(arch="llama", hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
                       max_position_embeddings=8192, rope_theta=5e5, tie_word_embeddings=False),
    "tiny": dict(arch="llama", hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=1024, max_position_embeddings=4096, tie_word_embeddings=True),
}

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_CORPUS = (
    "The paper claims that scaling language models yields aligned behaviour because larger models follow "
    "instructions more reliably. We evaluate reward models, oversight, deception, interpretability, benchmarks "
    "and the assumptions behind them. {\"claims\": \"...\", \"verdict\": \"...\", \"quote\": [1, 2, 3]} "
    "Results show that fine-tuning with human feedback reduces harmful outputs on our evaluation suite, "
    "which suggests that alignment generalises; critics argue the evaluation measures compliance, not values. "
    "0123456789 ,.;:!?'\"()[]{}-_/\\ abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\n\t"
)


def build_tokenizer(vocab_size: int = 1000):
    """A byte-level BPE (every string is encodable) with a ChatML chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([_CORPUS] * 20, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token=None, chat_template=CHATML, padding_side="left")


def build_model(shape: str | dict[str, Any], tokenizer, *, dtype=None, device=None, seed: int = 0):
    """A randomly initialised causal LM of `shape` (a SHAPES name or a dict in the same form)."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    spec = dict(SHAPES[shape] if isinstance(shape, str) else shape)
    arch = spec.pop("arch")
    spec["vocab_size"] = max(spec["vocab_size"], len(tokenizer))
    ids = dict(eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"), pad_token_id=tokenizer.pad_token_id,
               bos_token_id=None)
    config = (Qwen2Config if arch == "qwen2" else LlamaConfig)(**spec, **ids)
    torch.manual_seed(seed)
    with torch.device(device or "cpu"):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype or torch.float32)
    model.generation_config.eos_token_id = ids["eos_token_id"]
    model.generation_config.pad_token_id = ids["pad_token_id"]
    model.generation_config.bos_token_id = None
    return model.eval()


def save_random_model(folder: Path, shape: str | dict[str, Any] = "tiny", *, dtype=None, device=None) -> Path:
    """Write a loadable Hugging Face folder (config, safetensors, tokenizer with chat template) to `folder`."""
    folder = Path(folder)
    tokenizer = build_tokenizer()
    model = build_model(shape, tokenizer, dtype=dtype, device=device)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
