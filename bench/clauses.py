"""Clause questions on ../shared/data/laws.tar.xz: is the top hit's section the clause?

The laws are Markdown with headings for 编/章/节 and one 条 per paragraph.
zhsearch reads each 第X条 as its own section (``corpus/clauses.py``); before
that, a section was a chapter.  This script indexes the laws both ways in
the same run (``clauses``: as shipped; ``chapters``: clause splitting
switched off) and asks two sets of questions:

* ``bench/clause-questions.jsonl`` — 36 questions written for this project,
  each naming the law (its title) and the clause that answers it;
* STARD dev (``stard/queries-dev.jsonl``): real questions labelled with the
  statute articles that answer them, mapped onto laws.tar.xz by law name and
  article number (STARD's ``title`` is "<law> 第X条").

Per set and index: **Section@1** — the top hit is a relevant law *and* its
section is a relevant clause (the clause label of the section's heading);
**Clause in top section** — the top hit's section contains a relevant
clause (so a chapter holding it counts); **Law@1**; **MRR@10** over
(law, clause) pairs.  Indexing time and MB/s of each build are printed too.

``--prior local=0.8,司法解释=0.9`` (repeatable) adds rows measuring a
document-level prior: the top 30 hits re-ordered by score × the factors of
their ``meta.level`` / ``meta.doc_kind`` (recorded by the readers from each
law's title, ``corpus.clauses.legal_meta``).  It is a measurement only:
zhsearch's ranking applies no such prior.

    python bench/clauses.py [--data DIR] [--keep DIR] [--jobs J] [--modes clauses,chapters] [--stard-limit N]
                            [--reuse] [--prior FACTORS]
"""

from __future__ import annotations

import argparse
import json
import lzma
import re
import shutil
import sys
import tarfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zhsearch.corpus import blocks, readers  # noqa: E402
from zhsearch.indexer.build import build_index  # noqa: E402
from zhsearch.search.searcher import Searcher  # noqa: E402

OUT = ROOT / "bench" / "out"
_LABEL = re.compile(r"^第[零〇一二三四五六七八九十百千两\d]+条(?:之[零〇一二三四五六七八九十百千两\d]+)?")


def default_data() -> Path:
    beside = ROOT.parent / "shared" / "data"
    return beside if beside.exists() else Path("/work/shared/data")


def unpack(data: Path, keep: Path | None) -> Path:
    target = (keep or OUT / "laws-unpacked").resolve()
    if not (target / "laws").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(data / "laws.tar.xz") as tar:
            tar.extractall(target, filter="data")
    return target / "laws"


@contextmanager
def clause_splitting(on: bool):
    """Clause splitting as shipped, or switched off (the chapters of before)."""
    saved = readers.has_clauses, blocks.has_clauses
    if not on:
        readers.has_clauses = blocks.has_clauses = lambda *a, **k: False  # type: ignore[assignment]
    try:
        yield
    finally:
        readers.has_clauses, blocks.has_clauses = saved


def label(heading: str) -> str | None:
    m = _LABEL.match(heading.strip())
    return m.group() if m else None


def own_questions() -> list[tuple[str, str, set[tuple[str, str]]]]:
    out = []
    with open(ROOT / "bench" / "clause-questions.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                q = json.loads(line)
                out.append((q["qid"], q["query"], {(q["law"], q["clause"])}))
    return out


def stard_questions(data: Path, limit: int) -> list[tuple[str, str, set[tuple[str, str]]]]:
    titles: dict[str, tuple[str, str]] = {}
    with lzma.open(data / "stard" / "corpus.jsonl.xz", "rt", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            law, _, number = d["title"].rpartition(" ")
            titles[d["id"]] = (law, number)
    out = []
    with open(data / "stard" / "queries-dev.jsonl", encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            relevant = {titles[d] for d in q.get("docs") or [q["doc"]] if d in titles}
            if relevant:
                out.append((q["qid"], q["query"], relevant))
    return out[:limit] if limit else out


def parse_prior(text: str) -> dict[str, float]:
    """``local=0.8,司法解释=0.9`` -> factors by ``meta.level`` / ``meta.doc_kind`` value."""
    factors = {}
    for part in filter(None, text.split(",")):
        key, _, value = part.partition("=")
        factors[key.strip()] = float(value)
    return factors


def reranked(hits: list, prior: dict[str, float] | None) -> list:
    """The hits re-ordered by score × the prior's factor for their document
    kind and level (the measurement of a document-level prior; zhsearch's
    ranking itself does not apply one)."""
    if not prior:
        return hits

    def factor(hit) -> float:
        f = 1.0
        for key in ("level", "doc_kind"):
            f *= prior.get(str(hit.meta.get(key)), 1.0)
        return f

    return sorted(hits, key=lambda h: -h.score * factor(h))


def evaluate(
    index: Path, questions: list[tuple[str, str, set[tuple[str, str]]]], prior: dict[str, float] | None = None
) -> dict[str, float]:
    section1 = contains1 = law1 = rr = 0.0
    with Searcher(index) as s:
        for _qid, query, relevant in questions:
            hits = s.search(query, limit=30 if prior else 10, snippets=False).hits
            hits = reranked(hits, prior)[:10]
            laws = {law for law, _ in relevant}
            for rank, hit in enumerate(hits, 1):
                if (hit.title, label(hit.section.heading) or "") in relevant:
                    rr += 1 / rank
                    break
            if not hits:
                continue
            top = hits[0]
            law1 += top.title in laws
            section1 += (top.title, label(top.section.heading) or "") in relevant
            if top.title in laws:
                section = next(x for x in s.article(top.id).sections if x.index == top.section.index)
                text = f"{section.heading}\n{section.text}"
                contains1 += any(
                    law == top.title and re.search(rf"(?:^|\n){clause}(?![零〇一二三四五六七八九十百千两\d之])", text)
                    for law, clause in relevant
                )
    n = len(questions) or 1
    return {"section@1": section1 / n, "contains@1": contains1 / n, "law@1": law1 / n, "mrr@10": rr / n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(default_data()))
    ap.add_argument("--keep", default=None, help="unpack laws.tar.xz here once and reuse it")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--modes", default="clauses,chapters")
    ap.add_argument("--stard-limit", type=int, default=0)
    ap.add_argument("--reuse", action="store_true", help="reuse indexes left in bench/out by an earlier run")
    ap.add_argument(
        "--prior",
        action="append",
        default=[],
        help="also measure a document-level prior on the top 30: factors by meta.level / meta.doc_kind, "
        "e.g. local=0.8,司法解释=0.9 (repeatable)",
    )
    args = ap.parse_args()
    data = Path(args.data)
    laws = unpack(data, Path(args.keep) if args.keep else None)
    size = sum(p.stat().st_size for p in laws.rglob("*.md"))
    sets = {"ours (36 clause questions)": own_questions(), "STARD dev, mapped": stard_questions(data, args.stard_limit)}
    rows = []
    builds = []
    for mode in args.modes.split(","):
        index = OUT / f"clauses-index-{mode}"
        if not (args.reuse and index.exists()):
            shutil.rmtree(index, ignore_errors=True)
            with clause_splitting(mode == "clauses"):
                t0 = time.perf_counter()
                report = build_index([laws], index, jobs=args.jobs)
                seconds = time.perf_counter() - t0
            builds.append((mode, report.articles, report.sections, seconds, size / 2**20 / seconds))
            print(f"{mode}: {report.articles} laws, {report.sections} sections in {seconds:.0f} s", file=sys.stderr)
        for name, questions in sets.items():
            m = evaluate(index, questions)
            rows.append((name, len(questions), mode, m))
            if mode == "clauses":
                for prior in args.prior:
                    rows.append(
                        (
                            name,
                            len(questions),
                            f"clauses, prior {prior}",
                            evaluate(index, questions, parse_prior(prior)),
                        )
                    )
    if builds:
        print(f"| index ({size / 2**20:.0f} MB of laws, --jobs {args.jobs}) | laws | sections | seconds | MB/s |")
        print("|---|---|---|---|---|")
        for mode, articles, sections, seconds, mbs in builds:
            print(f"| {mode} | {articles:,} | {sections:,} | {seconds:.0f} | {mbs:.2f} |")
        print()
    print("| questions | n | sections | Section@1 | clause in top section | Law@1 | MRR@10 (law+clause) |")
    print("|---|---|---|---|---|---|---|")
    for name, n, mode, m in rows:
        print(
            f"| {name} | {n} | {mode} | {m['section@1']:.3f} | {m['contains@1']:.3f} | {m['law@1']:.3f} | {m['mrr@10']:.3f} |"
        )


if __name__ == "__main__":
    main()
