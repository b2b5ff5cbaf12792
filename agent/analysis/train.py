"""Train the analysis head: `python -m agent.analysis.train [--out agent/analysis/head.npz]`.

Data (the project's own writing, see bench/data/critique/README.md): the training split only,
bench/data/critique/train*.jsonl (abstracts with one planted flaw, and their clean twins) and
train_sentences.jsonl (single labelled sentences, hard negatives included). The dev and test splits are never
read here.

Each sentence becomes a feature vector (agent.analysis.head.feature_matrix): its MiniLM embedding, its cue
families, the cues of the sentences before it and the lexical type scores. The head is a multinomial logistic
regression (numpy, L-BFGS to convergence, L2 on the weights, classes weighted to balance "none" against the types).
A sentence's weakness is blend * (1 - P(none)) + (1 - blend) * its best lexical score; its type is the best of
type_blend * P(type | weak) + (1 - type_blend) * lexical score. The L2 strength, both blends and the threshold
are chosen by grouped cross-validation on the training abstracts (one abstract, flawed and clean, is one group),
the threshold then raised for precision as far as the issue's detection and type floors allow out of fold; the
head is then refitted on everything.
Deterministic: the same data give the same file.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.analysis.analyse import _embedder, _is_candidate
from agent.analysis.cues import find_cues
from agent.analysis.head import CLASSES, HEAD_PATH, NONE, Head, blend_scores, feature_matrix
from agent.analysis.scoring import TYPES, contexts, lexical_scores, mark_opening
from agent.text.sentences import split_sentences

DATA = Path(__file__).resolve().parents[2] / "bench" / "data" / "critique"
L2_GRID = (0.001, 0.003, 0.01, 0.03, 0.1)
BLEND_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
TYPE_BLEND_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
THRESHOLD_GRID = tuple(round(x, 2) for x in np.arange(0.2, 0.86, 0.025))
# the issue's floors for finding the planted step and naming its type (issue 8's targets), out of fold
DETECTION_FLOOR, TYPE_FLOOR = 0.75, 0.60


@dataclass
class Text:
    """One training text (a flawed abstract, its clean twin, or a single sentence) ready for scoring."""

    group: int
    features: np.ndarray  # (n_sentences, n_features)
    lex: np.ndarray  # (n_sentences, len(TYPES))
    labels: list[str]  # per sentence: a type or NONE
    candidate: np.ndarray  # (n_sentences,) bool: may be a candidate
    planted: int | None  # index of the planted sentence (flawed abstracts)
    planted_type: str | None
    is_abstract: bool
    lexicon_blind: bool = False  # written by people who had not seen the cue lexicon (see LEXICON_AWARE)


def _prepare(text: str, group: int, planted: str | None, planted_type: str | None) -> tuple[Text, list[str]]:
    """A Text without its embeddings yet (they are computed for all texts in one batch), and its sentences."""
    sents = split_sentences(text)
    cues = [find_cues(s.clean) for s in sents]
    ctxs = contexts(cues)
    cand = np.array([_is_candidate(s, c) for s, c in zip(sents, cues, strict=True)])
    mark_opening(ctxs, [int(i) for i in np.flatnonzero(cand)])
    lex = lexical_scores(ctxs)
    hand = feature_matrix(np.zeros((len(sents), 0), np.float32), ctxs, lex, [s.clean for s in sents])
    idx = next((i for i, s in enumerate(sents) if s.clean == planted), None) if planted else None
    labels = [planted_type if i == idx and planted_type else NONE for i in range(len(sents))]
    return Text(group, hand, lex, labels, cand, idx, planted_type, True), [s.clean for s in sents]


# train_<name>.jsonl files were written by people who never read agent/analysis: the only data on which the
# lexical rules' generalisation can be measured (the rules were written while reading train.jsonl and dev.jsonl,
# so cross-validated figures there flatter them). Cross-validation scores the settings on these groups only.
LEXICON_AWARE = ("train.jsonl",)


def training_files() -> list[Path]:
    """train.jsonl and every train_<name>.jsonl beside it (abstracts), not the single sentences."""
    return sorted(p for p in DATA.glob("train*.jsonl") if not p.name.startswith("train_sentences"))


def sentence_files() -> list[Path]:
    """train_sentences.jsonl and every train_sentences_<name>.jsonl beside it (single labelled sentences)."""
    return sorted(DATA.glob("train_sentences*.jsonl"))


def load_texts(embed) -> list[Text]:
    prepared: list[tuple[Text, list[str]]] = []
    records = [(json.loads(x), path.name not in LEXICON_AWARE)
               for path in training_files() for x in path.read_text().splitlines() if x]
    for g, (r, blind) in enumerate(records):
        for text, planted, kind in ((r["text"], r["planted"], r["type"]), (r["clean_text"], None, None)):
            t, sents = _prepare(text, g, planted, kind)
            t.lexicon_blind = blind
            prepared.append((t, sents))
    singles = [json.loads(x) for path in sentence_files() for x in path.read_text().splitlines() if x]
    for k, r in enumerate(singles):
        label = r["label"]
        t, sents = _prepare(r["sentence"], len(records) + k, r["sentence"] if label != NONE else None,
                            label if label != NONE else None)
        t.labels, t.is_abstract = [label], False
        prepared.append((t, sents))
    vectors = embed([s for _, sents in prepared for s in sents])
    start = 0
    for t, sents in prepared:
        t.features = np.concatenate([vectors[start:start + len(sents)], t.features], axis=1)
        start += len(sents)
    return [t for t, _ in prepared]


def _stack(texts: list[Text]) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([t.features for t in texts])
    y = np.array([CLASSES.index(lab) for t in texts for lab in t.labels])
    return x, y


def _objective(z: np.ndarray, onehot: np.ndarray, sw: np.ndarray, l2: float):
    """f(theta) -> (loss, gradient) of the weighted softmax loss with L2 on the weights (not the bias); theta is
    the flattened (W, b) in float64, z the standardised features."""
    d, k = z.shape[1], onehot.shape[1]

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d * k].reshape(d, k), theta[d * k:]
        logits = (z @ w.astype(np.float32)).astype(np.float64) + b
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        loss = -float((sw * (onehot * log_p).sum(axis=1)).sum()) + 0.5 * l2 * float((w * w).sum())
        g = (np.exp(log_p) - onehot) * sw[:, None]
        gw = (z.T @ g.astype(np.float32)).astype(np.float64) + l2 * w
        return loss, np.concatenate([gw.ravel(), g.sum(axis=0)])
    return f


def _lbfgs(f, theta: np.ndarray, max_iter: int, tol: float, memory: int = 10) -> tuple[np.ndarray, int]:
    """Minimise a smooth convex f by L-BFGS (two-loop recursion, backtracking Armijo line search). Stops when the
    gradient's largest entry falls below tol or a step no longer lowers the loss; returns (theta, iterations)."""
    loss, grad = f(theta)
    s_hist: list[np.ndarray] = []
    y_hist: list[np.ndarray] = []
    for it in range(1, max_iter + 1):
        if np.abs(grad).max() < tol:
            return theta, it - 1
        q = grad.copy()
        alphas = []
        for s, y in zip(reversed(s_hist), reversed(y_hist), strict=True):
            a = s @ q / (y @ s)
            alphas.append(a)
            q -= a * y
        q *= (s_hist[-1] @ y_hist[-1]) / (y_hist[-1] @ y_hist[-1]) if s_hist else 1.0 / max(1.0, np.abs(grad).max())
        for s, y, a in zip(s_hist, y_hist, reversed(alphas), strict=True):
            q += s * (a - y @ q / (y @ s))
        direction = -q
        slope = grad @ direction
        if slope >= 0:  # not a descent direction (numerical trouble): restart from the gradient
            s_hist.clear()
            y_hist.clear()
            direction, slope = -grad, -(grad @ grad)
        step = 1.0
        while True:
            new_theta = theta + step * direction
            new_loss, new_grad = f(new_theta)
            if new_loss <= loss + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        if new_loss >= loss:  # no progress left at float32 precision
            return theta, it
        s, y = new_theta - theta, new_grad - grad
        if s @ y > 1e-12:
            s_hist.append(s)
            y_hist.append(y)
            if len(s_hist) > memory:
                s_hist.pop(0)
                y_hist.pop(0)
        theta, loss, grad = new_theta, new_loss, new_grad
    return theta, max_iter


def fit(x: np.ndarray, y: np.ndarray, l2: float, max_iter: int = 2000, tol: float = 1e-6
        ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted softmax regression on standardised features, solved to convergence (the loss is convex, so the
    answer does not depend on a step size or a step count; 400 Adam steps, used before, left the head unconverged
    at weak L2 and cross-validation then compared settings through optimiser noise). Returns (W, b) for the raw
    features."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = ((x - mean) / std).astype(np.float32)  # float32: the word features make d ~4,500
    n, d = z.shape
    k = len(CLASSES)
    counts = np.bincount(y, minlength=k).astype(np.float64)
    class_w = np.where(counts > 0, n / (k * np.maximum(counts, 1)), 0.0)
    sw = class_w[y] / class_w[y].sum()
    onehot = np.eye(k)[y]
    theta, _ = _lbfgs(_objective(z, onehot, sw, l2), np.zeros(d * k + k), max_iter, tol)
    w, b = theta[:d * k].reshape(d, k), theta[d * k:]
    return w / std[:, None], b - (mean / std) @ w


Scores = tuple[np.ndarray, np.ndarray]  # (weakness (n,), type scores (n, len(TYPES)))


def _scores(head: Head, t: Text) -> Scores:
    return head.scores(t.features, t.lex)


def evaluate(texts: list[Text], scores: list[Scores], threshold: float) -> dict[str, float]:
    """Abstract-level figures: the weakest candidate is the planted sentence with its type, and clean texts stay
    below the threshold."""
    hit = typed = flawed = clean_ok = clean = 0
    margins: list[float] = []
    for t, (weak, types) in zip(texts, scores, strict=True):
        if not t.is_abstract:
            continue
        masked = np.where(t.candidate, weak, -1.0)
        i = int(np.argmax(masked))
        above = masked[i] >= threshold
        if t.planted is not None:
            flawed += 1
            hit += bool(above and i == t.planted)
            typed += bool(above and i == t.planted and TYPES[int(np.argmax(types[i]))] == t.planted_type)
            # how far the planted sentence stands above every other sentence and the threshold
            right = masked[t.planted]
            others = np.delete(masked, t.planted)
            margins.append(min(right - (others.max() if others.size else 0.0), right - threshold))
        else:
            clean += 1
            clean_ok += not above
            margins.append(threshold - masked[i])
    return {"detection": hit / max(1, flawed), "type": typed / max(1, flawed), "no_clear": clean_ok / max(1, clean),
            "margin": float(np.mean(np.clip(margins, -0.3, 0.3))) if margins else 0.0}


def cross_validate(texts: list[Text], folds: int, seed: int) -> tuple[float, float, float, float, dict]:
    """(l2, blend, type_blend, threshold) with the best out-of-fold figures, and those figures. The figures are
    taken on the lexicon-blind groups when there are any (all groups are trained on)."""
    groups = sorted({t.group for t in texts})
    rng = np.random.default_rng(seed)
    fold_of = dict(zip(groups, rng.permutation(len(groups)) % folds, strict=True))
    results: list[tuple[float, float, float, float, float, dict]] = []  # objective, l2, blends, threshold, figures
    for l2 in L2_GRID:
        oof_probs: list[np.ndarray] = [np.zeros(0)] * len(texts)
        for f in range(folds):
            train = [t for t in texts if fold_of[t.group] != f]
            w, b = fit(*_stack(train), l2=l2)
            head = Head(w, b, CLASSES, 0.5, 1.0, 1.0)
            for k, t in enumerate(texts):
                if fold_of[t.group] == f:
                    oof_probs[k] = head.type_probabilities(t.features)
        judged = [k for k, t in enumerate(texts) if t.lexicon_blind] or list(range(len(texts)))
        for blend in BLEND_GRID:
            for type_blend in TYPE_BLEND_GRID:
                scores = [blend_scores(oof_probs[k], texts[k].lex, blend, type_blend) for k in judged]
                for thr in THRESHOLD_GRID:
                    m = evaluate([texts[k] for k in judged], scores, thr)
                    # finding the weak step, naming it, and keeping quiet on a sound text weigh the same: a false
                    # alarm costs a reader as much as a miss (at half weight, on the data of c5acacb, the chosen
                    # setting flagged 32% of the out-of-fold sound texts, against 27%, to find 3 more flaws in 100)
                    results.append((m["detection"] + m["type"] + m["no_clear"], l2, blend, type_blend, thr, m))
    # the best figures, then (many settings tie on a small training set) the widest mean margin
    top = max(r[0] for r in results)
    chosen = max((r for r in results if r[0] >= top - 1e-9), key=lambda r: r[5]["margin"])
    # then the threshold of that setting is raised as far as the floors allow: the objective is flat across a wide
    # band of thresholds (0.2 to 0.4 within 2 points on the data of 3360abb), but a false alarm puts two wrong
    # points before a reader (the core fallacy and the assumption written for it), judged unsupported in 37 of 38
    # cases on test3, where a miss leaves out one right point
    same = [r for r in results if r[1:4] == chosen[1:4]]
    floored = [r for r in same if r[5]["detection"] >= DETECTION_FLOOR - 1e-9 and r[5]["type"] >= TYPE_FLOOR - 1e-9]
    if floored:
        chosen = max(floored, key=lambda r: (r[5]["no_clear"], r[0]))
    lexical = [r for r in results if r[2] == 0.0 and r[3] == 0.0]
    best_lexical = max(lexical, key=lambda r: (r[0], r[5]["margin"]))
    print(f"  lexical scores alone (no head): best threshold {best_lexical[4]} -> detection "
          f"{best_lexical[5]['detection']:.0%}, type {best_lexical[5]['type']:.0%}, "
          f"clean no-clear {best_lexical[5]['no_clear']:.0%} (analyse.LEXICAL_THRESHOLD)")
    return chosen[1], chosen[2], chosen[3], chosen[4], chosen[5]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HEAD_PATH)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    texts = load_texts(_embedder())
    n_sent = sum(len(t.labels) for t in texts)
    print(f"training texts: {sum(t.is_abstract for t in texts)} abstracts (flawed + clean; "
          f"{sum(t.lexicon_blind for t in texts)} lexicon-blind, on which the settings are judged), "
          f"{sum(not t.is_abstract for t in texts)} single sentences; {n_sent} sentences")
    l2, blend, type_blend, thr, cv = cross_validate(texts, args.folds, args.seed)
    print(f"chosen by {args.folds}-fold grouped CV: l2={l2} blend={blend} type_blend={type_blend} threshold={thr}")
    print(f"  out-of-fold: detection {cv['detection']:.0%}, type {cv['type']:.0%}, "
          f"clean no-clear {cv['no_clear']:.0%}, mean margin {cv['margin']:.3f}")
    w, b = fit(*_stack(texts), l2=l2)
    head = Head(w.astype(np.float32), b.astype(np.float32), CLASSES, thr, blend, type_blend)
    fitted = evaluate(texts, [_scores(head, t) for t in texts], thr)
    print(f"  refitted on all training data: detection {fitted['detection']:.0%}, type {fitted['type']:.0%}, "
          f"clean no-clear {fitted['no_clear']:.0%}")
    head.save(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
