"""valid_arxiv_id: the one gate every arXiv id from the network passes (issue 9, item 1)."""
from __future__ import annotations

import pytest

from agent.sources.arxiv import valid_arxiv_id


@pytest.mark.parametrize("raw, expected", [
    ("2601.10160", "2601.10160"),
    ("2601.10160v2", "2601.10160"),
    ("0704.0001", "0704.0001"),
    ("1412.1234v10", "1412.1234"),
    ("hep-th/9901001", "hep-th/9901001"),
    ("hep-th/9901001v3", "hep-th/9901001"),
    ("math.GT/0309136", "math.GT/0309136"),
    ("cond-mat/0211034v1", "cond-mat/0211034"),
])
def test_well_formed_ids_are_returned_without_version(raw, expected):
    assert valid_arxiv_id(raw) == expected


@pytest.mark.parametrize("raw", [
    "", "/home/me/notes.md", "http://internal.example/x", "../../etc/passwd", "2601.1016", "1501.1234",
    "2613.10160", "0612.1234", "2601.10160v0", "2601.10160 ", " 2601.10160", "2601.10160\n", "2601.10160/..",
    "notes/1234567", "hep-th/9913001", "hep-th/99010011", "2601.10160v2v3", "２６０１.10160", "hep-th/9901001\x00",
    None, 2601.10160,
])
def test_anything_else_is_none(raw):
    assert valid_arxiv_id(raw) is None
