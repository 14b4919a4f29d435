"""One writer, many readers, in separate processes.

A second writer is refused with the holder's pid (or waits with ``--wait``);
a lock whose holder was SIGKILLed blocks nobody, because the kernel drops an
``flock`` with its process; readers keep answering while an update or a
rebuild runs, and see the new articles once it has committed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from zhsearch.indexer.build import build_index
from zhsearch.search.cli import main
from zhsearch.search.searcher import Searcher

ARTICLE = "上门走访的时间\n\n一、什么时候会上门\n\n逾期九十天以后，才会安排外访人员上门走访。\n"


def make_docs(root: Path, extra: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "a.txt").write_text(ARTICLE, encoding="utf-8")
    filler = "借款人逾期以后应当主动联系平台，说明困难，协商个性化分期。" * 20
    for i in range(extra):
        (root / f"gen-{i:03d}.txt").write_text(
            f"生成文章{i}\n\n一、说明\n\n{filler}\n\n二、新文章标记\n\n新文章标记{i}。\n", encoding="utf-8"
        )
    return root


def python(code: str, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "ZHSEARCH_DEBUG"}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def zhsearch(*args: str, slow: bool = False) -> subprocess.Popen:
    """`zhsearch ARGS` in a child process; ``slow`` sleeps 50 ms before each
    file is read, so that readers get many rounds in while it runs."""
    patch = SLOW_READS if slow else ""
    return python(
        f"import sys, time\n{patch}\nfrom search.cli import main\nmain(sys.argv[1:], prog_name='zhsearch')", *args
    )


SLOW_READS = """
import zhsearch.indexer.build as _b
_read = _b.read_file
def _slow(*a, **k):
    time.sleep(0.05)
    return _read(*a, **k)
_b.read_file = _slow
"""


HOLD_LOCK = """
    import sys, time
    from pathlib import Path
    from zhsearch.indexer.storage import WriteLock
    with WriteLock(Path(sys.argv[1])):
        print("locked", flush=True)
        time.sleep(60)
"""


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    index_dir = tmp_path / "index"
    build_index([make_docs(tmp_path / "docs", extra=0)], index_dir)
    return index_dir


def hold_lock(index_dir: Path) -> subprocess.Popen:
    holder = python(HOLD_LOCK, str(index_dir))
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_second_writer_is_refused_then_waits_for_the_first(index_dir: Path, tmp_path: Path):
    docs = make_docs(tmp_path / "docs", extra=2)
    holder = hold_lock(index_dir)
    try:
        refused = CliRunner().invoke(main, ["index", str(docs), "--index", str(index_dir)])
        assert refused.exit_code == 2
        assert refused.stderr == (
            f"zhsearch: error: index is being updated by process {holder.pid}; retry when it finishes or use --wait\n"
        )
        waiter = zhsearch("index", str(docs), "--index", str(index_dir), "--wait")
        with pytest.raises(subprocess.TimeoutExpired):
            waiter.wait(timeout=1.0)  # still waiting for the lock
    finally:
        holder.send_signal(signal.SIGKILL)  # a killed holder releases the lock too
        holder.wait()
    out, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, err
    assert "Indexed 2 articles" in out
    with Searcher(index_dir) as s:
        assert s.stats().articles == 3


def test_lock_of_a_killed_writer_blocks_nobody(index_dir: Path, tmp_path: Path):
    holder = hold_lock(index_dir)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    lock_file = index_dir.parent / "index.lock"
    assert lock_file.read_text() == str(holder.pid)  # the stale file stays
    result = CliRunner().invoke(main, ["index", str(make_docs(tmp_path / "docs", 1)), "--index", str(index_dir)])
    assert result.exit_code == 0, result.output
    assert lock_file.read_text() == str(os.getpid())


# Searches in a loop, one fresh Searcher per query (like separate `zhsearch
# search` runs) and one kept open, until the open one sees `want` new
# articles; prints one JSON line per round, errors included.
READER = """
    import json, sys, time, traceback
    from zhsearch.search.searcher import Searcher
    index_dir, want = sys.argv[1], int(sys.argv[2])
    deadline = time.monotonic() + 60
    with Searcher(index_dir) as kept:
        kept.search("上门走访")  # warm up before saying so
        print("ready", flush=True)
        while time.monotonic() < deadline:
            row = {}
            try:
                with Searcher(index_dir) as fresh:
                    row["fresh_old"] = len(fresh.search("上门走访").hits)
                    row["fresh_new"] = fresh.search("新文章标记", limit=100).total
                row["kept_old"] = len(kept.search("上门走访").hits)
                row["kept_new"] = kept.search("新文章标记", limit=100).total
            except Exception:
                row["error"] = traceback.format_exc()
            print(json.dumps(row), flush=True)
            if row.get("kept_new") == want and row.get("fresh_new") == want:
                break
            time.sleep(0.01)
"""


@pytest.mark.parametrize("rebuild", [False, True], ids=["update", "rebuild"])
def test_readers_keep_answering_during_an_update(index_dir: Path, tmp_path: Path, rebuild: bool):
    docs = make_docs(tmp_path / "docs", extra=20)
    readers = [python(READER, str(index_dir), "20")]
    for reader in readers:
        assert reader.stdout.readline().strip() == "ready", reader.stderr.read()
    args = ("index", str(docs), "--index", str(index_dir), *(["--rebuild"] if rebuild else []))
    writer = zhsearch(*args, slow=True)
    _, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    for reader in readers:
        out, err = reader.communicate(timeout=60)
        rows = [json.loads(line) for line in out.splitlines()]
        assert not [r["error"] for r in rows if "error" in r]
        assert all(r["fresh_old"] == 1 and r["kept_old"] == 1 for r in rows)
        # Many rounds ran while the writer did (seeing none of the new
        # articles: never some of them), and the last one saw all of them.
        assert {r["kept_new"] for r in rows} <= {0, 20} and {r["fresh_new"] for r in rows} <= {0, 20}
        assert sum(r["kept_new"] == 0 for r in rows) >= 5, rows
        assert rows[-1]["kept_new"] == rows[-1]["fresh_new"] == 20
