"""The zhsearch command line, driven through click's CliRunner."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from zhsearch.indexer.schema import SCHEMA_VERSION
from zhsearch.indexer.storage import WriteLock
from zhsearch.search.cli import main
from zhsearch.search.searcher import Searcher

QUESTION = "网贷逾期多久会上门走访"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_one_line_error(result: Result, code: int, *needles: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("zhsearch: error: ")
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    (d / "a.txt").write_text(
        "上门走访的时间\n\n一、什么时候会上门\n\n逾期九十天以后才会上门走访。\n\n二、怎么应对\n\n先核实身份。\n",
        encoding="utf-8",
    )
    (d / "b.md").write_text("# 征信记录保留多久\n\n征信逾期记录自结清之日起保留五年。\n", encoding="utf-8")
    return d


# --------------------------------------------------------------------------
# index


def test_index_prints_a_summary(docs: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    result = run("index", str(docs), "--index", str(index_dir))
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        rf"Indexed 2 articles \(3 sections\) from 2 files into {re.escape(str(index_dir))} in [\d.]+ s \([\d.]+ MB/s\)\.\n",
        result.stdout,
    )
    again = run("index", str(docs), "--index", str(index_dir))
    assert again.exit_code == 0
    assert "Indexed 0 articles (0 sections) from 0 files" in again.stdout
    assert "2 files unchanged since the last run." in again.stdout


def test_index_reports_removed_files(docs: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    run("index", str(docs), "--index", str(index_dir))
    (docs / "b.md").unlink()
    result = run("index", str(docs), "--index", str(index_dir))
    assert result.exit_code == 0
    assert "1 file no longer present: their articles were removed." in result.stdout


def test_index_json(docs: Path, tmp_path: Path):
    result = run("index", str(docs), "--index", str(tmp_path / "index"), "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["articles"] == 2 and data["files_indexed"] == 2 and data["skipped"] == []


def test_index_exit_3_when_some_files_are_skipped(docs: Path, tmp_path: Path):
    (docs / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    result = run("index", str(docs), "--index", str(tmp_path / "index"))
    assert result.exit_code == 3, result.output
    assert "Indexed 2 articles" in result.stdout
    assert "Skipped 1 file:" in result.stdout
    assert re.search(r"photo\.txt: binary file", result.stdout)
    assert "Traceback" not in result.output


def test_index_exit_2_when_every_file_is_skipped(tmp_path: Path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "photo.txt").write_bytes(b"\x00\x01\x02")
    result = run("index", str(d), "--index", str(tmp_path / "index"))
    assert result.exit_code == 2


def test_index_missing_path_is_an_error(tmp_path: Path):
    result = run("index", str(tmp_path / "nope"), "--index", str(tmp_path / "index"))
    assert_one_line_error(result, 2, "no such file")


def test_index_while_locked_is_an_error(docs: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    with WriteLock(index_dir):
        result = run("index", str(docs), "--index", str(index_dir))
    assert_one_line_error(result, 2, "--wait")


def test_incompatible_index_error_says_rebuild(docs: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    run("index", str(docs), "--index", str(index_dir))
    meta = json.loads((index_dir / "zhsearch.json").read_text(encoding="utf-8"))
    meta["schema_version"] = SCHEMA_VERSION + 1
    (index_dir / "zhsearch.json").write_text(json.dumps(meta), encoding="utf-8")
    assert_one_line_error(run("search", "征信", "--index", str(index_dir)), 2, "--rebuild")
    rebuilt = run("index", str(docs), "--index", str(index_dir), "--rebuild")
    assert rebuilt.exit_code == 0
    assert run("search", "征信", "--index", str(index_dir)).exit_code == 0


# --------------------------------------------------------------------------
# search


def test_search_human_output(sample_index: Path):
    result = run("search", QUESTION, "--index", str(sample_index), "-n", "3")
    assert result.exit_code == 0, result.output
    with Searcher(sample_index) as s:
        expected = s.search(QUESTION, limit=3)
    lines = result.stdout.splitlines()
    assert re.fullmatch(
        rf"{expected.total} articles match; showing 1-3 \(page 1 of {expected.pages}, \d+ ms\)", lines[0]
    )
    top = expected.hits[0]
    assert "1. 网贷逾期多久会有人上门？上门走访的时间节点和应对办法" in lines
    assert "   老周 · 2024-08-17 · 网贷逾期" in lines
    assert f"   § {' › '.join(top.section.path)}" in lines
    assert f"   {top.render(('[', ']'))}" in lines
    assert re.search(r"\[[^\[\]]+\]", top.render(("[", "]")))
    assert f"   wd-001.txt  [section {top.section.index}, score {top.score:.2f}]" in lines
    assert [ln.split(".", 1)[0] for ln in lines if re.match(r"^\d+\. ", ln)] == ["1", "2", "3"]
    assert "\x1b[" not in result.output


def test_search_page_two(sample_index: Path):
    result = run("search", "逾期", "--index", str(sample_index), "-n", "5", "-p", "2")
    assert result.exit_code == 0
    assert re.match(r"\d+ articles match; showing 6-10 \(page 2 of \d+", result.stdout)


def test_search_json_lines_carry_the_library_fields(sample_index: Path):
    result = run("search", QUESTION, "--index", str(sample_index), "-n", "4", "--json")
    assert result.exit_code == 0
    summary, *rows = [json.loads(line) for line in result.stdout.splitlines()]
    with Searcher(sample_index) as s:
        expected = s.search(QUESTION, limit=4)
    assert summary == {
        "type": "summary",
        "query": QUESTION,
        "total": expected.total,
        "total_exact": True,
        "page": 1,
        "pages": expected.pages,
        "limit": 4,
        "shown": 4,
        "seconds": summary["seconds"],
        "notices": [],
        "suggestion": None,
        "corrected": None,
        "facets": {},
    }
    assert len(rows) == 4
    for row, exp in zip(rows, expected.hits, strict=True):
        assert set(row) == {
            "type",
            "rank",
            "id",
            "title",
            "score",
            "section",
            "snippet",
            "highlights",
            "meta",
            "source",
        }
        assert row == {"type": "hit", **exp.as_dict()}
    assert rows[0]["id"] == "wd-001.txt"
    start, end = rows[0]["highlights"][0]
    assert rows[0]["snippet"][start:end]


def test_search_no_results_exit_1(sample_index: Path):
    result = run("search", "zzyzx", "--index", str(sample_index))
    assert result.exit_code == 1
    assert "No articles match 'zzyzx'." in result.stdout
    json_result = run("search", "zzyzx", "--index", str(sample_index), "--json")
    assert json_result.exit_code == 1
    (summary,) = [json.loads(line) for line in json_result.stdout.splitlines()]
    assert summary["type"] == "summary" and summary["total"] == 0 and summary["pages"] == 0


def test_search_notices_go_to_stderr(sample_index: Path):
    result = run("search", '"上门走访', "--index", str(sample_index), "--json")
    assert result.exit_code == 0
    assert "zhsearch: unbalanced quote" in result.stderr
    assert all(json.loads(line) for line in result.stdout.splitlines())


def test_search_without_index_builds_sample_at_the_default_location_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    default = tmp_path / "default"
    monkeypatch.setenv("ZHSEARCH_INDEX", str(default))
    given = run("search", "上门走访", "--index", str(tmp_path / "mistyped"), "-n", "1")
    assert_one_line_error(
        given, 2, f"no index at {tmp_path / 'mistyped'}; create one with `zhsearch index PATH --index"
    )
    assert not (tmp_path / "mistyped").exists()
    result = run("search", "上门走访", "-n", "1")
    assert result.exit_code == 0, result.output
    assert re.search(
        r"zhsearch: no index at .*default yet: built one from the 41 bundled sample articles", result.stderr
    )
    assert "zhsearch: `zhsearch index PATH` indexes your articles there" in result.stderr
    assert "wd-001.txt" in result.stdout
    again = run("search", "上门走访", "-n", "1")
    assert again.exit_code == 0 and again.stderr == ""


def test_search_color_never_uses_brackets(sample_index: Path):
    result = run("search", "卡债", "--index", str(sample_index), "--color", "never")
    assert result.exit_code == 0
    assert "[卡債]" in result.stdout
    assert "\x1b[" not in result.stdout


def test_search_color_always_emits_ansi(sample_index: Path):
    result = run("search", "卡债", "--index", str(sample_index), "--color", "always")
    assert result.exit_code == 0
    assert "\x1b[1;31m卡債\x1b[0m" in result.stdout


# --------------------------------------------------------------------------
# show and stats


def test_show_article(sample_index: Path):
    result = run("show", "wd-001.txt", "--index", str(sample_index))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "网贷逾期多久会有人上门？上门走访的时间节点和应对办法"
    assert lines[1] == "老周 · 2024-08-17 · 网贷逾期"
    assert "# 一、上门走访一般出现在什么阶段" in lines
    assert "## 1.1 从账龄看：M1到M3  [section 1]" in lines
    assert "来人没有权力带走任何财物" in result.stdout
    assert "浦发银行" not in result.stdout


def test_show_one_section(sample_index: Path):
    result = run("show", "wd-001.txt", "--section", "1", "--index", str(sample_index))
    assert result.exit_code == 0
    assert "## 1.1 从账龄看：M1到M3  [section 1]" in result.stdout
    assert "真正安排外访人员上门" in result.stdout
    assert "1.2 金额也是重要门槛" not in result.stdout
    assert "来人没有权力带走任何财物" not in result.stdout


def test_show_json(sample_index: Path):
    result = run("show", "tw-001.txt", "--index", str(sample_index), "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["id"] == "tw-001.txt"
    assert data["title"].startswith("卡債還不出來怎麼辦")
    assert all(set(s) == {"index", "level", "heading", "path", "text"} for s in data["sections"])


def test_show_unknown_id_or_section(sample_index: Path):
    assert_one_line_error(run("show", "nope.txt", "--index", str(sample_index)), 2, "nope.txt")
    assert_one_line_error(run("show", "wd-001.txt", "--section", "999", "--index", str(sample_index)), 2, "999")


def test_stats(sample_index: Path):
    result = run("stats", "--index", str(sample_index))
    assert result.exit_code == 0
    assert f"index:     {sample_index}\n" in result.stdout
    assert "articles:  41\n" in result.stdout
    assert f"format:    {SCHEMA_VERSION}\n" in result.stdout
    assert re.search(r"^analyzer:  version=\d+, engine=r?jieba", result.stdout, re.M)
    data = json.loads(run("stats", "--index", str(sample_index), "--json").stdout)
    assert data["articles"] == 41 and data["sections"] > 41


@pytest.mark.parametrize("command", [["show", "wd-001.txt"], ["stats"]])
def test_missing_index_is_a_one_line_error(tmp_path: Path, command: list[str]):
    result = run(*command, "--index", str(tmp_path / "no-index-here"))
    assert_one_line_error(result, 2, "no index at", "zhsearch index PATH")


# --------------------------------------------------------------------------
# help


def test_every_command_has_help_text():
    top = run("--help")
    assert top.exit_code == 0
    assert {"index", "search", "show", "stats"} <= set(main.commands)
    for name, command in main.commands.items():
        assert name in top.stdout
        assert command.get_short_help_str().strip(), name
        result = run(name, "--help")
        assert result.exit_code == 0, name
        assert re.match(rf"Usage: \S+ {name} ", result.stdout)
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{name} {param.opts}"


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("zhsearch, version ")
