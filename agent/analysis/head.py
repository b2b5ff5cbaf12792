"""The learned head: a multinomial logistic regression (numpy only) over a sentence's MiniLM embedding, its cue
families, the cues of the sentences just before it, the lexical type scores and its words and word pairs (hashed
into NGRAM_BUCKETS features). Classes: every taxonomy type except "other", plus "none" (a sound sentence).

Why the word features: the embedding says what a sentence is about; the kind of flaw is carried by its shape
("X, so every Y", "critics who want to ...", "by which we mean only ..."). On the lexicon-blind training abstracts
(grouped cross-validation) they raised the planted sentence ranked first from 82% to 91% and its type from 56% to
68% (see docs/analysis.md).

Weights live beside this file in head.npz (a few hundred kB, loaded once, in milliseconds); they are written by
`python -m agent.analysis.train`. When the file is missing the analysis stage runs on the lexical scores alone
(`load_head()` returns None and `analyse_text` uses the lexical threshold); nothing else changes.
"""
from __future__ import annotations

import logging
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from agent.analysis.cues import CUE_FAMILIES, ROLES
from agent.analysis.scoring import TYPES, Ctx

HEAD_PATH = Path(__file__).with_name("head.npz")
NONE = "none"
CLASSES: tuple[str, ...] = (*TYPES, NONE)
# cues of the earlier sentences that a step's evidence usually sits in
PRIOR_FAMILIES = ("score", "correlational", "small_sample", "target_mention", "shortfall", "result_role")
FEATURE_VERSION = 4  # 2: weakness is 1 - P(none) blended with the best lexical score; 3: hashed word features;
# 4: the opening-sentence flag
NGRAM_BUCKETS = 4096
_TOKEN = re.compile(r"[a-z0-9']+|[^\sa-z0-9]")


def ngram_features(texts: list[str]) -> np.ndarray:
    """(n, NGRAM_BUCKETS): each sentence's lower-cased words, punctuation marks and adjacent pairs of them, hashed
    (CRC-32, stable across runs and machines) into buckets, presence only, unit length."""
    out = np.zeros((len(texts), NGRAM_BUCKETS), np.float32)
    for row, text in enumerate(texts):
        tokens = _TOKEN.findall(text.lower())
        for gram in tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]:
            out[row, zlib.crc32(gram.encode("utf-8")) % NGRAM_BUCKETS] = 1.0
        norm = float(np.linalg.norm(out[row]))
        if norm:
            out[row] /= norm
    return out


def cue_features(ctx: Ctx, lex_row: np.ndarray) -> np.ndarray:
    """The hand-made part of the feature vector: cue families present, earlier-sentence cues, roles, lexical scores."""
    here = [min(2, len(ctx.here.cues.get(f, []))) / 2 for f in CUE_FAMILIES]
    prior = [1.0 if any(c.has(f) or (f == "result_role" and "result" in c.roles) for c in ctx.before) else 0.0
             for f in PRIOR_FAMILIES]
    roles = [1.0 if r in ctx.here.roles else 0.0 for r in ROLES]
    extra = [min(2, len(ctx.here.repeated_terms)) / 2, 1.0 if ctx.opening else 0.0]
    return np.concatenate([np.asarray(here + prior + roles + extra, dtype=np.float32), lex_row.astype(np.float32)])


def feature_matrix(embeddings: np.ndarray, ctxs: list[Ctx], lex: np.ndarray, texts: list[str]) -> np.ndarray:
    """One row per sentence: [embedding | cue features | lexical scores | hashed words]."""
    if not ctxs:
        return np.zeros((0, 0), np.float32)
    hand = np.stack([cue_features(c, lex[i]) for i, c in enumerate(ctxs)])
    return np.concatenate([embeddings.astype(np.float32), hand, ngram_features(texts)], axis=1)


def blend_scores(type_probs: np.ndarray, lex: np.ndarray, blend: float, type_blend: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(weakness, type scores) from the head's type probabilities (n, len(TYPES)) and the lexical scores; the
    training script calls it on out-of-fold probabilities to try blends without refitting."""
    weak_head = type_probs.sum(axis=1)
    conditional = type_probs / np.maximum(weak_head[:, None], 1e-9)
    weak = blend * weak_head + (1.0 - blend) * (lex.max(axis=1) if lex.size else 0.0)
    return weak, type_blend * conditional + (1.0 - type_blend) * lex


@dataclass(frozen=True)
class Head:
    weights: np.ndarray  # (n_features, n_classes)
    bias: np.ndarray  # (n_classes,)
    classes: tuple[str, ...]
    threshold: float  # a candidate whose weakness is at or above this is a clear weak step
    blend: float  # weakness = blend * (1 - P(none)) + (1 - blend) * best lexical score
    type_blend: float  # type score = type_blend * P(type | weak) + (1 - type_blend) * lexical score

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = features @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def type_probabilities(self, features: np.ndarray) -> np.ndarray:
        """(n, len(TYPES)): the probability of each taxonomy type, in TYPES order."""
        p = self.probabilities(features)
        return p[:, [self.classes.index(t) for t in TYPES]]

    def scores(self, features: np.ndarray, lex: np.ndarray, allowed: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """(weakness (n,), type scores (n, len(TYPES))) for sentences with these features and lexical scores.

        Why two numbers: whether a step is weak at all and which kind of weakness it is are different questions.
        The head's 1 - P(none) pools the evidence of every type, so a flawed sentence whose probability is split
        between two types still stands out; ranking by the best single type probability hid such sentences.
        `allowed` (n, len(TYPES)) masks the types each sentence cannot be (scoring.type_allowed)."""
        probs = self.type_probabilities(features)
        if allowed is None:
            return blend_scores(probs, lex, self.blend, self.type_blend)
        _, types = blend_scores(probs * allowed, lex * allowed, self.blend, self.type_blend)
        # a weakness that rests mainly on a type the sentence cannot be is discounted by that type's share; one
        # that rests mainly on another type keeps its whole weight ("Pause advocates want to halt all progress":
        # a straw man whose "want" also draws some anthropomorphism)
        gate = np.where(allowed[np.arange(len(probs)), probs.argmax(axis=1)][:, None], True, allowed)
        weak, _ = blend_scores(probs * gate, lex * gate, self.blend, self.type_blend)
        return weak, types

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, weights=self.weights.astype(np.float32), bias=self.bias.astype(np.float32),
                            classes=np.array(self.classes), threshold=np.float32(self.threshold),
                            blend=np.float32(self.blend), type_blend=np.float32(self.type_blend),
                            feature_version=np.int32(FEATURE_VERSION))
        tmp.replace(path)


def read_head(path: Path) -> Head | None:
    """The head stored at `path`, or None when there is none or it was trained for other features/classes."""
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        if int(z["feature_version"]) != FEATURE_VERSION or tuple(str(c) for c in z["classes"]) != CLASSES:
            return None
        return Head(weights=z["weights"], bias=z["bias"], classes=CLASSES, threshold=float(z["threshold"]),
                    blend=float(z["blend"]), type_blend=float(z["type_blend"]))


@lru_cache(maxsize=1)
def load_head() -> Head | None:
    """The shipped head, read once per process; None (lexical scores alone) when the file is missing or stale."""
    head = read_head(HEAD_PATH)
    if head is None:
        logging.getLogger(__name__).warning(
            "analysis head %s is %s: candidate weak steps use the lexical scores alone "
            "(python -m agent.analysis.train writes it)", HEAD_PATH, "stale" if HEAD_PATH.is_file() else "missing")
    return head
