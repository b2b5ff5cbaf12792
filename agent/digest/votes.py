"""The reader's votes on papers (`cli.py feedback <arxiv-id> up|down|hide`) and the ranking component learned
from them.

Votes live in <data_dir>/votes.json, one per paper (the latest vote wins), keyed by the arXiv id without its
version, so a vote on 2601.10160v2 is a vote on every version of 2601.10160. Each vote keeps a snapshot of the
paper's title and abstract when they are known locally (the arXiv metadata cache, or an earlier result), because
that text is what the learned component trains on. The file is read, changed and replaced atomically under a
file lock, so two `feedback` commands at once cannot lose a vote.

The learned component, in the spirit of arxiv-sanity-lite (which trains one linear SVM per tag over paper
vectors): an L2-regularised logistic regression over the same MiniLM embeddings the relevance score uses, with
"up" as the positive class and "down" and "hide" as negatives. A reader who has only voted up gets the other
papers of the day as background negatives, weighted to balance (arxiv-sanity's "everything not tagged"). It
applies once there are MIN_VOTES votes with text, and its weight in the score grows with the number of votes up
to LEARNED_WEIGHT at FULL_VOTES. "hide" also removes the paper from every later ranking.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
from filelock import FileLock, Timeout
from pydantic import BaseModel, ValidationError

from agent.errors import ConfigError, InvalidSourceError
from agent.publish.files import DiskCache, StorageError, atomic_write_text
from agent.sources import resolve_source

Vote = Literal["up", "down", "hide"]
VOTES = ("up", "down", "hide")
VOTES_FILE = "votes.json"
LOCK_TIMEOUT_S = 10.0

MIN_VOTES = 3  # votes with known text before the learned component counts at all
FULL_VOTES = 20  # votes at which it reaches its full weight
LEARNED_WEIGHT = 0.5  # its share of the score at full weight; the profile keeps the rest
L2 = 0.02  # regularisation: small, the votes are few but deliberate (0.002 to 2 give the same precision@5 on
# bench/ranking_precision.py)


class VoteRecord(BaseModel):
    """One paper's latest vote, with the text it is learned from (empty when unknown locally)."""

    id: str  # arXiv id without version
    vote: Vote
    at: datetime
    title: str = ""
    text: str = ""  # "<title>. <abstract>", the text the relevance score embeds


class VoteBook(BaseModel):
    """Every vote, by paper id."""

    version: int = 1
    votes: dict[str, VoteRecord] = {}

    def hidden(self) -> set[str]:
        """Ids the reader never wants to see again."""
        return {pid for pid, v in self.votes.items() if v.vote == "hide"}

    def learnable(self) -> list[VoteRecord]:
        """Votes the learned component can use: those whose text is known."""
        return [v for v in self.votes.values() if v.text.strip()]


def arxiv_paper_id(text: str) -> str:
    """The arXiv id (without version) that `text` names: an id in either style, with or without "arXiv:" or a
    version, or an arxiv.org URL. Anything else is an InvalidSourceError with one line."""
    generic = f"not an arXiv id: {text!r} (e.g. 2601.10160, 2601.10160v2, hep-th/9901001 or an arxiv.org URL)"
    try:
        ref = resolve_source(text)
    except InvalidSourceError as exc:  # "malformed arXiv id ..." says more than the generic line
        raise InvalidSourceError(str(exc) if "malformed arXiv id" in str(exc) else generic) from None
    if ref.kind != "arxiv":
        raise InvalidSourceError(generic)
    return ref.locator


def known_paper(cache_dir: Path | str, paper_id: str) -> tuple[str, str]:
    """(title, "<title>. <abstract>") of an arXiv paper from the local metadata cache (filled by every digest
    search and every dissection), or ("", "") when it has never been seen here. No network."""
    cache = DiskCache(Path(cache_dir))
    # a digest caches by bare id; `dissect 2601.10160v2` by the pinned version
    for key in (paper_id, *(f"{paper_id}v{n}" for n in range(1, 10))):
        meta = cache.get_json("arxiv-meta", key)
        if isinstance(meta, dict) and meta.get("title"):
            title = " ".join(str(meta["title"]).split())
            abstract = " ".join(str(meta.get("abstract") or "").split())
            return title, f"{title}. {abstract}" if abstract else title
    return "", ""


def votes_for_ranking(data_dir: Path | str, cache_dir: Path | str) -> VoteBook:
    """The vote book as the ranking needs it: votes cast before their paper's metadata was known locally get
    their text from the cache now (in memory; the file is not rewritten)."""
    book = load_votes(data_dir)
    for record in book.votes.values():
        if not record.text:
            record.title, record.text = known_paper(cache_dir, record.id)
    return book


def votes_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / VOTES_FILE


def load_votes(data_dir: Path | str) -> VoteBook:
    """The vote book; empty when there is none yet. A damaged file is a ConfigError (it is never overwritten
    silently: it holds the reader's judgement)."""
    path = votes_path(data_dir)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return VoteBook()
    except OSError as exc:
        raise ConfigError(f"cannot read the votes file {path}: {exc.strerror or exc}") from None
    try:
        return VoteBook.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        reason = str(exc).splitlines()[0]
        raise ConfigError(f"the votes file {path} is damaged ({reason}); fix it or move it aside") from None


def _locked(data_dir: Path | str) -> FileLock:
    """The lock that serialises read-change-write of the votes file across processes (acquired)."""
    path = votes_path(data_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path.parent / f".{VOTES_FILE}.lock"))
        lock.acquire(timeout=LOCK_TIMEOUT_S)
    except Timeout:
        raise StorageError(f"the votes file {path} is locked by another dissect process; try again") from None
    except OSError as exc:
        raise StorageError(f"cannot write under {path.parent}: {exc.strerror or exc}") from None
    return lock


def record_vote(data_dir: Path | str, paper_id: str, vote: Vote, *, title: str = "", text: str = "",
                now: datetime | None = None) -> VoteRecord:
    """Store the reader's vote on a paper (replacing an earlier one) and return it. `paper_id` must already be a
    bare arXiv id (see arxiv_paper_id). Known title/text are kept when a later vote comes without them."""
    if vote not in VOTES:
        raise ConfigError(f"a vote is one of {', '.join(VOTES)}, not {vote!r}")
    lock = _locked(data_dir)
    try:
        book = load_votes(data_dir)
        earlier = book.votes.get(paper_id)
        record = VoteRecord(id=paper_id, vote=vote, at=now or datetime.now(UTC),
                            title=title or (earlier.title if earlier else ""),
                            text=text or (earlier.text if earlier else ""))
        book.votes[paper_id] = record
        atomic_write_text(votes_path(data_dir), book.model_dump_json(indent=2) + "\n")
        return record
    finally:
        lock.release()


def clear_vote(data_dir: Path | str, paper_id: str) -> VoteRecord | None:
    """Forget the reader's vote on a paper (a hidden paper may then be listed again); returns the vote removed."""
    lock = _locked(data_dir)
    try:
        book = load_votes(data_dir)
        removed = book.votes.pop(paper_id, None)
        if removed is not None:
            atomic_write_text(votes_path(data_dir), book.model_dump_json(indent=2) + "\n")
        return removed
    finally:
        lock.release()


# ---- the learned component ---------------------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))


class LearnedTaste:
    """A logistic regression over paper embeddings: P(the reader votes up | the paper)."""

    def __init__(self, weights: np.ndarray, bias: float, n_votes: int):
        self.weights = weights
        self.bias = bias
        self.n_votes = n_votes

    @classmethod
    def fit(cls, positives: np.ndarray, negatives: np.ndarray, *, background: np.ndarray | None = None,
            n_votes: int | None = None, iterations: int = 25) -> LearnedTaste | None:
        """Fit on up-voted (positives) and down-voted/hidden (negatives) embeddings; `background` (unvoted papers)
        stand in for negatives when there are none. Classes are weighted to balance. Newton's method on the
        regularised log-likelihood: the problem is small (hundreds of rows, 385 columns) and convex.
        None when there is no positive, or nothing to contrast it with."""
        if len(negatives) == 0 and background is not None:
            negatives = background
        if len(positives) == 0 or len(negatives) == 0:
            return None
        x = np.vstack([positives, negatives]).astype(np.float64)
        x = np.hstack([x, np.ones((len(x), 1))])  # bias column (not regularised)
        y = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
        sample_w = np.concatenate([np.full(len(positives), 0.5 / len(positives)),
                                   np.full(len(negatives), 0.5 / len(negatives))]) * len(y)
        reg = np.full(x.shape[1], L2)
        reg[-1] = 0.0
        w = np.zeros(x.shape[1])
        for _ in range(iterations):
            p = _sigmoid(x @ w)
            grad = x.T @ (sample_w * (p - y)) + reg * w
            hess = (x * (sample_w * p * (1 - p))[:, None]).T @ x + np.diag(reg + 1e-9)
            step = np.linalg.solve(hess, grad)
            w -= step
            if float(np.max(np.abs(step))) < 1e-6:
                break
        return cls(w[:-1], float(w[-1]), n_votes if n_votes is not None else len(y))

    def probability(self, vectors: np.ndarray) -> np.ndarray:
        """P(up) for each row of `vectors` (unit-length embeddings), in [0, 1]."""
        return _sigmoid(np.asarray(vectors, dtype=np.float64) @ self.weights + self.bias)

    @property
    def weight(self) -> float:
        """The component's share of the score: 0 below MIN_VOTES, growing to LEARNED_WEIGHT at FULL_VOTES."""
        if self.n_votes < MIN_VOTES:
            return 0.0
        return LEARNED_WEIGHT * min(1.0, self.n_votes / FULL_VOTES)


def learn_taste(book: VoteBook, embed_texts, background: np.ndarray | None = None) -> LearnedTaste | None:
    """The learned component from a vote book, or None while there are fewer than MIN_VOTES usable votes.
    `embed_texts` is the embedder (agent.corpus.embeddings.embed); `background` are the embeddings of the papers
    being ranked, used as negatives only when the reader has voted nothing down."""
    usable = book.learnable()
    if len(usable) < MIN_VOTES:
        return None
    vectors = embed_texts([v.text for v in usable])
    up = np.array([v.vote == "up" for v in usable])
    return LearnedTaste.fit(vectors[up], vectors[~up], background=background, n_votes=len(usable))
