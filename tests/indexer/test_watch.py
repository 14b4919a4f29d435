"""`remove` and `index --watch`: the index follows the files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from zhsearch.corpus.errors import IndexNotFoundError
from zhsearch.indexer.build import build_index, remove
from zhsearch.indexer.watch import watch
from zhsearch.search.cli import main
from zhsearch.search.searcher import Searcher

REPO = Path(__file__).resolve().parents[2]


def ids(index_dir: Path, query: str) -> set[str]:
    with Searcher(index_dir) as s:
        return {h.id for h in s.search(query, limit=100).hits}


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    (d / "old").mkdir(parents=True)
    (d / "keep.txt").write_text("保留的文章\n\n网贷逾期以后先沟通。\n", encoding="utf-8")
    (d / "old" / "a.txt").write_text("旧文章甲\n\n网贷逾期的旧说法。\n", encoding="utf-8")
    (d / "old" / "b.md").write_text("# 旧文章乙\n\n网贷逾期的另一种旧说法。\n", encoding="utf-8")
    return d


def test_remove_a_folder_and_a_file(docs: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    build_index([docs], index_dir)
    assert ids(index_dir, "网贷逾期") == {"keep.txt", "old/a.txt", "old/b.md"}
    report = remove([docs / "old"], index_dir)
    assert (report.files_removed, report.articles) == (2, 2)
    assert report.files == (str(docs / "old" / "a.txt"), str(docs / "old" / "b.md"))
    assert ids(index_dir, "网贷逾期") == {"keep.txt"}
    assert (docs / "old" / "a.txt").exists()  # the files are not touched
    assert remove([docs / "old"], index_dir).files_removed == 0
    # The files are still there: the next index of the folder brings them back.
    build_index([docs], index_dir)
    assert ids(index_dir, "网贷逾期") == {"keep.txt", "old/a.txt", "old/b.md"}
    (docs / "keep.txt").unlink()  # gone from disk: removable by name all the same
    assert remove([docs / "keep.txt"], index_dir).files_removed == 1
    assert ids(index_dir, "网贷逾期") == {"old/a.txt", "old/b.md"}
    with pytest.raises(IndexNotFoundError):
        remove([docs], tmp_path / "none")


def test_cli_remove(docs: Path, tmp_path: Path):
    index_dir = str(tmp_path / "index")
    build_index([docs], index_dir)
    result = CliRunner().invoke(main, ["remove", str(docs / "old"), "--index", index_dir])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Removed 2 articles of 2 files from {index_dir}.\n"
    again = CliRunner().invoke(main, ["remove", str(docs / "old"), "--index", index_dir])
    assert again.exit_code == 1
    assert again.stdout == f"Nothing in {index_dir} was read from {docs / 'old'}.\n"


def wait_until(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_watch_follows_edits_new_files_deletions_and_half_written_files(docs: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    stop = threading.Event()
    reports, errors = [], []
    thread = threading.Thread(
        target=watch,
        args=([docs], index_dir),
        kwargs={
            "on_report": reports.append,
            "on_error": errors.append,
            "stop_event": stop,
            "debounce_ms": 800,
            "step_ms": 100,
        },
        daemon=True,
    )
    thread.start()
    try:
        assert wait_until(lambda: len(reports) >= 1), "the first run did not finish"
        assert reports[0].articles == 3
        time.sleep(0.3)  # let the watcher start
        (docs / "new.txt").write_text("新文章\n\n独一无二的独角兽。\n", encoding="utf-8")
        assert wait_until(lambda: ids(index_dir, "独角兽") == {"new.txt"}), reports
        (docs / "keep.txt").write_text("保留的文章\n\n改写后的长颈鹿。\n", encoding="utf-8")
        assert wait_until(lambda: ids(index_dir, "长颈鹿") == {"keep.txt"})
        (docs / "old" / "a.txt").unlink()
        assert wait_until(lambda: "old/a.txt" not in ids(index_dir, "网贷逾期"))
        # Half-written: a truncated UTF-8 character first, the rest a moment later.
        data = "半截文章\n\n写完以后才有企鹅。\n".encode()
        with open(docs / "half.txt", "wb") as f:
            f.write(data[:10])
            f.flush()
            time.sleep(0.5)
            f.write(data[10:])
        assert wait_until(lambda: ids(index_dir, "企鹅") == {"half.txt"})
        assert errors == []
        commits = len(reports)
        assert 5 <= commits <= 9, [r.files_indexed for r in reports]  # one per batch, not per event
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_index_watch_stops_cleanly_on_ctrl_c(docs: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    proc = subprocess.Popen(
        [sys.executable, "-m", "zhsearch", "index", str(docs), "--index", str(index_dir), "--watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # Ctrl-C as on a terminal: a test run started in the background
        # (``cmd &``) ignores SIGINT, and its children would inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()
        assert first.startswith("Indexed 3 articles"), first
        time.sleep(0.5)
        (docs / "new.txt").write_text("新文章\n\n标记词丁。\n", encoding="utf-8")
        second = proc.stdout.readline().decode()
        assert second.startswith("Indexed 1 article "), second
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert err.decode().splitlines() == [f"Watching {docs}; Ctrl-C stops.", "Stopped watching."]
    assert ids(index_dir, "标记词丁") == {"new.txt"}


def test_watch_ignores_the_index_inside_the_watched_folder(docs: Path):
    index_dir = docs / "index"  # the index's own writes must not trigger runs
    stop = threading.Event()
    reports: list = []
    thread = threading.Thread(
        target=watch,
        args=([docs], index_dir),
        kwargs={"on_report": reports.append, "stop_event": stop, "debounce_ms": 400, "step_ms": 100},
        daemon=True,
    )
    thread.start()
    try:
        assert wait_until(lambda: len(reports) >= 1)
        time.sleep(2.0)
        assert len(reports) == 1 and reports[0].articles == 3
        (docs / "more.txt").write_text("再一篇\n\n斑马。\n", encoding="utf-8")
        assert wait_until(lambda: len(reports) >= 2)
        time.sleep(1.5)
        assert len(reports) == 2
    finally:
        stop.set()
        thread.join(timeout=10)
    assert ids(index_dir, "斑马") == {"more.txt"}
