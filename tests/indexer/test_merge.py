"""Segment merging: the policy, merged index = fresh build, kill-safety."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from zhsearch.corpus.errors import ArticleNotFoundError
from zhsearch.indexer.build import build_index
from zhsearch.indexer.merge import MAX_MERGED_POSTINGS, SegmentSize, allowed_segments, choose_merges
from zhsearch.indexer.storage import open_index
from zhsearch.search.searcher import Searcher

REPO = Path(__file__).resolve().parents[2]
QUERIES = ("逾期", "征信", "信用卡 分期", "上门催收", "协商还款", "利息", '"个性化分期"', "琥珀蜂鸟", "翡翠蝾螈")


def segments(index_dir: Path) -> list[tuple[str, bool]]:
    """Each segment's id and whether it has deleted documents."""
    with open_index(index_dir).reader() as r:
        return [(leaf.segment().segment_id(), leaf.has_deletions()) for leaf, _ in r.leaf_readers()]


def results(index_dir: Path) -> dict:
    """Per query: the total, and each hit's article, section and score."""
    with Searcher(index_dir) as s:
        out = {}
        for q in QUERIES:
            r = s.search(q, limit=50, snippets=False)
            out[q] = (r.total, sorted((h.id, h.section.index, round(h.score, 4)) for h in r.hits))
        stats = s.stats()
        out["stats"] = (stats.articles, stats.sections, stats.terms)
    return out


def test_tiers_allow_few_segments_and_merges_reach_them() -> None:
    # 46 worker segments of 4M postings (a fresh build of 930 MB of laws).
    sizes = [SegmentSize(i, 4_000_000) for i in range(46)]
    merges = choose_merges(sizes)
    left = 46 - sum(len(g) - 1 for g in merges)
    assert left <= 14
    assert all(sum(s.postings for s in g) <= MAX_MERGED_POSTINGS for g in merges)
    assert len({s.segment for g in merges for s in g}) == sum(len(g) for g in merges)  # each merged once
    # Runs of adjacent segments: documents keep their order.
    assert all([s.segment for s in g] == list(range(g[0].segment, g[0].segment + len(g))) for g in merges)
    # Few segments need nothing; tiny ones all merge into one.
    assert choose_merges([SegmentSize(i, 4_000_000) for i in range(2)]) == []
    assert allowed_segments([10, 20, 30]) == 1
    assert [len(g) for g in choose_merges([SegmentSize(i, 100) for i in range(5)])] == [5]


def test_many_small_updates_beside_a_fresh_builds_segments_stay_few() -> None:
    # A fresh 4x build (two segments too big for an update to merge), then
    # 30 updates of about 3 files each: every update adds a small segment
    # and merges as the policy says.  A query visits every segment, so the
    # updated index must stay close to the fresh one's two.
    segments = [SegmentSize(0, 60_000_000), SegmentSize(1, 60_000_000)]
    for n in range(2, 32):
        segments.append(SegmentSize(n, 300_000))
        for group in choose_merges(segments):
            first = segments.index(group[0])
            segments[first : first + len(group)] = [SegmentSize(group[0].segment, sum(g.postings for g in group))]
        assert len(segments) <= 5, n
    assert segments[:2] == [SegmentSize(0, 60_000_000), SegmentSize(1, 60_000_000)]  # never rewritten


def test_updates_merge_into_an_index_equal_to_a_fresh_build(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(REPO / "corpus" / "articles", docs)
    index_dir = tmp_path / "index"
    build_index([docs], index_dir, jobs=1)
    files = sorted(p for p in docs.iterdir() if p.suffix == ".md")
    gone = sorted(p for p in docs.iterdir() if p.suffix == ".txt")
    for i in range(6):
        with files[i].open("a", encoding="utf-8") as f:
            f.write(f"\n\n## 追加{i}\n\n第{i}次更新写入翡翠蝾螈。\n")
        gone[i].unlink()
        (docs / f"new-{i}.txt").write_text(f"新文章{i}\n\n琥珀蜂鸟第{i}篇，协商还款。\n", encoding="utf-8")
        build_index([docs], index_dir, jobs=1)
        # Tiny segments all merge: never more than the one.
        assert len(segments(index_dir)) == 1
    ((_, deletions),) = segments(index_dir)
    assert not deletions, "deleted documents purged"
    build_index([docs], tmp_path / "fresh", jobs=1, rebuild=True)
    merged, fresh = results(index_dir), results(tmp_path / "fresh")
    assert merged == fresh
    assert merged["琥珀蜂鸟"][0] == 6 and merged["翡翠蝾螈"][0] == 6
    with Searcher(index_dir) as s:
        assert s.search('"第5次更新"', limit=1).hits[0].id == files[5].name
        for path in gone[:6]:
            with pytest.raises(ArticleNotFoundError):
                s.article(path.name)
    # Only the files of the committed segments and of the one before remain.
    ids = {seg for seg, _ in segments(index_dir)}
    stray = [p.name for p in index_dir.glob("*.zpost") if p.name.split(".")[0] not in ids]
    assert len(stray) <= 1


def test_merge_keeps_large_segments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zhsearch.indexer.build
    import zhsearch.indexer.merge

    docs = tmp_path / "docs"
    shutil.copytree(REPO / "corpus" / "articles", docs)
    # Small worker segments and floor; fresh builds left unmerged, so the
    # update that follows meets many segments.
    monkeypatch.setattr(zhsearch.indexer.build, "SEGMENT_POSTINGS", 2_000)
    monkeypatch.setattr(zhsearch.indexer.merge, "FLOOR_POSTINGS", 100)
    monkeypatch.setattr(zhsearch.indexer.merge, "SEGMENTS_PER_TIER", 2)
    monkeypatch.setattr(zhsearch.indexer.merge, "MERGE_AT_ONCE", 3)
    monkeypatch.setattr(zhsearch.indexer.merge, "FRESH_SEGMENTS", 1_000)
    build_index([docs], tmp_path / "index", jobs=1)
    build_index([docs], tmp_path / "unmerged", jobs=1)
    unmerged = len(segments(tmp_path / "unmerged"))
    (docs / "new.txt").write_text("新文章\n\n琥珀蜂鸟出现在这里。\n", encoding="utf-8")
    build_index([docs], tmp_path / "index", jobs=1)
    n = len(segments(tmp_path / "index"))
    assert 1 < n <= 8 < unmerged
    monkeypatch.setattr(zhsearch.indexer.merge, "MAX_MERGED_POSTINGS", 1)  # no merging at all
    build_index([docs], tmp_path / "unmerged", jobs=1)
    assert len(segments(tmp_path / "unmerged")) == unmerged + 1
    assert results(tmp_path / "index") == results(tmp_path / "unmerged")


@pytest.mark.parametrize("chunk", [None, 37])
def test_a_fresh_build_ends_with_few_segments_equal_to_unmerged_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int | None
) -> None:
    """A fresh build of any size is merged into at most ``FRESH_SEGMENTS``
    (here from dozens of worker segments, merged a run of ``chunk``
    postings at a time), and searches like its unmerged segments."""
    import zhsearch.indexer.build
    import zhsearch.indexer.merge

    docs = tmp_path / "docs"
    shutil.copytree(REPO / "corpus" / "articles", docs)
    monkeypatch.setattr(zhsearch.indexer.build, "SEGMENT_POSTINGS", 500)
    if chunk is not None:
        monkeypatch.setattr(zhsearch.indexer.merge, "CHUNK_POSTINGS", chunk)
    with monkeypatch.context() as m:
        m.setattr(zhsearch.indexer.merge, "FRESH_SEGMENTS", 1_000)
        build_index([docs], tmp_path / "unmerged", jobs=1)
    assert len(segments(tmp_path / "unmerged")) > 12
    build_index([docs], tmp_path / "index", jobs=2)
    assert len(segments(tmp_path / "index")) <= zhsearch.indexer.merge.FRESH_SEGMENTS
    assert results(tmp_path / "index") == results(tmp_path / "unmerged")
    # The words pinyin and spelling look-ups list are the same too.
    lexicons = []
    for name in ("index", "unmerged"):
        with open_index(tmp_path / name).reader() as r:
            lexicons.append(sorted(set(r.lexicon("body"))))
    assert lexicons[0] == lexicons[1] and len(lexicons[0]) > 1000


DRIVER = """
import os, signal, sys
import zhsearch.indexer.merge as _m
_real = _m.merge_postings
def _die(*a, **k):
    _real(*a, **k)  # the merged segment's files are written: die before the commit
    os.kill(os.getpid(), signal.SIGKILL)
_m.merge_postings = _die
if os.environ.get("SMALL_SEGMENTS"):
    import zhsearch.indexer.build as _b
    _b.SEGMENT_POSTINGS = 500  # many worker segments: a fresh build merges them
from zhsearch.search.cli import main
main(sys.argv[1:], prog_name="zhsearch")
"""


def _indexed_then_one_new_article(tmp_path: Path) -> tuple[Path, Path, dict, list[str]]:
    """The sample articles indexed, then a new article added to the folder:
    the folder, the index, its results and its files before the update."""
    docs = tmp_path / "docs"
    shutil.copytree(REPO / "corpus" / "articles", docs)
    index_dir = tmp_path / "index"
    build_index([docs], index_dir, jobs=1)
    before = results(index_dir)
    files_before = sorted(p.name for p in index_dir.iterdir())
    (docs / "new.txt").write_text("新文章\n\n琥珀蜂鸟出现在这里。\n", encoding="utf-8")
    return docs, index_dir, before, files_before


def test_a_kill_during_a_merge_leaves_the_previous_index(tmp_path: Path) -> None:
    docs, index_dir, before, files_before = _indexed_then_one_new_article(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "ZHSEARCH_DEBUG"}
    cmd = [sys.executable, "-c", DRIVER, "index", str(docs), "--index", str(index_dir), "--jobs", "1"]
    proc = subprocess.run(cmd, capture_output=True, env=env, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert results(index_dir) == before
    assert len(sorted(p.name for p in index_dir.iterdir())) > len(files_before), "the merge wrote files"
    build_index([docs], index_dir, jobs=1)
    after = results(index_dir)
    assert after["琥珀蜂鸟"][0] == 1 and after["stats"][0] == before["stats"][0] + 1
    assert len(segments(index_dir)) == 1
    # The killed merge's files are gone; the previous generation's stay one commit.
    build_index([docs], index_dir, jobs=1)
    ((seg, _),) = segments(index_dir)
    assert sorted(p.name for p in index_dir.glob("*.zpost")) == [f"{seg}.zpost"]


def test_a_kill_during_a_rebuilds_final_merge_leaves_the_previous_index(tmp_path: Path) -> None:
    docs, index_dir, before, files_before = _indexed_then_one_new_article(tmp_path)
    env = {**{k: v for k, v in os.environ.items() if k != "ZHSEARCH_DEBUG"}, "SMALL_SEGMENTS": "1"}
    cmd = [sys.executable, "-c", DRIVER, "index", str(docs), "--index", str(index_dir), "--rebuild", "--jobs", "1"]
    proc = subprocess.run(cmd, capture_output=True, env=env, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert sorted(p.name for p in index_dir.iterdir()) == files_before
    assert results(index_dir) == before
    assert list(tmp_path.glob(".index.new-*")), "the killed rebuild's merge had written its files"
    build_index([docs], index_dir, jobs=1, rebuild=True)
    assert results(index_dir)["琥珀蜂鸟"][0] == 1
    assert not list(tmp_path.glob(".index.new-*"))


def test_rebuild_into_an_existing_index_leaves_no_old_files(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(REPO / "corpus" / "articles", docs)
    index_dir = tmp_path / "index"
    build_index([docs], index_dir, jobs=1)
    size = sum(p.stat().st_size for p in index_dir.iterdir())
    build_index([docs], index_dir, jobs=1, rebuild=True)
    ids = {seg for seg, _ in segments(index_dir)}
    names = [p.name for p in index_dir.iterdir()]
    assert all(n.split(".")[0].lstrip("_") in ids for n in names if n.startswith("sections_") and "WRITELOCK" not in n)
    assert len([n for n in names if n.endswith(".toc")]) == 1
    assert sum(p.stat().st_size for p in index_dir.iterdir()) < 1.1 * size


@pytest.mark.parametrize("budget", [None, 1])
def test_parallel_merges_run_in_fresh_processes_and_equal_a_fresh_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: int | None
) -> None:
    """Merges with ``jobs`` > 1 run in new interpreters (not forks of a
    builder at its memory peak), at once unless together they would need
    more than ``MERGE_MEMORY``; what they write equals a fresh build."""
    import zhsearch.indexer.build as build
    import zhsearch.indexer.merge as merge

    docs = tmp_path / "docs"
    docs.mkdir()
    index_dir = tmp_path / "index"
    no_merges = lambda ix, segments, jobs=1, **_: [s for s in segments if s.doc_count()]  # noqa: E731
    monkeypatch.setattr(build, "merge_for_commit", no_merges)
    for i in range(12):  # twelve one-file updates: twelve tiny segments
        (docs / f"{i:02}.txt").write_text(f"文章{i}\n\n第{i}篇讲协商还款和逾期利息。\n", encoding="utf-8")
        build_index([docs], index_dir, jobs=1)
    assert len(segments(index_dir)) == 12
    monkeypatch.undo()
    started: list[list[str]] = []
    procs: list[subprocess.Popen] = []
    alongside: list[int] = []  # merges running when each one started
    real_popen = subprocess.Popen

    def popen(args, **kwargs):
        started.append(list(args))
        alongside.append(sum(p.poll() is None for p in procs))
        procs.append(real_popen(args, **kwargs))
        return procs[-1]

    monkeypatch.setattr(subprocess, "Popen", popen)
    if budget is not None:
        monkeypatch.setattr(merge, "MERGE_MEMORY", budget)
    (docs / "12.txt").write_text("文章12\n\n琥珀蜂鸟。\n", encoding="utf-8")
    build_index([docs], index_dir, jobs=2)
    # Two groups of six, merged at once, each in a new interpreter.
    assert len(started) == 2 and all("_merge_child" in " ".join(a) for a in started)
    if budget is not None:
        assert alongside == [0, 0]  # over the budget together: one after the other
    assert len(segments(index_dir)) <= 3
    build_index([docs], tmp_path / "fresh", jobs=1)
    assert results(index_dir) == results(tmp_path / "fresh")
