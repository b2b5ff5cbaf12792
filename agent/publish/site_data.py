"""What the static site shows, gathered from what is on disk: one view per report, per digest day and per tag.

Inputs: the structured results (`<data_dir>/results/*.json`), the digest records (`<data_dir>/digests/*.json`),
arXiv metadata cached by the sources (categories) and the interest profile (its facets). Everything here is
deterministic: the same files give the same views, so a rebuild is a pure function of the disk.

Tags come in four kinds: arXiv categories, the profile's facets (a report's best-matching facets by MiniLM
similarity of its title, first line and claims), the core fallacy named, and the verdict's stance (the model's
own `stance` when the result has one, else read from the verdict's wording by a few transparent cues).
"""
from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.digest.ranking import rescale
from agent.models import AnalysisSummary, DissectionResult, WeakStep
from agent.publish.files import DiskCache, read_json, sha256, slugify, write_json
from agent.publish.render import safe_url, source_label
from agent.text.safe import clean_tree

WORDS_PER_MINUTE = 200
FACET_MIN = 0.30  # rescaled similarity a facet needs to tag a report (agent.digest.ranking.rescale)
FACET_NEAR = 0.05  # a second facet tags the report too when this close to the best one
MAX_FACETS = 2
TAG_KINDS = {"arxiv": "arXiv category", "topic": "interest", "fallacy": "core fallacy", "stance": "verdict"}
TAG_KIND_HEADINGS = {"arxiv": "arXiv categories", "topic": "Interests (the profile's facets)",
                     "fallacy": "Core fallacies", "stance": "Verdicts"}
_STANCE_CUES = (  # the first that matches names a negative stance
    ("overstated", re.compile(r"\b(overstat\w*|overclaim\w*|exaggerat\w*|overreach\w*|overgeneralis\w*|"
                              r"overgeneraliz\w*|too strong|inflated|outruns?)\b", re.I)),
    ("unsupported", re.compile(r"\b(unsupported|not supported|unfounded|unsubstantiated|no evidence|"
                               r"does not (?:follow|support|show)|fails? to (?:support|show|establish))\b", re.I)),
)
_POSITIVE = re.compile(r"\b(sound|well[- ]supported|well[- ]argued|convincing|persuasive|justified|credible|"
                       r"holds up|solid)\b", re.I)
_NEGATION = re.compile(r"\b(?:not|never|hardly|far from|less than)\W+(?:\w+\W+){0,2}$|n't\W+(?:\w+\W+){0,2}$", re.I)


def reading_minutes(*texts: str) -> int:
    words = sum(len(str(t or "").split()) for t in texts)
    return max(1, math.ceil(words / WORDS_PER_MINUTE))


def verdict_stance(dissection: Any) -> str:
    """The verdict's stance: the model's own field when present, else cue words of the verdict (negated praise
    such as "not convincing" counts against). "" when the wording says nothing either way."""
    own = getattr(dissection, "stance", None)
    if isinstance(own, str) and own.strip():
        return " ".join(own.lower().split())[:40]
    text = f"{dissection.verdict} {dissection.lag_weighted_verdict}"
    negative = [name for name, cue in _STANCE_CUES if cue.search(text)]
    praise = list(_POSITIVE.finditer(text))
    negated = [m for m in praise if _NEGATION.search(text[max(0, m.start() - 30):m.start()])]
    if negated and not negative:
        negative = ["unsupported"]  # "not convincing"
    positive = len(negated) < len(praise)
    if negative and positive:
        return "mixed"
    if negative:
        return negative[0]
    return "sound" if positive else ""


def facet_label(facet: str, max_words: int = 10) -> str:
    """A short name for a profile facet: its text up to the first colon, else the first comma."""
    head = facet.split(":", 1)[0] if ":" in facet else facet.split(",", 1)[0]
    words = head.rstrip(".").split()
    return " ".join(words[:max_words]) + (" …" if len(words) > max_words else "")


def _candidates(result: DissectionResult) -> list[dict]:
    """The analysis stage's candidate weak steps, when the result carries them (older results do not)."""
    analysis = getattr(result, "analysis", None)
    raw = getattr(analysis, "candidates", None) if analysis is not None else None
    if raw is None and isinstance(analysis, dict):
        raw = analysis.get("candidates")
    out = []
    for c in raw or []:
        get = c.get if isinstance(c, dict) else lambda k, c=c: getattr(c, k, None)
        sentence = get("sentence") or get("quote") or get("text") or ""
        if not sentence:
            continue
        score, kind = get("score"), str(get("type") or get("kind") or get("fallacy") or "")
        if isinstance(analysis, AnalysisSummary) and isinstance(c, WeakStep) and analysis.kind_unsure(c):
            # a clear step of uncertain kind: say so, and give the next likeliest
            kind = f"{kind} or {c.runner_up} (kind unsure)"
        out.append({"sentence": str(sentence), "type": kind,
                    "score": float(score) if isinstance(score, (int, float)) else None,
                    "reason": str(get("reason") or "")})
    return out


def related_groups(result: DissectionResult) -> list[dict]:
    """Related passages grouped by source: two chunks of one essay are one line, with its best similarity."""
    groups: dict[str, dict] = {}
    for p in result.related:
        key = safe_url(p.url) or p.title or p.id
        g = groups.setdefault(key, {"title": p.title or "untitled", "url": safe_url(p.url), "author": p.author,
                                    "score": p.score, "relations": [], "chunks": 0})
        g["chunks"] += 1
        g["score"] = max(g["score"], p.score)
        if p.relation and p.relation not in g["relations"]:
            g["relations"].append(p.relation)
    return sorted(groups.values(), key=lambda g: -g["score"])


@dataclass
class Tag:
    kind: str
    label: str
    slug: str
    reports: list = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.slug}"

    @property
    def page(self) -> str:
        return f"tags/{self.key}.html"

    @property
    def feed(self) -> str:
        return f"feeds/{self.key}.xml"

    @property
    def kind_label(self) -> str:
        return TAG_KINDS[self.kind]


@dataclass
class ReportView:
    result: DissectionResult
    slug: str
    date: str
    source: str
    url: str
    demo: bool
    minutes: int
    stance: str
    candidates: list[dict]
    related: list[dict]
    categories: list[str]
    facets: list[str] = field(default_factory=list)
    score: float | None = None
    digest_date: str = ""
    markdown: str = ""  # path of the Markdown report relative to reports_dir, when it exists
    tags: list[Tag] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.result.scan.title

    @property
    def page(self) -> str:
        return f"reports/{self.slug}.html"

    @property
    def month(self) -> str:
        return self.date[:7]


def _markdown_report(reports_dir: Path, date: str, slug: str) -> Path | None:
    """Where the Markdown report is: reports/papers/ (agent.publish.reports.REPORTS_FOLDER; not imported, reports
    imports the site), else a date folder, where earlier versions put it."""
    for path in (reports_dir / "papers" / f"{slug}.md", reports_dir / date / f"{slug}.md"):
        if path.is_file():
            return path
    return None


def report_view(result: DissectionResult, *, demo: bool, categories: list[str], reports_dir: Path) -> ReportView:
    d, scan = result.dissection, result.scan
    candidates = _candidates(result)
    minutes = reading_minutes(d.claims, d.core_fallacy.explanation, d.social_function, d.verdict,
                              d.lag_weighted_verdict, *(h.assumption + " " + h.if_false for h in d.hidden_assumptions),
                              *(c["reason"] + " " + c["sentence"] for c in candidates),
                              *(p.relation for p in result.related))
    date = result.report_date().isoformat()
    md = _markdown_report(Path(reports_dir), date, result.slug)
    return ReportView(result=result, slug=result.slug, date=date,
                      source=source_label(scan.kind, scan.source_id, scan.url), url=safe_url(scan.url), demo=demo,
                      minutes=minutes, stance=verdict_stance(d), candidates=candidates,
                      related=related_groups(result), categories=categories,
                      markdown=md.relative_to(reports_dir).as_posix() if md else "")


def load_results(data_dir: Path) -> list[DissectionResult]:
    """Every readable structured result, newest first (an unreadable file is left out, not fatal)."""
    out = []
    for path in sorted((Path(data_dir) / "results").glob("*.json")):
        raw = read_json(path)
        if not raw:
            continue
        try:
            out.append(DissectionResult.model_validate(raw))
        except ValueError:
            continue
    out.sort(key=lambda r: (r.provenance.generated_at.isoformat(), r.slug), reverse=True)
    return out


def arxiv_categories(result: DissectionResult, cache: DiskCache) -> list[str]:
    """The paper's arXiv categories: from the result when it records them, else from the cached metadata."""
    own = getattr(result.scan, "categories", None)
    if own:
        return [str(c) for c in own]
    if result.scan.kind != "arxiv":
        return []
    meta = cache.get_json("arxiv-meta", result.scan.source_id) or {}
    cats = meta.get("categories") if isinstance(meta, dict) else None
    return [str(c) for c in cats if isinstance(c, str)] if isinstance(cats, list) else []


def facet_similarities(texts: list[str], facets: tuple[str, ...], cache_path: Path) -> list[list[float]]:
    """Cosine similarity of each text to each facet (MiniLM), cached on disk by text and profile: a rebuild
    after one new dissection embeds one text, not all of them."""
    from agent.corpus.embeddings import embed  # deferred: chromadb and onnxruntime are slow to import

    if not texts or not facets:
        return [[] for _ in texts]
    profile_key = sha256("\n".join(facets), 16)
    cached = read_json(cache_path, {}) or {}
    keys = [sha256(profile_key + "\0" + t, 24) for t in texts]
    missing = [i for i, k in enumerate(keys) if not isinstance(cached.get(k), list) or len(cached[k]) != len(facets)]
    if missing:
        sims = embed([texts[i] for i in missing]) @ embed(list(facets)).T
        for row, i in zip(sims, missing, strict=True):
            cached[keys[i]] = [round(float(s), 5) for s in row]
        write_json(cache_path, {k: cached[k] for k in keys})
    return [cached[k] for k in keys]


def assign_facets(sims: list[float], labels: list[str]) -> list[str]:
    """The best facet (and a near second) when it clears FACET_MIN on the ranking's similarity scale."""
    scored = sorted(((rescale(s), label) for s, label in zip(sims, labels, strict=True)), reverse=True)
    if not scored or scored[0][0] < FACET_MIN:
        return []
    best = scored[0][0]
    return [label for s, label in scored[:MAX_FACETS] if s >= FACET_MIN and s >= best - FACET_NEAR]


def build_tags(views: list[ReportView]) -> list[Tag]:
    """Tags with their reports (newest first), most used first within each kind; each view gets its tags."""
    tags: dict[tuple[str, str], Tag] = {}

    def add(view: ReportView, kind: str, label: str) -> None:
        label = " ".join(str(label).split())
        if not label:
            return
        slug = slugify(label, 50)
        tag = tags.setdefault((kind, slug), Tag(kind=kind, label=label, slug=slug))
        if view not in tag.reports:
            tag.reports.append(view)
            view.tags.append(tag)

    for v in views:
        for c in v.categories:
            add(v, "arxiv", c)
        for f in v.facets:
            add(v, "topic", f)
        add(v, "fallacy", v.result.dissection.core_fallacy.name.lower())
        add(v, "stance", v.stance)
    order = list(TAG_KINDS)
    return sorted(tags.values(), key=lambda t: (order.index(t.kind), -len(t.reports), t.label.lower()))


def months(views: list[ReportView]) -> list[tuple[str, list[ReportView]]]:
    by_month: dict[str, list[ReportView]] = defaultdict(list)
    for v in views:
        by_month[v.month].append(v)
    return sorted(by_month.items(), reverse=True)


def search_index_js(views: list[ReportView]) -> str:
    """The client-side search index as a script that assigns a global (fetch() of a JSON file fails under
    file://). JSON with every character that could end a script or a string escaped: <, >, &, U+2028/9."""
    rows = [{"t": v.title, "v": v.result.dissection.verdict, "f": v.result.dissection.core_fallacy.name,
             "s": v.source, "d": v.date, "u": v.page} for v in views]
    payload = json.dumps(clean_tree(rows), ensure_ascii=True, separators=(",", ":"))
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"window.DISSECT_SEARCH = {payload};\n"
