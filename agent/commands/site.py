"""`cli.py site`: rebuild the static site under <reports_dir>/site/ from the results and digests on disk.

dissect and digest rebuild it after they publish; this command is for a changed profile or template, or a site
folder that was deleted. Exit 0 with the site's index on stdout; 9 when a write failed (the previous site is
left as it was).
"""
from __future__ import annotations

import sys

from agent.publish.site import build_site


def cmd_site(args, settings) -> int:
    root = build_site(settings)
    print(root / "index.html")
    if not args.quiet:
        pages = sum(1 for _ in root.rglob("*.html"))
        print(f"{pages} pages; open {(root / 'index.html').resolve().as_uri()}", file=sys.stderr)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("site", help="rebuild the static site (reports/site/) from the published results")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the path of the site's index")
    p.set_defaults(func=cmd_site)
