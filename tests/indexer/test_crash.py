"""Crash safety: `zhsearch index` killed with SIGKILL at chosen moments.

Each test runs the real command in a child process and kills it: after a
delay while it reads and analyses files, at Whoosh's commit point (just
before and just after the new table of contents is renamed into place), and
during a ``--rebuild`` swap.  Afterwards the index must open and answer
exactly as before the update (or, killed after the commit point, exactly as
after it), and the next normal run must complete the update.

To make the timed kills land while files are still being processed on any
machine, the child sleeps 0.2 s before reading each file; everything else
(analysis, the Whoosh writer, the commit, the swap) is the real code.  The
slow-marked variant kills an unpatched run over a bigger collection at
moments spread over its whole length.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from zhsearch.indexer.build import build_index
from zhsearch.search.searcher import Searcher

BASE = {
    "a.txt": "上门走访的时间\n\n一、什么时候会上门\n\n逾期九十天以后，才会安排外访人员上门走访。\n",
    "b.md": "# 征信记录保留多久\n\n## 一、五年规则\n\n征信逾期记录自结清之日起保留五年。\n",
    "c.jsonl": '{"id": "qa-1", "title": "停息挂账", "body": "停息挂账是个性化分期的俗称。"}\n',
}
QUERIES = ("上门走访", "征信 五年", "停息挂账", "逾期", "唯一标记")

# Runs `zhsearch index ...` (argv after -c) with the patches in PATCH.
DRIVER = """
import os, signal, sys, time
{patch}
from zhsearch.search.cli import main
main(sys.argv[1:], prog_name="zhsearch")
"""
SLOW_READS = """
import zhsearch.indexer.build as _b
_read = _b.read_file
def _slow(*a, **k):
    time.sleep(0.2)
    return _read(*a, **k)
_b.read_file = _slow
"""
DIE = "os.kill(os.getpid(), signal.SIGKILL)"
DIE_BEFORE_COMMIT = f"""
from whoosh.filedb.filestore import FileStorage
_rename = FileStorage.rename_file
def _before(self, old, new, safe=False):
    if new.endswith(".toc"):
        {DIE}
    return _rename(self, old, new, safe)
FileStorage.rename_file = _before
"""
DIE_AFTER_COMMIT = f"""
from whoosh.filedb.filestore import FileStorage
_rename = FileStorage.rename_file
def _after(self, old, new, safe=False):
    _rename(self, old, new, safe)
    if new.endswith(".toc"):
        {DIE}
FileStorage.rename_file = _after
"""
# --rebuild: killed right after the atomic exchange, before the old index
# (now at .NAME.new-PID) is removed.
DIE_AFTER_EXCHANGE = f"""
import zhsearch.indexer.storage as _st
_exchange = _st._exchange
def _die_after(a, b):
    if _exchange(a, b):
        {DIE}
    return False
_st._exchange = _die_after
"""
# --rebuild where the exchange is unavailable: killed between the two
# renames, when there is no index at the usual path at all.
DIE_BETWEEN_RENAMES = f"""
import zhsearch.indexer.storage as _st
_st._exchange = lambda a, b: False
_rename = os.rename
def _rename_then_die(a, b, **kw):
    _rename(a, b, **kw)
    if ".old-" in str(b):
        {DIE}
os.rename = _rename_then_die
"""


def make_docs(root: Path, extra: int = 0) -> Path:
    """The base articles, plus ``extra`` generated ones marked 唯一标记N."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in BASE.items():
        (root / name).write_text(text, encoding="utf-8")
    filler = "借款人逾期以后应当主动联系平台，说明困难，协商个性化分期。" * 20
    for i in range(extra):
        (root / f"gen-{i:03d}.txt").write_text(
            f"生成文章{i}\n\n一、说明\n\n{filler}\n\n二、唯一标记{i}\n\n唯一标记{i}只在这一篇里。\n", encoding="utf-8"
        )
    return root


def answers(index_dir: Path) -> dict[str, list[tuple[str, int, str]]]:
    with Searcher(index_dir) as s:
        return {q: [(h.id, h.section.index, h.render()) for h in s.search(q, limit=1000).hits] for q in QUERIES}


def spawn(*args: str, patch: str = "") -> subprocess.Popen:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    env.pop("ZHSEARCH_DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER.format(patch=patch), "index", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def run_killed(*args: str, patch: str) -> None:
    """Run until the patch kills the child; make sure it was killed."""
    proc = spawn(*args, patch=patch)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err.decode()


def kill_after(delay: float, *args: str) -> None:
    proc = spawn(*args, patch=SLOW_READS)
    time.sleep(delay)
    assert proc.poll() is None, "the child finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def run_ok(*args: str) -> subprocess.CompletedProcess:
    proc = spawn(*args)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(), err.decode())


def leftovers(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.parent.iterdir() if p.name.startswith(f".{index_dir.name}."))


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, dict]:
    """An index of the base articles, a collection of 8 files (3 of them the
    base articles) to update it from, and the answers before the update."""
    index_dir = tmp_path / "index"
    build_index([make_docs(tmp_path / "base")], index_dir)
    before = answers(index_dir)
    assert before["上门走访"] and before["唯一标记"] == []
    return index_dir, make_docs(tmp_path / "new", extra=5), before


def assert_complete(index_dir: Path, before: dict, n: int = 5) -> None:
    after = answers(index_dir)
    assert {hit[0] for hit in after["唯一标记"]} == {f"gen-{i:03d}.txt" for i in range(n)}
    with Searcher(index_dir) as s:
        assert s.stats().articles == 3 + n
        assert [h.id for h in s.search(f'"唯一标记{n - 2}只在"').hits] == [f"gen-{n - 2:03d}.txt"]


def test_update_killed_while_indexing_leaves_the_previous_index(setup):
    index_dir, docs, before = setup
    for delay in (0.2, 0.5, 1.0):
        kill_after(delay, str(docs), "--index", str(index_dir))
        assert answers(index_dir) == before, f"killed after {delay} s"
    result = run_ok(str(docs), "--index", str(index_dir))
    assert "Indexed 8 articles" in result.stdout
    assert_complete(index_dir, before)
    assert leftovers(index_dir) == []


PARALLEL = (
    SLOW_READS
    + """
_b.PARALLEL_BYTES = 0
"""
)


def processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and text in (proc / "cmdline").read_bytes().decode("utf-8", "replace"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc to find worker processes")
def test_parallel_update_killed_leaves_the_previous_index_and_no_workers(setup):
    index_dir, docs, before = setup
    proc = spawn(str(docs), "--index", str(index_dir), "--jobs", "2", patch=PARALLEL)
    # Wait for the workers to start (slow on a loaded machine), then kill.
    deadline = time.monotonic() + 20
    while len(processes_mentioning(str(docs))) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the child finished before it could be killed"
    assert len(processes_mentioning(str(docs))) >= 2  # the main process and its workers
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert answers(index_dir) == before
    deadline = time.monotonic() + 10
    while processes_mentioning(str(docs)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_mentioning(str(docs)) == [], "workers outlived the killed main process"
    result = run_ok(str(docs), "--index", str(index_dir), "--jobs", "2")
    assert "Indexed 8 articles" in result.stdout
    assert_complete(index_dir, before)


def test_update_killed_at_the_commit_point(setup):
    index_dir, docs, before = setup
    run_killed(str(docs), "--index", str(index_dir), patch=DIE_BEFORE_COMMIT)
    assert answers(index_dir) == before
    # Killed just after the new table of contents is in place: the update
    # is committed and complete.
    run_killed(str(docs), "--index", str(index_dir), patch=DIE_AFTER_COMMIT)
    assert_complete(index_dir, before)
    # Nothing left for the next run to do.
    result = run_ok(str(docs), "--index", str(index_dir))
    assert "Indexed 0 articles" in result.stdout
    assert "8 files unchanged" in result.stdout


@pytest.mark.slow
def test_rebuild_killed_while_building_keeps_the_old_index(setup):
    index_dir, docs, before = setup
    kill_after(1.0, str(docs), "--index", str(index_dir), "--rebuild")
    assert answers(index_dir) == before
    assert [n for n in leftovers(index_dir) if ".new-" in n]  # the half-built one
    run_ok(str(docs), "--index", str(index_dir), "--rebuild")
    assert_complete(index_dir, before)
    assert leftovers(index_dir) == []


def test_rebuild_killed_after_the_exchange(setup):
    index_dir, docs, before = setup
    run_killed(str(docs), "--index", str(index_dir), "--rebuild", patch=DIE_AFTER_EXCHANGE)
    assert_complete(index_dir, before)
    assert [n for n in leftovers(index_dir) if ".new-" in n]  # holds the old index
    run_ok(str(docs), "--index", str(index_dir))
    assert leftovers(index_dir) == []


def test_rebuild_killed_between_two_renames_is_put_back(setup):
    index_dir, docs, before = setup
    run_killed(str(docs), "--index", str(index_dir), "--rebuild", patch=DIE_BETWEEN_RENAMES)
    assert not index_dir.exists()
    assert [n for n in leftovers(index_dir) if ".old-" in n]
    # The next reader puts the old index back.
    assert answers(index_dir) == before
    run_ok(str(docs), "--index", str(index_dir), "--rebuild")
    assert_complete(index_dir, before)
    assert leftovers(index_dir) == []


BIG = 200


@pytest.fixture(scope="module")
def big_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A collection of 203 files and how long an unpatched update takes to
    index it from scratch (startup, reading, commit)."""
    tmp = tmp_path_factory.mktemp("big")
    big = make_docs(tmp / "docs", extra=BIG)
    build_index([make_docs(tmp / "base")], tmp / "index")
    started = time.perf_counter()
    run_ok(str(big), "--index", str(tmp / "index"))
    return big, time.perf_counter() - started


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.4, 0.55, 0.7, 0.8, 0.9, 0.95, 0.98])
@pytest.mark.parametrize("rebuild", [False, True], ids=["update", "rebuild"])
def test_unpatched_run_killed_at_many_moments(setup, big_run, fraction: float, rebuild: bool):
    """Kills spread over a whole unpatched run of 203 files, commit and swap
    included: the index answers as before or as after, never otherwise."""
    index_dir, _, before = setup
    big, seconds = big_run
    args = (str(big), "--index", str(index_dir), *(["--rebuild"] if rebuild else []))
    proc = spawn(*args)
    time.sleep(fraction * seconds)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    if answers(index_dir) != before:  # it got past the commit point: then all of it is in
        assert_complete(index_dir, before, n=BIG)
    run_ok(*args)
    assert_complete(index_dir, before, n=BIG)
    assert leftovers(index_dir) == []
