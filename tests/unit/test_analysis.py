"""The sentence splitter and the model-free analysis stage: cue families, candidate ranking, the learned head."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent.analysis import Analysis, analyse_text
from agent.analysis.analyse import LEXICAL_THRESHOLD
from agent.analysis.cues import CUE_FAMILIES, echoed_terms, find_cues
from agent.analysis.head import CLASSES, HEAD_PATH, Head, feature_matrix, load_head, read_head
from agent.analysis.scoring import TYPES, contexts, lexical_scores, reason, type_allowed
from agent.models import FALLACIES
from agent.text.sentences import first_sentence, sentence_texts, split_sentences

DATA = Path(__file__).resolve().parents[2] / "bench" / "data" / "critique"


def _records(split: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / f"{split}.jsonl").read_text().splitlines() if line]


# ---- the splitter -----------------------------------------------------------------------------------------------
def test_abbreviations_numbers_ids_and_urls_do_not_end_sentences():
    text = ("We follow Irving et al. (2018) as in Fig. 3 and Sec. 4.2, e.g. on QuALITY, i.e. long texts. "
            "Accuracy rose by 3.5 points vs. the baseline (p < 0.05). See arXiv:2601.10160 and "
            "https://example.org/a.b.c for code. Prior work by J. Smith reports otherwise. We refer to Appendix A. "
            "It was approx. 50k steps, cf. Table 2. Done!")
    assert sentence_texts(text) == [
        "We follow Irving et al. (2018) as in Fig. 3 and Sec. 4.2, e.g. on QuALITY, i.e. long texts.",
        "Accuracy rose by 3.5 points vs. the baseline (p < 0.05).",
        "See arXiv:2601.10160 and https://example.org/a.b.c for code.",
        "Prior work by J. Smith reports otherwise.",
        "We refer to Appendix A.",
        "It was approx. 50k steps, cf. Table 2.",
        "Done!",
    ]


def test_headings_bullets_markers_and_paragraphs():
    text = ("# Results\n\nKey findings:\n- Debate helps weak judges. It costs more.\n- Consultancy lags\n"
            "1. A numbered item.\n\n[... 3 paragraphs omitted ...]\n\nA line that wraps\nacross two lines. "
            "Another one?\n\nNew paragraph without a full stop\n\nNext paragraph.")
    got = [(s.kind, s.clean) for s in split_sentences(text)]
    assert got == [
        ("heading", "Results"), ("sentence", "Key findings:"), ("bullet", "Debate helps weak judges."),
        ("sentence", "It costs more."), ("bullet", "Consultancy lags"), ("bullet", "A numbered item."),
        ("marker", "[... 3 paragraphs omitted ...]"), ("sentence", "A line that wraps across two lines."),
        ("sentence", "Another one?"), ("sentence", "New paragraph without a full stop"),
        ("sentence", "Next paragraph."),
    ]
    assert "Results" not in sentence_texts(text) and not any("omitted" in s for s in sentence_texts(text))


def test_marker_inside_a_paragraph_is_its_own_unit():
    text = "First claim here. [... 2 paragraphs omitted ...] Then the conclusion."
    assert [(s.kind, s.clean) for s in split_sentences(text)] == [
        ("sentence", "First claim here."), ("marker", "[... 2 paragraphs omitted ...]"),
        ("sentence", "Then the conclusion.")]


def test_words_that_double_as_abbreviations_end_sentences_before_words():
    text = ("The model says no. Ablating the direction helps. We use the app. It works, as in Eq. (2) and App. B. "
            "See No. 5 on pp. 10-12 of the report.")
    assert sentence_texts(text) == ["The model says no.", "Ablating the direction helps.", "We use the app.",
                                    "It works, as in Eq. (2) and App. B.", "See No. 5 on pp. 10-12 of the report."]


def test_lower_case_after_a_full_stop_and_quotes():
    text = 'The model said "I am aligned." Then it stopped. The ratio was 0.5. we keep going here.'
    assert sentence_texts(text) == ['The model said "I am aligned."', "Then it stopped.",
                                    "The ratio was 0.5. we keep going here."]


def test_offsets_round_trip_on_every_dev_text():
    for rec in _records("dev"):
        for text in (rec["text"], rec["clean_text"]):
            sents = split_sentences(text)
            assert sents, rec["id"]
            for s in sents:
                assert text[s.start:s.end] == s.text and s.text == s.text.strip()
            assert [s.start for s in sents] == sorted(s.start for s in sents)
            # the planted sentence is one whole sentence
        assert rec["planted"] in sentence_texts(rec["text"])


def test_first_sentence_and_empty_input():
    text = "Hi. We show that debate helps judges a lot. More."
    assert first_sentence(text) == "We show that debate helps judges a lot."
    assert split_sentences("") == [] and sentence_texts("   \n\n ") == [] and first_sentence("") == ""


# ---- cue families -----------------------------------------------------------------------------------------------
CUE_EXAMPLES = {
    "inference": ("We conclude that the method works.", "We train a model on the data."),
    "booster": ("This clearly proves the point.", "This is one data point."),
    "hedge": ("These results suggest the effect may transfer.", "The effect transfers to all tasks."),
    "universal_scope": ("Every language model behaves this way.", "The 7B model behaved this way."),
    "small_sample": ("We tested two chat models.", "We tested a large population of systems."),
    "causal": ("Longer reasoning is what makes models accurate.", "Longer reasoning accompanies accuracy."),
    "correlational": ("Accuracy was associated with length (r = 0.6).", "Accuracy rose after training."),
    "controlled": ("In a randomised experiment the effect held.", "In the logs the effect held."),
    "anthropomorphic": ("The agent resents the restriction.", "The agent followed the restriction."),
    "mental_state": ("The model believes the user is lying.", "The model outputs that the user is lying."),
    "authority": ("Leading researchers share this view.", "Our measurements support this view."),
    "either_or": ("Either we solve this or we stop.", "We solve this and then continue."),
    "unfalsifiable": ("No test could ever reveal the hidden goal.", "The test revealed the hidden goal."),
    "redefinition": ("By deception we simply mean a wrong answer.", "Deception was rare."),
    "retreat": ("Strictly speaking, we mean only that scores vary.", "Scores vary across formats."),
    "goal_shift": ("What really matters is deterrence.", "Deterrence was measured."),
    "opponent_view": ("Critics of RLHF maintain this.", "Raters of RLHF outputs maintain this."),
    "dismissal": ("A view our results easily refute.", "A view our results speak to."),
    "escalation": ("It is only a matter of time before agents take over.", "Agents took over the task."),
    "circular": ("It is honest because an honest model is by definition one that passes.", "It passed."),
    "capability": ("The model has acquired a genuine theory of mind.", "The model answered 91% of items."),
}


def test_every_cue_family_has_an_example():
    missing = {f for f in ("inference", "hedge", "anthropomorphic", "authority", "either_or", "unfalsifiable",
                           "redefinition", "retreat", "goal_shift", "escalation", "circular", "capability")}
    assert missing <= set(CUE_EXAMPLES) <= set(CUE_FAMILIES)


@pytest.mark.parametrize("family", sorted(CUE_EXAMPLES))
def test_cue_family_fires_on_its_example_and_not_on_the_contrast(family):
    positive, negative = CUE_EXAMPLES[family]
    assert find_cues(positive).has(family), positive
    assert not find_cues(negative).has(family), negative


@pytest.mark.parametrize("sentence", [
    "Reward tampering is a long-hypothesised failure mode of reinforcement learning agents.",
    "We evaluate agents on long-horizon tasks that take a skilled human a day.",
])
def test_long_as_a_length_is_not_a_longing(sentence):
    assert not find_cues(sentence).has("anthropomorphic")
    assert find_cues("The agent longs for a larger budget.").has("anthropomorphic")


def test_roles_and_echoed_terms():
    assert "method" in find_cues("We train a 7B model on 20k pairs.").roles
    assert "result" in find_cues("Accuracy rose from 41% to 82%.").roles
    assert "limitation" in find_cues("We leave larger models to future work.").roles
    assert find_cues("The sky is blue.").roles == ["background"]
    assert "safe" in echoed_terms("The method is safe because it produces only safe outputs.")
    assert echoed_terms("The method works well.") == []


# ---- candidates -------------------------------------------------------------------------------------------------
ABSTRACT = ("Reward models are used to train assistants. We train two 7B policies against one reward model on "
            "5,000 prompts and measure sycophancy with a held-out set of 800 questions. Both policies became more "
            "sycophantic, rising from 9% to 31%. {flaw} We release code and data.")
FLAW = "Sycophancy is therefore a universal property of every preference-trained language model."
CLEAN = "Whether larger policies or other reward models show the same effect is left to future work."


@pytest.mark.parametrize("head", [True, False], ids=["with-head", "lexical-only"])
def test_planted_flaw_ranks_first_and_clean_text_has_no_clear_fallacy(head):
    flawed = analyse_text(ABSTRACT.format(flaw=FLAW), head=head)
    assert flawed.candidates[0].sentence == FLAW and not flawed.no_clear_fallacy
    assert flawed.candidates[0].fallacy == "hasty generalization"
    assert "universal" in flawed.candidates[0].reason or "broad claim" in flawed.candidates[0].reason
    clean = analyse_text(ABSTRACT.format(flaw=CLEAN), head=head)
    assert clean.no_clear_fallacy and all(c.score < clean.threshold for c in clean.candidates)
    if head:
        # the stated limit scores 0.27 with the shipped head: under its threshold (0.35, raised for precision;
        # at 0.25 it was a false alarm, docs/analysis.md), and far below the flaw it replaces
        assert clean.candidates[0].score < flawed.candidates[0].score / 3


def test_a_reason_quotes_its_own_sentence_and_marks_evidence_stated_earlier():
    """A reason is read as being about its sentence: the type's signature words must be there; evidence from the
    sentences before (a small sample) may be cited, marked "earlier"."""
    texts = ["Language models are said to store facts in their weights.",
             "We probe a single model, Llama-2-13B-Chat, on twelve factual questions.",
             "Facts are therefore stored linearly in all language models."]
    ctxs = contexts([find_cues(t) for t in texts], "")
    probe = reason("hasty generalization", ctxs[1])  # its broad claim would be the first sentence's words
    assert "Language models" not in probe and probe.startswith("from a small sample (\u201ca single model\u201d)")
    last = reason("hasty generalization", ctxs[2])
    assert last == ("a broad claim (\u201call language\u201d); from a small sample (\u201ca single model\u201d "
                    "earlier)")


def test_planted_flaws_of_several_types_rank_in_the_top_three():
    picked = {r["type"]: r for r in _records("train")}  # one abstract of each type (training split)
    assert len(picked) == len(TYPES)
    top3 = sum(r["planted"] in [c.sentence for c in analyse_text(r["text"], title=r["title"]).candidates[:3]]
               for r in picked.values())
    assert top3 >= len(TYPES) - 1


def test_analysis_shape_and_json_round_trip():
    text = "# Title\n\n" + ABSTRACT.format(flaw=FLAW)
    a = analyse_text(text, top_k=2)
    assert len(a.candidates) == 2 and a.candidates[0].score >= a.candidates[1].score
    assert a.sentences[0].roles and a.sentences[0].text == "Title"
    for s in a.sentences:
        assert " ".join(text[s.start:s.end].split()) == s.text
    assert {c.fallacy for c in a.candidates} <= set(FALLACIES)
    assert all(0.0 <= c.score <= 1.0 for c in a.candidates)
    assert Analysis.model_validate_json(a.model_dump_json()) == a
    # headings and short fragments are never candidates
    assert all(a.sentences[c.sentence_index].text != "Title" for c in a.candidates)


def test_empty_text():
    a = analyse_text("")
    assert a.sentences == [] and a.candidates == [] and a.no_clear_fallacy


# ---- the head ---------------------------------------------------------------------------------------------------
def test_shipped_head_loads_and_predicts_a_distribution():
    head = load_head()
    assert head is not None, f"{HEAD_PATH} missing: run python -m agent.analysis.train"
    assert head.classes == CLASSES and 0.0 < head.threshold < 1.0 and 0.0 <= head.blend <= 1.0
    sents = ["We train a model.", FLAW, "The agent wants to escape and fears being shut down."]
    cues = [find_cues(s) for s in sents]
    ctxs = contexts(cues)
    lex = lexical_scores(ctxs)
    x = feature_matrix(np.zeros((3, 384), np.float32), ctxs, lex, sents)  # any 384-d vectors: MiniLM's size
    assert x.shape == (3, head.weights.shape[0])
    p = head.probabilities(x)
    assert p.shape == (3, len(CLASSES)) and np.allclose(p.sum(axis=1), 1.0)
    assert head.type_probabilities(x).shape == (3, len(TYPES))


def test_missing_or_stale_head_means_lexical_scores(tmp_path):
    assert read_head(tmp_path / "missing.npz") is None
    head = load_head()
    assert head is not None
    stale = Head(weights=head.weights, bias=head.bias, classes=head.classes, threshold=head.threshold,
                 blend=head.blend, type_blend=head.type_blend)
    stale.save(tmp_path / "head.npz")
    assert read_head(tmp_path / "head.npz") is not None
    np.savez(tmp_path / "old.npz", weights=head.weights, bias=head.bias, classes=np.array(["a", "b"]),
             threshold=np.float32(0.5), blend=np.float32(0.5), feature_version=np.int32(0))
    assert read_head(tmp_path / "old.npz") is None
    a = analyse_text(ABSTRACT.format(flaw=FLAW), head=False)
    assert a.threshold == LEXICAL_THRESHOLD


def test_intent_words_about_no_model_are_not_anthropomorphism():
    """An essay's note on itself ("It argues a deliberately overconfident position") names no model: it cannot read
    intent into one, so neither its type nor its weakness is anthropomorphism's (it was the demo's false alarm, at
    0.95). The same words about a named model still are."""
    anthro = TYPES.index("anthropomorphism")
    note = ["This essay was written as a demonstration input.",
            "It argues a deliberately overconfident position so that a critic has something to work with."]
    assert not type_allowed(note)[:, anthro].any()
    about_model = ["We fine-tune Llama-2-13B on refusal data.", "It deliberately hides its goals when monitored."]
    assert type_allowed(about_model)[:, anthro].all()  # the model is named in the sentence before
    assert type_allowed(["The reward model wants approval."])[0, anthro]
    a = analyse_text(" ".join(note + ["Debate lets a weak judge supervise strong debaters.",
                                      "We report agreement rates from three pilot studies."]))
    flagged = next(c for c in a.candidates if "deliberately" in c.sentence)
    assert flagged.fallacy != "anthropomorphism" and flagged.score < a.threshold
    a = analyse_text("We fine-tune Llama-2-13B on refusal data. The model deliberately hides its goals whenever it "
                     "expects to be monitored, because it wants to be deployed. We report agreement rates from "
                     "three pilot studies.")
    assert a.candidates[0].fallacy == "anthropomorphism" and not a.no_clear_fallacy


def test_a_blocked_type_discounts_weakness_only_where_it_dominates():
    """Head.scores with `allowed`: a sentence whose weakness rests mainly on a type it cannot be loses that share;
    one whose main type is allowed keeps its whole weakness and only loses the blocked type as a name."""
    k = len(CLASSES)
    bias = np.zeros(k, np.float32)
    weights = np.zeros((2, k), np.float32)
    anthro, straw, none = TYPES.index("anthropomorphism"), TYPES.index("straw man"), CLASSES.index("none")
    weights[0, anthro], weights[0, straw], weights[0, none] = 3.0, 2.0, 2.5  # feature 0: anthropomorphism first
    weights[1, anthro], weights[1, straw], weights[1, none] = 2.0, 3.0, 2.5  # feature 1: straw man first
    head = Head(weights, bias, CLASSES, 0.5, 1.0, 1.0)
    x = np.eye(2, dtype=np.float32) * 2
    lex = np.zeros((2, len(TYPES)), np.float32)
    free_weak, _ = head.scores(x, lex)
    blocked = np.ones((2, len(TYPES)), bool)
    blocked[:, anthro] = False
    weak, types = head.scores(x, lex, blocked)
    assert weak[0] < free_weak[0] - 0.2  # rested on anthropomorphism: discounted
    assert weak[1] == pytest.approx(free_weak[1])  # rested on straw man: kept
    assert (types.argmax(axis=1) == straw).all() and (types[:, anthro] == 0).all()
