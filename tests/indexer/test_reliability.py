"""Hostile and damaged index files: nothing runs code, damage is named."""

from __future__ import annotations

import errno
import io
import os
import pickle
import stat
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from zhsearch.corpus.errors import DiskWriteError, IndexDamagedError, ZhsearchError
from zhsearch.indexer import safepickle
from zhsearch.indexer.build import build_index, check_index
from zhsearch.indexer.postings import SUFFIX, SegmentPostings
from zhsearch.search.cli import hint, main
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


def _replace_toc_schema(toc: Path, pickled: bytes) -> None:
    """Put ``pickled`` where the table of contents keeps the schema."""
    from whoosh.filedb.structfile import StructFile
    from whoosh.util.varints import varint

    data = toc.read_bytes()
    f = StructFile(io.BytesIO(data))
    for read in (f.read_varint,) * 3 + (f.read_int,) * 2 + (f.read_varint,) * 3:
        read()
    start = f.tell()
    f.read_string()
    toc.write_bytes(data[:start] + varint(len(pickled)) + pickled + data[f.tell() :])


def test_a_crafted_schema_in_the_table_of_contents_is_refused(index_dir: Path, docs: Path, tmp_path: Path):
    """The schema is the pickle Whoosh reads first, on every open."""
    marker = tmp_path / "pwned"
    _replace_toc_schema(max(index_dir.glob("_sections_*.toc")), _crafted_pickle(marker))
    for args in _commands(index_dir, docs):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert "io.open" in result.output and "refused" in result.output, result.output
    with pytest.raises(IndexDamagedError):
        Searcher(index_dir).search("上门")
    assert not marker.exists()


def test_crafted_pickles_in_segment_files_are_refused(tmp_path: Path):
    """Block data and inlined postings in Whoosh's segment files are
    unpickled restricted too, when the segment is zhsearch's (ZhCodec)."""
    from whoosh.codec.whoosh3 import W3TermInfo
    from zhsearch.indexer.codec import ZhCodec

    marker = tmp_path / "pwned"
    info = W3TermInfo()
    info._inlined = ((1,), (1.0,), ())  # what an ID field inlines
    good = info.to_bytes()
    assert safepickle.terminfo_from_bytes(good).inlined_postings() == info._inlined
    evil = good[: W3TermInfo._struct.size] + _crafted_pickle(marker)
    with pytest.raises(safepickle.UnsafePickleError):
        safepickle.terminfo_from_bytes(evil)

    block = _crafted_pickle(marker)

    class File:
        def get(self, at: int, n: int) -> bytes:
            return block[at : at + n]

    class Block:  # what a W3 leaf matcher knows of its current block
        _dataoffset, _nextoffset, _compression, _postfile = 0, len(block), 0, File()

    with pytest.raises(safepickle.UnsafePickleError):
        safepickle._read_block_data(Block())
    codec = ZhCodec()
    assert codec.postings_reader.__func__ is not ZhCodec.__mro__[1].postings_reader  # type: ignore[attr-defined]
    assert not marker.exists()


def test_a_plain_whoosh_index_opens_beside_zhsearch(index_dir: Path, tmp_path: Path):
    """The allowlist is zhsearch's: a plain Whoosh index in the same process
    (a schema and stored values the allowlist would refuse) opens and reads
    as without zhsearch, after zhsearch has searched its own index."""
    import datetime

    import whoosh.index
    from whoosh.analysis import StemmingAnalyzer
    from whoosh.fields import DATETIME, KEYWORD, NUMERIC, TEXT, Schema
    from whoosh.qparser import QueryParser

    assert Searcher(index_dir).search("上门").hits
    plain = tmp_path / "plain"
    plain.mkdir()
    schema = Schema(
        body=TEXT(analyzer=StemmingAnalyzer(), stored=True),
        tags=KEYWORD(stored=True),
        n=NUMERIC(stored=True),
        when=DATETIME(stored=True),
    )
    when = datetime.datetime(2024, 8, 17, 9, 30)
    ix = whoosh.index.create_in(str(plain), schema)
    with ix.writer() as w:
        for i in range(40):  # enough postings for a block, beside inlined ones
            w.add_document(body=f"running dogs {i}", tags="a b", n=i, when=when)
    ix = whoosh.index.open_dir(str(plain))
    with ix.searcher() as s:
        hits = s.search(QueryParser("body", ix.schema).parse("dog"), limit=None)
        assert len(hits) == 40
        assert hits[0]["when"] == when and isinstance(hits[0]["n"], int)
    # And zhsearch still refuses what it refused.
    assert Searcher(index_dir).search("上门").hits


def test_a_crafted_stored_fields_blob_is_refused_and_runs_nothing(index_dir: Path, docs: Path, tmp_path: Path):
    marker = tmp_path / "pwned"
    column = next(index_dir.glob("*._stored*"))
    data = bytearray(column.read_bytes())
    # The stored values of the first section: replace them, same length, by
    # a compressed pickle (the old format) that would create the marker.
    evil = zlib.compress(_crafted_pickle(marker), 3)
    # A block of sections: its marker byte, then a zlib level-6 header.
    blob_at = data.find(b"\x01\x78\x9c")
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
            for args in _commands(index_dir, docs):
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
    del data["checksum"]  # which version 3 did not write
    meta.write_text(json.dumps(data))
    with pytest.raises(ZhsearchError, match="format version 3") as refused:
        Searcher(index_dir)
    assert "--rebuild" in hint(refused.value)


def test_a_changed_zhsearch_json_fails_its_checksum(index_dir: Path, docs: Path):
    """The metadata (format, analyzer settings, generation) is checksummed:
    a changed value is named damage, not a silently different index."""
    import json

    meta = index_dir / "zhsearch.json"
    data = json.loads(meta.read_text())
    assert data["checksum"].startswith("crc32:")
    # Reformatting keeps it valid: the checksum is over the content.
    meta.write_text(json.dumps(data, indent=4, sort_keys=True))
    assert Searcher(index_dir).search("上门").hits
    data["generation"] += 1  # one digit, as a flipped byte would change it
    meta.write_text(json.dumps(data))
    for args in _commands(index_dir, docs):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert "zhsearch.json: checksum mismatch" in result.output, result.output
        assert "--rebuild" in result.output
    with pytest.raises(IndexDamagedError) as caught:
        Searcher(index_dir)
    assert caught.value.file == "zhsearch.json"


def test_an_index_from_before_the_checksum_opens_and_gets_one(index_dir: Path, docs: Path):
    import json

    meta = index_dir / "zhsearch.json"
    data = json.loads(meta.read_text())
    del data["checksum"]
    meta.write_text(json.dumps(data))
    assert Searcher(index_dir).search("上门").hits
    (docs / "c.txt").write_text("新文章\n\n停息挂账的条件。\n", encoding="utf-8")
    build_index([docs], index_dir, jobs=1)
    assert json.loads(meta.read_text())["checksum"].startswith("crc32:")


def test_stored_fields_are_data(index_dir: Path):
    import msgspec
    from zhsearch.indexer.codec import stored_column
    from zhsearch.indexer.storage import open_index

    with open_index(index_dir).reader() as reader:
        leaf = next(iter(reader.leaf_readers()))[0]
        column = stored_column(leaf._perdoc)
        # The first section's record holds its article's run of sections.
        assert column[0][0] == 1
        raw = zlib.decompress(column[0][1:])
        assert not raw.startswith(b"\x80")  # not a pickle
        run = msgspec.msgpack.decode(raw)
        assert run[0]["article"] in ("a.txt", "b.txt")
        assert reader.stored_fields(0) == run[0]


def test_sections_stored_in_runs_read_back_one_by_one(tmp_path: Path):
    """An article's sections are stored in runs of ``STORED_BLOCK`` (the
    first section's record holds the run, the others two-byte references
    to it); every section reads back as written, through zhsearch and
    through Whoosh."""
    import msgspec
    from zhsearch.indexer.codec import STORED_BLOCK, stored_column
    from zhsearch.indexer.storage import open_index

    n = STORED_BLOCK + 5
    docs = tmp_path / "docs"
    docs.mkdir()
    body = "".join(f"## 第{i}节\n\n第{i}节的正文，讲协商还款第{i}次。\n\n" for i in range(n))
    (docs / "long.md").write_text("# 长文\n\n" + body, encoding="utf-8")
    (docs / "short.txt").write_text("短文\n\n只有一段。\n", encoding="utf-8")
    build_index([docs], tmp_path / "index", jobs=1)
    with open_index(tmp_path / "index").reader() as reader:
        leaf = next(iter(reader.leaf_readers()))[0]
        column = stored_column(leaf._perdoc)
        kinds = [column[d][0] for d in range(leaf.doc_count_all())]
        assert kinds.count(1) == 3 and kinds.count(2) == n - 2
        assert all(len(column[d]) == 2 for d, k in enumerate(kinds) if k == 2)
        bodies = {reader.stored_fields(d)["body"] for d in range(leaf.doc_count_all())}
        assert bodies == {f"第{i}节的正文，讲协商还款第{i}次。" for i in range(n)} | {"只有一段。"}
        first = msgspec.msgpack.decode(zlib.decompress(column[kinds.index(1)][1:]))
        assert len(first) in (1, STORED_BLOCK)
    with Searcher(tmp_path / "index") as s:
        hit = s.search("第20次", limit=1).hits[0]
        assert (hit.section.heading, hit.render()) == ("第20节", "[第20]节的正文，讲协商还款[第20次]。")


# --------------------------------------------------------------------------
# Full disks, permissions, symlinks, modes, power loss


def _limit_writes(monkeypatch: pytest.MonkeyPatch, budget: int, err: int = errno.ENOSPC) -> None:
    """Index files accept ``budget`` more bytes, then fail like a full disk."""
    from zhsearch.indexer import binfile, storage

    left = [budget]

    def spend(n: int, name: str) -> None:
        left[0] -= n
        if left[0] < 0:
            raise OSError(err, os.strerror(err), name)

    real_create = storage.SafeStorage.create_file

    def create_file(self, name, *args, **kwargs):
        sf = real_create(self, name, *args, **kwargs)
        inner = sf.file

        class Limited:
            def __getattr__(self, attr):
                return getattr(inner, attr)

            def write(self, data):
                spend(len(data), name)
                return inner.write(data)

        sf.file = Limited()
        return sf

    real_write_file = binfile.write_file

    def write_file(path, parts, mode=None, *, sync_dir=True):
        parts = list(parts)
        spend(sum(len(p) for p in parts), str(path))
        return real_write_file(path, parts, mode, sync_dir=sync_dir)

    real_stream_write = binfile.StreamedFile.write

    def stream_write(self, data):
        spend(len(data), str(self.path))
        return real_stream_write(self, data)

    monkeypatch.setattr(binfile.StreamedFile, "write", stream_write)
    monkeypatch.setattr(storage.SafeStorage, "create_file", create_file)
    for module in ("zhsearch.indexer.binfile", "zhsearch.indexer.postings", "zhsearch.indexer.storage"):
        monkeypatch.setattr(f"{module}.write_file", write_file)


@pytest.mark.parametrize("budget", [0, 3000, 20000])
def test_a_full_disk_removes_what_the_update_wrote(index_dir: Path, docs: Path, monkeypatch, budget: int):
    before = sorted(os.listdir(index_dir))
    (docs / "c.txt").write_text("新的文章\n\n三、协商\n\n个性化分期的申请材料。" * 50, encoding="utf-8")
    with monkeypatch.context() as m:
        _limit_writes(m, budget)
        with pytest.raises(DiskWriteError, match=r"no space left on device \(needed about \d+ MB\)") as info:
            build_index([docs], index_dir, jobs=1)
    assert info.value.errno == errno.ENOSPC
    assert sorted(os.listdir(index_dir)) == before
    assert check_index([docs], index_dir).missing == (str(docs / "c.txt"),)
    with Searcher(index_dir) as s:
        assert [h.id for h in s.search("上门走访").hits] == ["a.txt"]
    build_index([docs], index_dir, jobs=1)  # with space again, the next update works
    assert check_index([docs], index_dir).ok


def test_a_full_disk_during_a_rebuild_keeps_the_old_index(index_dir: Path, docs: Path, monkeypatch):
    with monkeypatch.context() as m:
        _limit_writes(m, 5000)
        with pytest.raises(DiskWriteError, match="no space left on device"):
            build_index([docs], index_dir, rebuild=True, jobs=1)
    assert [p.name for p in index_dir.parent.iterdir() if ".new-" in p.name] == []
    assert check_index([docs], index_dir).ok


@pytest.mark.parametrize(
    ("err", "words"), [(errno.EACCES, "permission denied"), (errno.EROFS, "read-only file system")]
)
def test_permission_and_read_only_errors_are_one_line(index_dir: Path, docs: Path, monkeypatch, err, words):
    (docs / "c.txt").write_text("新的文章\n\n个性化分期。\n", encoding="utf-8")
    before = sorted(os.listdir(index_dir))
    with monkeypatch.context() as m:
        _limit_writes(m, 100, err)
        result = CliRunner().invoke(main, ["index", str(docs), "--index", str(index_dir), "--jobs", "1"])
    assert result.exit_code == 2
    assert words in result.output and "internal error" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert sorted(os.listdir(index_dir)) == before


def test_a_symlinked_lock_file_is_refused_and_its_target_kept(docs: Path, tmp_path: Path):
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me", encoding="utf-8")
    (tmp_path / "index.lock").symlink_to(precious)
    with pytest.raises(ZhsearchError, match="is a symbolic link"):
        build_index([docs], tmp_path / "index")
    assert precious.read_text(encoding="utf-8") == "keep me"


def test_a_symlink_planted_as_an_index_file_is_not_followed(index_dir: Path, tmp_path: Path):
    secret = tmp_path / "secret"
    secret.write_text("{}", encoding="utf-8")
    meta = index_dir / "zhsearch.json"
    meta.unlink()
    meta.symlink_to(secret)
    with pytest.raises(ZhsearchError):
        Searcher(index_dir)


def test_rebuild_keeps_a_private_index_private(docs: Path, tmp_path: Path):
    target = tmp_path / "private"
    build_index([docs], target, jobs=1)
    os.chmod(target, 0o700)
    for p in target.iterdir():
        os.chmod(p, 0o600)
    build_index([docs], target, rebuild=True, jobs=1)
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in target.iterdir()} == {0o600}
    (docs / "c.txt").write_text("新的文章\n\n个性化分期。\n", encoding="utf-8")
    build_index([docs], target, jobs=1)  # an update's new files too
    assert {stat.S_IMODE(p.stat().st_mode) for p in target.iterdir()} == {0o600}


class _PowerLoss:
    """Records what fsync made durable: each file's content at its last
    fsync (by inode) and each directory's entries at its last fsync."""

    def __init__(self) -> None:
        self.files: dict[int, bytes] = {}
        self.dirs: dict[int, dict[str, int]] = {}

    def fsync(self, real):
        def recording(fd: int) -> None:
            real(fd)
            st = os.fstat(fd)
            path = os.readlink(f"/proc/self/fd/{fd}")
            if stat.S_ISDIR(st.st_mode):
                self.dirs[st.st_ino] = {n: os.lstat(os.path.join(path, n)).st_ino for n in os.listdir(path)}
            else:
                with open(f"/proc/self/fd/{fd}", "rb") as f:
                    self.files[st.st_ino] = f.read()

        return recording

    def image(self, root: Path, out: Path) -> None:
        """``out`` as ``root`` would be after a power loss now: only
        entries of fsynced directories, with their fsynced content."""
        out.mkdir()
        for name, ino in self.dirs.get(root.stat().st_ino, {}).items():
            if ino in self.dirs:
                self._copy_dir(ino, out / name)
            elif ino in self.files:
                (out / name).write_bytes(self.files[ino])
            else:
                (out / name).write_bytes(b"")  # the name survived, the data did not

    def _copy_dir(self, ino: int, out: Path) -> None:
        out.mkdir()
        for name, child in self.dirs[ino].items():
            if child in self.dirs:
                self._copy_dir(child, out / name)
            else:
                (out / name).write_bytes(self.files.get(child, b""))


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc to name fsynced files")
def test_an_acknowledged_update_survives_a_power_loss(docs: Path, tmp_path: Path, monkeypatch):
    root = tmp_path / "disk"
    root.mkdir()
    loss = _PowerLoss()
    monkeypatch.setattr(os, "fsync", loss.fsync(os.fsync))
    build_index([docs], root / "index", jobs=1)
    (docs / "c.txt").write_text("新的文章\n\n三、协商\n\n个性化分期的申请材料。\n", encoding="utf-8")
    build_index([docs], root / "index", jobs=1)  # acknowledged: returned
    monkeypatch.undo()
    loss.image(root, tmp_path / "after")
    with Searcher(tmp_path / "after" / "index") as s:
        assert [h.id for h in s.search("个性化分期").hits] == ["c.txt"]
        assert not s.search("上门").notices
    assert check_index([docs], tmp_path / "after" / "index").ok


def _can_mount_tmpfs() -> bool:
    import shutil as _shutil
    import subprocess

    if not _shutil.which("unshare") or not _shutil.which("mount"):
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True, timeout=20
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs unshare and mount (root) for a small tmpfs")
def test_a_really_full_tmpfs(docs: Path, tmp_path: Path):
    """The same on a real, small file system (no patching): the update that
    does not fit fails with the message, leaves nothing, and the index works."""
    import subprocess
    import sys

    mount = tmp_path / "mnt"
    mount.mkdir()
    big = tmp_path / "big"
    big.mkdir()
    (big / "long.txt").write_text("长文章\n\n" + "".join(f"第{i}段，催收与协商的记录。\n\n" for i in range(60_000)))
    script = f"""
set -e
mount -t tmpfs -o size=7m tmpfs {mount}
Z="{sys.executable} -m zhsearch"
$Z index {docs} --index {mount}/index --jobs 1 > /dev/null
ls -a {mount}/index > {tmp_path}/before.txt
set +e
$Z index {docs} {big} --index {mount}/index --jobs 1 > /dev/null 2> {tmp_path}/err.txt
echo $? > {tmp_path}/rc.txt
set -e
ls -a {mount}/index > {tmp_path}/after.txt
$Z search 上门走访 --index {mount}/index > {tmp_path}/search.txt
"""
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "rc.txt").read_text().strip() == "2"
    err = (tmp_path / "err.txt").read_text()
    assert "no space left on device (needed about" in err and "internal error" not in err, err
    assert (tmp_path / "after.txt").read_text() == (tmp_path / "before.txt").read_text()
    assert "a.txt" in (tmp_path / "search.txt").read_text()


def test_indexes_stored_a_record_per_section_still_read(tmp_path: Path, articles_dir: Path, monkeypatch):
    """Indexes written before runs of sections (a zlib record per section)
    open and search as they did."""
    import zhsearch.indexer.build
    from zhsearch.indexer.codec import pack_stored

    build_index([articles_dir], tmp_path / "runs", jobs=1)
    monkeypatch.setattr(zhsearch.indexer.build, "pack_stored_runs", lambda records: list(map(pack_stored, records)))
    build_index([articles_dir], tmp_path / "single", jobs=1)
    sizes = [sum(p.stat().st_size for p in (tmp_path / n).glob("*_stored*")) for n in ("runs", "single")]
    assert sizes[0] < sizes[1]
    found = []
    for name in ("runs", "single"):
        with Searcher(tmp_path / name) as s:
            found.append([(h.id, h.section.index, h.snippet) for q in ("上门", "逾期 协商") for h in s.search(q).hits])
    assert found[0] == found[1] and found[0]
