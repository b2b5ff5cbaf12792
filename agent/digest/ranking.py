"""Relevance of new papers to the reader's alignment interests: a score in [0, 1] per paper.

The interest profile is a Markdown file (default templates/profile/interest.md; DISSECT_PROFILE names another):
YAML front matter with weighted `keywords` and an `arxiv_query` pre-filter, and a topic statement whose
paragraphs are its facets. A paper (title + abstract) is scored from three kinds of evidence:

- similarity: its best cosine similarity (MiniLM) to a facet of the topic statement, rescaled to [0, 1]
  between SIM_FLOOR (unrelated text scores about this) and SIM_CEIL (a paper squarely on a facet);
- corpus: the mean cosine similarity of its 3 nearest passages in the corpus the reader trusts (agent.corpus.store),
  rescaled the same way; left out of the mix when the corpus is empty;
- keywords: 1 - exp(-(sum of the weights of the distinct profile phrases it contains) / 1.5).

score = WEIGHTS-weighted mean of the evidence present. Weights and bounds were set on
bench/data/ranking_labels.json (bench/ranking_precision.py prints precision@5 and the separation).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel

from agent.errors import ConfigError
from agent.models import Paper

DEFAULT_PROFILE = Path(__file__).resolve().parent.parent / "templates" / "profile" / "interest.md"
SIM_FLOOR, SIM_CEIL = 0.25, 0.60
KEYWORD_SCALE = 1.5
WEIGHTS = {"similarity": 0.6, "corpus": 0.15, "keywords": 0.4}
CORPUS_K = 3


@dataclass(frozen=True)
class Profile:
    facets: tuple[str, ...]
    keywords: dict[str, float] = field(default_factory=dict)
    arxiv_query: str = ""
    path: str = ""


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
    facets = tuple(" ".join(p.split()) for p in re.split(r"\n\s*\n", body) if p.strip())
    if not facets:
        raise ConfigError(f"interest profile {path} has no topic statement below its front matter")
    return Profile(facets=facets, keywords=keywords, arxiv_query=" ".join(str(meta.get("arxiv_query") or "").split()),
                   path=str(path))


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
    """Mean similarity of each text's nearest corpus passages; None for all when the corpus is empty."""
    if store is None:
        return [None] * len(texts)
    out: list[float | None] = []
    for text in texts:
        hits = store.search(text, k=CORPUS_K)
        if not hits:
            return [None] * len(texts)
        out.append(rescale(sum(h.score for h in hits) / len(hits)))
    return out


def score_papers(papers: list[Paper], profile: Profile, store=None) -> list[Ranked]:
    """Every paper scored, best first (ties broken by id, so the order is stable)."""
    from agent.corpus.embeddings import embed

    if not papers:
        return []
    texts = [paper_text(p) for p in papers]
    facet_vecs = embed(list(profile.facets))
    sims = (embed(texts) @ facet_vecs.T).max(axis=1)
    corpus = corpus_evidence(texts, store)
    ranked = []
    for paper, text, sim, corp in zip(papers, texts, sims, corpus):
        kw, found = keyword_evidence(text, profile.keywords)
        parts = {"similarity": rescale(float(sim)), "keywords": kw}
        if corp is not None:
            parts["corpus"] = corp
        score = sum(WEIGHTS[k] * v for k, v in parts.items()) / sum(WEIGHTS[k] for k in parts)
        ranked.append(Ranked(
            id=paper.source_id, title=paper.title, url=paper.url, authors=paper.authors, published=paper.published,
            abstract=paper.abstract, categories=paper.categories, score=round(score, 3),
            similarity=round(float(sim), 3), corpus=None if corp is None else round(corp, 3), keywords=found[:8],
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
