#!/usr/bin/env python3
"""Build planted-flaw rows from drafts: `python bench/data/critique/build_rows.py DRAFTS.jsonl OUT.jsonl --split S`.

A draft is one abstract as a list of sentences, the index of the planted (flawed) sentence, its type and the
sound sentence that replaces it in the clean twin:

    {"id": "...", "topic": "...", "title": "...", "type": "straw man", "sentences": ["...", "..."],
     "planted_index": 3, "clean": "..."}

The builder joins the sentences, checks that the project's splitter (agent.text.sentences) gives back exactly
those sentences (so the planted one is a whole sentence), that the planted sentence does not name its type (or
any type) and that the type is a taxonomy type, then writes the rows `bench/critique_eval.py` reads. It refuses
the whole file on the first bad draft, naming it.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from agent.models import FALLACIES  # noqa: E402
from agent.text.sentences import split_sentences  # noqa: E402

TYPES = tuple(f for f in FALLACIES if f != "other")
# words that would give the type away if they appeared in a planted sentence
GIVEAWAYS = re.compile(r"hasty|generali[sz]ation|dichotom|authorit|anthropomorph|unfalsifiab|causation|goal ?posts?|"
                       r"straw|slippery|begging|beg the question|equivocat|motte|bailey|fallac", re.I)


def norm(s: str) -> str:
    return " ".join(s.split())


def build(draft: dict, split: str) -> dict:
    sents = [norm(s) for s in draft["sentences"]]
    k = int(draft["planted_index"])
    if draft["type"] not in TYPES:
        raise ValueError(f"type {draft['type']!r} is not one of {TYPES}")
    if not 0 <= k < len(sents):
        raise ValueError(f"planted_index {k} is outside the {len(sents)} sentences")
    if GIVEAWAYS.search(sents[k]):
        raise ValueError(f"the planted sentence names a type: {GIVEAWAYS.search(sents[k]).group(0)!r}")
    clean = norm(draft["clean"])
    text = " ".join(sents)
    clean_text = " ".join(sents[:k] + [clean] + sents[k + 1:])
    for label, t, want in (("text", text, sents), ("clean_text", clean_text, sents[:k] + [clean] + sents[k + 1:])):
        got = [norm(s.text) for s in split_sentences(t)]
        if got != want:
            bad = next((f"{a!r} vs {b!r}" for a, b in zip(got, want, strict=False) if a != b),
                       f"{len(got)} vs {len(want)} sentences")
            raise ValueError(f"the splitter does not give back the sentences of {label}: {bad}")
    return {"id": draft["id"], "split": split, "topic": draft.get("topic", ""), "title": draft["title"],
            "type": draft["type"], "planted": sents[k], "planted_index": k, "n_sentences": len(sents),
            "clean": clean, "text": text, "clean_text": clean_text}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("drafts", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--split", required=True)
    args = ap.parse_args(argv)
    rows, seen = [], set()
    for n, line in enumerate(args.drafts.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            draft = json.loads(line)
            if draft["id"] in seen:
                raise ValueError("duplicate id")
            seen.add(draft["id"])
            rows.append(build(draft, args.split))
        except (ValueError, KeyError, json.JSONDecodeError) as e:
            print(f"{args.drafts}:{n}: {e}", file=sys.stderr)
            return 1
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    tmp.replace(args.out)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["type"]] = counts.get(r["type"], 0) + 1
    print(f"wrote {len(rows)} rows to {args.out}: " + ", ".join(f"{t} {c}" for t, c in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
