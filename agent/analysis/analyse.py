"""The analysis stage: sentences, their roles and cues, and the ranked candidate weak steps. No language model.

Scoring: each sentence gets a score per taxonomy type from the lexical rules (agent.analysis.scoring); when the
learned head is present (agent.analysis.head), a sentence's weakness is the head's probability that it is weak at
all (1 - P(none)) blended with its best lexical score, and its type is the best of the head's type probabilities
(given that it is weak) blended with the lexical scores; the blends and the threshold were chosen on held-out folds
of the training data. The candidates are the `top_k` weakest sentences, each with its best type.
`no_clear_fallacy` is set when even the weakest is below the threshold.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from agent.analysis.cues import SentenceCues, find_cues
from agent.analysis.head import Head, feature_matrix, load_head
from agent.analysis.result import Analysis, Candidate, SentenceLabel
from agent.analysis.scoring import TYPES, Ctx, contexts, lexical_scores, mark_opening, reason, type_allowed
from agent.text.sentences import Sentence, split_sentences

LEXICAL_THRESHOLD = 0.42  # only when the head file is missing; `python -m agent.analysis.train` prints it
MIN_WORDS = 6  # shorter sentences (labels, fragments) are not candidates
MAX_SENTENCES = 800  # a whole paper is cut here; the fitted text the pipeline analyses is far shorter
# Below this type score (the head's P(type | weak)) a clear step's kind is offered as the likeliest, not stated.
# Out of fold on the lexicon-blind training abstracts (5-fold grouped CV, the shipped setting), the head named the
# type of the planted steps it found rightly in 71 of 149 cases below 0.70 and in 323 of 328 at or above it.
TYPE_CONFIDENT = 0.70


def _embedder() -> Callable[[list[str]], np.ndarray]:
    """MiniLM's `embed`, imported on first use: agent.corpus.embeddings loads Chroma (most of a second), which
    the lexical path and importing agent.analysis never need."""
    from agent.corpus.embeddings import embed

    return embed


def _is_candidate(s: Sentence, cues: SentenceCues) -> bool:
    return s.kind in ("sentence", "bullet") and len(s.text.split()) >= MIN_WORDS and "release" not in cues.roles


def score_sentences(texts: list[str], ctxs: list[Ctx], head: Head | None, only: list[int] | None = None,
                    allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """(weakness (n,), type scores (n, len(TYPES)), threshold), all in [0, 1]. With `only`, the head scores just
    those sentences (embedding is the costly part); the others keep their lexical scores. `allowed` masks the
    types each sentence cannot be (scoring.type_allowed; the texts must then be consecutive sentences)."""
    raw = lexical_scores(ctxs)  # the head's features are the unmasked scores it was trained on
    lex = raw if allowed is None else raw * allowed
    weak = lex.max(axis=1) if lex.size else np.zeros(len(texts))  # the lexical path: its best allowed type
    rows = list(range(len(texts))) if only is None else only
    if head is None or not rows:
        return weak, lex, LEXICAL_THRESHOLD if head is None else head.threshold
    chosen = [texts[i] for i in rows]
    features = feature_matrix(_embedder()(chosen), [ctxs[i] for i in rows], raw[rows], chosen)
    head_weak, head_types = head.scores(features, raw[rows], None if allowed is None else allowed[rows])
    types = lex.copy()
    weak[rows], types[rows] = head_weak, head_types
    return weak, types, head.threshold


def analyse_text(text: str, *, title: str = "", top_k: int = 8, head: Head | None | bool = True) -> Analysis:
    """Label every sentence of `text` and rank the candidate weak steps. `head=False` forces the lexical scores
    alone; a Head instance replaces the shipped one (training and tests use this)."""
    sentences = split_sentences(text)[:MAX_SENTENCES]
    cues = [find_cues(s.clean) for s in sentences]
    ctxs = contexts(cues, title)
    chosen = load_head() if head is True else (head or None)
    eligible = [i for i, s in enumerate(sentences) if _is_candidate(s, cues[i])]
    mark_opening(ctxs, eligible)
    texts = [s.clean for s in sentences]
    weak, types, threshold = score_sentences(texts, ctxs, chosen, only=eligible, allowed=type_allowed(texts))
    labels = [SentenceLabel(index=i, text=s.clean, start=s.start, end=s.end, roles=c.roles, cues=sorted(c.cues))
              for i, (s, c) in enumerate(zip(sentences, cues, strict=True))]
    ranked: list[Candidate] = []
    for i in eligible:
        s = sentences[i]
        j, k = (int(x) for x in np.argsort(-types[i], kind="stable")[:2])
        ranked.append(Candidate(sentence_index=i, sentence=s.clean, fallacy=TYPES[j],
                                score=round(float(np.clip(weak[i], 0.0, 1.0)), 4),
                                type_score=round(float(np.clip(types[i, j], 0.0, 1.0)), 4),
                                reason=reason(TYPES[j], ctxs[i]), runner_up=TYPES[k],
                                runner_up_score=round(float(np.clip(types[i, k], 0.0, 1.0)), 4)))
    ranked.sort(key=lambda c: (-c.score, c.sentence_index))
    best = ranked[0].score if ranked else 0.0
    return Analysis(sentences=labels, candidates=ranked[:top_k], no_clear_fallacy=best < threshold,
                    threshold=round(threshold, 4), type_threshold=TYPE_CONFIDENT if chosen is not None else 0.0)
