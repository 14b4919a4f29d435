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

zhsearch applies a document-level prior (``search.authority``: local
regulations and judicial interpretations scaled down unless the question
names their place or kind); every set is measured with it off and on.
``--grid`` chooses its factors honestly: the STARD questions are split into
two fixed halves by a hash of their id, each (local, 司法解释) pair of a
small grid is measured on half A, and the best on A (by MRR@10, then
Section@1) is reported on half B and on our 36 questions, which took no
part in choosing.  ``--prior local=0.5,司法解释=0.8`` (repeatable) adds
rows for given factors.

    python bench/clauses.py [--data DIR] [--keep DIR] [--jobs J] [--modes clauses,chapters] [--stard-limit N]
                            [--reuse] [--prior FACTORS] [--grid] [--out DIR]
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
import zlib
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zhsearch.corpus import blocks, readers  # noqa: E402
from zhsearch.indexer.build import build_index  # noqa: E402
from zhsearch.search.authority import Prior  # noqa: E402
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


def parse_prior(text: str) -> Prior:
    """``local=0.8,司法解释=0.9`` -> the engine's prior with those factors."""
    factors = {"local": 1.0, "司法解释": 1.0}
    for part in filter(None, text.split(",")):
        key, _, value = part.partition("=")
        factors[key.strip()] = float(value)
    return Prior(local=factors["local"], judicial=factors["司法解释"])


def half(qid: str) -> str:
    """The fixed half (``A`` or ``B``) a STARD question belongs to."""
    return "AB"[zlib.crc32(qid.encode("utf-8")) % 2]


GRID_LOCAL = (1.0, 0.8, 0.65, 0.5, 0.35)
GRID_JUDICIAL = (1.0, 0.9, 0.8, 0.65, 0.5)


def evaluate(
    index: Path, questions: list[tuple[str, str, set[tuple[str, str]]]], prior: Prior | bool = False
) -> dict[str, float]:
    section1 = contains1 = law1 = rr = 0.0
    with Searcher(index) as s:
        for _qid, query, relevant in questions:
            hits = s.search(query, limit=10, snippets=False, prior=prior).hits
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
    ap.add_argument("--out", default=str(OUT), help="where the indexes go (default bench/out)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--modes", default="clauses,chapters")
    ap.add_argument("--stard-limit", type=int, default=0)
    ap.add_argument("--reuse", action="store_true", help="reuse indexes left in --out by an earlier run")
    ap.add_argument(
        "--prior",
        action="append",
        default=[],
        help="also measure the engine's document-level prior with these factors, "
        "e.g. local=0.8,司法解释=0.9 (repeatable)",
    )
    ap.add_argument(
        "--grid",
        action="store_true",
        help="choose the prior's factors on STARD half A from a small grid, report them on half B and ours",
    )
    args = ap.parse_args()
    data = Path(args.data)
    out = Path(args.out)
    laws = unpack(data, Path(args.keep) if args.keep else None)
    size = sum(p.stat().st_size for p in laws.rglob("*.md"))
    stard = stard_questions(data, args.stard_limit)
    sets = {
        "ours (36 clause questions)": own_questions(),
        "STARD dev, mapped": stard,
        "STARD half A (chooses)": [q for q in stard if half(q[0]) == "A"],
        "STARD half B (held out)": [q for q in stard if half(q[0]) == "B"],
    }
    rows = []
    builds = []
    grid_rows = []
    for mode in args.modes.split(","):
        index = out / f"clauses-index-{mode}"
        if not (args.reuse and index.exists()):
            shutil.rmtree(index, ignore_errors=True)
            with clause_splitting(mode == "clauses"):
                t0 = time.perf_counter()
                report = build_index([laws], index, jobs=args.jobs)
                seconds = time.perf_counter() - t0
            builds.append((mode, report.articles, report.sections, seconds, size / 2**20 / seconds))
            print(f"{mode}: {report.articles} laws, {report.sections} sections in {seconds:.0f} s", file=sys.stderr)
        priors: list[tuple[str, Prior | bool]] = [("prior off", False)]
        if mode == "clauses":
            default = Prior()
            priors.append((f"prior as shipped (local × {default.local}, 司法解释 × {default.judicial})", default))
            if args.grid:
                best = None
                for local in GRID_LOCAL:
                    for judicial in GRID_JUDICIAL:
                        prior = Prior(local=local, judicial=judicial)
                        m = evaluate(index, sets["STARD half A (chooses)"], prior)
                        grid_rows.append((local, judicial, m))
                        key = (round(m["mrr@10"], 6), round(m["section@1"], 6))
                        if best is None or key > best[0]:
                            best = (key, prior)
                        print(f"grid local={local} 司法解释={judicial}: {m}", file=sys.stderr)
                assert best is not None
                chosen = best[1]
                priors.append(
                    (f"prior chosen on half A (local × {chosen.local}, 司法解释 × {chosen.judicial})", chosen)
                )
            priors += [(f"prior {text}", parse_prior(text)) for text in args.prior]
        for name, questions in sets.items():
            for label_, prior in priors:
                m = evaluate(index, questions, prior)
                rows.append((name, len(questions), mode if prior is False else f"{mode}, {label_}", m))
    if builds:
        print(f"| index ({size / 2**20:.0f} MB of laws, --jobs {args.jobs}) | laws | sections | seconds | MB/s |")
        print("|---|---|---|---|---|")
        for mode, articles, sections, seconds, mbs in builds:
            print(f"| {mode} | {articles:,} | {sections:,} | {seconds:.0f} | {mbs:.2f} |")
        print()
    if grid_rows:
        print("| STARD half A: local × | 司法解释 × | Section@1 | Law@1 | MRR@10 |")
        print("|---|---|---|---|---|")
        for local, judicial, m in grid_rows:
            print(f"| {local} | {judicial} | {m['section@1']:.3f} | {m['law@1']:.3f} | {m['mrr@10']:.3f} |")
        print()
    print("| questions | n | sections | Section@1 | clause in top section | Law@1 | MRR@10 (law+clause) |")
    print("|---|---|---|---|---|---|---|")
    for name, n, mode, m in rows:
        print(
            f"| {name} | {n} | {mode} | {m['section@1']:.3f} | {m['contains@1']:.3f} | {m['law@1']:.3f} | {m['mrr@10']:.3f} |"
        )


if __name__ == "__main__":
    main()
