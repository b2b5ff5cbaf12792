"""Relevance of new papers to the reader's alignment interests: a score in [0, 1] per paper.

The interest profile is a Markdown file (default templates/profile/interest.md; DISSECT_PROFILE names another):
YAML front matter with weighted `keywords`, `avoid` (negative keywords), an `arxiv_query` pre-filter and the
daily post's `voice`, and a topic statement whose paragraphs are its facets. A paper (title + abstract) is scored
from three kinds of evidence:

- similarity: its best cosine similarity (MiniLM) to a facet of the topic statement, rescaled to [0, 1]
  between SIM_FLOOR (unrelated text scores about this) and SIM_CEIL (a paper squarely on a facet);
- corpus: the mean cosine similarity of its 3 nearest passages in the corpus the reader trusts (agent.corpus.store),
  rescaled the same way; left out of the mix when the corpus is empty;
- keywords: 1 - exp(-(sum of the weights of the distinct profile phrases it contains) / 1.5).

score = WEIGHTS-weighted mean of the evidence present. Weights and bounds were set on
bench/data/ranking_labels.json (bench/ranking_precision.py prints precision@5 and the separation).

Then the reader's own judgement (agent.digest.votes): papers they hid are left out; once they have voted on a few
papers, a model learned from the votes takes a growing share of the score; and each distinct `avoid` phrase a
paper contains halves its score, so a negative keyword pushes a paper under the bar unless it is squarely on topic.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel

from agent.corpus.embeddings import embed
from agent.digest.votes import VoteBook, learn_taste
from agent.errors import ConfigError
from agent.models import Paper

DEFAULT_PROFILE = Path(__file__).resolve().parent.parent / "templates" / "profile" / "interest.md"
SIM_FLOOR, SIM_CEIL = 0.25, 0.60
KEYWORD_SCALE = 1.5
WEIGHTS = {"similarity": 0.6, "corpus": 0.15, "keywords": 0.4}
CORPUS_K = 3
AVOID_FACTOR = 0.5  # the score is multiplied by this for each distinct `avoid` phrase found


@dataclass(frozen=True)
class Profile:
    facets: tuple[str, ...]
    keywords: dict[str, float] = field(default_factory=dict)
    arxiv_query: str = ""
    path: str = ""
    avoid: tuple[str, ...] = ()  # negative keywords: phrases that demote a paper
    voice: str = ""  # how the daily post should sound (agent.digest.daily_post)


class Ranked(BaseModel):
    """A candidate paper with its relevance and the evidence behind it."""

    id: str
    title: str
    url: str
    authors: list[str] = []
    published: str = ""
    abstract: str = ""
    categories: list[str] = []
    score: float
    similarity: float
    corpus: float | None = None
    keywords: list[str] = []
    learned: float | None = None  # P(the reader votes up), when enough votes train the learned component
    avoided: list[str] = []  # `avoid` phrases found
    selected: bool = False


def load_profile(path: Path | str | None = None) -> Profile:
    """Read an interest profile; any problem with the file is one ConfigError line."""
    path = Path(path) if path else DEFAULT_PROFILE
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the interest profile {path}: {getattr(exc, 'strerror', None) or exc}") from None
    meta: dict = {}
    body = text
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end < 0:
            raise ConfigError(f"interest profile {path}: front matter is not closed by '---'")
        try:
            meta = yaml.safe_load(text[4:end]) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"interest profile {path}: bad YAML front matter: {exc}") from None
        body = text[end + 4:].split("\n", 1)[-1] if "\n" in text[end + 4:] else ""
    if not isinstance(meta, dict):
        raise ConfigError(f"interest profile {path}: front matter must be a mapping")
    raw_kw = meta.get("keywords") or {}
    if not isinstance(raw_kw, dict):
        raise ConfigError(f"interest profile {path}: keywords must map each phrase to a weight")
    keywords: dict[str, float] = {}
    for phrase, weight in raw_kw.items():
        try:
            keywords[str(phrase).strip().lower()] = min(1.0, max(0.0, float(weight)))
        except (TypeError, ValueError):
            raise ConfigError(f"interest profile {path}: weight of {phrase!r} is not a number") from None
    raw_avoid = meta.get("avoid") or []
    if isinstance(raw_avoid, str):
        raw_avoid = raw_avoid.split(",")
    if not isinstance(raw_avoid, list) or not all(isinstance(a, (str, int, float)) for a in raw_avoid):
        raise ConfigError(f"interest profile {path}: avoid must be a list of phrases")
    avoid = tuple(dict.fromkeys(" ".join(str(a).split()).lower() for a in raw_avoid if str(a).strip()))
    voice = meta.get("voice") or ""
    if not isinstance(voice, str):
        raise ConfigError(f"interest profile {path}: voice must be text (a few sentences on how the daily post "
                          "should sound)")
    facets = tuple(" ".join(p.split()) for p in re.split(r"\n\s*\n", body) if p.strip())
    if not facets:
        raise ConfigError(f"interest profile {path} has no topic statement below its front matter")
    return Profile(facets=facets, keywords=keywords, arxiv_query=" ".join(str(meta.get("arxiv_query") or "").split()),
                   path=str(path), avoid=avoid, voice=" ".join(voice.split()))


@lru_cache(maxsize=256)
def _phrase_re(phrase: str) -> re.Pattern:
    words = [re.escape(w) for w in re.split(r"[\s-]+", phrase) if w]
    # "power-seeking" also matches "power seeking"; a trailing s/es is allowed ("jailbreaks")
    return re.compile(r"(?<![\w-])" + r"[\s-]+".join(words) + r"(?:e?s)?(?![\w-])", re.IGNORECASE)


def keyword_evidence(text: str, keywords: dict[str, float]) -> tuple[float, list[str]]:
    found = [p for p in keywords if _phrase_re(p).search(text)]
    total = sum(keywords[p] for p in found)
    found.sort(key=lambda p: -keywords[p])
    return 1.0 - math.exp(-total / KEYWORD_SCALE), found


def rescale(sim: float) -> float:
    return min(1.0, max(0.0, (sim - SIM_FLOOR) / (SIM_CEIL - SIM_FLOOR)))


def paper_text(paper: Paper) -> str:
    return f"{paper.title}. {paper.abstract or paper.text[:2000]}"


def corpus_evidence(texts: list[str], store) -> list[float | None]:
    """Mean similarity of each text's nearest corpus passages (nearest by meaning alone: the bounds above were
    set on cosine similarities); None for all when the corpus is empty."""
    if store is None:
        return [None] * len(texts)
    out: list[float | None] = []
    for text in texts:
        hits = store.search(text, k=CORPUS_K, hybrid=False)
        if not hits:
            return [None] * len(texts)
        out.append(rescale(sum(h.score for h in hits) / len(hits)))
    return out


def score_papers(papers: list[Paper], profile: Profile, store=None, votes: VoteBook | None = None) -> list[Ranked]:
    """Every paper scored, best first (ties broken by id, so the order is stable). With `votes`: hidden papers
    are left out and, once there are enough votes, the learned component is mixed in (see the module doc)."""
    hidden = votes.hidden() if votes is not None else set()
    papers = [p for p in papers if p.source_id not in hidden]
    if not papers:
        return []
    texts = [paper_text(p) for p in papers]
    facet_vecs = embed(list(profile.facets))
    vecs = embed(texts)
    sims = (vecs @ facet_vecs.T).max(axis=1)
    corpus = corpus_evidence(texts, store)
    voted = set(votes.votes) if votes is not None else set()
    background = vecs[[i for i, p in enumerate(papers) if p.source_id not in voted]]
    taste = learn_taste(votes, embed, background=background) if votes is not None else None
    learned = taste.probability(vecs) if taste is not None and taste.weight > 0 else [None] * len(papers)
    ranked = []
    for paper, text, sim, corp, taste_p in zip(papers, texts, sims, corpus, learned, strict=True):
        kw, found = keyword_evidence(text, profile.keywords)
        parts = {"similarity": rescale(float(sim)), "keywords": kw}
        if corp is not None:
            parts["corpus"] = corp
        score = sum(WEIGHTS[k] * v for k, v in parts.items()) / sum(WEIGHTS[k] for k in parts)
        if taste_p is not None and taste is not None:
            score = (1.0 - taste.weight) * score + taste.weight * float(taste_p)
        avoided = [p for p in profile.avoid if _phrase_re(p).search(text)]
        score *= AVOID_FACTOR ** len(avoided)
        ranked.append(Ranked(
            id=paper.source_id, title=paper.title, url=paper.url, authors=paper.authors, published=paper.published,
            abstract=paper.abstract, categories=paper.categories, score=round(score, 3),
            similarity=round(float(sim), 3), corpus=None if corp is None else round(corp, 3), keywords=found[:8],
            learned=None if taste_p is None else round(float(taste_p), 3), avoided=avoided,
        ))
    ranked.sort(key=lambda r: (-r.score, r.id))
    return ranked


def select(ranked: list[Ranked], threshold: float, top_n: int) -> list[Ranked]:
    """Mark (and return) the papers to dissect: at most top_n, each scoring at least threshold."""
    chosen = [r for r in ranked if r.score >= threshold][: max(0, top_n)]
    ids = {r.id for r in chosen}
    for r in ranked:
        r.selected = r.id in ids
    return chosen
