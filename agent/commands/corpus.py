"""`dissect ingest ...` and `dissect corpus list|stats|remove|search`: the related-writing store from the shell."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from agent.commands import terminal_safe
from agent.data import notes_dir
from agent.errors import InvalidSourceError


def cmd_ingest(args, settings) -> int:
    from agent.corpus.ingest import ingest, load_manifest

    sources = list(args.sources or [])
    if args.bundled:
        sources.append(str(notes_dir()))
    for manifest in args.manifest or []:
        sources += load_manifest(manifest)
    if not sources:
        raise InvalidSourceError("nothing to ingest: give URLs, files or folders, --manifest FILE or --bundled")
    summary = ingest(sources, settings, progress=sys.stderr.isatty() and not args.quiet, force=args.force)
    for line in summary.lines():
        print(line)
    if summary.interrupted:
        return 130
    return 0 if summary.ok else 1  # non-zero only when nothing at all could be ingested


def _store(settings):
    from agent.corpus.store import Store

    return Store(settings)


def cmd_list(args, settings) -> int:
    docs = _store(settings).list_documents()
    if args.json:
        print(json.dumps(docs, indent=2, ensure_ascii=False))
        return 0
    if not docs:
        print("the corpus is empty: add writing with `dissect ingest URL|FILE|FOLDER` (or --bundled)")
    for d in docs:
        kind = "paper " if d["collection"] == "papers" else ""
        print(terminal_safe(f"{d['doc_id']}  {kind}{d['title'] or '(untitled)'}  [{d['chunks']} chunks]  {d['url']}"))
    return 0


def cmd_stats(args, settings) -> int:
    stats = _store(settings).stats()
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        print(f"{stats['documents']} documents, {stats['chunks']} chunks, {stats['papers']} dissected papers, "
              f"{stats['size_bytes'] / 1e6:.1f} MB on disk at {stats['path']}")
    return 0


def cmd_remove(args, settings) -> int:
    store = _store(settings)
    removed = store.remove(args.target)
    if not removed and Path(args.target).exists():  # a relative path: files are stored by absolute path
        removed = store.remove(str(Path(args.target).resolve()))
    if not removed:
        raise InvalidSourceError(f"nothing in the corpus has the id, URL or path {args.target!r} "
                                 "(see `dissect corpus list`)")
    print(f"removed {removed} chunks of {args.target}")
    return 0


def cmd_search(args, settings) -> int:
    if args.k < 1:
        raise InvalidSourceError("--k must be at least 1")
    passages = _store(settings).search(args.query, k=args.k)
    if args.json:
        print(json.dumps([p.model_dump(exclude={"relation"}) for p in passages], indent=2, ensure_ascii=False))
        return 0
    if not passages:
        print("no passages: the corpus is empty")
    for i, p in enumerate(passages, 1):
        text = " ".join(p.text.split())
        print(terminal_safe(f"[{i}] {p.score:.3f}  {p.title or '(untitled)'}  {p.url}"))
        print(terminal_safe(f"    {text[:300]}{'...' if len(text) > 300 else ''}"))
    return 0


def register(subparsers) -> None:
    ing = subparsers.add_parser("ingest", help="add writing to the related-writing corpus")
    ing.add_argument("sources", nargs="*", metavar="SOURCE",
                     help="http(s) URL, RSS/Atom feed or sitemap URL, .md/.txt/.html/.pdf file, or folder")
    ing.add_argument("--manifest", action="append", metavar="FILE",
                     help="a TOML list of sources, e.g. agent/data/sources.toml (repeatable)")
    ing.add_argument("--bundled", action="store_true",
                     help="the notes shipped with dissect (13 short essays on alignment arguments; offline)")
    ing.add_argument("--force", action="store_true", help="re-embed documents even when unchanged")
    ing.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    ing.set_defaults(func=cmd_ingest)

    corpus = subparsers.add_parser("corpus", help="list, inspect, search or prune the corpus")
    csub = corpus.add_subparsers(dest="corpus_command", required=True)
    lst = csub.add_parser("list", help="one line per stored document and dissected paper")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)
    st = csub.add_parser("stats", help="documents, chunks, papers, size on disk")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_stats)
    rm = csub.add_parser("remove", help="remove a document by id, URL or path")
    rm.add_argument("target", metavar="URL_OR_ID")
    rm.set_defaults(func=cmd_remove)
    se = csub.add_parser("search", help="the passages most similar to a query")
    se.add_argument("query", metavar="QUERY")
    se.add_argument("--k", type=int, default=5, help="how many passages (default 5)")
    se.add_argument("--json", action="store_true")
    se.set_defaults(func=cmd_search)
