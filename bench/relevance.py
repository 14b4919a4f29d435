"""Relevance benchmark: zhwiki-qa dev and STARD dev, zhsearch next to BM25 anchors.

For each benchmark the corpus is indexed by zhsearch (once per version of the
indexing code: the index sits in ``bench/out/`` under a key of that code and
is reused), the dev questions are run through ``zhsearch.evaluate``, and the
same questions are run against two anchors built in the same run on the same
data: bm25s and tantivy, both over jieba's search-mode words (rjieba's
``cut_for_search``) of title + heading path + text, one document per section,
an article ranked by its best section.  Every system is scored by the same
``measure_rankings`` (trec_eval's formulas); latency is per question, on one
warm process (zhsearch: 10 results with snippets).

    python bench/relevance.py [--data DIR] [--only zhwiki|stard] [--limit N] [--no-anchors] [--jobs N] [--prune-all]

Prints one Markdown table per benchmark: systems x subsets.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zhsearch.indexer.build import build_index  # noqa: E402
from zhsearch.search.evaluation import (  # noqa: E402
    DEPTH,
    Question,
    evaluate,
    group_of,
    measure_rankings,
    percentile,
    read_questions,
)

K = 10
OUT = ROOT / "bench" / "out"


def default_data() -> Path:
    beside = ROOT.parent / "shared" / "data"
    return beside if beside.exists() else Path("/work/shared/data")


def code_key() -> str:
    """A digest of the code that decides what an index holds: a cached
    index is reused only while this is unchanged."""
    h = hashlib.sha1()
    for folder in ("indexer", "corpus"):
        for p in sorted((ROOT / folder).rglob("*")):
            if p.is_file() and p.suffix in {".py", ".txt"}:
                h.update(p.relative_to(ROOT).as_posix().encode())
                h.update(p.read_bytes())
    return h.hexdigest()[:10]


def cached_index(name: str, corpus: Path, jobs: int) -> Path:
    """The zhsearch index of ``corpus`` for the current code, built if needed."""
    target = OUT / f"{name}-index-{code_key()}"
    for old in OUT.glob(f"{name}-index-*"):
        if old.is_dir() and old != target:
            shutil.rmtree(old, ignore_errors=True)
            old.with_name(old.name + ".lock").unlink(missing_ok=True)
    t0 = time.perf_counter()
    report = build_index([corpus], target, jobs=jobs)
    print(
        f"{name}: zhsearch index {target.name}: {report.articles} articles indexed in {time.perf_counter() - t0:.1f} s"
    )
    return target


def read_corpus(path: Path) -> list[dict]:
    opener = lzma.open if path.suffix == ".xz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# --------------------------------------------------------------------------
# Anchors


def _tokens(text: str) -> list[str]:
    import rjieba

    return [w for w in rjieba.cut_for_search(text, True) if w.strip() and any(ch.isalnum() for ch in w)]


def _sections(articles: list[dict]) -> tuple[list[str], list[list[str]]]:
    """(article id per section document, tokens per section document)."""
    owners, docs = [], []
    for a in articles:
        for s in a.get("sections", []):
            owners.append(a["id"])
            docs.append(_tokens(f"{a.get('title', '')}\n{s.get('heading', '')}\n{s.get('text', '')}"))
    return owners, docs


def _best_articles(owners: list[str], section_ids, depth: int) -> list[str]:
    out: dict[str, None] = {}
    for i in section_ids:
        out.setdefault(owners[int(i)], None)
        if len(out) >= depth:
            break
    return list(out)


def bm25s_anchor(owners: list[str], docs: list[list[str]]) -> Callable[[str], list[str]]:
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(docs, show_progress=False)
    vocab = retriever.vocab_dict
    n = len(docs)

    def run(query: str) -> list[str]:
        toks = [t for t in _tokens(query) if t in vocab]
        if not toks:
            return []
        ids, scores = retriever.retrieve([toks], k=min(n, DEPTH * 3), show_progress=False)
        return _best_articles(owners, [i for i, s in zip(ids[0], scores[0], strict=True) if s > 0], DEPTH)

    return run


def tantivy_anchor(owners: list[str], docs: list[list[str]]) -> Callable[[str], list[str]]:
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_text_field("body", stored=False, tokenizer_name="whitespace", index_option="freq")
    sb.add_integer_field("sec", stored=True)
    schema = sb.build()
    index = tantivy.Index(schema)
    writer = index.writer(heap_size=200_000_000, num_threads=1)
    for i, toks in enumerate(docs):
        writer.add_document(tantivy.Document(body=" ".join(toks), sec=i))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()

    def run(query: str) -> list[str]:
        toks = list(dict.fromkeys(_tokens(query)))
        if not toks:
            return []
        q = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", t)) for t in toks]
        )
        hits = searcher.search(q, DEPTH * 3).hits
        return _best_articles(owners, [searcher.doc(addr)["sec"][0] for _, addr in hits], DEPTH)

    return run


# --------------------------------------------------------------------------
# Tables

HEAD = (
    f"| system | subset | queries | MRR@{K} | Success@1 | Recall@{K} | nDCG@{K} | Recall@{DEPTH} | Section@1 "
    "| no results | p50 ms | p95 ms |"
)


def _row(system: str, group: str, n: int, vals: dict[str, float], sec, empty: int, p50: float, p95: float) -> str:
    s = "-" if sec is None else f"{sec:.3f}"
    return (
        f"| {system} | {group} | {n:,} | {vals['mrr']:.3f} | {vals['success_at_1']:.3f} | {vals['recall']:.3f} "
        f"| {vals['ndcg']:.3f} | {vals['recall_deep']:.3f} | {s} | {empty} | {p50:.1f} | {p95:.1f} |"
    )


def anchor_rows(system: str, questions: list[Question], run: Callable[[str], list[str]]) -> list[str]:
    rankings, lat = {}, {}
    for q in questions:
        t0 = time.perf_counter()
        rankings[q.qid] = run(q.query)
        lat[q.qid] = (time.perf_counter() - t0) * 1000
    scored = measure_rankings({q.qid: q.judgments for q in questions}, rankings, K, DEPTH)
    groups: dict[str, list[Question]] = {}
    for q in questions:
        groups.setdefault(group_of(q.qid), []).append(q)
    if len(groups) > 1:
        groups["all"] = questions
    rows = []
    for g, qs in groups.items():
        vals = {m: sum(scored[q.qid][m] for q in qs) / len(qs) for m in next(iter(scored.values()))}
        sec = None
        empty = sum(1 for q in qs if not rankings[q.qid])
        ms = [lat[q.qid] for q in qs]
        rows.append(_row(system, g, len(qs), vals, sec, empty, percentile(ms, 50), percentile(ms, 95)))
    return rows


def zhsearch_rows(questions: list[Question], index: Path, synonyms: Path | None = None) -> list[str]:
    report = evaluate(questions, index, k=K, depth=DEPTH, synonyms=synonyms)
    metrics = list(report.groups) if len(report.groups) > 1 else []
    rows = []
    for m in (*metrics, report.overall):
        vals = {
            "mrr": m.mrr,
            "success_at_1": m.success_at_1,
            "recall": m.recall,
            "ndcg": m.ndcg,
            "recall_deep": m.recall_deep,
        }
        group = m.group if metrics or m.group != "all" else group_of(questions[0].qid)
        rows.append(_row("zhsearch", group, m.queries, vals, m.section_at_1, m.no_results, m.p50_ms, m.p95_ms))
    return rows


def bench(name: str, corpus: Path, questions: list[Question], args) -> None:
    index = cached_index(name, corpus, args.jobs)
    t0 = time.perf_counter()
    rows = zhsearch_rows(questions, index, args.synonyms)
    print(f"{name}: zhsearch, {len(questions)} questions in {time.perf_counter() - t0:.1f} s")
    if not args.no_anchors:
        t0 = time.perf_counter()
        owners, docs = _sections(read_corpus(corpus))
        print(f"{name}: anchors tokenised {len(docs)} sections in {time.perf_counter() - t0:.1f} s")
        for system, make in (("bm25s + jieba search", bm25s_anchor), ("tantivy + jieba search", tantivy_anchor)):
            t0 = time.perf_counter()
            rows += anchor_rows(system, questions, make(owners, docs))
            print(f"{name}: {system} in {time.perf_counter() - t0:.1f} s")
    print(f"\n### {name} dev\n\n{HEAD}\n|{'---|' * 12}")
    print("\n".join(rows), "\n", flush=True)


def stard_corpus(data: Path) -> Path:
    """STARD's corpus as JSON lines in ``bench/out/`` (unpacked once)."""
    corpus = OUT / "stard" / "corpus.jsonl"
    if not corpus.exists():
        corpus.parent.mkdir(parents=True, exist_ok=True)
        with lzma.open(data / "stard" / "corpus.jsonl.xz", "rb") as src, open(corpus, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return corpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(default_data()), help="folder holding zhwiki-qa/ and stard/")
    ap.add_argument("--only", choices=("zhwiki", "stard"), default=None)
    ap.add_argument("--limit", type=int, default=0, help="only the first N questions of each set (quick checks)")
    ap.add_argument("--no-anchors", action="store_true", help="zhsearch only")
    ap.add_argument("--jobs", type=int, default=0, help="indexing processes (0: one per core)")
    ap.add_argument(
        "--synonyms", type=Path, default=None, help="a synonym file for zhsearch's queries (measure a thesaurus)"
    )
    ap.add_argument(
        "--prune-all",
        action="store_true",
        help="dynamic pruning on an index of any size (by default only from search.pruning.MIN_SECTIONS on)",
    )
    args = ap.parse_args()
    if args.prune_all:
        from zhsearch.search import pruning

        pruning.MIN_SECTIONS = 0
    data = Path(args.data)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "zhwiki"):
        qs = read_questions(data / "zhwiki-qa" / "queries-dev.jsonl")
        bench("zhwiki", data / "zhwiki-qa" / "corpus.jsonl", qs[: args.limit] if args.limit else qs, args)
    if args.only in (None, "stard"):
        corpus = stard_corpus(data)
        stard = data / "stard"
        qs = read_questions(stard / "queries-dev.jsonl", stard / "qrels-dev.txt")
        bench("stard", corpus, qs[: args.limit] if args.limit else qs, args)


if __name__ == "__main__":
    main()
