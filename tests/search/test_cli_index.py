"""`zhsearch index`: what the summary and --json list, exit codes, --check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from zhsearch.search.cli import main


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    (d / "a.txt").write_text("上门走访的时间\n\n逾期九十天以后才会上门走访。\n", encoding="utf-8")
    (d / "b.md").write_text("# 征信记录保留多久\n\n保留五年。\n", encoding="utf-8")
    return d


def test_every_skipped_file_is_listed_with_its_reason(docs: Path, tmp_path: Path):
    (docs / "empty.txt").write_bytes(b"")
    (docs / "photo.txt").write_bytes(b"\x89PNG\x00\x00")
    (docs / "loop.md").symlink_to(docs / "loop.md")
    (docs / "qa.jsonl").write_text('{"id": "q", "title": "t", "body": "x"}\n{oops\n', encoding="utf-8")
    index_dir = tmp_path / "index"
    result = run("index", str(docs), str(tmp_path / "nope"), "--index", str(index_dir))
    assert result.exit_code == 3
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Indexed 3 articles (3 sections) from 3 files into ")
    assert lines[1:] == [
        "Skipped 4 files:",
        f"  {tmp_path / 'nope'}: no such file or directory",
        f"  {docs / 'empty.txt'}: empty file: no title and no text",
        f"  {docs / 'loop.md'}: symbolic link loop",
        f"  {docs / 'photo.txt'}: binary file (contains NUL bytes)",
    ]
    assert result.stderr == (
        f"warning: {docs / 'qa.jsonl'}:2: malformed JSON (Expecting property name enclosed in double quotes); line skipped\n"
    )
    data = json.loads(run("index", str(docs), "--index", str(index_dir), "--json").stdout)
    assert [(Path(s["path"]).name, s["reason"]) for s in data["skipped"]] == [
        ("empty.txt", "empty file: no title and no text"),
        ("loop.md", "symbolic link loop"),
        ("photo.txt", "binary file (contains NUL bytes)"),
    ]
    # Skipped files are tried (and listed) again on every run; the warnings
    # of a file that was indexed are given once, when it is read.
    assert data["files_unchanged"] == 3 and data["warnings"] == []


def test_exit_codes(docs: Path, tmp_path: Path):
    index_dir = str(tmp_path / "index")
    assert run("index", str(docs), "--index", index_dir).exit_code == 0
    (docs / "empty.md").write_bytes(b"")
    assert run("index", str(docs), "--index", index_dir).exit_code == 3
    assert run("index", str(docs / "empty.md"), "--index", index_dir).exit_code == 2
    result = run("index", str(tmp_path / "nope"), str(tmp_path / "nope2"), "--index", index_dir)
    assert result.exit_code == 2
    assert result.stderr == (
        f"zhsearch: error: nothing to index: {tmp_path / 'nope'}: no such file or directory; "
        f"{tmp_path / 'nope2'}: no such file or directory\n"
    )


def test_refuses_to_replace_a_directory_that_is_not_an_index(docs: Path):
    result = run("index", str(docs), "--index", str(docs))
    assert result.exit_code == 2
    assert "exists and is not a zhsearch index" in result.stderr
    assert sorted(p.name for p in docs.iterdir()) == ["a.txt", "b.md"]


def test_check(docs: Path, tmp_path: Path):
    index_dir = str(tmp_path / "index")
    run("index", str(docs), "--index", index_dir)
    clean = run("index", str(docs), "--index", index_dir, "--check")
    assert clean.exit_code == 0
    assert clean.stdout == f"The index at {index_dir} matches the 2 files in PATHS.\n"
    (docs / "a.txt").write_text("改过了\n\n新内容。\n", encoding="utf-8")
    (docs / "b.md").unlink()
    (docs / "c.txt").write_text("新文章\n\n内容。\n", encoding="utf-8")
    (docs / "d.txt").write_bytes(b"\x00\x01")
    result = run("index", str(docs), "--index", index_dir, "--check")
    assert result.exit_code == 1
    assert result.stdout == (
        f"1 file not in the index:\n  {docs / 'c.txt'}\n"
        f"1 file changed since indexed:\n  {docs / 'a.txt'}\n"
        f"1 file indexed but no longer present:\n  {docs / 'b.md'}\n"
        f"1 file cannot be indexed:\n  {docs / 'd.txt'}: binary file (contains NUL bytes)\n"
        f"Run `zhsearch index` on the same PATHS to update {index_dir}.\n"
    )
    data = json.loads(run("index", str(docs), "--index", index_dir, "--check", "--json").stdout)
    assert data == {
        "type": "check",
        "index_dir": index_dir,
        "files": 3,
        "missing": [str(docs / "c.txt")],
        "changed": [str(docs / "a.txt")],
        "removed": [str(docs / "b.md")],
        "unindexable": [{"path": str(docs / "d.txt"), "reason": "binary file (contains NUL bytes)"}],
        "damage": [],
        "ok": False,
    }
    assert run("index", str(docs), "--index", index_dir).exit_code == 3
    assert run("index", str(docs), "--index", index_dir, "--check").exit_code == 0


def test_check_errors(docs: Path, tmp_path: Path):
    missing = run("index", str(docs), "--index", str(tmp_path / "none"), "--check")
    assert missing.exit_code == 2
    assert missing.stderr.startswith("zhsearch: error: no index at ")
    both = run("index", str(docs), "--index", str(tmp_path / "none"), "--check", "--rebuild")
    assert both.exit_code == 2
    assert "--check changes nothing; leave out --rebuild" in both.stderr
    assert not (tmp_path / "none").exists()
