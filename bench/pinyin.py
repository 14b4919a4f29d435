"""Pinyin benchmark: article titles typed as pinyin, rank of the title's article.

For every article of an index, its title is spelled in full pinyin (words
spaced, and all joined) and as initials (``search.pinyin.spell``); each is
searched and the title's own article should come first.  Prints the share at
rank 1 and within the top 3, overall and per spelling, and the misses.

    python bench/pinyin.py [--index DIR] [--clause] [--misses N]

Without ``--index`` it uses a fresh index of the bundled sample articles.
``--clause`` spells only the title's first clause (up to its first
punctuation mark), closer to what people type.  ``--words-only`` turns off
matching the spelling against titles, leaving the reading of the letters as
the index's words (how a query that is no title fares).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zhsearch.indexer.build import build_sample_index  # noqa: E402
from zhsearch.search import pinyin  # noqa: E402
from zhsearch.search.pinyin import spell  # noqa: E402
from zhsearch.search.searcher import Searcher  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", default=None)
    ap.add_argument("--clause", action="store_true", help="spell only the first clause of each title")
    ap.add_argument("--words-only", action="store_true", help="do not match spellings against titles")
    ap.add_argument("--misses", type=int, default=10)
    args = ap.parse_args()
    index = args.index
    if args.words_only:
        pinyin.MIN_TITLE_LETTERS = 10**9
    if index is None:
        index = str(Path(tempfile.mkdtemp()) / "index")
        build_sample_index(index)
    rank1: dict[str, list[bool]] = {}
    top3: dict[str, list[bool]] = {}
    misses = []
    t0 = time.perf_counter()
    with Searcher(index) as s:
        _, ranker = s._current()
        for art in ranker.articles:
            title = s.article(art).title
            if args.clause:
                title = re.split(r"[，,。？?！!：:；;、\s]", title, maxsplit=1)[0]
            for kind, query in spell(title, s.settings).items():
                if not query:
                    continue
                ids = [h.id for h in s.search(query, limit=3, snippets=False).hits]
                rank1.setdefault(kind, []).append(ids[:1] == [art])
                top3.setdefault(kind, []).append(art in ids)
                if ids[:1] != [art]:
                    misses.append((kind, query, art, ids[:1]))
    n = sum(len(v) for v in rank1.values())
    what = ("first clause" if args.clause else "whole title") + (", words only" if args.words_only else "")
    print(f"{n} queries in {time.perf_counter() - t0:.1f} s ({what})\n")
    print("| spelling | queries | rank 1 | top 3 |")
    print("|---|---|---|---|")
    for kind in rank1:
        r, t = rank1[kind], top3[kind]
        print(f"| {kind} | {len(r)} | {sum(r) / len(r):.3f} | {sum(t) / len(t):.3f} |")
    allr = [x for v in rank1.values() for x in v]
    allt = [x for v in top3.values() for x in v]
    print(f"| all | {len(allr)} | {sum(allr) / len(allr):.3f} | {sum(allt) / len(allt):.3f} |")
    for kind, query, art, got in misses[: args.misses]:
        print(f"miss {kind}: {query!r} want {art} got {got}")


if __name__ == "__main__":
    main()
