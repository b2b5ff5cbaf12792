"""Prose fields that are not the critic's own judgement: copied from the source or the title, copied from the prompt,
repeating another field, looping, empty, cut off, or echoing an instruction planted in the source.

`field_issues` finds them; the critique then asks the model once to rewrite those fields (agent.critique.passes)
and otherwise replaces them with the analysis stage's own finding, labelled (agent.critique.findings).
Nothing here calls a model.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from typing import Literal

from agent.models import DissectionDraft
from agent.text.grounding import normalise
from agent.text.injection import echoes_instruction
from agent.text.sentences import split_sentences

IssueKind = Literal["empty", "cut", "copies_title", "copies_source", "copies_prompt", "repeats", "loops",
                    "echoes_instruction", "contradicts_name", "markup"]
MIN_WORDS = {"claims": 6, "core_fallacy.explanation": 5, "social_function": 4, "verdict": 4,
             "lag_weighted_verdict": 4}
COPY_SHARE = 0.6  # a field whose word 5-grams come from the source (or the prompt) this much is a copy
PROMPT_SHARE = 0.5  # the same for the prompt's instructions, by word 4-grams (they are short)
REPEAT_SHARE = 0.7  # two fields sharing this share of their words say the same thing
NEAR_COPY = 0.8  # a sentence of a field this similar to a source sentence, word by word in order, is a copy
N = 5
# code or format debris in prose: brackets, braces, backslashes, comment slashes, talk of JSON or a schema (the
# embedded model once wrote "][1] { // this field is not part of the source text; it's a nested json array ..." as
# the demo's lag-weighted verdict, and no other check caught it)
MARKUP = re.compile(r"[{}\[\]\\]|//|\b(json|schema)\b", re.I)


@dataclass(frozen=True)
class FieldIssue:
    field: str  # "claims", "core_fallacy.explanation", "hidden_assumptions[1].if_false", ...
    kind: IssueKind
    detail: str  # one line for the log and the rewrite prompt

    def as_dict(self) -> dict:
        return asdict(self)


def prose_fields(draft: DissectionDraft) -> dict[str, str]:
    """The model's own prose, by field path, in the order a reader meets it."""
    out = {"claims": draft.claims, "core_fallacy.explanation": draft.core_fallacy.explanation}
    for i, h in enumerate(draft.hidden_assumptions):
        out[f"hidden_assumptions[{i}].assumption"] = h.assumption
        out[f"hidden_assumptions[{i}].if_false"] = h.if_false
    out.update(social_function=draft.social_function, verdict=draft.verdict,
               lag_weighted_verdict=draft.lag_weighted_verdict)
    return out


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", normalise(text))


def _grams(words: list[str], n: int = N) -> list[tuple[str, ...]]:
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def _sentence_words(text: str) -> list[list[str]]:
    return [_words(s.text) for s in split_sentences(text)]


def _nearly_one_of(own: list[str], others: list[list[str]]) -> bool:
    """Whether a sentence of six words or more matches one of `others` word by word in order at NEAR_COPY or more
    (a word or two dropped or changed)."""
    return len(own) >= 6 and any(SequenceMatcher(None, own, o, autojunk=False).ratio() >= NEAR_COPY for o in others)


def _seen(name: str, text: str) -> tuple[str, set[str], str]:
    """A field as the repeat check compares it: name, its words as a set, its words joined."""
    words = _words(text)
    return name, set(words), " ".join(words)


class CopyChecker:
    """The texts a field must not copy, prepared once per dissection."""

    def __init__(self, source_sentences: list[str], title: str = "", prompt_text: str = "",
                 instructions: list[str] | None = None):
        self.sentence_words = [w for w in (_words(s) for s in source_sentences) if len(w) >= 6]
        self.sentences = [" ".join(w) for w in self.sentence_words]
        self.source_grams = {g for s in source_sentences for g in _grams(_words(s))}
        self.title = " ".join(_words(title))
        self.prompt_grams = set(_grams(_words(prompt_text), 4))
        self.instructions = list(instructions or [])

    def _copied_share(self, words: list[str], grams: set, n: int = N) -> float:
        own = _grams(words, n)
        return sum(g in grams for g in own) / len(own) if own else 0.0

    def copies_source(self, text: str) -> bool:
        """The field contains a source sentence, is mostly source 5-grams, or has a sentence of its own that is a
        source sentence with a word or two dropped or changed ("Labs should adopt debate ..." for "Labs should
        therefore adopt debate ..."): a near copy followed by a sentence of the model's own dilutes the field's
        share below COPY_SHARE but is still the source presented as a judgement."""
        words = _words(text)
        joined = " ".join(words)
        if any(s in joined for s in self.sentences) or self._copied_share(words, self.source_grams) >= COPY_SHARE:
            return True
        return any(_nearly_one_of(own, self.sentence_words) for own in _sentence_words(text))

    def issues(self, fields: dict[str, str], skip: set[str] | frozenset[str] = frozenset()) -> list[FieldIssue]:
        out: list[FieldIssue] = []
        seen: list[tuple[str, set[str], str]] = []
        for name, text in fields.items():
            if name in skip or any(name.startswith(s + ".") for s in skip):
                continue
            issue = self.field_issue(name, text, seen)
            if issue is not None:
                out.append(issue)
            seen.append(_seen(name, text))
        return out

    def field_issue(self, name: str, text: str, earlier: list[tuple[str, set[str], str]]) -> FieldIssue | None:
        words = _words(text)
        joined = " ".join(words)
        short_name = re.sub(r"\[\d+\]", "", name)
        title_words = len(self.title.split())
        if self.title and (joined == self.title or (self.title in joined and len(words) <= title_words + 4)):
            return FieldIssue(name, "copies_title", "the title")
        if len(words) < MIN_WORDS.get(short_name, 3):
            return FieldIssue(name, "empty", f"{len(words)} words")
        if debris := MARKUP.search(text):
            return FieldIssue(name, "markup", f"code or format debris (\u201c{debris.group(0)}\u201d)")
        if self.copies_source(text):
            return FieldIssue(name, "copies_source", "copies a source sentence")
        if self._copied_share(words, self.prompt_grams, 4) >= PROMPT_SHARE:
            return FieldIssue(name, "copies_prompt", "copies the prompt's instructions")
        loop = looping(words)
        if loop:
            return FieldIssue(name, "loops", loop)
        for other, other_words, other_joined in earlier:
            if len(words) >= 6 and (joined in other_joined or other_joined in joined and len(other_words) >= 6
                                    or len(set(words) & other_words) / len(set(words) | other_words) >= REPEAT_SHARE):
                return FieldIssue(name, "repeats", f"repeats {other}")
        for instruction in self.instructions:
            if echoes_instruction(text, [instruction]):
                return FieldIssue(name, "echoes_instruction", "echoes an instruction planted in the source")
        if text.strip() and not re.search(r"[.!?)\"'\u201d\u2019]\s*$", text.strip()):
            return FieldIssue(name, "cut", "ends mid-sentence")
        return None


    def relation_ok(self, text: str, fields: dict[str, str] | None = None) -> bool:
        """A related-writing line is kept only if it passes the prose fields' checks (no copy or near copy of the
        source, the title or the prompt, no loop, no planted instruction) and does not repeat a sentence of one of
        `fields`, word for word or nearly; it is one line and optional, so a failing one is dropped, not rewritten.
        It may be a phrase ("echoes its concern"), so a missing full stop is not taken for a cut."""
        fields = fields or {}
        issue = self.field_issue("related.relation", text, [_seen(name, t) for name, t in fields.items()])
        if issue is not None and issue.kind != "cut":
            return False
        return not _nearly_one_of(_words(text), [w for t in fields.values() for w in _sentence_words(t)])


def contradicts_name(draft: DissectionDraft, taxonomy: tuple[str, ...]) -> FieldIssue | None:
    """The core fallacy's explanation names another kind of flaw than the core fallacy's name ("This fallacy is a
    slippery slope" under "hasty generalization"; a flaw named under "no clear fallacy"): the reader would get two
    verdicts on one step. A small model does this often; its explanation is then rewritten or replaced."""
    name = draft.core_fallacy.name.strip().casefold()
    text = normalise(draft.core_fallacy.explanation)
    named = [t for t in taxonomy if t != name and t != "other" and re.search(rf"\b{re.escape(t)}\b", text)]
    if not named or (name in taxonomy and re.search(rf"\b{re.escape(name)}\b", text)
                     and re.search(rf"\bnot (an? )?{re.escape(named[0])}\b", text)):
        return None  # "not a slippery slope but a hasty generalization" is a contrast, not a contradiction
    return FieldIssue("core_fallacy.explanation", "contradicts_name",
                      f"names {named[0]} while the core fallacy is {name or 'unnamed'}")


def looping(words: list[str]) -> str:
    """Why a field's words loop, or ""."""
    if len(words) >= 9:
        gram, n = Counter(_grams(words, 3)).most_common(1)[0]
        if n >= 3:
            return f"repeats \u201c{' '.join(gram)}\u201d {n} times"
    if len(words) >= 12:
        gram, n = Counter(_grams(words, 5)).most_common(1)[0]
        if n >= 2:
            return f"repeats \u201c{' '.join(gram)}\u201d"
    if len(words) >= 20 and len(set(words)) / len(words) < 0.4:
        return "few distinct words"
    return ""


def trim_at_sentence(text: str, cap: int) -> str:
    """`text` no longer than `cap`, ending at a sentence end: a field cut mid-sentence by a length cap loses its
    unfinished sentence rather than being shown cut (a field with no finished sentence is kept, marked with an
    ellipsis)."""
    text = " ".join(text.split())
    if len(text) <= cap and re.search(r"[.!?][)\"'\u201d\u2019]?$", text):
        return text
    head = text[:cap]
    ends = [m.end() for m in re.finditer(r"[.!?][)\"'\u201d\u2019]?(?=\s|$)", head)]
    if ends and ends[-1] >= min(40, len(head) // 3):
        return head[:ends[-1]]
    if len(text) <= cap:
        return text
    cut = head.rsplit(" ", 1)[0].rstrip(",;:") if " " in head else head
    return cut + "\u2026"
