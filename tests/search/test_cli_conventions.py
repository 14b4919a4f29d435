"""CLI habits: unknown options, colour, help, typed JSON records, clean
terminal output, closed stdout, page counts, the sample index."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from zhsearch.search.cli import main
from zhsearch.search.output import clean, dumps

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def records(result: Result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


# --------------------------------------------------------------------------
# unknown options and the `--` rule


@pytest.mark.parametrize(("typo", "meant"), [("--limt", "--limit"), ("--jsn", "--json"), ("--colour", "--color")])
def test_search_rejects_a_misspelled_option(sample_index: Path, typo: str, meant: str):
    result = run("search", "网贷", typo, "3", "--index", str(sample_index))
    assert result.exit_code == 2
    assert f"No such option '{typo}'" in result.stderr and meant in result.stderr
    assert result.stdout == ""


def test_a_query_word_starting_with_a_dash_needs_double_dash(sample_index: Path):
    bad = run("search", "催收", "-短信", "--index", str(sample_index))
    assert bad.exit_code == 2
    assert "'-短信' is not an option" in bad.stderr and "zhsearch search -- 催收 -短信" in bad.stderr
    after = run("search", "--index", str(sample_index), "--json", "--", "催收", "-短信")
    quoted = run("search", "催收 -短信", "--index", str(sample_index), "--json")
    assert after.exit_code == quoted.exit_code == 0
    assert records(after)[0]["query"] == records(quoted)[0]["query"] == "催收 -短信"
    kept = {r["id"] for r in records(after)[1:]}
    with_word = {r["id"] for r in records(run("search", "催收 短信", "--index", str(sample_index), "--json"))[1:]}
    assert kept and kept != with_word


# --------------------------------------------------------------------------
# colour


@pytest.mark.parametrize(
    ("env", "args", "coloured"),
    [
        ({"FORCE_COLOR": "1"}, [], True),
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, [], False),
        ({"NO_COLOR": "1"}, ["--color", "always"], True),  # an option beats the environment
        ({"FORCE_COLOR": "1"}, ["--color", "never"], False),
        ({"FORCE_COLOR": "0"}, [], False),
        ({}, [], False),  # CliRunner's stdout is no terminal
    ],
)
def test_no_color_and_force_color(sample_index: Path, env: dict, args: list[str], coloured: bool):
    base = {"NO_COLOR": None, "FORCE_COLOR": None}
    result = run("search", "卡债", "--index", str(sample_index), *args, env={**base, **env})
    assert result.exit_code == 0
    assert ("\x1b[1;31m卡債\x1b[0m" in result.stdout) is coloured
    assert ("[卡債]" in result.stdout) is not coloured


# --------------------------------------------------------------------------
# help


def test_every_command_has_examples_in_its_help():
    for name in main.commands:
        text = run(name, "--help").stdout
        assert "Examples:" in text, name
        examples = text.split("Examples:")[1].strip().splitlines()
        assert len(examples) >= 2, name
        for line in examples:
            assert re.match(rf"\s*(\w+=\S+ )?zhsearch {name}\b", line), (name, line)


def test_every_command_is_in_the_readme_reference():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    synopsis = readme.split("## Command line", 1)[1].split("```", 2)[1]
    for name in main.commands:
        assert f"\nzhsearch {name} " in synopsis, name
        for param in main.commands[name].params:
            for opt in param.opts:
                if opt.startswith("--") and opt not in ("--help", "--json", "--format"):
                    assert opt in synopsis, (name, opt)


def test_search_help_mentions_pinyin_did_you_mean_and_the_double_dash_rule():
    text = " ".join(run("search", "--help").stdout.split())
    assert "pinyin" in text and "did you mean" in text and "`--`" in text
    top = run("--help").stdout
    assert "_ZHSEARCH_COMPLETE=bash_source zhsearch" in top


# --------------------------------------------------------------------------
# JSON records


def test_search_json_lines_are_typed_records(sample_index: Path):
    result = run("search", "逾期", "--index", str(sample_index), "--json", "-n", "3", "--facet", "year")
    rows = records(result)
    assert [r["type"] for r in rows] == ["summary", "hit", "hit", "hit"]
    summary = rows[0]
    assert {"query", "total", "page", "pages", "notices", "suggestion", "corrected", "facets"} <= set(summary)
    assert summary["pages"] == -(-summary["total"] // 3) and summary["facets"]["year"]
    assert [r["rank"] for r in rows[1:]] == [1, 2, 3]


def test_format_json_is_one_document(sample_index: Path):
    lines = records(run("search", "逾期", "--index", str(sample_index), "--json", "-n", "2"))
    result = run("search", "逾期", "--index", str(sample_index), "--format", "json", "-n", "2")
    doc = json.loads(result.stdout)  # one document: json.loads takes all of it
    assert doc["type"] == "results" and doc["hits"] == lines[1:]
    summary = {k: v for k, v in lines[0].items() if k not in ("type", "seconds")}
    assert {k: v for k, v in doc.items() if k in summary} == summary


@pytest.mark.parametrize(
    ("args", "kind"),
    [
        (["show", "wd-001.txt"], "article"),
        (["stats"], "stats"),
        (["related", "wd-001.txt"], "summary"),
        (["config"], "config"),
    ],
)
def test_every_command_prints_typed_records(sample_index: Path, args: list[str], kind: str):
    for fmt in (["--json"], ["--format", "json"]):
        result = run(*args, "--index", str(sample_index), *fmt)
        assert result.exit_code == 0, result.output
        first = json.loads(result.stdout.splitlines()[0]) if fmt == ["--json"] else json.loads(result.stdout)
        assert first["type"] == (kind if fmt == ["--json"] or kind != "summary" else "results")


def test_index_and_remove_print_typed_records(tmp_path: Path, articles_dir: Path):
    index_dir = str(tmp_path / "index")
    built = records(run("index", str(articles_dir), "--index", index_dir, "--json"))
    assert built[0]["type"] == "index" and built[0]["articles"] == len(list(articles_dir.iterdir()))
    gone = records(run("remove", str(articles_dir / "wd-001.txt"), "--index", index_dir, "--json"))
    assert gone[0]["type"] == "remove" and gone[0]["files_removed"] == 1


def test_stats_dates_are_iso_8601(sample_index: Path):
    data = records(run("stats", "--index", str(sample_index), "--json"))[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["updated"])
    text = run("stats", "--index", str(sample_index)).stdout
    assert f"updated:   {data['updated']}" in text


# --------------------------------------------------------------------------
# terminal escape injection

HOSTILE = {
    "id": "evil\x1b[2J\u202eid",
    "title": "网贷逾期\x1b]8;;http://x\x07标题",
    "body": "网贷逾期以后要和平台沟通。",
    "author": "作者\x9b31m",
    "date": "2024-01-01\x1b[0m",
    "category": "类别\u202e",
    "tags": ["标签\x1b[5m"],
}


@pytest.fixture(scope="module")
def hostile_index(shared_index) -> Path:
    return shared_index({"evil\x1b[1mfile.jsonl": json.dumps(HOSTILE, ensure_ascii=False) + "\n"}, "hostile")


UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize(
    "args",
    [
        ["search", "网贷逾期", "--color", "never"],
        ["search", "网贷逾期", "--json"],
        ["search", "网贷逾期", "--format", "json"],
        ["show", HOSTILE["id"]],
        ["show", HOSTILE["id"], "--json"],
        ["related", HOSTILE["id"]],
        ["stats"],
    ],
)
def test_nothing_printed_carries_terminal_controls(hostile_index: Path, args: list[str]):
    result = run(*args, "--index", str(hostile_index))
    assert result.exit_code in (0, 1), result.output
    assert not UNSAFE.search(result.stdout), repr(result.stdout)
    assert not UNSAFE.search(result.stderr), repr(result.stderr)


def test_json_escapes_controls_and_keeps_the_text(hostile_index: Path):
    result = run("search", "网贷逾期", "--json", "--index", str(hostile_index))
    hit = records(result)[1]
    assert "\\u001b[2J\\u202eid" in result.stdout
    assert hit["id"] == HOSTILE["id"] and hit["meta"]["author"] == HOSTILE["author"]
    text = run("search", "网贷逾期", "--color", "never", "--index", str(hostile_index)).stdout
    assert "evil [2J id" in text and "作者 31m" in text


def test_clean_and_dumps():
    assert clean("a\x1b[2Jb\tc\nd\u202ee\x9bf") == "a [2Jb c d e f"
    assert clean("第一段\n第二段\x07", one_line=False) == "第一段\n第二段"
    assert dumps({"k": "中\x1b\u202e\x85"}) == '{"k": "中\\u001b\\u202e\\u0085"}'


# --------------------------------------------------------------------------
# stdout closed


@pytest.mark.parametrize("args", [["stats"], ["search", "网贷"], ["--version"], ["show", "wd-001.txt"]])
def test_closed_stdout_is_an_error_not_silence(sample_index: Path, args: list[str]):
    index = [] if args == ["--version"] else ["--index", str(sample_index)]
    proc = subprocess.run(
        [sys.executable, "-m", "zhsearch", *args, *index],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=REPO,
        preexec_fn=lambda: os.close(1),
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == (
        "zhsearch: error: standard output is closed; nothing can be printed "
        "(redirect it to a file or /dev/null instead)"
    )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_stdout_is_an_error(sample_index: Path):
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "zhsearch", "stats", "--index", str(sample_index)],
            stdout=full,
            stderr=subprocess.PIPE,
            cwd=REPO,
            timeout=60,
        )
    assert proc.returncode == 2
    assert "zhsearch: error: cannot write to standard output: No space left on device" in proc.stderr.decode()
    assert "Traceback" not in proc.stderr.decode()


# --------------------------------------------------------------------------
# pages, speed, the sample index


def test_a_page_past_the_end_says_how_many_there_are(sample_index: Path):
    result = run("search", "网贷逾期多久会上门走访", "--index", str(sample_index), "-n", "3", "--page", "99")
    assert result.exit_code == 1
    total = records(run("search", "网贷逾期多久会上门走访", "--index", str(sample_index), "--json"))[0]["total"]
    pages = -(-total // 3)
    assert result.stdout == f"No hits on page 99: {total} articles match, on {pages} pages of 3.\n"


def test_an_unchanged_reindex_reports_no_speed(tmp_path: Path, articles_dir: Path):
    index_dir = str(tmp_path / "index")
    first = run("index", str(articles_dir), "--index", index_dir)
    assert re.search(r"in [\d.]+ s \([\d.]+ MB/s\)\.", first.stdout)
    again = run("index", str(articles_dir), "--index", index_dir)
    n = len(list(articles_dir.iterdir()))
    assert "MB/s" not in again.stdout and f"{n} files unchanged since the last run." in again.stdout
    data = records(run("index", str(articles_dir), "--index", index_dir, "--json"))[0]
    assert data["mb_per_s"] == 0 and data["bytes_indexed"] == 0 and data["bytes"] > 0


def test_the_sample_never_mixes_with_a_users_articles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    default = tmp_path / "default"
    monkeypatch.setenv("ZHSEARCH_INDEX", str(default))
    assert run("search", "上门走访").exit_code == 0  # builds the sample
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "note.txt").write_text("我的笔记\n\n上门走访的记录。\n", encoding="utf-8")
    first = run("index", str(mine))
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith(f"Replaced the sample index at {default} (bundled demo articles) with yours.\n")
    assert "Indexed 1 article " in first.stdout
    assert records(run("stats", "--json"))[0]["articles"] == 1
    hits = records(run("search", "上门走访", "--json"))[1:]
    assert [h["id"] for h in hits] == ["note.txt"]
    (mine / "two.txt").write_text("第二篇\n\n上门走访。\n", encoding="utf-8")
    second = run("index", str(mine))
    assert "Replaced" not in second.stdout and records(run("stats", "--json"))[0]["articles"] == 2


def test_search_never_rebuilds_a_damaged_index(tmp_path: Path, articles_dir: Path, monkeypatch: pytest.MonkeyPatch):
    for given in (True, False):
        index_dir = tmp_path / f"index-{given}"
        assert run("index", str(articles_dir / "wd-001.txt"), "--index", str(index_dir)).exit_code == 0
        (index_dir / "zhsearch.json").unlink()
        before = sorted(p.name for p in index_dir.iterdir())
        monkeypatch.setenv("ZHSEARCH_INDEX", str(index_dir))
        result = run("search", "上门", *(["--index", str(index_dir)] if given else []))
        assert result.exit_code == 2
        assert result.stderr == (
            f"zhsearch: error: index at {index_dir} is damaged: its zhsearch.json (format and analyzer settings) "
            f"is missing; rebuild it with `zhsearch index PATH... --rebuild --index {index_dir}`\n"
        )
        assert sorted(p.name for p in index_dir.iterdir()) == before
