"""Relevance evaluation: run a set of questions with known answers, score the ranking.

A queries file is JSON lines, one question a line::

    {"qid": "cmrc-12", "query": "网贷逾期多久会上门?", "doc": "article-id", "section": 3}
    {"qid": "stard-7", "query": "醉驾会坐牢吗", "docs": ["law-1", "law-2"]}

``doc`` names the relevant article, ``docs`` every relevant article (when
both are given, ``doc`` is one of them); ``section`` (the 0-based index of
the section that answers, about ``doc``) is optional.  Judgments can also
come from a TREC qrels file (``qid 0 doc grade`` a line, grades > 0 are
relevant, higher is better): they replace the file's ``doc``/``docs`` for
the questions they name, and a queries line then needs no ``doc`` at all.

Each query is run through the same :class:`~search.searcher.Searcher` users
get, and the report gives, overall and per group:

* **MRR@k** — mean of 1/rank of the first relevant article within the top ``k``;
* **Success@1** — a relevant article is first;
* **Recall@k** and **Recall@100** — share of the relevant articles in the top ``k`` / 100;
* **nDCG@k** — graded: gain = grade, discounted by log2(rank + 1), against the ideal order;
* **Section@1** — the first result is ``doc`` *and* shows the right section;
* how many questions got no result at all, and latency percentiles of the
  searches (``k`` results, with snippets unless turned off).

The formulas are trec_eval's, computed by ``ir_measures`` (pytrec_eval)
rather than by hand here.  Groups come from the qid: the text before its
first ``-``, with ``-hans`` added when the qid ends in ``-hans`` (questions
converted to Simplified).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zhsearch.corpus.decoding import decode_bytes
from zhsearch.corpus.errors import ZhsearchError
from zhsearch.search.searcher import Searcher

# Recall is also measured this deep (the candidates a reranker would see).
DEPTH = 100


@dataclass(frozen=True)
class Question:
    """A question and its judged articles: ``doc`` (the first relevant
    one, for Section@1 and misses) and ``relevant``, ``(article, grade)``
    pairs; empty means ``doc`` alone, grade 1."""

    qid: str
    query: str
    doc: str
    section: int | None = None
    relevant: tuple[tuple[str, int], ...] = ()

    @property
    def judgments(self) -> dict[str, int]:
        """Relevant article id -> grade (> 0)."""
        return dict(self.relevant) if self.relevant else {self.doc: 1}


@dataclass(frozen=True)
class Metrics:
    """Scores of one group of questions."""

    group: str
    queries: int
    mrr: float
    success_at_1: float
    recall: float
    section_at_1: float | None
    p50_ms: float
    p95_ms: float
    p99_ms: float
    ndcg: float = 0.0
    recall_deep: float = 0.0
    no_results: int = 0


@dataclass(frozen=True)
class EvalReport:
    k: int
    overall: Metrics
    groups: tuple[Metrics, ...]
    misses: tuple[tuple[str, str, str | None], ...] = ()  # (qid, expected doc, got doc)
    depth: int = DEPTH


def group_of(qid: str) -> str:
    """The group a question id belongs to (``cmrc``, ``drcd``, ``drcd-hans`` ...)."""
    prefix = qid.split("-", 1)[0] if "-" in qid else "all"
    return f"{prefix}-hans" if qid.endswith("-hans") else prefix


def _read_text(p: Path, what: str) -> str:
    try:
        return decode_bytes(p.read_bytes(), str(p))
    except OSError as exc:
        raise ZhsearchError(f"cannot read {what} {p}: {exc.strerror or exc}") from None


def read_qrels(path: str | os.PathLike[str]) -> dict[str, dict[str, int]]:
    """TREC qrels (``qid iteration doc grade`` a line) as qid -> {doc: grade};
    grades of 0 or less (judged not relevant) are left out."""
    p = Path(path)
    qrels: dict[str, dict[str, int]] = {}
    for lineno, line in enumerate(_read_text(p, "qrels file").splitlines(), 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        try:
            if len(parts) != 4:
                raise ValueError(f"{len(parts)} fields")
            grade = int(parts[3])
        except ValueError as exc:
            raise ZhsearchError(f"{p}:{lineno}: not a qrels line ({exc}); expected 'qid 0 doc grade'") from None
        judged = qrels.setdefault(parts[0], {})
        if grade > 0:
            judged[parts[2]] = grade
    if not any(qrels.values()):
        raise ZhsearchError(f"{p} holds no relevant judgments (lines 'qid 0 doc grade' with grade > 0)")
    return qrels


def read_questions(
    path: str | os.PathLike[str], qrels: str | os.PathLike[str] | Mapping[str, Mapping[str, int]] | None = None
) -> list[Question]:
    """Questions from a JSON-lines file, judged by its ``doc``/``docs`` or
    by ``qrels`` (a qrels file or mapping); a bad line raises naming its
    number, a question nothing judges raises naming it."""
    p = Path(path)
    judged = read_qrels(qrels) if isinstance(qrels, (str, os.PathLike)) else qrels
    questions: list[Question] = []
    for lineno, line in enumerate(_read_text(p, "queries file").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            qid, query = str(d["qid"]), str(d["query"])
            section = d.get("section")
            docs = [str(x) for x in d.get("docs") or ()]
            first = d.get("doc")
            if first is not None and str(first) not in docs:
                docs.insert(0, str(first))
            grades = {doc: 1 for doc in docs}
            if judged is not None and qid in judged:
                grades = {str(doc): int(g) for doc, g in judged[qid].items() if int(g) > 0}
                ranked = [doc for doc in docs if doc in grades]
                docs = ranked + sorted((doc for doc in grades if doc not in ranked), key=lambda x: -grades[x])
            if not docs:
                where = (
                    "and the qrels file names none" if judged is not None else "(give 'doc', 'docs' or a qrels file)"
                )
                raise KeyError(f"no relevant article for {qid!r} {where}")
            relevant = tuple((doc, grades[doc]) for doc in docs)
            questions.append(Question(qid, query, docs[0], None if section is None else int(section), relevant))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ZhsearchError(
                f'{p}:{lineno}: not a query line ({exc}); expected {{"qid", "query", "doc" or "docs", "section"}}'
            ) from None
    if not questions:
        raise ZhsearchError(f"{p} holds no queries")
    return questions


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[idx]


def measure_rankings(
    judgments: Mapping[str, Mapping[str, int]], rankings: Mapping[str, Sequence[str]], k: int = 10, depth: int = DEPTH
) -> dict[str, dict[str, float]]:
    """Per question: ``mrr``, ``success_at_1``, ``recall`` (@k), ``ndcg`` (@k)
    and ``recall_deep`` (@depth) of ``rankings`` (qid -> article ids, best
    first) against ``judgments`` (qid -> {article: grade}); a question
    without a ranking scores 0."""
    import ir_measures
    from ir_measures import RR, R, Success, nDCG

    wanted = [(RR @ k, "mrr"), (Success @ 1, "success_at_1"), (R @ k, "recall"), (nDCG @ k, "ndcg")]
    wanted.append((R @ depth, "recall_deep"))
    names: dict[Any, list[str]] = {}
    for measure, name in wanted:  # R@k and R@depth are one measure when k == depth
        names.setdefault(measure, []).append(name)
    qrels = {q: {d: int(g) for d, g in docs.items()} for q, docs in judgments.items()}
    # trec_eval orders a run by score: give rank r the score -r.
    run = {q: {d: float(-r) for r, d in enumerate(dict.fromkeys(ids), 1)} for q, ids in rankings.items() if ids}
    out = {q: {name: 0.0 for _, name in wanted} for q in qrels}
    if run:
        for m in ir_measures.iter_calc(list(names), qrels, run):
            if m.query_id in out:
                for name in names[m.measure]:
                    out[m.query_id][name] = float(m.value)
    return out


def _metrics(group: str, rows: list[tuple[Question, dict[str, float], bool | None, float, bool]]) -> Metrics:
    n = len(rows)

    def mean(name: str) -> float:
        return sum(r[1][name] for r in rows) / n

    with_section = [ok for q, _, ok, _, _ in rows if q.section is not None]
    sec = sum(1 for ok in with_section if ok) / len(with_section) if with_section else None
    lat = [r[3] for r in rows]
    return Metrics(
        group,
        n,
        mean("mrr"),
        mean("success_at_1"),
        mean("recall"),
        sec,
        percentile(lat, 50),
        percentile(lat, 95),
        percentile(lat, 99),
        ndcg=mean("ndcg"),
        recall_deep=mean("recall_deep"),
        no_results=sum(1 for r in rows if r[4]),
    )


def evaluate(
    queries: str | os.PathLike[str] | Iterable[Question],
    index_dir: str | os.PathLike[str] | None = None,
    k: int = 10,
    snippets: bool = True,
    qrels: str | os.PathLike[str] | Mapping[str, Mapping[str, int]] | None = None,
    depth: int = DEPTH,
    synonyms: str | os.PathLike[str] | None = None,
    prior: bool | None = None,
) -> EvalReport:
    """Run every question against the index and score the rankings.

    Each question is searched as a user would (``k`` results, snippets),
    which is what the latency measures, and once more ``depth`` deep
    without snippets for Recall@depth.  ``synonyms`` is a synonym file used
    for every question, as ``search --synonyms`` would; ``prior`` the
    document-level prior, as in :meth:`Searcher.search` (None: on).
    """
    if isinstance(queries, (str, os.PathLike)):
        questions = read_questions(queries, qrels)
    else:
        questions = list(queries)
    rankings: dict[str, list[str]] = {}
    runs: list[tuple[Question, bool | None, float, bool]] = []
    misses: list[tuple[str, str, str | None]] = []
    with Searcher(index_dir, synonyms=synonyms) as searcher:
        for q in questions:
            t0 = time.perf_counter()
            results = searcher.search(q.query, limit=k, snippets=snippets, prior=prior)
            ms = (time.perf_counter() - t0) * 1000
            ids = [h.id for h in results.hits]
            if depth > k and results.total > k:
                ids = [h.id for h in searcher.search(q.query, limit=depth, snippets=False, prior=prior).hits]
            rankings[q.qid] = ids
            top = results.hits[0] if results.hits else None
            section_ok = None
            if q.section is not None:
                section_ok = bool(top and top.id == q.doc and top.section.index == q.section)
            if top is None or top.id not in q.judgments:
                misses.append((q.qid, q.doc, top.id if top else None))
            runs.append((q, section_ok, ms, not results.hits))
    scored = measure_rankings({q.qid: q.judgments for q in questions}, rankings, k, depth)
    rows = [(q, scored[q.qid], ok, ms, empty) for q, ok, ms, empty in runs]
    by_group: dict[str, list[tuple[Question, dict[str, float], bool | None, float, bool]]] = {}
    for row in rows:
        by_group.setdefault(group_of(row[0].qid), []).append(row)
    groups = tuple(_metrics(g, r) for g, r in sorted(by_group.items()))
    return EvalReport(k, _metrics("all", rows), groups, tuple(misses), depth)


def format_table(report: EvalReport, title: str = "group") -> str:
    """The report as a Markdown table."""
    k, d = report.k, report.depth
    head = (
        f"| {title} | queries | MRR@{k} | Success@1 | Recall@{k} | nDCG@{k} | Recall@{d} | Section@1 "
        "| no results | p50 ms | p95 ms |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in (*report.groups, report.overall):
        sec = f"{m.section_at_1:.3f}" if m.section_at_1 is not None else "-"
        lines.append(
            f"| {m.group} | {m.queries:,} | {m.mrr:.3f} | {m.success_at_1:.3f} | {m.recall:.3f} | {m.ndcg:.3f} "
            f"| {m.recall_deep:.3f} | {sec} | {m.no_results} | {m.p50_ms:.1f} | {m.p95_ms:.1f} |"
        )
    return "\n".join(lines)
