"""BM25, its tokens and reciprocal rank fusion (agent.corpus.lexical): no store, no model."""
from __future__ import annotations

import numpy as np
import pytest

from agent.corpus.lexical import BM25Index, reciprocal_rank_fusion, stem, tokenize


def test_tokens_fold_case_spelling_and_endings_and_drop_stop_words():
    assert tokenize("The Visualisations of the artefacts") == tokenize("visualization artifact")
    assert tokenize("upsampling") == tokenize("upsample") == tokenize("Upsampled")
    assert tokenize("neighbours' behaviour") == tokenize("neighbor behavior")
    assert tokenize("generated generation generates") == ["generat"] * 3
    assert tokenize("it is what it is, and they were") == []
    assert tokenize("the network's weights") == ["network", "weight"]


@pytest.mark.parametrize("word", ["bias", "corpus", "class", "gas", "go"])
def test_stem_leaves_short_and_s_ending_words_alone(word):
    assert stem(word) == word


def test_rare_shared_term_outranks_common_ones():
    docs = ["the model learns a reward model from human feedback",
            "buzzsaw obstacles make the agent fail the level",
            "the model and the reward and the agent and the level"]
    index = BM25Index(docs)
    top = index.top("why did the agent crash into a buzzsaw", 3)
    assert top[0][0] == 1
    assert [i for i, _ in top] == [1, 2]  # doc 0 shares no term with the query: not listed at all


def test_no_shared_term_no_hit_and_scores_are_never_negative():
    index = BM25Index(["alpha beta", "alpha gamma", "alpha delta"])
    assert index.top("epsilon zeta", 5) == []
    assert (index.scores("alpha") > 0).all()  # in every document, still a little evidence, never negative


def test_shorter_document_with_the_same_term_count_scores_higher():
    index = BM25Index(["curve detectors", "curve detectors fire on many other things in long and winding prose"])
    s = index.scores("curve")
    assert s[0] > s[1] > 0


def test_term_frequency_saturates():
    index = BM25Index(["curve " * 1, "curve " * 3, "curve " * 30, "other words here"])
    s = index.scores("curve")
    assert s[2] > s[1] > s[0]
    assert s[2] < 2 * s[1]  # thirty mentions count for less than twice three


def test_top_respects_a_mask_and_n():
    index = BM25Index(["a curve", "two curves", "three curving lines", "nothing"])
    assert len(index.top("curve", 1)) == 1
    mask = np.array([False, True, True, True])
    assert {i for i, _ in index.top("curve", 5, mask)} == {1, 2}
    assert BM25Index([]).top("curve", 3) == []


def test_rrf_prefers_agreement_and_counts_an_item_once_per_ranking():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "c", "a"], ["b", "b", "d"]])
    assert [item for item, _ in fused][:2] == ["b", "a"]
    assert dict(fused)["b"] == pytest.approx(1 / 62 + 1 / 61 + 1 / 61)
    assert dict(fused)["d"] == pytest.approx(1 / 62)  # the duplicate "b" does not push "d" down


def test_rrf_weights_and_stable_ties():
    assert [i for i, _ in reciprocal_rank_fusion([["x"], ["y"]])] == ["x", "y"]  # tie: first appearance wins
    assert [i for i, _ in reciprocal_rank_fusion([["x"], ["y"]], weights=[1.0, 2.0])] == ["y", "x"]
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["x"]], weights=[1.0, 1.0])
