"""Large JSON-lines files are indexed as they are read; empty ones are skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from zhsearch.indexer import build
from zhsearch.indexer.build import build_index, check_index
from zhsearch.search.searcher import Searcher


def _line(i: int, text: str) -> str:
    return json.dumps({"id": f"doc-{i}", "title": f"第{i}篇", "body": text}, ensure_ascii=False)


@pytest.fixture()
def streamed(monkeypatch: pytest.MonkeyPatch):
    """Every .jsonl file streams, and segments are flushed every few articles."""
    monkeypatch.setattr(build, "STREAM_BYTES", 0)
    monkeypatch.setattr(build, "SEGMENT_POSTINGS", 200)


def test_a_streamed_file_is_indexed_across_segments(streamed, tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    lines = [_line(i, f"网贷逾期第{i}天，催收员上门走访。停息挂账需要协商。") for i in range(60)]
    lines[10] = "{not json"
    lines.append(_line(5, "后来的同名文章：个性化分期的申请材料。"))  # a duplicate id: the later wins
    (docs / "big.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = build_index([docs], tmp_path / "index", jobs=1)
    assert report.articles == 59
    assert any("big.jsonl:11: malformed JSON" in w for w in report.warnings)
    assert any("duplicate article id 'doc-5'" in w for w in report.warnings)
    with Searcher(tmp_path / "index") as s:
        assert s.search("上门走访", limit=100).total == 58
        assert [h.id for h in s.search("个性化分期").hits] == ["doc-5"]
        assert s.stats().articles == 59
        assert len(s._current()[1]._stores) > 1  # flushed midway: several segments
    assert check_index([docs], tmp_path / "index").ok
    again = build_index([docs], tmp_path / "index", jobs=1)
    assert again.files_unchanged == 1 and again.articles == 0


def test_a_streamed_file_changed_between_runs_replaces_its_articles(streamed, tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    big = docs / "big.jsonl"
    big.write_text("\n".join(_line(i, "上门走访") for i in range(20)), encoding="utf-8")
    build_index([docs], tmp_path / "index", jobs=1)
    big.write_text("\n".join(_line(i, "停息挂账") for i in range(5)), encoding="utf-8")
    report = build_index([docs], tmp_path / "index", jobs=1)
    assert report.articles == 5
    with Searcher(tmp_path / "index") as s:
        assert s.search("上门走访").total == 0
        assert s.search("停息挂账").total == 5


@pytest.mark.parametrize(
    ("stream", "content", "reason"),
    [
        (False, "", "empty file"),
        (True, "  \n\n\u3000\n", "empty file"),
        (False, "{bad\n[1, 2]\n", "no valid article in its 2 non-blank lines (first problem:"),
        (True, "{bad\n[1, 2]\n", "no valid article in its 2 non-blank lines (first problem:"),
    ],
)
def test_empty_and_all_malformed_jsonl_files_are_skipped_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stream: bool, content: str, reason: str
):
    if stream:
        monkeypatch.setattr(build, "STREAM_BYTES", 0)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("标题\n\n正文内容。\n", encoding="utf-8")
    (docs / "x.jsonl").write_text(content, encoding="utf-8")
    report = build_index([docs], tmp_path / "index", jobs=1)
    assert [(s.path, s.reason.startswith(reason)) for s in report.skipped] == [(str(docs / "x.jsonl"), True)], (
        report.skipped
    )
    assert report.files_indexed == 1


# --------------------------------------------------------------------------
# Smaller defects: ties, stats after deletions, long queries, far dates


def test_ties_rank_alike_in_an_updated_and_a_rebuilt_index(tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    # Identical articles under different ids: every score ties.
    for name in ("m", "c", "x", "a"):
        (docs / f"{name}.txt").write_text("标题\n\n催收员上门走访的时间。\n", encoding="utf-8")
    updated = tmp_path / "updated"
    build_index([docs / "m.txt", docs / "x.txt"], updated, jobs=1)
    build_index([docs / "c.txt", docs / "a.txt"], updated, jobs=1)
    build_index([docs / "m.txt"], updated, jobs=1)
    rebuilt = tmp_path / "rebuilt"
    build_index([docs], rebuilt, jobs=1)
    with Searcher(updated) as u, Searcher(rebuilt) as r:
        assert [h.id for h in u.search("上门走访").hits] == [h.id for h in r.search("上门走访").hits]
        assert [h.id for h in r.search("上门走访").hits] == ["a.txt", "c.txt", "m.txt", "x.txt"]


def test_stats_leave_out_the_terms_of_deleted_articles(tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("标题\n\n催收员上门走访。\n", encoding="utf-8")
    (docs / "b.txt").write_text("标题\n\n停息挂账协商。\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    build_index([docs], index_dir, jobs=1)
    (docs / "b.txt").unlink()
    build_index([docs], index_dir, jobs=1)
    fresh = tmp_path / "fresh"
    build_index([docs], fresh, jobs=1)
    with Searcher(index_dir) as s, Searcher(fresh) as f:
        assert s.stats().terms == f.stats().terms
        assert s.stats().articles == 1


def test_every_stage_sees_a_long_query_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from zhsearch.search import searcher as searcher_module

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("标题\n\n网贷逾期。\n", encoding="utf-8")
    build_index([docs], tmp_path / "index", jobs=1)
    seen: list[int] = []
    real = searcher_module.suggest

    def recording(query, *args, **kwargs):
        seen.append(len(query))
        return real(query, *args, **kwargs)

    monkeypatch.setattr(searcher_module, "suggest", recording)
    with Searcher(tmp_path / "index") as s:
        results = s.search("网代" * 50_000)
    assert seen == [1000]
    assert any("shortened" in n for n in results.notices)


def test_until_9999_is_a_year(tmp_path: Path):
    from zhsearch.search.filters import parse_bound

    assert parse_bound("until", "9999", end=True) == 99991231
    assert parse_bound("until", "9999-12", end=True) == 99991231
    assert parse_bound("until", "2024-02", end=True) == 20240229
