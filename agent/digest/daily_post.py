"""The daily post: a short essay (about 250-400 words) on the day's best paper, the lead of the digest page, the
site's home page, the feed and the email.

It is grounded like a dissection. The program assembles it from the dissection's checked parts (what the paper
claims, its weakest step with the quote it rests on, an assumption, the verdict) and asks the model, in the voice
set in the interest profile (`voice:`), only for the connective prose: an opening, the step it would push on and
a last line, plus the choice of the sentence that best states the paper's claim. That choice is restricted by the
JSON schema to real source sentences (an `enum`, as the dissection's revision does), and every quote is verified
against the source text with agent.text.grounding before it is shown. Model prose that puts words in quotation
marks that the source does not contain is replaced by the program's own sentence. The closing line names the
paper and its relevance: "born from <title> (arXiv, 0.92)".

An honest note: with the embedded 135M demo model the phrasing is weak; the facts, quotes and structure are the
program's and hold anyway. When the model fails altogether the program writes every sentence itself
(`phrased_by_model` is False) rather than leave the digest without its lead.
"""
from __future__ import annotations

import copy
import logging
import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from agent.critique.prompts import KIND_LABELS, quote_candidates
from agent.digest.ranking import Profile
from agent.errors import LLMError
from agent.llm.structured import StructuredLLM
from agent.models import DissectionResult
from agent.publish.render import fence, is_demo_model, render, render_prompt
from agent.text.grounding import SourceIndex, check_quote
from agent.text.sentences import sentence_texts

log = logging.getLogger("dissect.digest")

WORDS_MIN, WORDS_MAX = 250, 400  # the essay's length, closing line excluded
MAX_TOKENS = 700  # the draft's string caps add up to ~1,900 characters: ~550 tokens with the JSON around them
N_SENTENCES = 12  # source sentences offered for the claim quote
DEFAULT_VOICE = "First person, plain and direct: what the paper claims, its evidence, and the one step to push on."
SOURCE_NAMES = {"arxiv": "arXiv", "web": "web", "file": "file"}
_QUOTED = re.compile(r"[\"\u201c\u201e]([^\"\u201c\u201d\u201e]{12,})[\"\u201d]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class DailyPostDraft(BaseModel):
    """What the model writes; the program does the rest."""

    opening: str = Field(description="two or three sentences in the reader's voice: why this paper is worth a "
                                     "morning", max_length=600)
    claim_quote: str = Field(description="the source sentence that best states the paper's main claim, copied "
                                         "exactly", max_length=400)
    push: str = Field(description="two or three sentences: the step you would push on, and why", max_length=600)
    takeaway: str = Field(description="one sentence to end on", max_length=300)


def draft_schema(sentences: list[str]) -> dict:
    """The draft's JSON schema with the claim quote restricted to the given source sentences (grammar-constrained
    backends cannot produce anything else; the others are checked after)."""
    schema = copy.deepcopy(DailyPostDraft.model_json_schema())
    if sentences:
        quote = schema["properties"]["claim_quote"]
        schema["properties"]["claim_quote"] = {"type": "string", "enum": list(sentences),
                                               "description": quote.get("description", "")}
    return schema


class PostBlock(BaseModel):
    """One block of the essay: a paragraph of prose, or a quote from the paper (verified against its text)."""

    kind: Literal["text", "quote"]
    text: str  # untrusted (model-written or from the paper): escape when rendering
    status: Literal["verified", "repaired", ""] = ""  # quotes: verbatim in the source, or repaired to its sentence
    role: str = ""  # quotes: "its claim", "the weakest step", "an assumption"


class DailyPost(BaseModel):
    """The day's post, JSON-safe (model_dump(mode="json")). Renderers show `blocks` in order (text as paragraphs,
    quotes as block quotes), then `closing`; `demo_model` asks for the visible demo label."""

    paper_id: str
    title: str
    url: str
    source_kind: str  # "arxiv", "web" or "file"
    relevance: float
    blocks: list[PostBlock]
    closing: str  # born from <title> (arXiv, 0.92)
    words: int  # in the blocks, closing excluded
    phrased_by_model: bool  # False: the model failed and the program wrote every sentence
    model: str
    backend: str
    demo_model: bool
    notes: list[str] = []
    generated_at: datetime

    def plain_text(self) -> str:
        """The post as plain text (quotes in quotation marks), for the email's text part and logs."""
        parts = [f"\u201c{b.text}\u201d" if b.kind == "quote" else b.text for b in self.blocks]
        return "\n\n".join([*parts, self.closing])


def _clean(text: object) -> str:
    return " ".join(_CONTROL.sub(" ", str(text or "")).split())


def _continuing(text: str) -> str:
    """A sentence made to continue one ("that the benchmark...", "If not, the method..."): first letter lowered
    unless the word is an acronym or a name-like capitalised run ("RLHF", "GPT-4")."""
    text = _clean(text)
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def closing_line(title: str, source_kind: str, relevance: float) -> str:
    return f"born from {_clean(title)} ({SOURCE_NAMES.get(source_kind, source_kind)}, {relevance:.2f})"


def _word_count(blocks: list[PostBlock]) -> int:
    return sum(len(b.text.split()) for b in blocks)


def _prose_or(index: SourceIndex, prose: str, fallback: str, notes: list[str], field: str, sentences: int) -> str:
    """The model's prose, cut to its first `sentences` sentences (a small model rambles), unless it is empty or
    quotes words the source does not contain: then the fallback."""
    prose = " ".join(sentence_texts(_clean(prose))[:sentences])
    if len(prose.split()) < 4:
        if fallback:
            notes.append(f"the model's {field} was not prose; the program's sentence was used instead")
        return fallback
    for span in _QUOTED.findall(prose):
        if len(span.split()) >= 3 and index.find(span) is None:
            notes.append(f"the model's {field} quoted words the source does not contain; the program's sentence "
                         "was used instead")
            return fallback
    return prose


def _quote_block(index: SourceIndex, quote: str, role: str) -> PostBlock | None:
    check = check_quote(index, role, quote)
    if check.status == "unverified":
        return None
    return PostBlock(kind="quote", text=check.quote, status=check.status, role=role)


def post_messages(result: DissectionResult, relevance: float, voice: str, sentences: list[str]) -> list[dict]:
    """The model's messages: the voice (the reader's own, trusted) in the system prompt; the title, the dissection
    (model text about untrusted text) and the source sentences fenced as data."""
    d = result.dissection
    user = render_prompt("daily_post", kind_label=KIND_LABELS.get(result.scan.kind, "paper"), relevance=relevance,
                         title=result.scan.title, claims=d.claims, fallacy=d.core_fallacy.name,
                         explanation=d.core_fallacy.explanation, verdict=d.verdict, sentences=sentences)
    return [{"role": "system", "content": render_prompt("daily_post_system", voice=voice or DEFAULT_VOICE)},
            {"role": "user", "content": user}]


def write_daily_post(result: DissectionResult, paper_text: str, relevance: float, profile: Profile | None,
                     llm: StructuredLLM, settings, *, force: bool = False) -> DailyPost:
    """The daily post on `result` (the day's best paper: the dissected one with the highest relevance).

    paper_text: the full source text the dissection read (quotes are verified against it).
    relevance:  the paper's relevance score in [0, 1] (agent.digest.ranking), shown in the closing line.
    profile:    the interest profile; its `voice` sets the tone (None: a plain default voice).
    llm:        the run's StructuredLLM (cached and logged like every model call); settings: the run's Settings.
    Never raises for a model failure: the program then writes the post itself (phrased_by_model=False)."""
    index = SourceIndex(paper_text)
    d = result.dissection
    title = _clean(result.scan.title)
    notes: list[str] = []
    sentences = quote_candidates(paper_text, [d.claims, d.core_fallacy.quote], n=N_SENTENCES)
    sentences = [fence(s) for s in sentences]  # the enum must match what the prompt shows
    draft: DailyPostDraft | None = None
    try:
        draft = llm.generate(post_messages(result, relevance, profile.voice if profile else "", sentences),
                             DailyPostDraft, max_tokens=MAX_TOKENS, temperature=settings.llm.temperature,
                             force=force, schema=draft_schema(sentences))
    except LLMError as exc:
        log.warning("daily post: the model failed (%s); the program writes it", exc)
        notes.append(f"the model failed ({_clean(exc)[:200]}); every sentence is the program's")

    fallacy = _clean(d.core_fallacy.name) if d.core_fallacy.name != "other" else "weak inference"
    opening = f"Today's paper is {title}. It scores {relevance:.2f} against my interests, and it is worth reading " \
              "closely because of one step in its argument."
    push = ""
    if d.named_assumptions:
        h = d.named_assumptions[0]
        push = f"What I would push on is an assumption it does not state: {_clean(h.assumption)} If that is " \
               f"false, {_continuing(h.if_false)}"
    blocks: list[PostBlock] = [PostBlock(kind="text", text=_prose_or(index, draft.opening, opening, notes, "opening", 3)
                                         if draft else opening)]
    blocks.append(PostBlock(kind="text", text=f"What it claims: {_clean(d.claims)}"))
    claim = _quote_block(index, draft.claim_quote, "its claim") if draft else None
    if draft and claim is None:
        notes.append("the model's claim quote is not in the source; the program chose one")
    claim = claim or next((b for s in sentences[:1] if (b := _quote_block(index, s, "its claim"))), None)
    if claim:
        blocks.append(claim)
    if d.core_fallacy.no_clear_fallacy:
        # not a fallacy name: the critique found no step that clearly fails, and the post says so
        blocks.append(PostBlock(kind="text", text="No step of its argument clearly fails; the one I looked at "
                                                  f"hardest: {_continuing(d.core_fallacy.explanation)}"))
    else:
        blocks.append(PostBlock(kind="text", text=f"The step I doubt is {_a(fallacy)}: "
                                                  f"{_continuing(d.core_fallacy.explanation)}"))
    weakest = _quote_block(index, d.core_fallacy.quote, "the weakest step")
    if weakest and (claim is None or weakest.text != claim.text):
        blocks.append(weakest)
    pushed = _prose_or(index, draft.push, push, notes, "push", 3) if draft else push
    if pushed:
        blocks.append(PostBlock(kind="text", text=pushed))
    ending = f"My verdict: {_clean(d.verdict)}"
    if draft:
        takeaway = _prose_or(index, draft.takeaway, "", notes, "takeaway", 1)
        ending = f"{ending} {takeaway}".strip()
    blocks.append(PostBlock(kind="text", text=ending))
    blocks = _fit_length(blocks, result, index)
    model = llm.backend.model
    return DailyPost(
        paper_id=result.scan.source_id, title=title, url=result.scan.url, source_kind=result.scan.kind,
        relevance=round(float(relevance), 2), blocks=blocks,
        closing=closing_line(title, result.scan.kind, relevance), words=_word_count(blocks),
        phrased_by_model=draft is not None, model=model, backend=llm.backend.name,
        demo_model=is_demo_model(model), notes=notes, generated_at=datetime.now(UTC))


def _fit_length(blocks: list[PostBlock], result: DissectionResult, index: SourceIndex) -> list[PostBlock]:
    """Bring the essay towards WORDS_MIN..WORDS_MAX: more of the dissection (its other assumptions, with the quotes
    they rest on, and what the paper does in the discourse) when short; when long, drop quotes after the first
    and then cut the longest prose paragraph at a sentence end."""
    d = result.dissection
    extras: list[PostBlock] = []
    for h in d.named_assumptions[1:]:
        extras.append(PostBlock(kind="text", text=f"It also takes for granted that {_continuing(h.assumption)} "
                                                  f"If not, {_continuing(h.if_false)}"))
        q = _quote_block(index, h.quote, "an assumption")
        if q and all(q.text != b.text for b in blocks):
            extras.append(q)
    if d.social_function.strip():
        extras.append(PostBlock(kind="text", text=f"What it does in the discourse: {_clean(d.social_function)}"))
    out = list(blocks)
    for extra in extras:
        if _word_count(out) >= WORDS_MIN:
            break
        out.insert(len(out) - 1, extra)  # before the verdict
    while _word_count(out) > WORDS_MAX and sum(b.kind == "quote" for b in out) > 1:
        last_quote = max(i for i, b in enumerate(out) if b.kind == "quote")
        out.pop(last_quote)
    while _word_count(out) > WORDS_MAX:
        i = max(range(len(out)), key=lambda j: len(out[j].text.split()) if out[j].kind == "text" else -1)
        sentences = sentence_texts(out[i].text)
        if len(sentences) > 1:
            out[i] = out[i].model_copy(update={"text": " ".join(sentences[:-1])})
            continue
        words = out[i].text.split()
        keep = max(10, len(words) - (_word_count(out) - WORDS_MAX))
        out[i] = out[i].model_copy(update={"text": " ".join(words[:keep]) + "\u2026"})
        break
    return out


def daily_post_markdown(post: DailyPost) -> str:
    """The post as Markdown for the digest page (untrusted text escaped: no links, headings or HTML from it)."""
    return render("reports/daily_post.md.j2", post=post)
