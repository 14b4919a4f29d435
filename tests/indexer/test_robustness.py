"""Building over collections with problems in them, and `check_index`.

Every file is either indexed or listed in ``report.skipped`` with a reason;
the run never stops half-way.  Incremental runs stay stable: a removed file
is reported once, a duplicate id across files keeps the same winner run
after run, and ``check_index`` agrees with what the next run would do.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from zhsearch.corpus.errors import ArticleNotFoundError, IndexMismatchError, IndexNotFoundError, ZhsearchError
from zhsearch.indexer.build import CheckReport, Skipped, build_index, check_index
from zhsearch.indexer.storage import META_FILE
from zhsearch.search.cli import hint
from zhsearch.search.searcher import Searcher, show

GOOD = "上门走访的时间\n\n一、什么时候会上门\n\n逾期九十天以后，才会安排外访人员上门走访。\n"


def ids(index_dir: Path, query: str) -> list[str]:
    with Searcher(index_dir) as s:
        return [h.id for h in s.search(query, limit=100)]


def skipped(report) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in report.skipped}


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    (d / "a.txt").write_text(GOOD, encoding="utf-8")
    return d


def test_a_collection_of_odd_files_indexes_what_it_can(docs: Path, tmp_path: Path):
    files = {
        "big5.txt": "卡債還不出來怎麼辦\n\n把每一家銀行的欠款列出來。\n".encode("big5"),
        "gbk.txt": "逾期\n".encode("gbk"),
        "utf16.md": "# 征信记录\n\n保留五年。\n".encode("utf-16"),
        "rare.txt": "𠮷野家\n\n𠮷野家的𪚥字和😀。\n".encode(),
        "pua.md": "# 私用\n\n\ue000\uf8ff字。\n".encode(),
        "title.txt": "只有标题\n".encode(),
        "controls.txt": "控制\n\n正文\x1b[31m红\x07色。\n".encode(),
        "empty.txt": b"",
        "blank.md": b" \n\t\n",
        "photo.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "nobom16.txt": "无BOM的UTF-16文本\n".encode("utf-16-le"),
        "notes.xls": b"\xd0\xcf\x11\xe0",
        "bad.jsonl": b'{"id": "j1", "title": "\xe5\xa5\xbd", "body": "x"}\n{broken\n',
    }
    for name, data in files.items():
        (docs / name).write_bytes(data)
    report = build_index([docs], tmp_path / "index")
    assert skipped(report) == {
        "empty.txt": "empty file: no title and no text",
        "blank.md": "empty file: no title and no text",
        "photo.txt": "binary file (contains NUL bytes)",
        "nobom16.txt": "UTF-16 text without a byte-order mark; save it as UTF-8 (or UTF-16 with a BOM)",
        "notes.xls": "unsupported file type '.xls'; use .txt, .md, .jsonl, .html, .docx, .pdf or .epub",
    }
    assert report.files == 14 and report.files_indexed == 9
    assert report.warnings == (
        f"{docs / 'bad.jsonl'}:2: malformed JSON (Expecting property name enclosed in double quotes); line skipped",
    )
    index_dir = tmp_path / "index"
    assert ids(index_dir, "𠮷野家") == ["rare.txt"]
    assert ids(index_dir, "卡债") == ["big5.txt"]
    assert show("gbk.txt", index_dir).title == "逾期"
    assert ids(index_dir, "只有标题") == ["title.txt"]
    assert show("controls.txt", index_dir).sections[0].text == "正文红色。"


def test_special_files_are_skipped_without_hanging(docs: Path, tmp_path: Path):
    os.mkfifo(docs / "fifo.txt")
    (docs / "zero.txt").symlink_to("/dev/zero")
    (docs / "loop.txt").symlink_to(docs / "loop.txt")
    (docs / "broken.md").symlink_to(docs / "nowhere.md")
    (docs / "again").symlink_to(docs)
    report = build_index([docs, tmp_path / "missing", docs / "again"], tmp_path / "index")
    assert skipped(report) == {
        "fifo.txt": "not a regular file (a FIFO, socket or device)",
        "zero.txt": "not a regular file (a FIFO, socket or device)",
        "loop.txt": "symbolic link loop",
        "broken.md": "broken symbolic link (its target does not exist)",
        "missing": "no such file or directory",
    }
    assert report.articles == 1


def test_a_file_that_disappears_during_the_run_is_skipped(docs: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    for name in ("b.txt", "c.txt"):
        (docs / name).write_text(GOOD.replace("上门走访的时间", f"文章{name}"), encoding="utf-8")
    build_index([docs], index_dir)
    (docs / "b.txt").write_text("改过的文章\n\n新内容。\n", encoding="utf-8")

    def delete_next(progress):
        if progress.path.endswith("a.txt"):
            (docs / "b.txt").unlink()

    report = build_index([docs], index_dir, progress=delete_next)
    assert skipped(report) == {"b.txt": "file disappeared before it could be read"}
    assert show("c.txt", index_dir).title == "文章c.txt"
    with pytest.raises(ArticleNotFoundError):
        show("b.txt", index_dir)
    # Nothing left for the next run to clean up.
    assert build_index([docs], index_dir).files_removed == 0


def test_a_removed_file_is_reported_once(docs: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    (docs / "b.txt").write_text("第二篇\n\n内容。\n", encoding="utf-8")
    build_index([docs], index_dir)
    (docs / "b.txt").unlink()
    assert build_index([docs], index_dir).files_removed == 1
    again = build_index([docs], index_dir)
    assert (again.files_removed, again.files_indexed, again.files_unchanged) == (0, 0, 1)


def test_a_changed_file_is_reindexed_once(docs: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    build_index([docs], index_dir)
    for text in ("第二版\n\n内容。\n", "第三版\n\n内容。\n"):
        (docs / "a.txt").write_text(text, encoding="utf-8")
        assert build_index([docs], index_dir).files_indexed == 1
        assert build_index([docs], index_dir).files_unchanged == 1


def test_duplicate_ids_across_files_keep_the_same_winner_run_after_run(tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "1.jsonl").write_text('{"id": "x", "title": "先", "body": "甲"}\n', encoding="utf-8")
    (docs / "2.jsonl").write_text('{"id": "x", "title": "后", "body": "乙"}\n', encoding="utf-8")
    index_dir = tmp_path / "index"
    first = build_index([docs], index_dir)
    assert first.warnings == (f"{docs / '2.jsonl'}: article id 'x' is also in {docs / '1.jsonl'}; kept the first",)
    for _ in range(3):
        report = build_index([docs], index_dir)
        assert show("x", index_dir).title == "先"
        assert report.warnings == first.warnings
    (docs / "1.jsonl").unlink()
    build_index([docs], index_dir)
    assert show("x", index_dir).title == "后"


def test_an_index_inside_the_indexed_directory_is_not_indexed(docs: Path):
    index_dir = docs / "index"
    build_index([docs], index_dir)
    report = build_index([docs], index_dir)
    assert report.skipped == () and report.files == 1


def test_rebuild_never_replaces_a_directory_that_is_not_an_index(docs: Path, tmp_path: Path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.docx").write_bytes(b"years of work")
    with pytest.raises(ZhsearchError, match="not a zhsearch index"):
        build_index([docs], precious)
    assert (precious / "thesis.docx").read_bytes() == b"years of work"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert build_index([docs], empty).articles == 1


def test_an_open_searcher_sees_a_rebuild(docs: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    build_index([docs], index_dir)
    with Searcher(index_dir) as s:
        assert [h.id for h in s.search("上门走访")] == ["a.txt"]
        (docs / "b.txt").write_text("催收电话\n\n一天打十几通电话属于违规催收。\n", encoding="utf-8")
        build_index([docs], index_dir, rebuild=True)
        assert [h.id for h in s.search("违规催收")] == ["b.txt"]


def test_leftovers_of_a_killed_rebuild_are_cleaned_up(docs: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    build_index([docs], index_dir)
    # A rebuild killed between its two renames (see test_crash.py for the real thing).
    os.rename(index_dir, tmp_path / ".index.old-99999")
    (tmp_path / ".index.new-99999").mkdir()
    assert ids(index_dir, "上门走访") == ["a.txt"]  # put back on open
    build_index([docs], index_dir)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs", "index", "index.lock"]


def test_a_searcher_opening_during_a_commit_retries(docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from zhsearch.indexer import storage

    index_dir = tmp_path / "index"
    build_index([docs], index_dir)
    real_index, calls = storage.ZhFileIndex, []

    def flaky_index(*args, **kwargs):
        calls.append(1)
        if len(calls) < 3:  # the TOC just listed was deleted by a commit
            raise FileNotFoundError(2, "No such file or directory", "_sections_1.toc")
        return real_index(*args, **kwargs)

    monkeypatch.setattr(storage, "ZhFileIndex", flaky_index)
    assert ids(index_dir, "上门走访") == ["a.txt"]
    assert len(calls) == 3


# --------------------------------------------------------------------------
# check_index


def test_check_index_matches_after_indexing(docs: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    build_index([docs], index_dir)
    assert check_index([docs], index_dir) == CheckReport(str(index_dir), files=1)
    assert check_index([docs], index_dir).ok


def test_check_index_lists_every_kind_of_difference(docs: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    (docs / "b.txt").write_text("第二篇\n\n内容。\n", encoding="utf-8")
    (docs / "c.md").write_text("# 第三篇\n\n内容。\n", encoding="utf-8")
    build_index([docs], index_dir)
    (docs / "a.txt").write_text(GOOD + "\n补充一段。\n", encoding="utf-8")
    (docs / "b.txt").unlink()
    (docs / "d.txt").write_text("新文章\n\n内容。\n", encoding="utf-8")
    (docs / "e.txt").write_bytes(b"")
    (docs / "f.png").write_bytes(b"\x89PNG")
    report = check_index([docs], index_dir)
    assert report == CheckReport(
        index_dir=str(index_dir),
        files=5,
        missing=(str(docs / "d.txt"),),
        changed=(str(docs / "a.txt"),),
        removed=(str(docs / "b.txt"),),
        unindexable=(Skipped(str(docs / "e.txt"), "empty file: no title and no text"),),
    )
    assert not report.ok
    build_index([docs], index_dir)
    after = check_index([docs], index_dir)
    assert after.ok and after.unindexable == report.unindexable


def test_check_index_errors(docs: Path, tmp_path: Path):
    with pytest.raises(IndexNotFoundError):
        check_index([docs], tmp_path / "none")
    index_dir = tmp_path / "index"
    build_index([docs], index_dir)
    with pytest.raises(ZhsearchError, match="no such file"):
        check_index([tmp_path / "missing"], index_dir)
    meta = index_dir / META_FILE
    meta.write_text(
        meta.read_text(encoding="utf-8").replace('"schema_version": ', '"schema_version": 9'), encoding="utf-8"
    )
    with pytest.raises(IndexMismatchError, match="zhsearch.json") as refused:
        check_index([docs], index_dir)
    assert "--rebuild" in hint(refused.value)


@pytest.mark.slow
def test_a_20_mb_single_line_file(tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    line = "网贷逾期以后怎么办，先协商还款。"
    (docs / "one.txt").write_text(line * (20_000_000 // len(line.encode())), encoding="utf-8")
    started = time.perf_counter()
    report = build_index([docs], tmp_path / "index")
    assert report.articles == 1 and report.sections > 100
    assert report.bytes >= 19_900_000
    with Searcher(tmp_path / "index") as s:
        results = s.search("协商还款")
        assert [h.id for h in results] == ["one.txt"]
        assert "[协商还款]" in results.hits[0].render()
    assert time.perf_counter() - started < 300
