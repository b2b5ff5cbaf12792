"""Hybrid retrieval (dense MiniLM + BM25, fused by reciprocal rank) through the real embedded Chroma store and
the real embedder, over the CC-BY essays shipped for bench/retrieval_paraphrase.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from agent.corpus.store import Store
from agent.settings import Settings
from agent.text.frontmatter import split_front_matter

ESSAYS = Path(__file__).resolve().parents[2] / "bench" / "data" / "essays"
PICK = ("circuits-zoom-in", "circuits-early-overview", "circuits-curve-detectors", "weight-banding",
        "research-debt")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = Store(Settings(data_dir=tmp_path_factory.mktemp("hybrid")))
    for stem in PICK:
        meta, body = split_front_matter((ESSAYS / f"{stem}.md").read_text(encoding="utf-8"))
        store.upsert_document(stem, body, {"title": meta["title"], "url": meta["url"]})
    return store


def first_docs(passages) -> list[str]:
    return list(dict.fromkeys(p.title for p in passages))


def test_a_paraphrase_finds_its_essay_first_and_scores_stay_cosine(store):
    query = "A proposal to treat individual neurons and even single weights as worth serious study"
    hybrid = store.related([query], k=6)
    dense = store.related([query], k=6, hybrid=False)
    zoom_in = "Zoom In: An Introduction to Circuits"
    assert first_docs(hybrid)[0] == zoom_in
    assert first_docs(hybrid).index(zoom_in) <= first_docs(dense).index(zoom_in)  # (dense ranks it third today)
    # the same kind of score either way: the cosine similarity of each passage to the query, in [0, 1]
    dense_scores = {p.id: p.score for p in dense}
    for p in hybrid:
        assert 0.0 <= p.score <= 1.0
        if p.id in dense_scores:
            assert p.score == pytest.approx(dense_scores[p.id], abs=1e-3)


def test_at_most_two_passages_per_essay_in_hybrid_related(store):
    passages = store.related(["weight banding stripes in the last convolutional layer"], k=8)
    titles = [p.title for p in passages]
    assert all(titles.count(t) <= 2 for t in titles)
    assert titles[0] == "Weight Banding"


def test_the_lexical_index_follows_writes(tmp_path):
    s = Store(Settings(data_dir=tmp_path / "data"))
    s.upsert_document("a", "Notes on gardening and the care of tomato plants in a cold spring.", {"title": "A"})
    assert s.search("zyxwvut", k=1)[0].title == "A"  # builds the BM25 index while only A exists
    s.upsert_document("b", "The quokka census counted zyxwvut individuals on the island.", {"title": "B"})
    ids, texts, _, index = s._lexical_index("passages")
    assert any("zyxwvut" in t for t in texts) and index.top("zyxwvut", 1)
    assert s.search("zyxwvut", k=1)[0].title == "B"
    s.remove("b")
    assert all(p.title != "B" for p in s.search("zyxwvut", k=2))
    assert not any("zyxwvut" in t for t in s._lexical_index("passages")[1])


def test_search_filter_applies_to_both_rankings(store):
    hits = store.search("research debt interpretive labour", k=3, where={"doc_id": "weight-banding"})
    assert hits and {p.title for p in hits} == {"Weight Banding"}


def test_dense_only_search_is_still_available(store):
    hybrid = store.search("stripes in weights", k=3)
    dense = store.search("stripes in weights", k=3, hybrid=False)
    assert len(hybrid) == len(dense) == 3
    assert [p.score for p in dense] == sorted((p.score for p in dense), reverse=True)
