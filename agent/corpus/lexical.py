"""Lexical retrieval: Okapi BM25 over the store's chunks, and reciprocal rank fusion with the dense ranking.

Dense MiniLM similarity finds text about the same topic but can rank a near-miss essay above the one a query
paraphrases; BM25 rewards the rare words a paraphrase still shares with its source ("perplexity", "buzzsaw",
"distillation"). Neither score is comparable with the other, so they are fused by rank, not by value:
reciprocal rank fusion (Cormack, Clarke and Buettcher, SIGIR 2009) gives an item sum(w / (k + rank)) over the
rankings it appears in.

Chroma's own hybrid search (its `Search` API with BM25 sparse vectors) raises NotImplementedError on an embedded
PersistentClient (chromadb 1.5), so BM25 is computed here, in numpy, from the chunks Chroma stores. Nothing here
touches the network or a model.

Tokens: Unicode words, case-folded, British spellings folded to American ("visualisation" = "visualization"),
English stop words dropped, and a light suffix stemmer so that "artifacts"/"artifact" and "upsampling"/"upsample"
meet. The stemmer only needs to be consistent, not linguistically right: queries and chunks go through it alike.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

# Okapi BM25's usual constants (Robertson and Zaragoza 2009): term-frequency saturation and length normalisation.
K1 = 1.2
B = 0.75
# Reciprocal rank fusion's constant from Cormack et al.: it damps the weight of the very first ranks, so that one
# ranking's top hit cannot outvote agreement lower down in both.
RRF_K = 60

_WORD = re.compile(r"[^\W_]+")  # "network's" gives "network" and "s", dropped as too short
STOP_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her here
hers herself him himself his how i if in into is it its itself just let me more most my myself no nor not now of
off on once only or other ought our ours ourselves out over own same she should so some such than that the their
theirs them themselves then there these they this those through to too under until up very was we were what when
where which while who whom why will with would you your yours yourself yourselves one ones may might must shall
s t don doesn isn aren wasn weren won wouldn shouldn couldn cannot re ll ve
""".split())
_SPELLING = {"artefact": "artifact", "artefacts": "artifacts", "grey": "gray", "modelling": "modeling",
             "modelled": "modeled", "travelling": "traveling", "labelled": "labeled", "labelling": "labeling",
             "judgement": "judgment", "judgements": "judgments", "centre": "center", "centres": "centers",
             "programme": "program", "programmes": "programs"}
_ISE = re.compile(r"^(\w{3,}[^aeiou\W])is(e|es|ed|ing|ation|ations|er|ers)$")
_OUR = re.compile(r"^(\w{3,})our(s|ed|ing|ite|ites)?$")  # behaviour, neighbours, colour; not four, hour, your


def fold_spelling(word: str) -> str:
    """British to American spelling for the common patterns, so that either spelling matches the other."""
    word = _SPELLING.get(word, word)
    m = _ISE.match(word)
    if m:
        word = f"{m.group(1)}iz{m.group(2)}"
    m = _OUR.match(word)
    if m:
        word = f"{m.group(1)}or{m.group(2) or ''}"
    return word


# Derivational and inflectional endings removed by `stem` (after plurals), longest first, each with what replaces
# it: "generation" and "generated" both become "generat", "visualization" and "visualizing" both "visualiz".
_ENDINGS = (("abilities", ""), ("ability", ""), ("ibility", ""), ("ization", "iz"), ("ational", "at"),
            ("fulness", "ful"), ("ousness", "ous"), ("iveness", "ive"), ("ation", "at"), ("ments", ""),
            ("ment", ""), ("ness", ""), ("ingly", ""), ("ing", ""), ("edly", ""), ("ed", ""), ("ities", ""),
            ("ity", ""), ("ably", ""), ("able", ""), ("ibly", ""), ("ible", ""), ("ally", "al"), ("ly", ""))
MIN_STEM = 3


def stem(word: str) -> str:
    """A light, deterministic suffix stripper (a few of Porter's steps): plurals, then one common ending, then a
    doubled final consonant ("stopped" -> "stop") and a final e ("generate" -> "generat")."""
    if len(word) <= MIN_STEM or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > MIN_STEM + 2:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > MIN_STEM + 1:
        word = word[:-1]
    for ending, replacement in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM:
            word = word[: -len(ending)] + replacement
            if len(word) > MIN_STEM + 1 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]
            break
    return word[:-1] if word.endswith("e") and len(word) > MIN_STEM + 1 else word


@lru_cache(maxsize=200_000)
def _term(word: str) -> str:
    """The index term of one case-folded word ("" for a stop word); memoised: a corpus repeats its words."""
    if word in STOP_WORDS or len(word) < 2:
        return ""
    return stem(fold_spelling(word))


def tokenize(text: str) -> list[str]:
    """Index terms of `text`: words, case-folded, spelling-folded, stop words out, stemmed."""
    return [t for t in map(_term, _WORD.findall(text.casefold())) if t]


class BM25Index:
    """Okapi BM25 over a fixed list of texts. Build once, query many times; scores are >= 0, 0 = no shared term.

    Postings are one pair of numpy arrays (document numbers, term frequencies) sorted by term, with each term's
    slice found from `_starts`: building is one np.unique over (term, document) keys, and a query costs one
    vectorised update per query term."""

    def __init__(self, texts: Sequence[str], *, k1: float = K1, b: float = B):
        self.k1, self.b = k1, b
        self.size = n = len(texts)
        self._vocab: dict[str, int] = {}
        per_doc = [[self._vocab.setdefault(t, len(self._vocab)) for t in tokenize(text)] for text in texts]
        lengths = np.array([len(ids) for ids in per_doc], dtype=np.int64)
        terms = np.fromiter((t for ids in per_doc for t in ids), dtype=np.int64, count=int(lengths.sum()))
        docs = np.repeat(np.arange(n, dtype=np.int64), lengths)
        keys, tfs = np.unique(terms * max(n, 1) + docs, return_counts=True)  # sorted by term, then document
        self._docs = (keys % max(n, 1)).astype(np.int32)
        self._tfs = tfs.astype(np.float32)
        self._starts = np.searchsorted(keys // max(n, 1), np.arange(len(self._vocab) + 1))
        df = np.diff(self._starts)
        # Lucene's non-negative idf: a term in every document still counts a little, never negatively
        self._idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        avg = float(lengths.mean()) if n else 0.0
        # each document's length normalisation, precomputed: k1 * (1 - b + b * len / avg)
        self._norm = (k1 * (1.0 - b + b * lengths / (avg or 1.0))).astype(np.float32)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for `query` (each distinct query term counted once)."""
        out = np.zeros(self.size, dtype=np.float32)
        for term in set(tokenize(query)):
            t = self._vocab.get(term)
            if t is None:
                continue
            span = slice(self._starts[t], self._starts[t + 1])
            docs, tfs = self._docs[span], self._tfs[span]
            out[docs] += self._idf[t] * tfs * (self.k1 + 1.0) / (tfs + self._norm[docs])
        return out

    def top(self, query: str, n: int, among: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The (index, score) of the n best-scoring texts with a score above zero, best first (ties by index);
        `among`, a boolean mask over the texts, restricts the candidates."""
        if n <= 0 or self.size == 0:
            return []
        scores = self.scores(query)
        hits = np.flatnonzero((scores > 0) if among is None else (scores > 0) & among)
        if hits.size == 0:
            return []
        order = hits[np.lexsort((hits, -scores[hits]))][:n]
        return [(int(i), float(scores[i])) for i in order]


def reciprocal_rank_fusion(rankings: Iterable[Sequence[str]], *, k: int = RRF_K,
                           weights: Sequence[float] | None = None) -> list[tuple[str, float]]:
    """Fuse rankings (each a list of ids, best first) into one: id -> sum over rankings of w / (k + rank), rank
    starting at 1. Returns (id, fused score), best first; ties keep the order of first appearance."""
    fused: dict[str, float] = {}
    rankings = list(rankings)
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(dict.fromkeys(ranking), 1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    order = {item: i for i, item in enumerate(fused)}
    return sorted(fused.items(), key=lambda kv: (-kv[1], order[kv[0]]))
