"""The checks every model reply goes through (each pass's `apply` ends here), in order:

1. prose trimmed at a sentence end (no field is shown cut mid-sentence);
2. quotes verified and snapped to whole source sentences (agent.text.grounding);
3. each verified quote's support for its point scored (agent.critique.support);
4. for small models, the points' prose (core explanation, assumptions) is the program's, for the quotes the model
   chose (labelled; see program_points);
5. fields that copy the source, the title or the prompt, repeat another field, loop, are empty or cut, or echo an
   instruction planted in the source are found (agent.critique.copies). Before the last pass they wait in
   `job.extra["issues"]` for one rewrite; at the end, any still there are replaced by the analysis stage's
   finding (agent.critique.findings), labelled "written by the program from its analysis".
"""
from __future__ import annotations

import re

from agent.critique.copies import CopyChecker, FieldIssue, contradicts_name, prose_fields, trim_at_sentence
from agent.critique.findings import Finding, is_role_assumption, role_assumption, sentence_role
from agent.critique.schema import PROSE_CAPS
from agent.critique.sound_text import (
    limit_assumption,
    no_assumption_found,
    qualified_assumption,
    qualified_conclusion,
    stated_limit,
)
from agent.critique.support import support_scores
from agent.models import FALLACIES, NO_CLEAR_FALLACY, DissectionDraft, HiddenAssumption, PaperJob, QuoteCheck
from agent.publish.render import FENCE_CLOSE, FENCE_OPEN
from agent.text.grounding import grounding_rate, quotable_sentences, verify_draft

DISPLAY = 1.5  # a field may run to this many times its schema cap before it is trimmed (backends without caps)
_FENCED = re.compile(re.escape(FENCE_OPEN) + r".*?" + re.escape(FENCE_CLOSE), re.S)
_RELATED = re.compile(r"<<<RELATED_WRITING.*?RELATED_WRITING>>>", re.S)


def _cap(path: str) -> int:
    key = path.rsplit(".", 1)[-1]
    return int(DISPLAY * PROSE_CAPS.get(key, PROSE_CAPS.get(path, 600)))


def trim_prose(draft: DissectionDraft) -> DissectionDraft:
    d = draft.model_copy(deep=True)
    d.claims = trim_at_sentence(d.claims, _cap("claims"))
    d.core_fallacy.explanation = trim_at_sentence(d.core_fallacy.explanation, _cap("explanation"))
    for h in d.hidden_assumptions:
        h.assumption = trim_at_sentence(h.assumption, _cap("assumption"))
        h.if_false = trim_at_sentence(h.if_false, _cap("if_false"))
    d.social_function = trim_at_sentence(d.social_function, _cap("social_function"))
    d.verdict = trim_at_sentence(d.verdict, _cap("verdict"))
    d.lag_weighted_verdict = trim_at_sentence(d.lag_weighted_verdict, _cap("lag_weighted_verdict"))
    for r in d.related:
        r.relation = trim_at_sentence(r.relation, _cap("relation"))
    return d


def normalise_name(name: str) -> str:
    n = " ".join(name.split()).casefold()
    if n in FALLACIES or n == NO_CLEAR_FALLACY:
        return n
    return "hasty generalization" if n == "hasty generalisation" else "other"


def prompt_static_text(messages: list[dict]) -> str:
    """The instructions of a request without its data (fenced text, related writing): what a field must not copy."""
    return "\n".join(_RELATED.sub(" ", _FENCED.sub(" ", m.get("content", ""))) for m in messages)


def score_support(job: PaperJob, draft: DissectionDraft, checks: list[QuoteCheck]) -> list[QuoteCheck]:
    """Each verified quote's support label for its point (the core fallacy's point names its kind of flaw)."""
    points: list[tuple[int, str, str, str | None]] = []
    core = draft.core_fallacy
    if not core.no_clear_fallacy:
        points.append((0, f"{core.name}: {core.explanation}", checks[0].quote, core.name))
    for i, h in enumerate(draft.hidden_assumptions, start=1):
        points.append((i, f"{h.assumption} {h.if_false}", checks[i].quote, None))
    points = [p for p in points if checks[p[0]].status in ("verified", "repaired")]
    out = [c.model_copy(update={"support": None, "support_score": None}) for c in checks]
    scores = support_scores([(p, q) for _, p, q, _ in points], [f for *_, f in points])
    for (i, _, _, _), s in zip(points, scores, strict=True):
        out[i] = out[i].model_copy(update={"support": s.label, "support_score": s.score})
    return out


def program_assumption(job: PaperJob, draft: DissectionDraft, quote: str) -> HiddenAssumption:
    """The program's assumption for a quoted sentence, from what its analysis found, in order:

    1. the quoted sentence's own finding, when it is clear and the sentence is the core fallacy's or the
       analysis' strongest: its type's assumption (judged blind on test2: supported in 25 of 33 cases on flawed
       texts). A clear finding on any other sentence does not get one: such secondary templates were supported
       in 0 of 4 cases;
    2. the core fallacy's, when the core is clear and no other assumption quotes its sentence;
    3. with no clear finding, where the text states a limit of its own claim (sound_text.stated_limit): the
       assumption it declines; else where it qualifies a conclusion (sound_text.qualified_conclusion); else an
       entry that names no assumption and quotes nothing (sound_text.no_assumption_found): judged blind, every
       template the program wrote on such texts (the opening premise, a role's assumption) was supported in 7
       of 169 cases;
    4. what the quoted sentence's role takes for granted (a quote outside the analysed text, or a second entry
       beside a clear finding, which program_points then drops; a release sentence gives way to the core's or
       the top candidate's)."""
    a = job.analysis or {}
    threshold = float(a.get("threshold", 1.0))
    cands = a.get("candidates") or []
    own = next((c for c in cands if c["sentence"] == quote), None)
    if own is not None and own["score"] >= threshold and (quote == draft.core_fallacy.quote or own is cands[0]):
        return Finding.from_analysis(a, "", quote).assumption(quote)
    core = Finding.from_analysis(a, draft.core_fallacy.name, draft.core_fallacy.quote)
    used = {h.quote for h in draft.hidden_assumptions}
    if core.clear and core.sentence and core.sentence not in used:
        return core.assumption(core.sentence)
    # a quote that is none of the analysed sentences (an invented one, which the report marks unverified, or one
    # outside the fitted text) stays where the model put it: the program does not quietly move the point
    analysed = {" ".join(s["text"].split()) for s in a.get("sentences") or []}
    if " ".join(quote.split()) in analysed:
        title = job.paper.title if job.paper else ""
        if not core.clear:  # a text with a clear weak step is not "careful": none of these is said of it
            # one entry per sentence: where the model quoted it, else the first entry that reaches it
            for find, entry in ((stated_limit, limit_assumption), (qualified_conclusion, qualified_assumption)):
                found = find(a, title)  # the qualified conclusion is looked for only when no limit serves
                if found and (quote == found or found not in used - {quote}):
                    return entry(found)
            return no_assumption_found()
    if sentence_role(quote) == "release":
        top = (cands or [{"sentence": ""}])[0]["sentence"]
        quote = draft.core_fallacy.quote or top or quote
    return role_assumption(quote)


def program_points(job: PaperJob, draft: DissectionDraft) -> DissectionDraft:
    """Small models: the program writes the points' prose (the core fallacy's explanation, each assumption) from
    its analysis for the quotes the model chose, labelled. Judged blind on test2 (bench/support_judge.py), the
    135M model's own explanations carried their quote in 1 of 34 cases and its assumptions in 0 of 8; its
    sentences are chosen, its judgement is not."""
    d = draft.model_copy(deep=True)
    core = d.core_fallacy
    if core.name != NO_CLEAR_FALLACY and not {"core_fallacy", "core_fallacy.explanation"} & set(d.written_by_program):
        core.explanation = Finding.from_analysis(job.analysis, core.name, core.quote).explanation()
        d.written_by_program.append("core_fallacy.explanation")
    for i, h in enumerate(d.hidden_assumptions):
        if f"hidden_assumptions[{i}]" not in d.written_by_program:
            d.hidden_assumptions[i] = program_assumption(job, d, h.quote)
            d.written_by_program.append(f"hidden_assumptions[{i}]")
    # a role's assumption is generic (judged weak or unsupported in 12 of 12 cases): it fills the field when the
    # analysis has nothing better, and gives way when another assumption rests on a finding
    found = [h for h in d.hidden_assumptions if not is_role_assumption(h) and not h.none_found]
    if found and len(found) < len(d.hidden_assumptions):
        d.hidden_assumptions = found
        d.written_by_program = [p for p in d.written_by_program if not p.startswith("hidden_assumptions")] + [
            f"hidden_assumptions[{i}]" for i in range(len(found))]
    return d


def _program_texts(d: DissectionDraft) -> set[str]:
    """The assumptions the program wrote (by text: verification may drop a repeated one and shift the rest)."""
    return {h.assumption for i, h in enumerate(d.hidden_assumptions)
            if f"hidden_assumptions[{i}]" in d.written_by_program}


def _verified(job: PaperJob, d: DissectionDraft) -> tuple[DissectionDraft, list[QuoteCheck]]:
    """Quotes verified and snapped, repeated assumptions dropped, the program's labels kept on the right fields."""
    assert job.paper is not None
    program, others = _program_texts(d), [p for p in d.written_by_program if not p.startswith("hidden_assumptions")]
    d, checks = verify_draft(d, job.paper.text)
    d.written_by_program = others + [f"hidden_assumptions[{i}]" for i, h in enumerate(d.hidden_assumptions)
                                     if h.assumption in program]
    # only the program's own entry may quote nothing: a model's "None found: ..." with no quote is an unverified
    # quote like any other (a reply cannot opt out of grounding by wording)
    checks = [c.model_copy(update={"status": "unverified"}) if c.status == "none" and c.where not in
              d.written_by_program else c for c in checks]
    return d, score_support(job, d, checks)


def _replace_field(job: PaperJob, d: DissectionDraft, path: str) -> None:
    finding = Finding.from_analysis(job.analysis, d.core_fallacy.name, d.core_fallacy.quote)
    m = re.match(r"hidden_assumptions\[(\d+)\]", path)
    if m:
        i = int(m.group(1))
        quote = d.hidden_assumptions[i].quote
        d.hidden_assumptions[i] = program_assumption(job, d, quote)
        d.written_by_program.append(f"hidden_assumptions[{i}]")
        return
    text = finding.field(path)
    if path == "core_fallacy.explanation":
        if not is_own_choice(job, d):  # the program cannot explain the model's choice: it gives its own
            program_core(job, d)
            return
        d.core_fallacy.explanation = text
    else:
        setattr(d, path, text)
    d.written_by_program.append(path)


def copy_checker(job: PaperJob) -> CopyChecker:
    assert job.paper is not None
    return CopyChecker(quotable_sentences(job.prompt_text or job.paper.text, min_words=6, max_chars=5000),
                       job.paper.title, prompt_static_text(job.messages), list((job.analysis or {}).get("planted", [])))


def field_issues(job: PaperJob, draft: DissectionDraft) -> list[FieldIssue]:
    """The prose fields that fail a copy check; related-writing lines that fail are dropped from `draft`."""
    checker = copy_checker(job)
    fields = prose_fields(draft)
    draft.related = [r for r in draft.related if checker.relation_ok(r.relation, fields)]
    skip = set(draft.written_by_program)
    issues = checker.issues(fields, skip=skip)
    clash = None if skip & {"core_fallacy", "core_fallacy.explanation"} else contradicts_name(draft, FALLACIES)
    if clash is not None and not any(i.field == clash.field for i in issues):
        issues.append(clash)
    return issues


def program_core(job: PaperJob, d: DissectionDraft) -> None:
    """The core fallacy as the analysis has it: its strongest candidate, named by its type when it is clear, else
    "no clear fallacy" on that sentence (the step examined); labelled as the program's."""
    a = job.analysis or {}
    cands = a.get("candidates") or []
    if not cands:
        return
    top = cands[0]
    name = NO_CLEAR_FALLACY if a.get("no_clear_fallacy", True) else top["fallacy"]
    d.core_fallacy.quote, d.core_fallacy.name = top["sentence"], name
    d.core_fallacy.explanation = Finding.from_analysis(a, name, top["sentence"]).explanation()
    d.written_by_program = [p for p in d.written_by_program if p != "core_fallacy.explanation"] + ["core_fallacy"]


def is_own_choice(job: PaperJob, d: DissectionDraft) -> bool:
    """Whether the core fallacy is the analysis' own strongest candidate (nothing better to offer in its place)."""
    cands = (job.analysis or {}).get("candidates") or []
    return not cands or (d.core_fallacy.quote == cands[0]["sentence"]
                         and d.core_fallacy.name in (cands[0]["fallacy"], NO_CLEAR_FALLACY))


def arbitrate(job: PaperJob, d: DissectionDraft, checks: list[QuoteCheck]) -> bool:
    """The last word on points whose quote does not carry them (after the critic, for capable models; at once
    for small ones): a core fallacy whose quote shows nothing of the named flaw gives way to the analysis' own
    finding, and an unsupported assumption is dropped (the program's stands in when none is left). True when
    anything changed."""
    changed = False
    core = checks[0]
    if (core.status != "unverified" and core.support == "unsupported" and not is_own_choice(job, d)
            and "core_fallacy" not in d.written_by_program):
        program_core(job, d)
        changed = "core_fallacy" in d.written_by_program
    keep = [h for i, h in enumerate(d.hidden_assumptions)
            if checks[i + 1].support != "unsupported" or f"hidden_assumptions[{i}]" in d.written_by_program]
    if len(keep) < len(d.hidden_assumptions):
        program = _program_texts(d)
        if not keep:
            better = program_assumption(job, d, d.core_fallacy.quote)
            keep, program = [better], program | {better.assumption}
        d.hidden_assumptions = keep
        d.written_by_program = [p for p in d.written_by_program if not p.startswith("hidden_assumptions")] + [
            f"hidden_assumptions[{i}]" for i, h in enumerate(keep) if h.assumption in program]
        changed = True
    return changed


def check_draft(job: PaperJob, draft: DissectionDraft, *, narrow: bool, final: bool, last_word: bool = False
                ) -> None:
    """Run every check on a model's draft and keep the checked draft in the job (see the module docstring).
    `last_word`: no model pass will review the points again (small models, or after the critic)."""
    d = trim_prose(draft)
    d.core_fallacy.name = normalise_name(d.core_fallacy.name)
    d, checks = _verified(job, d)
    if narrow:
        d, checks = _verified(job, program_points(job, d))
    if (narrow or last_word) and arbitrate(job, d, checks):
        d, checks = _verified(job, d)
    issues = field_issues(job, d)
    if final and issues:
        for path in dict.fromkeys(re.sub(r"(hidden_assumptions\[\d+\]).*", r"\1", i.field) for i in issues):
            _replace_field(job, d, path)
        d, checks = _verified(job, d)
        if arbitrate(job, d, checks):
            d, checks = _verified(job, d)
        issues = []
    d.written_by_program = list(dict.fromkeys(d.written_by_program))
    job.draft, job.quotes, job.grounding = d, checks, grounding_rate(checks)
    job.extra["issues"] = [i.as_dict() for i in issues]
