"""Relevance evaluation: run a set of questions with known answers, score the ranking.

A queries file is JSON lines, one question a line::

    {"qid": "cmrc-12", "query": "网贷逾期多久会上门?", "doc": "article-id", "section": 3}

``section`` (the 0-based index of the answering section) is optional.  Each
query is run through the same :class:`~search.searcher.Searcher` users get,
and the report gives, overall and per group:

* **MRR@k** — mean of 1/rank of the right article within the top ``k``;
* **Success@1** — the right article is first;
* **Recall@k** — the right article is in the top ``k``;
* **Section@1** — the right article is first *and* shows the right section;
* latency percentiles of the searches.

Groups come from the qid: the text before its first ``-``, with ``-hans``
added when the qid ends in ``-hans`` (questions converted to Simplified).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from zhsearch.corpus.decoding import decode_bytes
from zhsearch.corpus.errors import ZhsearchError
from zhsearch.search.searcher import Searcher


@dataclass(frozen=True)
class Question:
    qid: str
    query: str
    doc: str
    section: int | None = None


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


@dataclass(frozen=True)
class EvalReport:
    k: int
    overall: Metrics
    groups: tuple[Metrics, ...]
    misses: tuple[tuple[str, str, str | None], ...] = ()  # (qid, expected doc, got doc)


def group_of(qid: str) -> str:
    """The group a question id belongs to (``cmrc``, ``drcd``, ``drcd-hans`` ...)."""
    prefix = qid.split("-", 1)[0] if "-" in qid else "all"
    return f"{prefix}-hans" if qid.endswith("-hans") else prefix


def read_questions(path: str | os.PathLike[str]) -> list[Question]:
    """Questions from a JSON-lines file; a bad line raises naming its number."""
    p = Path(path)
    try:
        text = decode_bytes(p.read_bytes(), str(p))
    except OSError as exc:
        raise ZhsearchError(f"cannot read queries file {p}: {exc.strerror or exc}") from None
    questions: list[Question] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            section = d.get("section")
            questions.append(
                Question(str(d["qid"]), str(d["query"]), str(d["doc"]), None if section is None else int(section))
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ZhsearchError(
                f'{p}:{lineno}: not a query line ({exc}); expected {{"qid", "query", "doc", "section"}}'
            ) from None
    if not questions:
        raise ZhsearchError(f"{p} holds no queries")
    return questions


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[idx]


def _metrics(group: str, rows: list[tuple[Question, int | None, bool | None, float]]) -> Metrics:
    n = len(rows)
    mrr = sum(1.0 / r for _, r, _, _ in rows if r) / n
    s1 = sum(1 for _, r, _, _ in rows if r == 1) / n
    rec = sum(1 for _, r, _, _ in rows if r) / n
    with_section = [ok for q, _, ok, _ in rows if q.section is not None]
    sec = sum(1 for ok in with_section if ok) / len(with_section) if with_section else None
    lat = [ms for *_, ms in rows]
    return Metrics(group, n, mrr, s1, rec, sec, _percentile(lat, 50), _percentile(lat, 95), _percentile(lat, 99))


def evaluate(
    queries: str | os.PathLike[str] | Iterable[Question],
    index_dir: str | os.PathLike[str] | None = None,
    k: int = 10,
    snippets: bool = True,
) -> EvalReport:
    """Run every question against the index and score the rankings."""
    questions = read_questions(queries) if isinstance(queries, (str, os.PathLike)) else list(queries)
    rows: list[tuple[Question, int | None, bool | None, float]] = []
    misses: list[tuple[str, str, str | None]] = []
    with Searcher(index_dir) as searcher:
        for q in questions:
            t0 = time.perf_counter()
            results = searcher.search(q.query, limit=k, snippets=snippets)
            ms = (time.perf_counter() - t0) * 1000
            rank = next((h.rank for h in results.hits if h.id == q.doc), None)
            top = results.hits[0] if results.hits else None
            section_ok = None
            if q.section is not None:
                section_ok = bool(top and top.id == q.doc and top.section.index == q.section)
            if rank != 1:
                misses.append((q.qid, q.doc, top.id if top else None))
            rows.append((q, rank, section_ok, ms))
    by_group: dict[str, list[tuple[Question, int | None, bool | None, float]]] = {}
    for row in rows:
        by_group.setdefault(group_of(row[0].qid), []).append(row)
    groups = tuple(_metrics(g, r) for g, r in sorted(by_group.items()))
    return EvalReport(k, _metrics("all", rows), groups, tuple(misses))


def format_table(report: EvalReport) -> str:
    """The report as a Markdown table."""
    head = f"| group | queries | MRR@{report.k} | Success@1 | Recall@{report.k} | Section@1 | p50 ms | p95 ms |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for m in (*report.groups, report.overall):
        sec = f"{m.section_at_1:.3f}" if m.section_at_1 is not None else "-"
        lines.append(
            f"| {m.group} | {m.queries:,} | {m.mrr:.3f} | {m.success_at_1:.3f} | {m.recall:.3f} | {sec} "
            f"| {m.p50_ms:.1f} | {m.p95_ms:.1f} |"
        )
    return "\n".join(lines)
