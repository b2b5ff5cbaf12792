"""`cli.py feedback <arxiv-id> up|down|hide|clear`: the reader's vote on a paper, for the digest's ranking.

    up     more like this          down   less like this
    hide   never list this paper again (and less like it)
    clear  forget my vote on it (a hidden paper may be listed again)

The id may carry a version or be an arxiv.org URL; votes are per paper, whatever the version. Votes go to
<data_dir>/votes.json (agent.digest.votes). Exit codes: 0 recorded, 2 not an arXiv id or a damaged votes file,
9 the votes file cannot be written.
"""
from __future__ import annotations

import json

from agent.commands import terminal_safe
from agent.digest.votes import MIN_VOTES, VOTES, arxiv_paper_id, clear_vote, known_paper, load_votes, record_vote


def cmd_feedback(args, settings) -> int:
    paper_id = arxiv_paper_id(args.paper)
    data_dir = settings.paths.data_dir
    if args.vote == "clear":
        removed = clear_vote(data_dir, paper_id)
        if args.json:
            print(json.dumps({"id": paper_id, "cleared": removed is not None}))
        else:
            print(f"cleared your {removed.vote} vote on {paper_id}" if removed else f"no vote on {paper_id} to clear")
        return 0
    title, text = known_paper(settings.cache_dir, paper_id)
    record = record_vote(data_dir, paper_id, args.vote, title=title, text=text)
    if args.json:
        print(record.model_dump_json())
        return 0
    name = f"{paper_id} ({terminal_safe(' '.join(record.title.split()))[:80]})" if record.title else paper_id
    print(f"recorded: {args.vote} {name}")
    usable = len(load_votes(data_dir).learnable())
    if not record.text:
        print(f"note: {paper_id} has not been seen here yet (no digest or dissection read its abstract), so this "
              "vote teaches the ranking once a digest or `dissect` has met it"
              + ("; it is hidden from now on" if args.vote == "hide" else ""))
    elif usable < MIN_VOTES:
        print(f"note: the ranking starts learning from votes after {MIN_VOTES} (now {usable})")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "feedback", help="vote on a paper (up, down, hide or clear) so that the digest's ranking learns your taste",
        description="Record your vote on an arXiv paper. After a few votes the digest's relevance score learns "
                    "from them; 'hide' also keeps the paper out of every later digest; 'clear' forgets the vote.")
    p.add_argument("paper", metavar="ARXIV_ID", help="an arXiv id (2601.10160, 2601.10160v2, hep-th/9901001) "
                                                     "or an arxiv.org URL")
    p.add_argument("vote", choices=[*VOTES, "clear"], help="up, down, hide or clear")
    p.add_argument("--json", action="store_true", help="print the recorded vote as JSON")
    p.set_defaults(func=cmd_feedback)
