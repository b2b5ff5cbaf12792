"""A small published history for the site tests, written straight to disk: structured results, digest records
and cached arXiv metadata, as the pipeline leaves them. Building them by running the pipeline would take
minutes; these are the same pydantic models, so the site reads exactly what it reads in production.

What the set exercises: two digest days with papers and one day with nothing new (must not be listed); a
score from a digest; an essay read from a local file under a private absolute path (must never appear); one
note retrieved as two chunks (one line in "related writing"); the embedded demo model's output (labelled);
a hostile title that tries to end a script, inject markup and break a JS string; two months for the archive.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from agent.digest.record import DigestRecord, Entry, Other
from agent.llm import default_model_for
from agent.models import (
    CoreFallacy,
    DissectionDraft,
    DissectionResult,
    HiddenAssumption,
    Passage,
    Provenance,
    QuoteCheck,
    SourceScan,
)
from agent.publish.files import DiskCache, write_json
from agent.publish.reports import REPORTS_FOLDER, report_markdown

PRIVATE_DIR = "/home/alice/private/drafts"
HOSTILE_TITLE = ('</script><script>alert(1)</script> <img src=x onerror=alert(2)> Sycophancy "solved"'
                 " & \u2028 co ${x} `y`")
DEMO_MODEL = default_model_for("local")


def make_result(*, title: str, source_id: str, kind: str = "arxiv", url: str = "", when: str,
                fallacy: str = "hasty generalization", verdict: str = "Interesting evidence, overstated conclusion.",
                model: str = "qwen2.5-32b-instruct", backend: str = "openai", related: list[Passage] | None = None,
                authors: list[str] | None = None, text_origin: str = "arxiv-html") -> DissectionResult:
    quote = "Since SycoBench covers twelve domains, we conclude that sycophancy is a solved problem."
    return DissectionResult(
        scan=SourceScan(title=title, authors=authors or ["Ada Researcher", "Bo Analyst"], published=when[:10],
                        url=url, source_id=source_id, kind=kind, text_origin=text_origin,
                        first_line="We study whether preference tuning can remove sycophancy."),
        dissection=DissectionDraft(
            claims="The work claims that one fine-tuning stage removes sycophancy across domains, arguing from a "
                   "single benchmark written by the authors and three model families.",
            core_fallacy=CoreFallacy(name=fallacy, quote=quote,
                                     explanation="Twelve domains of one benchmark do not cover deployment."),
            hidden_assumptions=[
                HiddenAssumption(assumption="The benchmark measures deference, not comprehension.", quote=quote,
                                 if_false="The headline number says little about sycophancy."),
                HiddenAssumption(assumption="A grader model agrees with humans.",
                                 quote="The grader model agrees with the authors' own labels on 94% of a sample.",
                                 if_false="The measured rate could be an artefact of the grader."),
            ],
            social_function="Declares a research area closed, redirecting attention and funding.",
            verdict=verdict,
            lag_weighted_verdict="Likely to age as an example of benchmark-driven closure.",
        ),
        quotes=[
            QuoteCheck(where="core_fallacy", quote=quote, status="verified"),
            QuoteCheck(where="hidden_assumptions[0]", quote=quote, status="verified"),
            QuoteCheck(where="hidden_assumptions[1]",
                       quote="The grader model agrees with the authors' own labels on 94% of a sample.",
                       status="repaired", original="The grader agrees with labels 94% of the time."),
        ],
        related=related or [],
        provenance=Provenance(backend=backend, model=model, prompt_template_hash="abc123def456",
                              tokens_in=5200, tokens_out=640, llm_calls=1, seconds=12.5, grounding_rate=1.0,
                              context_fit="full text fits", generated_at=datetime.fromisoformat(when),
                              tool_version="0.1.0"),
    )


def fixture_results() -> list[DissectionResult]:
    note = f"{PRIVATE_DIR}/corrigibility-notes.md"
    return [
        make_result(title="Debate improves scalable oversight of stronger models", source_id="2601.11234",
                    url="https://arxiv.org/abs/2601.11234", when="2026-01-14T07:10:00+00:00",
                    fallacy="benchmark-to-capability leap",
                    verdict="The extrapolation from three model sizes is unsupported by the evidence shown.",
                    related=[
                        Passage(id="n1", text="...", title="Notes on corrigibility", url=note, score=0.71,
                                relation="answers its optimism about overseers"),
                        Passage(id="n2", text="...", title="Notes on corrigibility", url=note, score=0.64,
                                relation="answers its optimism about overseers"),
                        Passage(id="w1", text="...", title="AI safety via debate",
                                url="https://example.org/debate", author="G. Irving", score=0.58,
                                relation="the original proposal it builds on"),
                    ]),
        make_result(title="Reward hacking detection with probes", source_id="2601.12007",
                    url="https://arxiv.org/abs/2601.12007", when="2026-01-14T07:20:00+00:00",
                    fallacy="correlation as causation", model=DEMO_MODEL, backend="local",
                    verdict="A sound method with a narrow evaluation.", text_origin="arxiv-pdf"),
        make_result(title=HOSTILE_TITLE, source_id="2601.10160", url="https://arxiv.org/abs/2601.10160",
                    when="2026-01-15T06:50:00+00:00",
                    verdict="Overstated: <b>solved</b> is not shown </script> by one benchmark."),
        make_result(title="An essay on corrigibility and shutdown", source_id=f"{PRIVATE_DIR}/shutdown-essay.md",
                    kind="file", url="", when="2026-01-13T18:00:00+00:00", fallacy="equivocation",
                    text_origin="markdown", verdict="Convincing on shutdown, but not convincing on values."),
        make_result(title="Why alignment is a governance problem", source_id="https://example.org/governance",
                    kind="web", url="https://example.org/governance", when="2025-12-20T09:00:00+00:00",
                    fallacy="false dichotomy", text_origin="web",
                    verdict="It overstates the choice between technical and institutional work."),
    ]


def _entry(result: DissectionResult, score: float) -> Entry:
    d = result.dissection
    return Entry(id=result.scan.source_id, title=result.scan.title, url=result.scan.url, score=score,
                 status="dissected", authors=result.scan.authors,
                 report=f"{REPORTS_FOLDER}/{result.slug}.md", gist=d.claims, verdict=d.verdict,
                 fallacy=d.core_fallacy.name, grounding=result.provenance.grounding_rate,
                 text_origin=result.scan.text_origin, generated_at=result.provenance.generated_at)


def fixture_records(results: list[DissectionResult]) -> list[DigestRecord]:
    by_id = {r.scan.source_id: r for r in results}
    common = {"backend": "openai", "model": "qwen2.5-32b-instruct", "threshold": 0.35, "max": 5}

    def day(d: str, start: str, end: str) -> dict:
        return {"date": d, "window_start": start, "window_end": end,
                "generated_at": datetime.fromisoformat(f"{d}T07:30:00+00:00"), **common}

    return [
        DigestRecord(**day("2026-01-14", "2026-01-12", "2026-01-13"), candidates=41,
                     dissected=[_entry(by_id["2601.11234"], 0.91), _entry(by_id["2601.12007"], 0.78)],
                     failed=[Entry(id="2601.13579", title="Self-critique replaces human raters",
                                   url="https://arxiv.org/abs/2601.13579", score=0.66, status="failed",
                                   error="the model server timed out after 3 retries")],
                     others=[Other(id="2601.10888", title="Faster sparse attention kernels",
                                   url="https://arxiv.org/abs/2601.10888", score=0.12, why="below the bar")]),
        DigestRecord(**day("2026-01-15", "2026-01-14", "2026-01-14"), candidates=17,
                     dissected=[_entry(by_id["2601.10160"], 0.88)]),
        DigestRecord(**day("2026-01-16", "2026-01-15", "2026-01-15"), candidates=0),
    ]


CATEGORIES = {"2601.11234": ["cs.AI", "cs.LG"], "2601.12007": ["cs.LG"], "2601.10160": ["cs.CL", "cs.AI"]}


def write_history(data_dir: Path, reports_dir: Path) -> list[DissectionResult]:
    """Write the fixture results, digest records and arXiv metadata the way the pipeline does."""
    results = fixture_results()
    for r in results:
        write_json(Path(data_dir) / "results" / f"{r.slug}.json", r.model_dump(mode="json"))
        md = Path(reports_dir) / REPORTS_FOLDER / f"{r.slug}.md"
        md.parent.mkdir(parents=True, exist_ok=True)
        md.write_text(report_markdown(r), encoding="utf-8")
    for rec in fixture_records(results):
        write_json(Path(data_dir) / "digests" / f"{rec.date}.json", rec.model_dump(mode="json"))
    cache = DiskCache(Path(data_dir) / "cache")
    for arxiv_id, cats in CATEGORIES.items():
        cache.put_json("arxiv-meta", arxiv_id, {"id": arxiv_id, "categories": cats})
    return results
