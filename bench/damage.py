"""Damage benchmark: every file of an index damaged four ways, every command run.

Builds an index of the bundled sample articles in a temporary directory,
records the answers to a set of queries (the articles' titles) and then, for
each file of the index and each kind of damage —

- ``truncate``: cut to half its length,
- ``zero``: 64 bytes in the middle set to zero,
- ``flip``: one byte in the middle inverted,
- ``delete``: removed,

restores a pristine copy, damages it and runs ``search`` (all queries),
``show``, ``stats`` and ``index --check`` through the library.  Each run is
counted as one of: *error* (a ``ZhsearchError`` naming the damage, with the
rebuild command), *same* (no error, the same answers as before: the damage
did not matter to it), *silently different* (no error, other answers) or
*internal* (any other exception: a bug).  ``--check`` counts as *error* when
it reports damage.

    python bench/damage.py [--queries N]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KINDS = ("truncate", "zero", "flip", "delete")


def damage(path: Path, kind: str) -> None:
    data = path.read_bytes()
    mid = len(data) // 2
    if kind == "truncate":
        path.write_bytes(data[:mid])
    elif kind == "zero":
        path.write_bytes(data[:mid] + b"\0" * min(64, len(data) - mid) + data[mid + 64 :])
    elif kind == "flip":
        if data:
            path.write_bytes(data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1 :])
    else:
        path.unlink()


def answers(index_dir: Path, queries: list[str]) -> list[tuple[str, ...]]:
    from zhsearch.search.searcher import Searcher

    with Searcher(index_dir) as s:
        return [tuple(f"{h.id}:{h.section.index}:{h.score:.4f}" for h in s.search(q, limit=10).hits) for q in queries]


def run(command: str, index_dir: Path, articles: Path, queries: list[str], before: dict) -> str:
    from zhsearch.corpus.errors import ZhsearchError
    from zhsearch.indexer.build import check_index
    from zhsearch.search.searcher import Searcher

    try:
        if command == "search":
            got: object = answers(index_dir, queries)
        elif command == "show":
            with Searcher(index_dir) as s:
                got = [s.article(a).sections for a in before["ids"]]
        elif command == "stats":
            with Searcher(index_dir) as s:
                st = s.stats()
                got = (st.articles, st.sections, st.terms)
        else:
            report = check_index([articles], index_dir)
            return "error" if report.damage else ("same" if report.ok else "silently different")
    except ZhsearchError as exc:
        return "error" if "--rebuild" in str(exc) or "damaged" in str(exc) else "error (no rebuild hint)"
    except Exception as exc:  # noqa: BLE001 - what the benchmark counts
        return f"internal ({type(exc).__name__})"
    return "same" if got == before[command] else "silently different"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--queries", type=int, default=20, help="queries per search run (default 20)")
    args = ap.parse_args()
    from zhsearch.indexer.build import build_index
    from zhsearch.search.searcher import Searcher

    articles = ROOT / "corpus" / "articles"
    work = Path(tempfile.mkdtemp(prefix="zhsearch-damage-"))
    started = time.perf_counter()
    try:
        pristine = work / "pristine"
        build_index([articles], pristine, jobs=1)
        with Searcher(pristine) as s:
            ids = list(s._current()[1].articles)
            titles = [s.article(a).title for a in ids]
        queries = titles[: args.queries]
        before: dict[str, Any] = {
            "ids": ids,
            "search": answers(pristine, queries),
            "show": None,
            "stats": None,
        }
        with Searcher(pristine) as s:
            before["show"] = [s.article(a).sections for a in ids]
            st = s.stats()
            before["stats"] = (st.articles, st.sections, st.terms)
        files = sorted(p.name for p in pristine.iterdir() if p.is_file())
        counts: dict[str, Counter] = {c: Counter() for c in ("search", "show", "stats", "check")}
        by_kind: dict[str, Counter] = {k: Counter() for k in KINDS}
        worst: list[str] = []
        unflagged: list[str] = []  # damage --check did not report
        index_dir = work / "index"
        for name in files:
            for kind in KINDS:
                for command in counts:
                    shutil.rmtree(index_dir, ignore_errors=True)
                    shutil.copytree(pristine, index_dir)
                    damage(index_dir / name, kind)
                    outcome = run(command, index_dir, articles, queries, before)
                    counts[command][outcome] += 1
                    by_kind[kind][outcome] += 1
                    if outcome.startswith(("internal", "silently")) and command != "check":
                        worst.append(f"{name} {kind} {command}: {outcome}")
                    if command == "check" and outcome != "error":
                        unflagged.append(f"{name} {kind}: {outcome}")
        total = sum(sum(c.values()) for c in counts.values())
        outcomes = sorted({o for c in counts.values() for o in c})
        print(
            f"Damage benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {len(files)} index files "
            f"× {len(KINDS)} kinds × 4 commands = {total} cases ({len(queries)} queries per search run), "
            f"{time.perf_counter() - started:.0f} s.\n"
        )
        print("| command | " + " | ".join(outcomes) + " |")
        print("|---|" + "---|" * len(outcomes))
        for command, c in counts.items():
            print(f"| {command} | " + " | ".join(str(c.get(o, 0)) for o in outcomes) + " |")
        for kind, c in by_kind.items():
            print(f"| *{kind}* | " + " | ".join(str(c.get(o, 0)) for o in outcomes) + " |")
        if worst:
            print("\nNot an error:")
            for line in worst:
                print(f"- {line}")
        if unflagged:
            print("\nDamage `--check` did not report (the index still answered the same):")
            for line in unflagged:
                print(f"- {line}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
