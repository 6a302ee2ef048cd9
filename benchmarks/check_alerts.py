#!/usr/bin/env python3
"""Check aggregator's alerts against a generated corpus's truth.json.

After `aggregator poll` has run over a corpus made by ../shared/bench/gen_corpus.py, this
prints, for a list of watchlist terms, the distinct canonical URLs that the truth says
should alert (entries whose planted terms include one of them) against the stories that
actually matched in the database, and the number of deliveries per channel.

Stories cluster: syndicated copies of one text at different URLs are one story (its
founder's URL on the story row, the others on its entries), and one story alerts once.
So an expected URL counts as alerted when the story of its entry, or the story that
story was merged into, has a match; a matched story is unexpected only when none of its
URLs is expected; and each channel must carry one delivery per match.

  python benchmarks/check_alerts.py CORPUS_DIR DB_URL --terms Yarmouk Damascus ...
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from aggregator.normalize import canonical_url


def _link(entry: dict[str, object]) -> str:
    """The entry's link as gen_corpus.py writes it (feed host, month, title slug)."""
    when = datetime.fromisoformat(str(entry["when_s"]))
    slug = "-".join(str(entry["title"]).lower().split()[:6])
    return f"https://news{entry['feed']}.example/{when:%Y/%m}/{slug}"


def expected_urls(corpus: Path, terms: set[str]) -> set[str]:
    truth = json.loads((corpus / "truth.json").read_text())["entries"]
    link_of: dict[int, str] = {}
    for side in sorted((corpus / "feeds").glob("*.xml.json")):
        for entry in json.loads(side.read_text()):
            link_of[int(entry["uid"])] = _link(entry)
    wanted = set()
    for uid, record in truth.items():
        if terms.intersection(record["terms"]) and int(uid) in link_of:
            url = canonical_url(link_of[int(uid)])
            if url:
                wanted.add(url)
    return wanted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("db_url")
    parser.add_argument("--terms", nargs="+", required=True)
    args = parser.parse_args()
    want = expected_urls(args.corpus, set(args.terms))
    engine = create_engine(args.db_url)
    with engine.connect() as conn:
        group_of = {
            str(url): int(root)
            for url, root in conn.execute(
                text(
                    "SELECT e.canonical_url, COALESCE(s.merged_into, s.id) FROM entries e"
                    " JOIN stories s ON s.id = e.story_id WHERE e.canonical_url IS NOT NULL"
                )
            )
        }
        alerted = {
            int(root)
            for (root,) in conn.execute(
                text(
                    "SELECT COALESCE(s.merged_into, s.id) FROM matches m"
                    " JOIN stories s ON s.id = m.story_id"
                )
            )
        }
        matches = conn.execute(text("SELECT count(*) FROM matches")).scalar_one()
        per_channel = Counter(
            row[0] for row in conn.execute(text("SELECT channel FROM deliveries"))
        )
    got = {url for url, root in group_of.items() if root in alerted}
    expected_groups = {group_of[url] for url in want if url in group_of}
    unexpected = sorted(url for url, root in group_of.items()
                        if root in alerted and root not in expected_groups)  # fmt: skip
    print(f"expected alerting stories (distinct canonical URLs): {len(want)}")
    print(
        f"alerted: {len(want & got)} of them, in {len(alerted)} stories ({matches} matches);"
        f" missing {len(want - got)}; stories alerted unexpectedly {len(unexpected)}"
    )
    for channel, count in sorted(per_channel.items()):
        print(f"deliveries on {channel}: {count}")
    for url in sorted(want - got)[:10]:
        print(f"  missing: {url}")
    for url in unexpected[:10]:
        print(f"  unexpected: {url}")
    ok = not (want - got) and not unexpected and all(n == matches for n in per_channel.values())
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
