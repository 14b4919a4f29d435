"""Building and updating indexes: counts, incremental updates, bad files, mismatches, locking."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from zhsearch.corpus.errors import (
    ArticleNotFoundError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    ZhsearchError,
)
from zhsearch.indexer.build import build_index
from zhsearch.indexer.schema import SCHEMA_VERSION
from zhsearch.indexer.storage import META_FILE, WriteLock
from zhsearch.search.cli import hint
from zhsearch.search.searcher import Searcher, show

A_TXT = "上门走访的时间\n\n一、什么时候会上门\n\n逾期九十天以后，才会安排外访人员上门走访。\n\n二、怎么应对\n\n先核实身份，再录音录像。\n"
B_MD = "---\ntitle: 征信记录保留多久\ntags: [征信]\n---\n\n## 一、五年规则\n\n征信逾期记录自结清之日起保留五年。\n"
C_JSONL = (
    '{"id": "qa-1", "title": "停息挂账", "body": "停息挂账是个性化分期的俗称。"}\n'
    '{"id": "qa-2", "title": "雪球法", "body": "先还金额最小的一笔。"}\n'
)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    (d / "a.txt").write_text(A_TXT, encoding="utf-8")
    (d / "b.md").write_text(B_MD, encoding="utf-8")
    (d / "c.jsonl").write_text(C_JSONL, encoding="utf-8")
    return d


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


def ids(index_dir: Path, query: str) -> list[str]:
    with Searcher(index_dir) as s:
        return [h.id for h in s.search(query, limit=100)]


def article_count(index_dir: Path) -> int:
    with Searcher(index_dir) as s:
        return s.stats().articles


def test_report_counts(docs: Path, index_dir: Path):
    report = build_index([docs], index_dir)
    assert report.index_dir == str(index_dir)
    assert report.files == 3
    assert report.files_indexed == 3
    assert report.files_unchanged == 0
    assert report.files_removed == 0
    assert report.articles == 4
    assert report.sections == 5  # a.txt: 2, b.md: 1, c.jsonl: 1 + 1
    assert report.bytes == sum(len(p.read_bytes()) for p in docs.iterdir())
    assert report.skipped == ()
    assert report.warnings == ()
    assert article_count(index_dir) == 4


def test_reindexing_unchanged_files_is_a_no_op(docs: Path, index_dir: Path):
    build_index([docs], index_dir)
    before = ids(index_dir, "逾期")
    report = build_index([docs], index_dir)
    assert report.files_unchanged == 3
    assert report.files_indexed == 0
    assert report.articles == 0
    assert ids(index_dir, "逾期") == before
    assert sorted(before) == ["a.txt", "b.md"]
    assert article_count(index_dir) == 4


def test_changed_file_replaces_its_articles(docs: Path, index_dir: Path):
    build_index([docs], index_dir)
    (docs / "a.txt").write_text("催收电话\n\n一、频率\n\n一天打十几通电话属于违规催收。\n", encoding="utf-8")
    report = build_index([docs], index_dir)
    assert report.files_indexed == 1
    assert report.files_unchanged == 2
    assert ids(index_dir, "走访") == []
    assert ids(index_dir, "违规催收") == ["a.txt"]
    assert article_count(index_dir) == 4
    assert show("a.txt", index_dir).title == "催收电话"


def test_deleted_file_has_its_articles_removed(docs: Path, index_dir: Path):
    build_index([docs], index_dir)
    (docs / "b.md").unlink()
    (docs / "c.jsonl").unlink()
    report = build_index([docs], index_dir)
    assert report.files_removed == 2
    assert ids(index_dir, "征信") == []
    assert article_count(index_dir) == 1
    with pytest.raises(ArticleNotFoundError):
        show("qa-1", index_dir)


def test_broken_files_are_skipped_with_a_reason(docs: Path, index_dir: Path):
    (docs / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (docs / "garbled.txt").write_bytes(bytes(range(0x80, 0x100)) * 2)
    report = build_index([docs], index_dir)
    skipped = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(skipped) == {"image.txt", "garbled.txt"}
    assert "binary" in skipped["image.txt"]
    assert "encoding" in skipped["garbled.txt"]
    assert report.files_indexed == 3
    assert article_count(index_dir) == 4


def test_bad_front_matter_date_does_not_abort_the_run(docs: Path, index_dir: Path):
    (docs / "typo.md").write_text("---\ntitle: 日期写错了\ndate: 2024-02-30\n---\n\n正文。\n", encoding="utf-8")
    report = build_index([docs], index_dir)
    assert report.files_indexed + len(report.skipped) == 4
    assert article_count(index_dir) >= 4


def test_file_that_becomes_unreadable_loses_its_articles(docs: Path, index_dir: Path):
    build_index([docs], index_dir)
    (docs / "a.txt").write_bytes(b"\x00\x01binary now")
    report = build_index([docs], index_dir)
    assert [Path(s.path).name for s in report.skipped] == ["a.txt"]
    assert ids(index_dir, "走访") == []


def test_rebuild_starts_from_scratch(docs: Path, index_dir: Path):
    build_index([docs], index_dir)
    report = build_index([docs / "a.txt"], index_dir, rebuild=True)
    assert report.files_indexed == 1
    assert article_count(index_dir) == 1
    assert ids(index_dir, "征信") == []
    assert ids(index_dir, "走访") == ["a.txt"]
    assert not [p for p in index_dir.parent.iterdir() if p.name.startswith(".")]


def test_duplicate_jsonl_ids_later_record_wins_with_warning(tmp_path: Path, index_dir: Path):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "qa.jsonl").write_text(
        '{"id": "cmrc-DEV_0", "title": "旧", "body": "旧的正文说的是罚息。"}\n'
        '{"id": "cmrc-DEV_0", "title": "新", "body": "新的正文说的是违约金。"}\n',
        encoding="utf-8",
    )
    report = build_index([d], index_dir)
    assert report.articles == 1
    assert any("cmrc-DEV_0" in w and "duplicate" in w for w in report.warnings)
    assert show("cmrc-DEV_0", index_dir).title == "新"
    assert ids(index_dir, "罚息") == []


def test_nothing_to_index_raises(tmp_path: Path, index_dir: Path):
    with pytest.raises(ZhsearchError, match="no such file"):
        build_index([tmp_path / "missing"], index_dir)


# --------------------------------------------------------------------------
# Index compatibility


def _edit_meta(index_dir: Path, **changes) -> None:
    path = index_dir / META_FILE
    meta = json.loads(path.read_text(encoding="utf-8"))
    analyzer = changes.pop("analyzer", None)
    meta.update(changes)
    if analyzer:
        meta["analyzer"].update(analyzer)
    path.write_text(json.dumps(meta), encoding="utf-8")


@pytest.mark.parametrize(
    "changes",
    [
        {"schema_version": SCHEMA_VERSION + 1},
        {"analyzer": {"fold": "nfkc+lower"}},
        {"analyzer": {"version": 0}},
        {"analyzer": {"engine": "thulac"}},
    ],
    ids=["schema-version", "fold-setting", "analyzer-version", "engine"],
)
def test_incompatible_index_is_refused_with_a_rebuild_hint(docs: Path, index_dir: Path, changes: dict):
    build_index([docs], index_dir)
    _edit_meta(index_dir, **changes)
    with pytest.raises(IndexMismatchError) as refused:
        Searcher(index_dir)
    # The library says what is wrong and with which index; the CLI names the command.
    assert refused.value.index_dir == str(index_dir) and "zhsearch index" not in str(refused.value)
    assert hint(refused.value) == f"rebuild it with `zhsearch index PATH... --rebuild --index {index_dir}`"
    with pytest.raises(IndexMismatchError) as refused:
        build_index([docs], index_dir)
    assert refused.value.index_dir == str(index_dir)
    build_index([docs], index_dir, rebuild=True)
    assert article_count(index_dir) == 4


def test_damaged_meta_file_is_a_mismatch(docs: Path, index_dir: Path):
    build_index([docs], index_dir)
    (index_dir / META_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="zhsearch.json") as refused:
        Searcher(index_dir)
    assert "--rebuild" in hint(refused.value)


def test_missing_index_is_not_found(tmp_path: Path):
    with pytest.raises(IndexNotFoundError, match="no index at") as missing:
        Searcher(tmp_path / "nothing-here")
    assert missing.value.index_dir == str(tmp_path / "nothing-here") and not missing.value.occupied
    assert hint(missing.value) == f"create one with `zhsearch index PATH --index {tmp_path / 'nothing-here'}`"


# --------------------------------------------------------------------------
# Locking


def test_write_lock_held_elsewhere_refuses_a_second_writer(docs: Path, index_dir: Path):
    build_index([docs], index_dir)
    with WriteLock(index_dir):
        with pytest.raises(IndexLockedError, match="being updated by process") as locked:
            build_index([docs], index_dir)
    assert locked.value.holder == str(os.getpid()) and locked.value.index_dir == str(index_dir)
    assert "--wait" in hint(locked.value)
    # Released: the next run goes through.
    assert build_index([docs], index_dir).files_unchanged == 3


def test_write_lock_on_a_new_index(docs: Path, index_dir: Path):
    with WriteLock(index_dir):
        with pytest.raises(IndexLockedError):
            build_index([docs], index_dir)
    assert not index_dir.exists() or not (index_dir / META_FILE).exists()


# -- parallel builds and segments


def _results(index_dir: Path, queries: list[str]) -> list[list[tuple[str, int, str]]]:
    with Searcher(index_dir) as s:
        return [[(h.id, h.section.index, h.snippet) for h in s.search(q, limit=20).hits] for q in queries]


QUERIES = ["逾期", "上门走访", '"征信逾期"', "网贷 协商 -征信", "title:征信", "信用卡 还款"]


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch):
    """Worker processes even for a small corpus."""
    import zhsearch.indexer.build

    monkeypatch.setattr(zhsearch.indexer.build, "PARALLEL_BYTES", 0)


def test_parallel_build_finds_what_a_single_process_build_finds(articles_dir: Path, tmp_path: Path, parallel):
    one = build_index([articles_dir], tmp_path / "one", jobs=1)
    two = build_index([articles_dir], tmp_path / "two", jobs=2)
    assert (one.articles, one.sections) == (two.articles, two.sections) == (41, one.sections)
    assert _results(tmp_path / "one", QUERIES) == _results(tmp_path / "two", QUERIES)
    assert any(_results(tmp_path / "two", QUERIES))


def test_parallel_build_keeps_the_first_of_two_articles_with_one_id(tmp_path: Path, index_dir: Path, parallel):
    docs = tmp_path / "dup"
    docs.mkdir()
    # Sorted walk order: a.jsonl first; with two workers z.jsonl is in the other part.
    (docs / "a.jsonl").write_text('{"id": "same", "title": "先来", "body": "第一份正文提到翡翠。"}\n', encoding="utf-8")
    (docs / "m.txt").write_text("中间\n\n" + "填充文字。" * 200, encoding="utf-8")
    (docs / "z.jsonl").write_text('{"id": "same", "title": "后到", "body": "第二份正文提到琥珀。"}\n', encoding="utf-8")
    report = build_index([docs], index_dir, jobs=2)
    assert report.articles == 2
    assert any("kept the first" in w for w in report.warnings)
    with Searcher(index_dir) as s:
        assert [h.title for h in s.search("翡翠").hits] == ["先来"]
        assert s.search("琥珀").total == 0
        assert s.stats().articles == 2


def test_small_segments_give_the_same_results(articles_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import zhsearch.indexer.build
    import zhsearch.indexer.merge

    build_index([articles_dir], tmp_path / "one", jobs=1)
    monkeypatch.setattr(zhsearch.indexer.build, "SEGMENT_POSTINGS", 500)
    monkeypatch.setattr(zhsearch.indexer.merge, "FRESH_SEGMENTS", 1_000)  # no final merge
    build_index([articles_dir], tmp_path / "many", jobs=1)
    with Searcher(tmp_path / "many") as s:
        assert len(list(s._current()[0].leaf_readers())) > 3
    assert _results(tmp_path / "one", QUERIES) == _results(tmp_path / "many", QUERIES)


def test_a_worker_that_dies_leaves_the_index_as_it_was(docs: Path, index_dir: Path, parallel, monkeypatch):
    import os

    import zhsearch.indexer.build

    build_index([docs], index_dir)
    (docs / "new.txt").write_text("新文章\n\n琥珀蜂鸟出现在这里。\n", encoding="utf-8")
    # Two files to read, so two workers run (one file would be read in this process).
    (docs / "other.txt").write_text("另一篇\n\n翡翠蝾螈。\n", encoding="utf-8")
    real = zhsearch.indexer.build._analyse_file

    test_process = os.getpid()

    def crash(order, root, file, *args):
        if file.name == "new.txt":
            assert os.getpid() != test_process, "expected a worker process"
            os._exit(7)  # like a worker killed by the system
        return real(order, root, file, *args)

    monkeypatch.setattr(zhsearch.indexer.build, "_analyse_file", crash)
    with pytest.raises(ZhsearchError, match="worker process died"):
        build_index([docs], index_dir, jobs=2)
    with Searcher(index_dir) as s:
        assert s.search("上门走访").total == 1
        assert s.search("琥珀蜂鸟").total == 0
    monkeypatch.setattr(zhsearch.indexer.build, "_analyse_file", real)
    assert build_index([docs], index_dir, jobs=2).files_indexed == 2
    with Searcher(index_dir) as s:
        assert s.search("琥珀蜂鸟").total == 1


def test_a_missing_postings_file_asks_for_a_rebuild(docs: Path, index_dir: Path):
    build_index([docs], index_dir)
    for f in index_dir.glob("*.zpost"):
        f.unlink()
    with pytest.raises(IndexMismatchError, match="missing") as damaged:
        Searcher(index_dir).search("逾期")
    assert "--rebuild" in hint(damaged.value)


def test_sections_are_added_to_whoosh_as_add_document_would(articles_dir: Path, tmp_path: Path, monkeypatch):
    """The writer's own way of adding an article's sections (their keys'
    postings made once) writes the very bytes Whoosh's add_document writes."""
    import hashlib

    import zhsearch.indexer.build

    def digests(index_dir: Path) -> dict[str, str]:
        files = [p for p in index_dir.iterdir() if p.name.startswith("sections_") and p.suffix != ".zpost"]
        return {p.name.split(".", 1)[1]: hashlib.sha1(p.read_bytes()).hexdigest() for p in files}

    build_index([articles_dir], tmp_path / "ours", jobs=1)
    monkeypatch.setattr(zhsearch.indexer.build, "_add_documents", lambda w, docs: [w.add_document(**d) for d in docs])
    build_index([articles_dir], tmp_path / "whoosh", jobs=1)
    ours = digests(tmp_path / "ours")
    assert set(ours) == {"_stored.col", "pst", "trm"}
    assert ours == digests(tmp_path / "whoosh")
