"""Pydantic models: the data that flows through the graphs. The dissection's JSON schema lives here.

`DissectionDraft` is what the model must produce (its JSON schema constrains decoding; strings are capped so
that a small model that loops cannot run past max_tokens inside a string). `DissectionResult` is the full,
program-checked result that reports, JSON output, feeds and the HTML view render.
"""
from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from agent.publish.files import sha256, slugify

SourceKind = Literal["arxiv", "web", "file"]
SupportLabel = Literal["supported", "weak", "unsupported"]
TextOrigin = Literal["arxiv-html", "arxiv-pdf", "arxiv-abstract", "web", "pdf", "html", "markdown", "text"]

# The fixed taxonomy the core fallacy is named from ("other" when none fits).
FALLACIES = (
    "equivocation",
    "motte and bailey",
    "begging the question",
    "hasty generalization",
    "false dichotomy",
    "appeal to authority",
    "anthropomorphism",
    "benchmark-to-capability leap",
    "unfalsifiable claim",
    "correlation as causation",
    "moving the goalposts",
    "straw man",
    "slippery slope",
    "other",
)


class SourceRef(BaseModel):
    """What the user asked for, resolved: the kind of source and its canonical locator."""

    kind: SourceKind
    locator: str  # arXiv id without version, URL, or absolute file path
    version: str = ""  # arXiv version ("v2") when the user pinned one


class Paper(BaseModel):
    """A fetched source with its metadata and full text."""

    ref: SourceRef
    title: str
    authors: list[str] = []
    published: str = ""  # ISO date when known
    url: str = ""
    abstract: str = ""
    categories: list[str] = []
    text: str  # the full text the dissection reads and quotes are checked against
    text_origin: TextOrigin
    notes: list[str] = []  # fetch notes, e.g. "HTML unavailable (404); used the PDF"

    @property
    def source_id(self) -> str:
        return self.ref.locator


class Passage(BaseModel):
    """A retrieved piece of related writing."""

    id: str
    text: str
    title: str = ""
    url: str = ""
    author: str = ""
    score: float = 0.0  # cosine similarity in [0, 1]
    relation: str = ""  # one line on how it relates, filled by the analysis


# ---- what the model writes ------------------------------------------------------------------------


NO_CLEAR_FALLACY = "no clear fallacy"  # the core fallacy's name when no step of the argument clearly fails
NOT_HIDDEN = "Not hidden:"  # how an assumption entry opens when the text states the limit itself (not assumed)
NONE_FOUND = "None found:"  # how the one quote-less assumption entry opens: no sentence shows an assumption


class CoreFallacy(BaseModel):
    # evidence first: the model quotes and explains before it names (fields are written in this order)
    quote: str = Field(description="the source sentence where the weakest step is made, copied whole",
                       max_length=1000)
    explanation: str = Field(description="why the inference from the evidence to that sentence fails; for 'no "
                                         "clear fallacy', why it holds", max_length=2000)
    name: str = Field(description="the kind of flaw: a taxonomy name, 'other', or 'no clear fallacy'", max_length=60)

    @property
    def no_clear_fallacy(self) -> bool:
        return self.name.strip().casefold() == NO_CLEAR_FALLACY


class HiddenAssumption(BaseModel):
    assumption: str = Field(description="something the argument needs but does not state", max_length=1000)
    quote: str = Field(description="the source sentence that relies on it, copied whole", max_length=1000)
    if_false: str = Field(description="what breaks if the assumption is false", max_length=1000)

    @property
    def states_a_limit(self) -> bool:
        """The entry is a limit the text states (critique.sound_text.limit_assumption), so its `if_false` says why the
        limit matters rather than what breaks if an assumption is false."""
        return self.assumption.startswith(NOT_HIDDEN)

    @property
    def none_found(self) -> bool:
        """The program's entry for a text where no sentence shows an assumption (critique.sound_text
        .no_assumption_found): it names none and quotes nothing, so it has no quote to verify or score."""
        return not self.quote.strip() and self.assumption.startswith(NONE_FOUND)


class Relation(BaseModel):
    passage: int = Field(description="number of the related passage, starting at 1", ge=1, le=20)
    relation: str = Field(description="one line: echoes, answers, contradicts or ignores it, and how", max_length=600)


class DissectionDraft(BaseModel):
    """The structured output asked of the model, plus `written_by_program`, which only the program sets.

    The pydantic caps are generous (a reply from any backend validates); the schema sent with a request carries
    the tighter caps of agent.critique.schema, budgeted to fit max_output_tokens, and the checks trim prose at a
    sentence end, so no field is shown cut mid-sentence."""

    claims: str = Field(description="what the work claims and how it argues for it, in the critic's own words",
                        max_length=3000)
    core_fallacy: CoreFallacy
    hidden_assumptions: list[HiddenAssumption] = Field(min_length=1, max_length=3)
    social_function: str = Field(description="what the work does in the field's discourse", max_length=2000)
    verdict: str = Field(description="the critic's judgement in two sentences", max_length=2000)
    lag_weighted_verdict: str = Field(
        "", description="how the judgement changes as the field moves, or why it does not", max_length=2000)
    related: list[Relation] = Field([], max_length=5)
    # fields (paths such as "verdict" or "hidden_assumptions[1]") that the program wrote from its analysis because
    # the model's text failed a check: the report labels them; never part of the schema sent to a model
    written_by_program: list[str] = []

    @property
    def named_assumptions(self) -> list[HiddenAssumption]:
        """The assumption entries that name one (not the program's quote-less "None found")."""
        return [h for h in self.hidden_assumptions if not h.none_found]


MODEL_FIELDS = ("claims", "core_fallacy", "hidden_assumptions", "social_function", "verdict", "lag_weighted_verdict",
                "related")


def draft_json_schema(n_related: int, quote_choices: list[str] | None = None) -> dict:
    """The schema of what a model writes (DissectionDraft without the program's fields), tightened for one request:
    every field required, passage numbers within the passages shown, and, when `quote_choices` is given, every
    quote restricted to an `enum` of whole source sentences (grammar-constrained backends then cannot produce an
    unfound quote). agent.critique.schema tightens it further (caps, the core fallacy's choices)."""
    schema = copy.deepcopy(DissectionDraft.model_json_schema())
    defs = schema["$defs"]
    schema["properties"] = {k: v for k, v in schema["properties"].items() if k in MODEL_FIELDS}
    n_related = min(n_related, DissectionDraft.model_fields["related"].metadata[0].max_length)
    defs["Relation"]["properties"]["passage"]["maximum"] = max(1, n_related)
    defs["CoreFallacy"]["properties"]["name"] = {"type": "string", "enum": [*FALLACIES, NO_CLEAR_FALLACY],
                                                 "description": defs["CoreFallacy"]["properties"]["name"]
                                                 .get("description", "")}
    schema["properties"]["related"]["maxItems"] = n_related
    schema["required"] = [k for k in MODEL_FIELDS if k != "related" or n_related > 0]
    if n_related == 0:
        schema["properties"].pop("related")
    if quote_choices:
        for name in ("CoreFallacy", "HiddenAssumption"):
            quote = defs[name]["properties"]["quote"]
            defs[name]["properties"]["quote"] = {"type": "string", "enum": list(quote_choices),
                                                 "description": quote.get("description", "")}
    return schema


# ---- what the program adds --------------------------------------------------------------------------


class QuoteCheck(BaseModel):
    where: str  # "core_fallacy" or "hidden_assumptions[2]"
    quote: str  # as shown in the report (repaired to the source's wording when repair succeeded)
    status: Literal["verified", "repaired", "unverified", "none"]  # none: an entry that quotes nothing by design
    original: str = ""  # what the model wrote, when it was repaired, snapped or could not be verified
    snapped: bool = False  # the model quoted part of a sentence: the whole source sentence is shown
    support: SupportLabel | None = None  # does the quote carry its point (agent.critique.support); None: not scored
    support_score: float | None = None  # the scorer's number behind the label, in [0, 1]


class PassCount(BaseModel):
    """What one critique pass cost (agent.critique.passes): its model calls, cached ones included."""

    calls: int = 0
    cached: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0


class WeakStep(BaseModel):
    """A candidate weak step found by the model-free analysis (agent.analysis), as results and reports show it."""

    sentence: str
    fallacy: str
    score: float
    reason: str
    type_score: float = 1.0  # how clearly `fallacy` is its kind; below the summary's type_threshold it is unsure
    runner_up: str = ""  # the next most likely kind
    runner_up_score: float = 0.0


class AnalysisSummary(BaseModel):
    """What the analysis stage found, in the result: the candidate weak steps (best first) and whether any is
    clear; instructions planted in the source (addressed to an AI reader) are a finding too."""

    candidates: list[WeakStep] = []
    no_clear_fallacy: bool = True
    threshold: float = 0.0
    type_threshold: float = 0.0  # a candidate's kind is stated at or above this type score, offered below it
    sentences: int = 0
    version: str = ""  # digest of the analysis code and head weights that produced it
    planted_instructions: list[str] = []

    def kind_unsure(self, c: WeakStep) -> bool:
        """A clear weak step whose kind the analysis cannot tell: the report offers its likeliest two (below the
        threshold a candidate is only "most like" a kind, and nothing is claimed of it)."""
        return bool(c.runner_up) and c.type_score < self.type_threshold and c.score >= self.threshold


class Provenance(BaseModel):
    backend: str
    model: str  # as the backend reported it (a server may name a dated snapshot of what was asked for)
    requested_model: str = ""  # as configured
    prompt_template_hash: str
    tokens_in: int = 0
    tokens_out: int = 0
    llm_calls: int = 0
    cached_calls: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = {}
    grounding_rate: float = 0.0  # verified-or-repaired quotes / all quotes
    first_pass_grounding: float | None = None  # the same, for the model's first draft (before any revision)
    revised: bool = False
    context_fit: str = ""  # how the source text was fitted to the context window
    source_sha256: str = ""  # of the full source text
    fingerprint: str = ""  # of everything that decides the output (agent.pipeline.stages.run_fingerprint): reuse key
    cost_usd: float | None = None  # of this run's model calls (agent.pricing.cost_of); None: the price is unknown
    threads: int | None = None  # CPU threads the local model ran on (None: not a CPU backend)
    generated_at: datetime
    tool_version: str
    support_rate: float | None = None  # quotes judged to support their point / scored quotes (None: none scored)
    passes: dict[str, PassCount] = {}  # model calls per critique pass (draft, revise, critic, rewrite...)


class SourceScan(BaseModel):
    title: str
    authors: list[str]
    published: str
    url: str
    source_id: str
    kind: SourceKind
    text_origin: TextOrigin
    first_line: str  # the first sentence of the abstract (or text), copied by the program
    categories: list[str] = []  # arXiv categories (site tags)


def result_slug(kind: str, source_id: str, title: str) -> str:
    """File name of a source's report and result. arXiv papers by id; other sources by a readable title prefix
    plus a hash of their locator, so that two essays with one title, or an essay titled like an arXiv id, never
    share a file."""
    if kind == "arxiv":
        return slugify(source_id)
    return f"{slugify(title, 40)}-{sha256(source_id, 8)}"


class DissectionResult(BaseModel):
    scan: SourceScan
    dissection: DissectionDraft
    quotes: list[QuoteCheck]
    related: list[Passage] = []
    provenance: Provenance
    notes: list[str] = []
    analysis: AnalysisSummary | None = None  # the model-free analysis the critique worked from (None: older results)

    @property
    def slug(self) -> str:
        return result_slug(self.scan.kind, self.scan.source_id, self.scan.title)

    def report_date(self) -> date:
        return self.provenance.generated_at.date()


# ---- one paper's way through the pipeline -------------------------------------------------------------


class PaperJob(BaseModel):
    """Everything one paper's dissection has produced so far: JSON-safe, so the digest can keep it on disk between
    stages and a killed run can resume from it. Stages fill it in order (agent.pipeline.stages)."""

    source: str  # arXiv id, URL or file path, as given
    ref: SourceRef | None = None
    score: float | None = None  # relevance to the reader's profile, when a digest selected it
    paper: Paper | None = None
    related: list[Passage] = []
    prompt_text: str = ""  # the source text fitted to the context window
    context_fit: str = ""  # one line: how it was fitted
    omitted_paragraphs: int = 0  # paragraphs fitting left out (data, never parsed back out of the text)
    analysis: dict | None = None  # the model-free analysis (agent.analysis.Analysis dump)
    messages: list[dict] = []  # the first critique call's messages
    draft: DissectionDraft | None = None
    quotes: list[QuoteCheck] = []
    grounding: float = 0.0
    first_pass_grounding: float = 0.0
    revised: bool = False
    extra: dict = {}  # what critique passes keep between passes (argument map, critic notes...)
    result: DissectionResult | None = None
    reused: bool = False
    report_path: str = ""
    stage_seconds: dict[str, float] = {}
    calls: dict = {}  # agent.llm.structured.CallStats as a dict
    notes: list[str] = []
    held_back: str = ""  # why a digest stopped short of dissecting it (the cost cap): not a failure
    error: str = ""  # set when the job failed: one line
    error_exit: int = 0  # the failure's exit code (agent.errors)
