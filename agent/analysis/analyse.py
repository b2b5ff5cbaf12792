"""The analysis stage: sentences, their roles and cues, and the ranked candidate weak steps. No language model.

Scoring: each sentence gets a score per taxonomy type from the lexical rules (agent.analysis.scoring); when the
learned head is present (agent.analysis.head) its probabilities are blended in, with the blend weight and the
threshold that were chosen on held-out folds of the training data. A sentence's candidate is its best type; the
candidates are the `top_k` best sentences. `no_clear_fallacy` is set when even the best is below the threshold.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from agent.analysis.cues import SentenceCues, find_cues
from agent.analysis.head import Head, feature_matrix, load_head
from agent.analysis.result import Analysis, Candidate, SentenceLabel
from agent.analysis.scoring import TYPES, Ctx, contexts, lexical_scores, reason
from agent.text.sentences import Sentence, split_sentences

LEXICAL_THRESHOLD = 0.45  # only when the head file is missing; `python -m agent.analysis.train` prints it
MIN_WORDS = 6  # shorter sentences (labels, fragments) are not candidates
MAX_SENTENCES = 800  # a whole paper is cut here; the fitted text the pipeline analyses is far shorter


def _embedder() -> Callable[[list[str]], np.ndarray]:
    """MiniLM's `embed`, imported on first use: agent.corpus.embeddings loads Chroma (most of a second), which
    the lexical path and importing agent.analysis never need."""
    from agent.corpus.embeddings import embed

    return embed


def _is_candidate(s: Sentence, cues: SentenceCues) -> bool:
    return s.kind in ("sentence", "bullet") and len(s.text.split()) >= MIN_WORDS and "release" not in cues.roles


def score_sentences(texts: list[str], ctxs: list[Ctx], head: Head | None,
                    only: list[int] | None = None) -> tuple[np.ndarray, float]:
    """(n, len(TYPES)) type scores in [0, 1] and the threshold that goes with them. With `only`, the head scores
    just those sentences (embedding is the costly part); the others keep their lexical scores."""
    lex = lexical_scores(ctxs)
    rows = list(range(len(texts))) if only is None else only
    if head is None or not rows:
        return lex, LEXICAL_THRESHOLD if head is None else head.threshold
    probs = head.type_probabilities(feature_matrix(_embedder()([texts[i] for i in rows]),
                                                   [ctxs[i] for i in rows], lex[rows]))
    scores = lex.copy()
    scores[rows] = head.blend * probs + (1.0 - head.blend) * lex[rows]
    return scores, head.threshold


def analyse_text(text: str, *, title: str = "", top_k: int = 8, head: Head | None | bool = True) -> Analysis:
    """Label every sentence of `text` and rank the candidate weak steps. `head=False` forces the lexical scores
    alone; a Head instance replaces the shipped one (training and tests use this)."""
    sentences = split_sentences(text)[:MAX_SENTENCES]
    cues = [find_cues(s.clean) for s in sentences]
    ctxs = contexts(cues, title)
    chosen = load_head() if head is True else (head or None)
    eligible = [i for i, s in enumerate(sentences) if _is_candidate(s, cues[i])]
    scores, threshold = score_sentences([s.clean for s in sentences], ctxs, chosen, only=eligible)
    labels = [SentenceLabel(index=i, text=s.clean, start=s.start, end=s.end, roles=c.roles, cues=sorted(c.cues))
              for i, (s, c) in enumerate(zip(sentences, cues, strict=True))]
    ranked: list[Candidate] = []
    for i in eligible:
        s = sentences[i]
        j = int(np.argmax(scores[i]))
        ranked.append(Candidate(sentence_index=i, sentence=s.clean, fallacy=TYPES[j],
                                score=round(float(scores[i, j]), 4), reason=reason(TYPES[j], ctxs[i])))
    ranked.sort(key=lambda c: (-c.score, c.sentence_index))
    best = ranked[0].score if ranked else 0.0
    return Analysis(sentences=labels, candidates=ranked[:top_k], no_clear_fallacy=best < threshold,
                    threshold=round(threshold, 4))
