"""The fixture papers and how a fake arXiv serves them.

Metadata lives in arxiv/feed-all.xml (hand-written in the export API's Atom format); paper bodies live in
papers/<id>.md (sections "## ", subsections "### ", blank-line paragraphs). At serve time a body becomes an
arXiv-style LaTeXML HTML page and, with fpdf2, a real PDF. What each paper exercises:

  2601.10160  sycophancy "solved"             HTML; versions v1, v2 (overreach from one benchmark)
  2601.11234  debate "solves" oversight        HTML (extrapolation from 3 model sizes)
  2601.12007  probes detect deception          no HTML (404) -> PDF
  2601.13579  self-critique replaces humans    HTML with a prompt-injection paragraph
  2601.14402  the alignment tax is a myth      HTML, long (>40k tokens: generated per-model appendix)
  2601.15550  corrigibility theory             HTML stub ("not available", HTTP 200), PDF is not a PDF
                                               -> abstract only
  2601.10888, 2601.11902, 2601.14011, 2601.15123: off-topic papers, in search results only (no full text)
"""
from __future__ import annotations

import html
import random
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from string import Template
from urllib.parse import quote

from tests.support.fixture_server import FixtureServer, LoggedRequest, Response

HERE = Path(__file__).resolve().parents[1] / "fixtures"
ATOM_DIR, PAPER_DIR, WEB_DIR = HERE / "arxiv", HERE / "papers", HERE / "web"
ATOM = "{http://www.w3.org/2005/Atom}"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
INJECTION_MARKER = "Ignore previous instructions"
UNKNOWN_ID = "2601.99999"  # well formed, not in the catalog: the API answers with an empty feed


@dataclass(frozen=True)
class FixturePaper:
    id: str
    version: str  # latest version, "v2"
    title: str
    authors: tuple[str, ...]
    published: str  # ISO date
    categories: tuple[str, ...]
    abstract: str
    entry_xml: str  # the <entry> element as written in feed-all.xml
    html: str  # "ok", "404" or "stub"
    pdf: str  # "ok", "404" or "not-pdf"
    on_topic: bool

    @property
    def atom_path(self) -> Path:
        return ATOM_DIR / "feed-all.xml"

    @property
    def body_path(self) -> Path | None:
        path = PAPER_DIR / f"{self.id}.md"
        return path if path.exists() else None


FULLTEXT = {  # id -> (html, pdf)
    "2601.10160": ("ok", "ok"), "2601.11234": ("ok", "ok"), "2601.12007": ("404", "ok"),
    "2601.13579": ("ok", "ok"), "2601.14402": ("ok", "ok"), "2601.15550": ("stub", "not-pdf"),
}
LONG_ID, PDF_ONLY_ID, INJECTION_ID, ABSTRACT_ONLY_ID = "2601.14402", "2601.12007", "2601.13579", "2601.15550"


def _load() -> list[FixturePaper]:
    raw = (ATOM_DIR / "feed-all.xml").read_text(encoding="utf-8")
    papers = []
    for entry_xml in re.findall(r"  <entry>.*?</entry>\n", raw, flags=re.DOTALL):
        el = ET.fromstring(entry_xml.replace("<entry>", f'<entry xmlns="{ATOM[1:-1]}" '
                                             'xmlns:arxiv="http://arxiv.org/schemas/atom">', 1))
        short = el.findtext(ATOM + "id").rsplit("/abs/", 1)[1]
        pid, version = re.match(r"(.+?)(v\d+)$", short).groups()
        html_kind, pdf_kind = FULLTEXT.get(pid, ("404", "404"))
        papers.append(FixturePaper(
            id=pid, version=version, title=" ".join(el.findtext(ATOM + "title").split()),
            authors=tuple(a.findtext(ATOM + "name") for a in el.iter(ATOM + "author")),
            published=el.findtext(ATOM + "published")[:10],
            categories=tuple(c.get("term") for c in el.iter(ATOM + "category")),
            abstract=" ".join(el.findtext(ATOM + "summary").split()), entry_xml=entry_xml,
            html=html_kind, pdf=pdf_kind, on_topic=pid in FULLTEXT,
        ))
    return papers


PAPERS: list[FixturePaper] = _load()
BY_ID = {p.id: p for p in PAPERS}
FULLTEXT_PAPERS = [p for p in PAPERS if p.id in FULLTEXT]  # the six alignment papers


# ---- bodies ----------------------------------------------------------------------------------------
def _sections(md: str) -> list[tuple[int, str, list[str]]]:
    """[(level, heading, paragraphs)] from the simple Markdown of papers/*.md."""
    out: list[tuple[int, str, list[str]]] = []
    for block in re.split(r"\n\s*\n", md.strip()):
        block = " ".join(block.split())
        m = re.match(r"^(#{2,3}) (.+)$", block)
        if m:
            out.append((len(m.group(1)), m.group(2), []))
        elif out:
            out[-1][2].append(block)
    return out


MODEL_FAMILIES = ["Aster", "Birch", "Cobalt", "Dune", "Ember", "Fjord", "Garnet", "Heron", "Iris", "Juniper",
                  "Kestrel", "Lumen", "Marlin", "Nimbus"]
MODEL_SIZES = ["0.5B", "1.8B", "3B", "7B", "9B", "14B", "34B", "72B"]
BENCHMARKS = ["MMLU", "ARC-Challenge", "HellaSwag", "WinoGrande", "GSM8K", "MATH", "MGSM", "SVAMP",
              "HumanEval", "MBPP", "DS-1000", "CRUXEval", "BoolQ", "RACE", "DROP", "SQuAD-2",
              "PIQA", "SIQA", "OpenBookQA", "CommonsenseQA", "TriviaQA", "NaturalQuestions", "XNLI",
              "XCOPA", "FLORES-200", "Belebele", "TruthfulQA", "BBH", "AGIEval", "LogiQA", "MuSR"]
OBSERVATIONS = [
    "The largest gain is on {best}, which we attribute to the instruction-tuning stage teaching the answer format.",
    "The model's losses concentrate on {worst}, where refusals of borderline questions count as errors.",
    "Run-to-run variation for this model, measured with two extra seeds, is {noise} points on the mean.",
    "After safety training the model declines {refuse}% of benign questions in {worst}, up from under 1%.",
    "This model was already instruction tuned by its developer, so the recipe mostly changes refusal behaviour.",
    "As a base model it could not follow the benchmark prompts before training, inflating its apparent gain.",
    "Scores on {best} were recomputed after we found that {noise}% of its answers had been truncated.",
    "Its developer reports training on data that overlaps with {best}, so its gain there may reflect format.",
    "We re-ran {worst} with a longer answer budget; the loss shrinks by about half but does not vanish.",
]
HISTORY = [
    "{name} was released {months} months before our study by a {org} under a permissive licence.",
    "Its pre-training corpus is described as about {tokens} trillion tokens of web text, code and books.",
    "The developer's own chat version was tuned on roughly {k} thousand demonstrations of unknown origin.",
    "We trained it for {steps} optimiser steps in total across the three stages of the recipe.",
    "Training took {hours} accelerator-hours; one run diverged and was restarted from the previous stage.",
    "Its tokenizer splits numbers into single digits, which matters for the arithmetic benchmarks.",
]
ORGS = ["university group", "start-up", "large laboratory", "volunteer collective", "government institute"]


def _appendix(seed: int = 14402) -> str:
    """Per-model results for 112 models: varied, deterministic, and long (the >40k-token paper)."""
    rng = random.Random(seed)
    parts = ["## Appendix: Per-Model Results",
             "This appendix lists, for each of the 112 models, the change in score on every benchmark after "
             "safety training, in points, followed by notes on the model's training history."]
    names = [f"{f}-{s}" for f in MODEL_FAMILIES for s in MODEL_SIZES][:112]
    for i, name in enumerate(names, 1):
        deltas = {b: round(rng.gauss(1.7, 2.4), 1) for b in BENCHMARKS}
        best, worst = max(deltas, key=deltas.get), min(deltas, key=deltas.get)
        mean = sum(deltas.values()) / len(deltas)
        listing = "; ".join(f"{b} {d:+.1f}" for b, d in deltas.items())
        notes = " ".join(o.format(best=best, worst=worst, noise=round(rng.uniform(0.2, 1.4), 1),
                                  refuse=rng.randint(2, 19)) for o in rng.sample(OBSERVATIONS, 4))
        history = " ".join(h.format(name=name, months=rng.randint(1, 11), org=rng.choice(ORGS),
                                    tokens=round(rng.uniform(1, 18), 1), k=rng.randint(10, 900),
                                    steps=rng.randint(900, 9000), hours=rng.randint(40, 9000))
                           for h in rng.sample(HISTORY, 4))
        parts += [f"### Model {i}: {name}",
                  f"{name} changes by {mean:+.2f} points on the mean of 31 benchmarks "
                  f"({'a gain' if mean > 1 else 'a loss' if mean < -1 else 'within noise'}). "
                  f"Per benchmark: {listing}.",
                  f"{notes} Its harmful-request refusal rate rises from {rng.randint(5, 70)}% to "
                  f"{rng.randint(88, 100)}%, and over-refusal of benign requests from {rng.randint(0, 4)}% to "
                  f"{rng.randint(2, 12)}%.",
                  f"Training history. {history}"]
    return "\n\n".join(parts)


@cache
def paper_markdown(pid: str) -> str:
    """The body source of a fixture paper ("" when it has none); the long paper gets its appendix."""
    path = PAPER_DIR / f"{pid}.md"
    md = path.read_text(encoding="utf-8") if path.exists() else ""
    return md + "\n\n" + _appendix() if pid == LONG_ID else md


def paper_paragraphs(pid: str) -> list[str]:
    """Every body paragraph of a paper, whitespace-normalised: what its full text must contain."""
    return [p for _, _, paras in _sections(paper_markdown(pid)) for p in paras]


# ---- rendering -------------------------------------------------------------------------------------
REFERENCES = [
    "P. Christiano, J. Leike, T. Brown, M. Martic, S. Legg, and D. Amodei. Deep reinforcement learning "
    "from human preferences. In Advances in Neural Information Processing Systems, 2017.",
    "G. Irving, P. Christiano, and D. Amodei. AI safety via debate. arXiv preprint arXiv:1805.00899, 2018.",
    "E. Hubinger, C. van Merwijk, V. Mikulik, J. Skalse, and S. Garrabrant. Risks from learned optimization "
    "in advanced machine learning systems. arXiv preprint arXiv:1906.01820, 2019.",
]


def render_html(p: FixturePaper) -> str:
    """An arXiv HTML (LaTeXML) page: navigation, banner, title, authors, abstract, sections, bibliography."""
    esc = html.escape
    sec_no = sub_no = 0
    toc, body = [], []
    open_sec = open_sub = False
    for level, heading, paras in _sections(paper_markdown(p.id)):
        if open_sub:
            body.append("</section>")
            open_sub = False
        if level == 2:
            if open_sec:
                body.append("</section>")
            sec_no, sub_no, open_sec = sec_no + 1, 0, True
            sid, tag, cls, h = f"S{sec_no}", f"{sec_no}", "section", "h2"
            toc.append(f'<li class="ltx_tocentry ltx_tocentry_section"><a class="ltx_ref" href="#{sid}">'
                       f'<span class="ltx_text ltx_ref_title"><span class="ltx_tag ltx_tag_ref">{tag} </span>'
                       f"{esc(heading)}</span></a></li>")
        else:
            sub_no, open_sub = sub_no + 1, True
            sid, tag, cls, h = f"S{sec_no}.SS{sub_no}", f"{sec_no}.{sub_no}", "subsection", "h3"
        body.append(f'<section class="ltx_{cls}" id="{sid}">\n<{h} class="ltx_title ltx_title_{cls}">'
                    f'<span class="ltx_tag ltx_tag_{cls}">{tag} </span>{esc(heading)}</{h}>')
        for n, para in enumerate(paras, 1):
            body.append(f'<div class="ltx_para" id="{sid}.p{n}">\n<p class="ltx_p" id="{sid}.p{n}.1">'
                        f"{esc(para)}</p>\n</div>")
    body += ["</section>"] * (open_sub + open_sec)
    authors = "\n".join(f'<span class="ltx_creator ltx_role_author"><span class="ltx_personname">{esc(a)}'
                        "</span></span>" for a in p.authors)
    refs = "\n".join(f'<li class="ltx_bibitem" id="bib.bib{i}"><span class="ltx_tag ltx_tag_bibitem">[{i}]'
                     f'</span><span class="ltx_bibblock">{esc(r)}</span></li>' for i, r in enumerate(REFERENCES, 1))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta content="text/html; charset=utf-8" http-equiv="content-type"/>
<title>{esc(p.title)}</title>
<meta content="width=device-width, initial-scale=1, shrink-to-fit=no" name="viewport"/>
<link href="https://arxiv.org/static/browse/0.3.4/css/ar5iv.0.7.9.min.css" rel="stylesheet" type="text/css"/>
<link href="https://arxiv.org/static/browse/0.3.4/css/latexml_styles.css" rel="stylesheet" type="text/css"/>
<base href="/html/{p.id}{p.version}/"/></head>
<body>
<nav class="ltx_page_navbar">
<nav class="ltx_TOC">
<ol class="ltx_toclist">
{chr(10).join(toc)}
</ol></nav>
</nav>
<div class="ltx_page_main">
<header class="desktop_header">
<div class="html-header-logo"><a href="https://arxiv.org/">Back to arXiv</a></div>
<div class="html-header-message" role="banner"><p>This is <strong>experimental HTML</strong> to improve
accessibility. We invite you to report rendering errors. <a href="https://info.arxiv.org/about/accessibility_html_error_messages.html">Learn more about this project</a> and <a href="https://info.arxiv.org/help/submit_latex_best_practices.html">help improve conversions</a>.</p></div>
<nav class="html-header-nav"><a class="ar5iv-footer-button" href="https://info.arxiv.org/about/accessible_HTML.html">Why HTML?</a>
<a class="ar5iv-footer-button" href="https://github.com/arXiv/html_feedback/issues/new">Report Issue</a>
<a class="ar5iv-footer-button" href="https://arxiv.org/abs/{p.id}{p.version}">Back to Abstract</a>
<a class="ar5iv-footer-button" href="https://arxiv.org/pdf/{p.id}{p.version}">Download PDF</a></nav>
</header>
<div class="ltx_page_content">
<article class="ltx_document ltx_authors_1line">
<h1 class="ltx_title ltx_title_document">{esc(p.title)}</h1>
<div class="ltx_authors">
{authors}
</div>
<div class="ltx_abstract">
<h6 class="ltx_title ltx_title_abstract">Abstract</h6>
<p class="ltx_p" id="id1.id1">{esc(p.abstract)}</p>
</div>
{chr(10).join(body)}
<section class="ltx_bibliography" id="bib">
<h2 class="ltx_title ltx_title_bibliography">References</h2>
<ul class="ltx_biblist">
{refs}
</ul>
</section>
</article>
</div>
<footer class="ltx_page_footer">
<div class="ltx_page_logo">Generated on {datetime.fromisoformat(p.published):%a %b %d %Y} by <a class="ltx_LaTeXML_logo" href="https://math.nist.gov/~BMiller/LaTeXML/">LaTeXML</a></div>
</footer>
</div>
<footer id="footer" class="ltx_document"><a href="https://info.arxiv.org/about">About</a> <a href="https://info.arxiv.org/help">Help</a>
<a href="https://info.arxiv.org/help/contact.html">Contact</a> <a href="https://info.arxiv.org/help/license/index.html">Copyright</a>
<a href="https://info.arxiv.org/help/policies/privacy_policy.html">Privacy Policy</a></footer>
</body>
</html>
"""


def render_no_html_page(p: FixturePaper) -> str:
    """The page arXiv shows when a paper's LaTeX could not be converted to HTML."""
    return (WEB_DIR / "arxiv-no-html.html").read_text(encoding="utf-8").replace("$ID", p.id + p.version)


@cache
def render_pdf(pid: str) -> bytes:
    """A real PDF of the paper (title, authors, abstract, sections) made with fpdf2's core fonts."""
    from fpdf import FPDF

    p = BY_ID[pid]
    pdf = FPDF(format="A4")
    pdf.set_title(p.title)
    pdf.set_author(", ".join(p.authors))
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    nl = {"new_x": "LMARGIN", "new_y": "NEXT"}
    pdf.multi_cell(0, 7, p.title, align="C", **nl)
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, ", ".join(p.authors), align="C", **nl)
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 6, "Abstract", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(0, 5, p.abstract, **nl)
    for n, (level, heading, paras) in enumerate(_sections(paper_markdown(pid)), 1):
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 12 if level == 2 else 11)
        pdf.multi_cell(0, 6, f"{n} {heading}" if level == 2 else heading, **nl)
        pdf.set_font("Helvetica", "", 10)
        for para in paras:
            pdf.multi_cell(0, 5, para, **nl)
            pdf.ln(2)
    return bytes(pdf.output())


# ---- the fake API ------------------------------------------------------------------------------------
NEW_ID = re.compile(r"^\d{4}\.\d{4,5}(v\d+)?$")
OLD_ID = re.compile(r"^[a-z-]+(\.[A-Z]{2})?/\d{7}(v\d+)?$")


def feed(entries: list[str], query: str, total: int, start: int, per_page: int) -> str:
    """An export-API result feed: header with opensearch counts, then the entries as written."""
    head = Template((ATOM_DIR / "empty-feed.xml").read_text(encoding="utf-8")).substitute(
        query=html.escape(query), per_page=per_page, start=start)
    head = head.replace("<opensearch:totalResults>0<", f"<opensearch:totalResults>{total}<")
    return head.replace("</feed>", "".join(entries) + "</feed>")


def error_feed(message: str) -> str:
    anchor = re.sub(r"\W+", "_", message)
    return Template((ATOM_DIR / "error-feed.xml").read_text(encoding="utf-8")).substitute(
        anchor=quote(anchor), message=html.escape(message))


def _entry_for(pid_with_version: str) -> str | None:
    m = re.match(r"^(.+?)(v\d+)?$", pid_with_version)
    p = BY_ID.get(m.group(1))
    if p is None:
        return None
    want = m.group(2)
    if want and int(want[1:]) > int(p.version[1:]):
        return None
    return p.entry_xml.replace(f"{p.id}{p.version}", f"{p.id}{want}") if want else p.entry_xml


def _search(query: str) -> list[FixturePaper]:
    dates = re.search(r"submittedDate:\[(\d{8})\d{4} TO (\d{8})\d{4}\]", query)
    cats = set(re.findall(r"cat:([\w.-]+)", query))
    found = []
    for p in PAPERS:
        day = p.published.replace("-", "")
        if dates and not dates.group(1) <= day <= dates.group(2):
            continue
        if cats and not cats & set(p.categories):
            continue
        found.append(p)
    return sorted(found, key=lambda p: p.entry_xml.split("<published>")[1], reverse=True)


def api_handler(req: LoggedRequest) -> Response:
    """The export API: id_list lookups (error feed for malformed ids, empty feed for unknown ones) and
    search_query with submittedDate and cat: terms, paginated by start/max_results."""
    raw_query = "&".join(f"{k}={v[0]}" for k, v in req.query.items())
    start, per_page = int(req.param("start", "0") or 0), int(req.param("max_results", "10") or 10)
    ids = [i for i in req.param("id_list").split(",") if i]
    if ids:
        for i in ids:
            if not (NEW_ID.match(i) or OLD_ID.match(i)):
                return Response(error_feed(f"incorrect id format for {i}"), 400, ATOM_TYPE)
        entries = [e for e in (_entry_for(i) for i in ids) if e]
        page = entries[start:start + per_page]
        return Response(feed(page, raw_query, len(entries), start, per_page), 200, ATOM_TYPE)
    search = req.param("search_query")
    if not search.strip():
        return Response(error_feed("search_query or id_list must be given"), 400, ATOM_TYPE)
    found = _search(search)
    page = [p.entry_xml for p in found[start:start + per_page]]
    return Response(feed(page, raw_query, len(found), start, per_page), 200, ATOM_TYPE)


def serve_arxiv_catalog(server: FixtureServer) -> FixtureServer:
    """Register /api/query, /html/<id>[vN] and /pdf/<id>[vN] for every paper of the catalog."""
    server.handler("/api/query", api_handler)
    for p in PAPERS:
        for v in ["", *(f"v{n}" for n in range(1, int(p.version[1:]) + 1))]:
            if p.html == "ok":
                server.handler(f"/html/{p.id}{v}", lambda _r, p=p: Response(render_html(p)))
            elif p.html == "stub":
                server.route(f"/html/{p.id}{v}", render_no_html_page(p))
            if p.pdf == "ok":
                server.handler(f"/pdf/{p.id}{v}", lambda _r, p=p: Response(render_pdf(p.id), 200,
                                                                            "application/pdf"))
            elif p.pdf == "not-pdf":
                server.route(f"/pdf/{p.id}{v}", "<html><body><h1>Service temporarily unavailable</h1>"
                             "<p>Please try again later.</p></body></html>")
    return server


# ---- web pages ---------------------------------------------------------------------------------------
ESSAYS = {"goodhart": "essay-goodhart.html", "oversight": "essay-oversight.html"}


def serve_web_catalog(server: FixtureServer) -> dict[str, str]:
    """Serve the essay pages at /essays/<name>; returns name -> URL."""
    return {name: server.route(f"/essays/{name}", (WEB_DIR / fname).read_bytes())
            for name, fname in ESSAYS.items()}
