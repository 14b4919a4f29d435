"""Relevance benchmark on ../shared/data/zhwiki-qa: MRR@10, Success@1, Section@1 per subset.

Indexes corpus.jsonl (once; reused while the index is current), runs the dev
questions through zhsearch and prints a Markdown table next to the anchors
measured for the usual Python pairings.

    python bench/relevance.py [--data DIR] [--index DIR] [--queries FILE] [--rebuild]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zhsearch.indexer.build import build_index  # noqa: E402
from zhsearch.search.evaluation import evaluate, format_table  # noqa: E402

ANCHORS = """\
Anchors (same corpus and questions, measured when the issue was filed):

| system | dev MRR@10 (all) | cmrc MRR | drcd MRR | drcd-hans MRR |
|---|---|---|---|---|
| Whoosh + ChineseAnalyzer, OR over title+content | 0.670 | | | |
| tantivy + jieba search mode, one doc per section | 0.765 | | | |
| bm25s + jieba search mode, one doc per section | 0.764 | 0.949 | 0.951 | 0.524 |
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "zhwiki-qa"))
    ap.add_argument("--index", default=str(ROOT / "bench" / "out" / "zhwiki-index"))
    ap.add_argument("--queries", default=None, help="queries file (default: queries-dev.jsonl)")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--limit", type=int, default=0, help="only the first N queries (quick checks)")
    ap.add_argument("--no-snippets", action="store_true", help="rank only (faster)")
    ap.add_argument("--misses", type=int, default=0, help="print N missed queries")
    args = ap.parse_args()
    data = Path(args.data)
    t0 = time.perf_counter()
    report = build_index([data / "corpus.jsonl"], args.index, rebuild=args.rebuild)
    print(
        f"index: {report.articles} articles re-indexed, {report.files_unchanged} files unchanged, {time.perf_counter() - t0:.1f} s"
    )
    queries = Path(args.queries) if args.queries else data / "queries-dev.jsonl"
    from zhsearch.search.evaluation import read_questions

    questions = read_questions(queries)
    if args.limit:
        questions = questions[: args.limit]
    t0 = time.perf_counter()
    ev = evaluate(questions, args.index, k=10, snippets=not args.no_snippets)
    print(f"{len(questions)} queries in {time.perf_counter() - t0:.1f} s\n")
    print(format_table(ev))
    print()
    print(ANCHORS)
    if args.misses:
        qtext = {q.qid: q.query for q in questions}
        for qid, doc, got in ev.misses[: args.misses]:
            print(qid, qtext[qid], "want", doc, "got", got)


if __name__ == "__main__":
    main()
