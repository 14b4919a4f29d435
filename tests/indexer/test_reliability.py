"""Hostile and damaged index files: nothing runs code, damage is named."""

from __future__ import annotations

import io
import pickle
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from zhsearch.corpus.errors import IndexDamagedError, ZhsearchError
from zhsearch.indexer import safepickle
from zhsearch.indexer.build import build_index, check_index
from zhsearch.indexer.postings import SUFFIX, SegmentPostings
from zhsearch.search.cli import main
from zhsearch.search.searcher import Searcher

ARTICLE = "网贷逾期多久会上门\n\n作者：老周 2024-08-17 分类：网贷逾期\n\n一、上门走访\n\n逾期三个月以后，催收员可能上门走访，核实借款人的居住地址和联系方式。\n"
OTHER = "信用卡停息挂账\n\n二、怎么申请\n\n和银行协商停息挂账，需要提供收入证明和困难说明。\n"


@pytest.fixture()
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    (d / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (d / "b.txt").write_text(OTHER, encoding="utf-8")
    return d


@pytest.fixture()
def index_dir(docs: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    build_index([docs], target, jobs=1)
    return target


class _Marker:
    """Unpickling this would create a file: the proof code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _crafted_pickle(marker: Path) -> bytes:
    return pickle.dumps(_Marker(str(marker)), 2)


def _commands(index_dir: Path, docs: Path) -> list[list[str]]:
    return [
        ["search", "上门", "--index", str(index_dir)],
        ["show", "a.txt", "--index", str(index_dir)],
        ["stats", "--index", str(index_dir)],
        ["index", str(docs), "--check", "--index", str(index_dir)],
    ]


def test_every_schema_and_segment_global_is_allowed(index_dir: Path):
    """The allowlist admits what a real index pickles, and only classes."""
    seen: set[tuple[str, str]] = set()

    class Recording(pickle.Unpickler):
        def find_class(self, module, name):
            seen.add((module, name))
            return super().find_class(module, name)

    toc = max(index_dir.glob("_sections_*.toc"))
    data = toc.read_bytes()
    # The TOC holds two pickles: the schema (a length-prefixed string) and
    # the segment list (to the end); find each by its protocol header.
    starts = [i for i in range(len(data) - 1) if data[i] == 0x80 and data[i + 1] in (2, 4, 5)]
    for start in starts:
        try:
            Recording(io.BytesIO(data[start:])).load()
        except Exception:  # noqa: BLE001 - not a pickle start after all
            continue
    assert ("zhsearch.indexer.codec", "ZhCodec") in seen
    assert seen <= safepickle.ALLOWED
    for module, name in safepickle.ALLOWED:
        assert isinstance(getattr(__import__(module.replace("__builtin__", "builtins"), fromlist=[name]), name), type)


def test_a_crafted_table_of_contents_is_refused_and_runs_nothing(index_dir: Path, docs: Path, tmp_path: Path):
    toc = max(index_dir.glob("_sections_*.toc"))
    data = toc.read_bytes()
    marker = tmp_path / "pwned"
    # Replace the trailing segment-list pickle by one that would open a file.
    at = data.rindex(b"\x80\x02", 0, len(data) - 4)
    while True:
        try:
            pickle.loads(data[at:])
            break
        except Exception:  # noqa: BLE001
            at = data.rindex(b"\x80\x02", 0, at)
    toc.write_bytes(data[:at] + _crafted_pickle(marker))
    for args in _commands(index_dir, docs):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert "io.open" in result.output and "refused" in result.output, result.output
        assert "--rebuild" in result.output
        assert "internal error" not in result.output
    with pytest.raises(IndexDamagedError):
        Searcher(index_dir).search("上门")
    assert not marker.exists()


def test_a_crafted_stored_fields_blob_is_refused_and_runs_nothing(index_dir: Path, docs: Path, tmp_path: Path):
    marker = tmp_path / "pwned"
    column = next(index_dir.glob("*._stored*"))
    data = bytearray(column.read_bytes())
    # The stored values of the first section: replace them, same length, by
    # a compressed pickle (the old format) that would create the marker.
    evil = zlib.compress(_crafted_pickle(marker), 3)
    blob_at = data.find(b"\x78\x5e")  # zlib level-3 header: the first record
    assert blob_at >= 0
    data[blob_at : blob_at + len(evil)] = evil
    column.write_bytes(bytes(data))
    results = []
    for args in _commands(index_dir, docs)[:2]:
        result = CliRunner().invoke(main, args)
        results.append(result.exit_code)
        assert "internal error" not in result.output, result.output
    # The damage is named: the column's checksum no longer matches either.
    report = check_index([docs], index_dir)
    assert not report.ok and any("_stored" in d for d in report.damage)
    assert 2 in results
    assert not marker.exists()


def test_flipped_bytes_in_a_postings_block_are_detected(index_dir: Path, docs: Path):
    zpost = next(index_dir.glob(f"*{SUFFIX}"))
    store = SegmentPostings(zpost)
    info = store._fields["body"]
    first_block = store._data + info["postings_base"]
    store.close()
    data = bytearray(zpost.read_bytes())
    data[first_block + 3] ^= 0xFF
    zpost.write_bytes(bytes(data))
    with Searcher(index_dir) as s, pytest.raises(IndexDamagedError, match="checksum mismatch"):
        s.search("上门走访 停息挂账 逾期 银行")
    result = CliRunner().invoke(main, ["index", str(docs), "--check", "--index", str(index_dir)])
    assert result.exit_code == 1
    assert "damaged" in result.output and "--rebuild" in result.output


def test_flipped_bytes_in_a_memory_mapped_array_are_found_by_check(index_dir: Path, docs: Path):
    zpost = next(index_dir.glob(f"*{SUFFIX}"))
    store = SegmentPostings(zpost)
    lengths_at = store._data + store._fields["body"]["lengths"]["at"][0]
    store.close()
    data = bytearray(zpost.read_bytes())
    data[lengths_at] ^= 0x01
    zpost.write_bytes(bytes(data))
    report = check_index([docs], index_dir)
    assert not report.ok
    assert report.damage and "checksum mismatch" in report.damage[0]


def test_a_deleted_postings_file_is_damage_for_check_search_and_update(index_dir: Path, docs: Path):
    next(index_dir.glob(f"*{SUFFIX}")).unlink()
    result = CliRunner().invoke(main, ["index", str(docs), "--check", "--index", str(index_dir)])
    assert result.exit_code == 1, result.output
    assert "missing" in result.output
    assert "matches" not in result.output
    with pytest.raises(IndexDamagedError, match="missing"):
        build_index([docs], index_dir)
    result = CliRunner().invoke(main, ["search", "上门", "--index", str(index_dir)])
    assert result.exit_code == 2
    assert "missing" in result.output and f"--rebuild --index {index_dir}" in result.output
    build_index([docs], index_dir, rebuild=True)
    assert check_index([docs], index_dir).ok


def test_a_truncated_segment_file_is_named(index_dir: Path):
    column = next(index_dir.glob("*._stored*"))
    column.write_bytes(column.read_bytes()[:10])
    with pytest.raises(IndexDamagedError) as info:
        Searcher(index_dir).search("上门")
    assert column.name in str(info.value)


def test_a_deleted_newest_table_of_contents_says_an_older_commit_is_served(index_dir: Path, docs: Path):
    (docs / "c.txt").write_text("新的文章\n\n三、协商\n\n个性化分期的申请材料。\n", encoding="utf-8")
    build_index([docs], index_dir)
    newest = max(index_dir.glob("_sections_*.toc"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    newest.unlink()
    with Searcher(index_dir) as s:
        results = s.search("上门")
        assert any("serving the previous one" in n for n in results.notices)
    report = check_index([docs], index_dir)
    assert not report.ok and any("newest commit" in d for d in report.damage)


def test_damage_cases_end_as_zhsearch_errors(index_dir: Path, docs: Path, tmp_path: Path):
    """Every file of the index truncated, zeroed in the middle, or deleted:
    each command either works or fails with one ZhsearchError, never an
    internal error (a small version of bench/damage.py)."""
    import shutil

    pristine = tmp_path / "pristine"
    shutil.copytree(index_dir, pristine)
    names = sorted(p.name for p in pristine.iterdir() if p.is_file())
    outcomes = {"error": 0, "ok": 0}
    for name in names:
        for how in ("truncate", "zero", "delete"):
            shutil.rmtree(index_dir)
            shutil.copytree(pristine, index_dir)
            path = index_dir / name
            data = path.read_bytes()
            if how == "truncate":
                path.write_bytes(data[: len(data) // 2])
            elif how == "zero":
                mid = len(data) // 2
                path.write_bytes(data[:mid] + b"\0" * min(64, len(data) - mid) + data[mid + 64 :])
            else:
                path.unlink()
            for args in _commands(index_dir, docs)[:3]:
                result = CliRunner().invoke(main, args)
                assert "internal error" not in result.output, (name, how, args, result.output)
                assert result.exception is None or isinstance(result.exception, SystemExit), (name, how, args)
                outcomes["error" if result.exit_code == 2 else "ok"] += 1
    assert outcomes["error"] > 0


def test_old_format_indexes_ask_for_a_rebuild(index_dir: Path):
    import json

    meta = index_dir / "zhsearch.json"
    data = json.loads(meta.read_text())
    data["schema_version"] = 3
    meta.write_text(json.dumps(data))
    with pytest.raises(ZhsearchError, match="format version 3.*--rebuild"):
        Searcher(index_dir)


def test_stored_fields_are_data(index_dir: Path):
    import msgspec
    from zhsearch.indexer.codec import stored_column
    from zhsearch.indexer.storage import open_index

    with open_index(index_dir).reader() as reader:
        leaf = next(iter(reader.leaf_readers()))[0]
        raw = zlib.decompress(stored_column(leaf._perdoc)[0])
        assert not raw.startswith(b"\x80")  # not a pickle
        record = msgspec.msgpack.decode(raw)
        assert record["article"] in ("a.txt", "b.txt")
        assert reader.stored_fields(0) == record
