"""The arXiv identifier grammar: new style (2601.10160, with or without vN) and old style (hep-th/9901001)."""
from __future__ import annotations

import re

from agent.models import SourceRef

# Archives of pre-2007 identifiers ("hep-th/9901001"); knowing them keeps "notes/1234567" from passing as one.
OLD_ARCHIVES = {
    "acc-phys", "adap-org", "alg-geom", "ao-sci", "astro-ph", "atom-ph", "bayes-an", "chao-dyn", "chem-ph",
    "cmp-lg", "comp-gas", "cond-mat", "cs", "dg-ga", "funct-an", "gr-qc", "hep-ex", "hep-lat", "hep-ph",
    "hep-th", "math", "math-ph", "mtrl-th", "nlin", "nucl-ex", "nucl-th", "patt-sol", "physics", "plasm-ph",
    "q-alg", "q-bio", "quant-ph", "solv-int", "supr-con",
}
NEW_ID = re.compile(r"^(\d{2})(\d{2})\.(\d{4,5})(v[1-9]\d*)?$")
OLD_ID = re.compile(r"^([a-z-]+)(\.[A-Z]{2})?/(\d{2})(\d{2})(\d{3})(v[1-9]\d*)?$")
ID_LIKE = re.compile(r"^\d{4}\.\d*(v\d*)?$|^[a-z-]+(\.[A-Za-z]{2})?/\d+(v\d*)?$")
EXAMPLES = "e.g. 2601.10160, 2601.10160v2 or hep-th/9901001"


def parse_arxiv_id(text: str) -> SourceRef | None:
    """A SourceRef for a well-formed arXiv id (new or old style, optional version), else None."""
    m = NEW_ID.match(text)
    if m:
        yy, mm, number, version = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4) or ""
        # Four-digit numbers until 2014-12, five from 2015-01 (arXiv's own rule); ids start at 0704.
        digits_ok = len(number) == (4 if yy < 15 else 5)
        if 1 <= mm <= 12 and (yy, mm) >= (7, 4) and digits_ok:
            return SourceRef(kind="arxiv", locator=text[: len(text) - len(version)], version=version)
        return None
    m = OLD_ID.match(text)
    if m and m.group(1) in OLD_ARCHIVES and 1 <= int(m.group(4)) <= 12:
        version = m.group(6) or ""
        return SourceRef(kind="arxiv", locator=text[: len(text) - len(version)], version=version)
    return None
