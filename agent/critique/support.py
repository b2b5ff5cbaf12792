"""Does a quote support the point it is attached to? supported / weak / unsupported, with no model.

Three signals, each cheap:
- similarity: the MiniLM cosine between the point and the quote (agent.corpus.embeddings);
- overlap: the share of the point's content words (stemmed to five letters) that the quote contains;
- cue: how strongly the quote itself shows the kind of weak step the point names (the analysis stage's type score
  for the sentence standing alone: agent.analysis), or its strongest type when the point names none.

A quote *supports* a point about a weak step when it shows that step (cue) and is about what the point says
(similarity + overlap), or when the point names its kind of flaw and the quote shows that kind strongly; it is
*weak* when it is related evidence but not the step itself; *unsupported* otherwise.

The thresholds were chosen by `python bench/support_calibration.py` on the labelled pairs of
bench/data/critique/support.jsonl (53 pairs written for this project): a grid search for agreement with the
labels, which that command prints with its leave-one-out estimate. Those pairs are the only labelled data: the
in-sample figure is optimistic, the leave-one-out one is the honest one.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from agent.analysis.analyse import score_sentences
from agent.analysis.cues import find_cues
from agent.analysis.head import load_head
from agent.analysis.scoring import TYPES, contexts
from agent.corpus.embeddings import embed
from agent.models import QuoteCheck, SupportLabel

# chosen by `python bench/support_calibration.py` (see the module docstring)
CUE_MIN = 0.2  # the quote shows a weak step of the point's kind at least this strongly...
RELATED_FOR_SUPPORT = 0.35  # ...and is about the point (similarity + OVERLAP_WEIGHT * overlap) at least this much
RELATED_FOR_WEAK = 0.25  # otherwise it is weak support when it is at least this related
OVERLAP_WEIGHT = 1.0
# not calibrated (no labelled point names its kind of flaw): a point that names one ("hasty generalization: ...")
# is also supported by a quote that shows that kind strongly, however generic the point's wording
NAMED_CUE = 0.5

_STOP = frozenset("""the a an of to in on and or is are was were be been being that this these those it its for with
as by at from not no than which who whom their they them we our us can may might will would could should has have
had do does did so such into onto over under about after before also only just more most less very any all each
both one two paper text work authors author""".split())
_DATA = Path(__file__).resolve().parents[2] / "bench" / "data" / "critique" / "support.jsonl"


@dataclass(frozen=True)
class Support:
    label: SupportLabel
    score: float  # in [0, 1]: how well the quote carries the point (for display and ranking)
    similarity: float
    overlap: float
    cue: float


def content_words(text: str) -> set[str]:
    return {w[:5] for w in re.findall(r"[a-z0-9]+", text.casefold()) if len(w) > 2 and w not in _STOP}


def named_type(point: str) -> str | None:
    """The taxonomy type a point names ("hasty generalization: ..."), if any."""
    low = point.casefold()
    return next((t for t in TYPES if t in low), None)


def _cue_scores(quotes: list[str], fallacies: list[str | None]) -> list[float]:
    """Each quote's score, standing alone, for the type its point names (its strongest type when none)."""
    if not quotes:
        return []
    scores, _ = score_sentences(quotes, contexts([find_cues(q) for q in quotes]), load_head())
    return [float(row[TYPES.index(f)]) if f in TYPES else float(row.max())
            for row, f in zip(scores, fallacies, strict=True)]


def label_for(similarity: float, overlap: float, cue: float, *, cue_min: float = CUE_MIN,
              related_support: float = RELATED_FOR_SUPPORT, related_weak: float = RELATED_FOR_WEAK,
              overlap_weight: float = OVERLAP_WEIGHT) -> SupportLabel:
    related = similarity + overlap_weight * overlap
    if cue >= cue_min and related >= related_support:
        return "supported"
    return "weak" if related >= related_weak else "unsupported"


def _features(pairs: list[tuple[str, str]], fallacies: list[str | None]) -> list[tuple[float, float, float]]:
    if not pairs:
        return []
    vectors = embed([p for p, _ in pairs] + [q for _, q in pairs])
    sims = (vectors[: len(pairs)] * vectors[len(pairs):]).sum(axis=1)
    cues = _cue_scores([q for _, q in pairs], fallacies)
    out = []
    for (point, quote), sim, cue in zip(pairs, sims, cues, strict=True):
        pw = content_words(point)
        out.append((float(sim), len(pw & content_words(quote)) / max(1, len(pw)), cue))
    return out


def support_scores(pairs: list[tuple[str, str]], fallacies: list[str | None] | None = None) -> list[Support]:
    """One Support per (point, quote) pair; `fallacies` names each point's kind of weak step (None: read from the
    point's text when it names one)."""
    kinds = list(fallacies) if fallacies is not None else [None] * len(pairs)
    kinds = [k or named_type(p) for k, (p, _) in zip(kinds, pairs, strict=True)]
    out = []
    for (sim, ov, cue), kind in zip(_features(pairs, kinds), kinds, strict=True):
        related = min(1.0, max(0.0, sim + OVERLAP_WEIGHT * ov))
        label = "supported" if kind in TYPES and cue >= NAMED_CUE else label_for(sim, ov, cue)
        out.append(Support(label, round(0.5 * related + 0.5 * min(1.0, cue), 3), round(sim, 3), round(ov, 3),
                           round(cue, 3)))
    return out


def score_support(point: str, quote: str, fallacy: str | None = None) -> SupportLabel:
    """The label for one pair (what bench/critique_eval.py calls)."""
    return support_scores([(point, quote)], [fallacy])[0].label


def support_rate(checks: list[QuoteCheck]) -> float | None:
    """Quotes judged to support their point, over the quotes that were scored."""
    scored = [c for c in checks if c.support is not None]
    return sum(c.support == "supported" for c in scored) / len(scored) if scored else None


# ---- calibration --------------------------------------------------------------------------------------------
GRID: dict[str, Any] = {"cue_min": np.arange(0.1, 0.51, 0.05), "related_support": np.arange(0.2, 0.61, 0.05),
        "related_weak": np.arange(0.2, 0.71, 0.05), "overlap_weight": (0.0, 0.5, 1.0)}


def _best(feats: np.ndarray, labels: np.ndarray) -> tuple[dict, float]:
    """The grid point with the highest agreement; among ties, the one nearest the middle of the tied region (the
    widest margin to the points that do worse)."""
    sim, ov, cue = feats.T
    combos = list(product(GRID["overlap_weight"], GRID["cue_min"], GRID["related_support"], GRID["related_weak"]))
    accs = []
    for ow, cue_min, rs, rw in combos:
        related = sim + ow * ov
        pred = np.where((cue >= cue_min) & (related >= rs), "supported",
                        np.where(related >= rw, "weak", "unsupported"))
        accs.append(float((pred == labels).mean()))
    top = max(accs)
    tied = np.array([c for c, a in zip(combos, accs, strict=False) if a == top], dtype=float)
    ow, cue_min, rs, rw = tied[np.argmin(((tied - tied.mean(axis=0)) ** 2).sum(axis=1))]
    return {"cue_min": round(float(cue_min), 2), "related_support": round(float(rs), 2),
            "related_weak": round(float(rw), 2), "overlap_weight": float(ow)}, top


def calibrate(path: Path = _DATA) -> dict:
    """Grid-search the thresholds on the labelled pairs; agreement in sample and leave-one-out."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    feats = np.array(_features([(r["point"], r["quote"]) for r in rows], [named_type(r["point"]) for r in rows]))
    labels = np.array([r["label"] for r in rows])
    params, acc = _best(feats, labels)
    loo = 0
    for i in range(len(rows)):
        keep = np.arange(len(rows)) != i
        p, _ = _best(feats[keep], labels[keep])
        loo += label_for(*feats[i], **p) == labels[i]
    shipped = float(np.mean([label_for(*f) == y for f, y in zip(feats, labels, strict=False)]))
    return {"pairs": len(rows), "best": params, "in_sample": round(acc, 3),
            "leave_one_out": round(loo / len(rows), 3), "shipped_in_sample": round(shipped, 3)}
