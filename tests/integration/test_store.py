"""The Chroma store: chunking, idempotent upserts, persistence, search, related() and faults."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.corpus.store import Store, chunk_text
from agent.errors import StoreError
from agent.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

REWARD = ("Reward hacking happens when a policy exploits flaws in its reward signal.\n\n"
          "The agent circles forever collecting respawning targets instead of finishing the race.")
SYCO = ("Sycophancy: models trained on human approval tell users what they want to hear.\n\n"
        "They change a correct answer when the user pushes back, and praise weak work.")
INTERP = "Sparse autoencoders find features in activations, but coverage of the model's computation is partial."


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def store(settings):
    return Store(settings)


# ---- chunking -----------------------------------------------------------------------------------------

def test_chunks_keep_paragraphs_whole_and_pack_small_ones():
    paras = [f"Paragraph {i} " + "word " * 40 for i in range(6)]  # ~250 chars each
    chunks = chunk_text("\n\n".join(paras), max_chars=600)
    assert all(len(c) <= 600 for c in chunks)
    pieces = [p for c in chunks for p in c.split("\n\n")]
    assert pieces == [" ".join(p.split()) for p in paras]  # every paragraph whole, in order
    assert len(chunks) == 3  # two per chunk


def test_oversize_paragraph_splits_at_sentence_boundaries():
    sentences = [f"Sentence number {i} says something about oversight." for i in range(40)]
    chunks = chunk_text(" ".join(sentences), max_chars=300)
    assert len(chunks) > 1 and all(len(c) <= 300 for c in chunks)
    assert all(c.endswith(".") and c.startswith("Sentence") for c in chunks)
    assert " ".join(chunks) == " ".join(sentences)


def test_unbreakable_text_is_cut_and_empty_text_has_no_chunks():
    chunks = chunk_text("x" * 2500, max_chars=1000)
    assert [len(c) for c in chunks] == [1000, 1000, 500]
    assert chunk_text("  \n\n  ") == []


# ---- upserts ------------------------------------------------------------------------------------------

def test_upsert_is_idempotent_and_a_changed_document_replaces_its_chunks(store):
    meta = {"title": "Reward hacking", "author": "A. Author", "url": "https://example.org/rh",
            "date": "2025-01-01", "site": "example.org", "tags": ["x", "y"], "missing": None}
    assert store.upsert_document("rh", REWARD, meta) == ("added", 1)
    assert store.upsert_document("rh", REWARD, meta) == ("unchanged", 1)
    longer = "\n\n".join([REWARD] + ["A new paragraph on optimisation pressure. " * 20] * 3)
    status, n = store.upsert_document("rh", longer, meta)
    assert status == "replaced" and n > 1
    assert store.stats()["chunks"] == n  # the old chunk is gone
    got = store._cols["passages"].get(include=["metadatas"])
    assert sorted(m["chunk"] for m in got["metadatas"]) == list(range(n))
    for m in got["metadatas"]:
        assert (m["title"], m["author"], m["url"], m["date"], m["site"], m["doc_id"]) == (
            "Reward hacking", "A. Author", "https://example.org/rh", "2025-01-01", "example.org", "rh")
        assert m["tags"] == "x, y" and "missing" not in m
    assert store.upsert_document("rh", longer, meta, force=True) == ("replaced", n)
    assert store.stats()["chunks"] == n


def test_store_reopens_from_disk_in_a_new_process(store, settings):
    store.upsert_document("rh", REWARD, {"title": "Reward hacking"})
    code = ("import sys; from agent.settings import Settings; from agent.corpus.store import Store; "
            "s = Store(Settings(data_dir=sys.argv[1])); p = s.search('exploiting the reward', k=1)[0]; "
            "print(p.title, s.stats()['chunks'])")
    out = subprocess.run([sys.executable, "-c", code, str(settings.paths.data_dir)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Reward hacking 1"


def test_search_returns_scored_passages_best_first(store):
    store.upsert_document("rh", REWARD, {"title": "Reward hacking", "url": "https://example.org/rh"})
    store.upsert_document("sy", SYCO, {"title": "Sycophancy", "source": "/notes/sy.md"})
    store.upsert_document("in", INTERP, {"title": "Interpretability"})
    hits = store.search("language models flatter the user and agree with them", k=3)
    assert [h.title for h in hits][0] == "Sycophancy"
    assert hits[0].url == "/notes/sy.md"
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].score > 0.3 and hits[0].score > hits[-1].score
    assert store.search("anything", k=2, where={"doc_id": "in"})[0].title == "Interpretability"
    assert store.search("   ") == []


def test_search_on_an_empty_store_is_empty(store):
    assert store.search("reward hacking") == []
    assert store.related(["reward hacking"], k=3) == []


# ---- related() ----------------------------------------------------------------------------------------

def test_related_keeps_at_most_two_chunks_per_document(store):
    many = "\n\n".join(f"Reward hacking example {i}: the policy exploits a flaw in the reward signal. " * 10
                       for i in range(5))
    store.upsert_document("big", many, {"title": "Many reward hacking chunks"})
    store.upsert_document("sy", SYCO, {"title": "Sycophancy"})
    store.upsert_document("in", INTERP, {"title": "Interpretability"})
    assert len(chunk_text(many)) >= 4
    got = store.related(["policies exploit flaws in the reward", "reward hacking examples"], k=4)
    assert [p.title for p in got].count("Many reward hacking chunks") == 2
    assert len(got) == 4 and {"Sycophancy", "Interpretability"} <= {p.title for p in got}
    assert len({p.id for p in got}) == 4


def test_related_drops_the_paper_itself(store):
    paper = ("We show that models trained on human approval become sycophantic: they tell users what they "
             "want to hear, change correct answers under pushback and praise weak work.")
    store.upsert_document("copy", paper, {"title": "The paper, ingested", "url": "https://arxiv.org/abs/2501.00001v2"})
    store.upsert_document("sy", SYCO, {"title": "Sycophancy"})
    store.upsert_document("rh", REWARD, {"title": "Reward hacking"})
    queries = ["models tell users what they want to hear"]
    assert "The paper, ingested" in [p.title for p in store.related(queries, k=3)]  # without exclusions
    by_text = store.related(queries, k=3, exclude_text=paper)
    by_id = store.related(queries, k=3, exclude_ids={"2501.00001"})
    for got in (by_text, by_id):
        assert "The paper, ingested" not in [p.title for p in got]
        assert got[0].title == "Sycophancy"


def test_related_also_finds_earlier_dissected_papers(store):
    store.upsert_document("rh", REWARD, {"title": "Reward hacking"})
    store.add_paper("2501.00002", "Approval-trained models flatter", "https://arxiv.org/abs/2501.00002",
                    "Models trained with RLHF learn to flatter users and agree with their stated opinions.",
                    {"verdict": "overclaims"})
    got = store.related(["sycophancy from preference training"], k=2)
    assert got[0].title == "Approval-trained models flatter" and got[0].url.endswith("2501.00002")
    assert store.related(["sycophancy"], k=2, exclude_ids={"2501.00002"})[0].title == "Reward hacking"
    assert store.stats()["papers"] == 1


# ---- listing and removal ------------------------------------------------------------------------------

def test_list_stats_and_remove(store):
    store.upsert_document("rh", REWARD, {"title": "Reward hacking", "url": "https://example.org/rh"})
    store.upsert_document("sy", SYCO, {"title": "Sycophancy", "source": "/notes/sy.md"})
    docs = store.list_documents()
    assert [(d["doc_id"], d["chunks"]) for d in docs] == [("rh", 1), ("sy", 1)]
    stats = store.stats()
    assert stats["documents"] == 2 and stats["chunks"] == 2 and stats["size_bytes"] > 0
    assert store.remove("https://example.org/rh") == 1
    assert store.remove("sy") == 1
    assert store.remove("nothing-here") == 0
    assert store.stats()["chunks"] == 0


# ---- faults -------------------------------------------------------------------------------------------

def test_corrupt_store_is_a_clear_error_and_left_untouched(settings):
    settings.chroma_dir.mkdir(parents=True)
    db = settings.chroma_dir / "chroma.sqlite3"
    junk = b"this is not a sqlite database " * 100
    db.write_bytes(junk)
    with pytest.raises(StoreError, match="cannot open the Chroma store") as exc:
        Store(settings)
    assert "\n" not in str(exc.value)
    assert db.read_bytes() == junk and [p.name for p in settings.chroma_dir.iterdir()] == ["chroma.sqlite3"]


def test_store_path_that_is_a_file_is_a_clear_error(settings):
    settings.paths.data_dir.mkdir(parents=True)
    settings.chroma_dir.write_text("not a folder")
    with pytest.raises(StoreError, match="not a folder"):
        Store(settings)


def test_a_store_locked_by_another_writer_is_a_clear_error(settings):
    from filelock import FileLock

    store = Store(settings, lock_timeout_s=0.2)
    holder = FileLock(str(store._lock.lock_file))
    code = ("import sys, time; from filelock import FileLock; l = FileLock(sys.argv[1]); l.acquire(); "
            "print('held', flush=True); time.sleep(30)")
    proc = subprocess.Popen([sys.executable, "-c", code, holder.lock_file], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match="locked by another dissect process"):
            store.upsert_document("rh", REWARD, {"title": "Reward hacking"})
    finally:
        proc.kill()
        proc.wait()
    assert store.upsert_document("rh", REWARD, {"title": "Reward hacking"}) == ("added", 1)
