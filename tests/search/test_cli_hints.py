"""Library errors say what happened and carry the data; the CLI adds the
command to run.

A Python caller gets an error whose message names no command line (it did
not type one) and whose fields say which index, dictionary or process is
concerned; ``zhsearch`` prints the same message followed by the command
that fixes it (``search.cli.hint``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from zhsearch.corpus.errors import (
    DirectoryInUseError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    WorkerDiedError,
    ZhsearchError,
)
from zhsearch.indexer.build import build_index
from zhsearch.indexer.storage import META_FILE, WriteLock
from zhsearch.search.cli import hint, main
from zhsearch.search.searcher import Searcher

# What a CLI command line looks like inside a message.
CLI_TEXT = re.compile(r"zhsearch [a-z]+ [A-Z-]|`|(?<![\w-])--[a-z]")


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    (d / "a.txt").write_text("征信记录\n\n一、保留\n\n逾期记录保留五年。\n", encoding="utf-8")
    return d


@pytest.fixture
def index_dir(docs: Path, tmp_path: Path) -> Path:
    build_index([docs], tmp_path / "index")
    return tmp_path / "index"


def _old_format(meta: dict) -> dict:
    """An index's meta as format version 1 wrote it (no checksum yet)."""
    return {**{k: v for k, v in meta.items() if k != "checksum"}, "schema_version": 1}


def _raised(call, *args, **kwargs) -> ZhsearchError:
    with pytest.raises(ZhsearchError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_library_messages_name_no_command(docs: Path, index_dir: Path, tmp_path: Path):
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine", encoding="utf-8")
    other_dict = tmp_path / "dict.txt"
    other_dict.write_text("保留五年\n", encoding="utf-8")
    errors = [
        _raised(Searcher, tmp_path / "nothing"),
        _raised(Searcher, stranger),
        _raised(build_index, [docs], stranger),
        _raised(build_index, [docs], index_dir, user_dict=other_dict),
    ]
    with WriteLock(index_dir):
        errors.append(_raised(build_index, [docs], index_dir))
    meta = json.loads((index_dir / META_FILE).read_text(encoding="utf-8"))
    (index_dir / META_FILE).write_text(json.dumps(_old_format(meta)), encoding="utf-8")
    errors.append(_raised(Searcher, index_dir))
    kinds = [type(e) for e in errors]
    assert kinds == [
        IndexNotFoundError,
        IndexNotFoundError,
        DirectoryInUseError,
        IndexMismatchError,
        IndexLockedError,
        IndexMismatchError,
    ]
    for error in errors:
        assert not CLI_TEXT.search(str(error)), str(error)
        assert hint(error), type(error)
    missing, occupied, in_use, dictionary, locked, version = errors
    assert (missing.index_dir, missing.occupied) == (str(tmp_path / "nothing"), False)
    assert (occupied.index_dir, occupied.occupied) == (str(stranger), True)
    assert in_use.path == str(stranger)
    assert (dictionary.index_dir, dictionary.user_dict) == (str(index_dir), str(other_dict))
    assert locked.index_dir == str(index_dir) and locked.holder.isdigit()
    assert str(version) == f"index at {index_dir} has format version 1, this zhsearch uses {meta['schema_version']}"


def test_hints_are_the_commands_that_fix_it():
    assert (
        hint(IndexMismatchError("x", index_dir="/ix"))
        == "rebuild it with `zhsearch index PATH... --rebuild --index /ix`"
    )
    assert hint(IndexMismatchError("x", index_dir="/ix", user_dict="d.txt", shards=3)) == (
        "rebuild it with `zhsearch index PATH... --rebuild --user-dict d.txt --shards 3 --index /ix`"
    )
    assert hint(IndexNotFoundError("x", index_dir="/ix")) == "create one with `zhsearch index PATH --index /ix`"
    assert "NEW-DIR" in hint(IndexNotFoundError("x", index_dir="/ix", occupied=True))
    assert hint(IndexLockedError("x", holder="12")) == "retry when it finishes or use --wait"
    assert hint(DirectoryInUseError("x", path="/d")) == "give another --index directory"
    assert hint(WorkerDiedError("x", exit_codes=(9,))) == "run the command again, or with --jobs 1"
    assert hint(ZhsearchError("nothing to index")) == ""


def test_the_cli_prints_message_and_command_on_one_line(docs: Path, index_dir: Path, tmp_path: Path):
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine", encoding="utf-8")
    runner = CliRunner()
    missing = runner.invoke(main, ["search", "征信", "--index", str(tmp_path / "nothing")])
    assert missing.exit_code == 2
    assert missing.stderr == (
        f"zhsearch: error: no index at {tmp_path / 'nothing'}; "
        f"create one with `zhsearch index PATH --index {tmp_path / 'nothing'}`\n"
    )
    in_use = runner.invoke(main, ["index", str(docs), "--index", str(stranger)])
    assert in_use.exit_code == 2
    assert in_use.stderr.endswith(
        "is not a zhsearch index (zhsearch never replaces a directory it did not create); give another --index directory\n"
    )
    meta = json.loads((index_dir / META_FILE).read_text(encoding="utf-8"))
    (index_dir / META_FILE).write_text(json.dumps(_old_format(meta)), encoding="utf-8")
    old = runner.invoke(main, ["search", "征信", "--index", str(index_dir)])
    assert old.exit_code == 2
    assert old.stderr.strip().splitlines() == [
        f"zhsearch: error: index at {index_dir} has format version 1, this zhsearch uses {meta['schema_version']}; "
        f"rebuild it with `zhsearch index PATH... --rebuild --index {index_dir}`"
    ]
