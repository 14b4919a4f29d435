"""User dictionaries: loaded, used at index and query time, recorded, checked;
and the shipped domain dictionary fixing a segmentation seen in the sample."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from zhsearch.corpus.errors import IndexMismatchError, WordListError
from zhsearch.indexer.analysis import Settings, default_settings, load_user_dict, tokenize
from zhsearch.indexer.build import build_index
from zhsearch.search.cli import hint, main
from zhsearch.search.searcher import Searcher, stats

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "corpus" / "userdict.txt"

ARTICLES = {
    "visit.txt": "网贷逾期多久会上门\n\n一、时间\n\n一般逾期三个月以后才会上门走访。\n",
    "stop.txt": "停息挂账怎么申请\n\n一、条件\n\n申请停息挂账要证明还款困难。\n",
}


def words(text: str, settings: Settings | None = None) -> list[str]:
    return [w for w, _, _ in tokenize(text, settings)]


def with_dict(path: Path) -> Settings:
    return replace(default_settings(), user_dict=load_user_dict(path))


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    for name, text in ARTICLES.items():
        (d / name).write_text(text, encoding="utf-8")
    return d


def test_file_format(tmp_path: Path):
    path = tmp_path / "dict.txt"
    path.write_text("# comment\n停息挂账\n會上 1  # folded like text\n网贷平台 20 n\n以贷养贷 nz\n\n", encoding="utf-8")
    ud = load_user_dict(path)
    assert ud.entries == (("停息挂账", None, None), ("会上", 1, None), ("网贷平台", 20, "n"), ("以贷养贷", None, "nz"))
    assert ud.path == str(path) and len(ud.digest) == 12
    path.write_text("停息挂账 1 n extra\n", encoding="utf-8")
    with pytest.raises(WordListError, match=r"dict\.txt line 1: .* is not 'word \[frequency\] \[tag\]'"):
        load_user_dict(path)
    with pytest.raises(WordListError, match="cannot read"):
        load_user_dict(tmp_path / "missing.txt")


def test_the_shipped_dictionary_fixes_the_cut_seen_in_the_sample():
    # Observed in wd-001.txt and wd-004.txt: jieba cuts 会上|门 and 会上|征信,
    # so the word 上门 never reaches the index for "会上门".
    question = "网贷逾期多久会上门走访"
    assert words(question) == ["网贷", "逾期", "多久", "会上", "门", "走访"]
    assert words(question, with_dict(SHIPPED)) == ["网贷", "逾期", "多久", "会", "上门", "走访"]
    assert words("逾期一天会上征信吗", with_dict(SHIPPED)) == ["逾期", "一天", "会", "上", "征信", "吗"]
    assert words("不要以贷养贷", with_dict(SHIPPED)) == ["不要", "以贷养贷"]


def test_both_segmenters_agree_with_the_shipped_dictionary():
    ud = load_user_dict(SHIPPED)
    text = "网贷逾期多久会上门走访？申请停息挂账、个性化分期，不要以贷养贷。"
    assert tokenize(text, Settings(engine="jieba", user_dict=ud)) == tokenize(
        text, Settings(engine="rjieba", user_dict=ud)
    )


def test_dictionary_is_used_at_index_and_query_time(docs: Path, tmp_path: Path):
    plain, fixed = tmp_path / "plain", tmp_path / "fixed"
    build_index([docs], plain)
    build_index([docs], fixed, user_dict=SHIPPED)
    # title:上门 looks for the word 上门 in titles: only the index built
    # with the dictionary has it in 网贷逾期多久会上门.
    with Searcher(plain) as s:
        assert s.search("title:上门").hits == ()
    with Searcher(fixed) as s:
        assert [h.id for h in s.search("title:上门").hits] == ["visit.txt"]
        assert s.settings.user_dict == load_user_dict(SHIPPED)
        assert s.parse("申请停息挂账").terms[:2] == ("申请", "停息挂账")
        assert s.search("停息挂账").hits[0].render() == "申请[停息挂账]要证明还款困难。"


def test_the_dictionary_is_recorded_and_kept_by_updates(docs: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    build_index([docs], index_dir, user_dict=SHIPPED)
    recorded = stats(index_dir).analyzer["user_dict"]
    assert recorded == {"path": str(SHIPPED), "digest": load_user_dict(SHIPPED).digest, "words": 6}
    (docs / "new.txt").write_text("新文章\n\n一、正文\n\n什么时候会上门？\n", encoding="utf-8")
    build_index([docs], index_dir)  # an update without the option keeps the index's dictionary
    assert stats(index_dir).analyzer["user_dict"] == recorded
    with Searcher(index_dir) as s:
        assert {h.id for h in s.search("title:上门").hits} == {"visit.txt"}
        assert "new.txt" in {h.id for h in s.search("body:上门").hits}


def test_another_dictionary_is_refused_until_a_rebuild(docs: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    other = tmp_path / "other.txt"
    other.write_text("上门走访\n", encoding="utf-8")
    build_index([docs], index_dir, user_dict=SHIPPED)
    with pytest.raises(IndexMismatchError, match="was built with the user dictionary") as refused:
        build_index([docs], index_dir, user_dict=other)
    assert refused.value.user_dict == str(other)
    assert (
        hint(refused.value)
        == f"rebuild it with `zhsearch index PATH... --rebuild --user-dict {other} --index {index_dir}`"
    )
    with pytest.raises(IndexMismatchError, match="was built with the user dictionary"):
        Searcher(index_dir, user_dict=other)
    build_index([docs], index_dir, user_dict=other, rebuild=True)
    with Searcher(index_dir, user_dict=other) as s:
        assert s.settings.user_dict == load_user_dict(other)


def test_an_index_without_a_dictionary_refuses_one(docs: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    build_index([docs], index_dir)
    assert "user_dict" not in stats(index_dir).analyzer
    with pytest.raises(IndexMismatchError, match="without a user dictionary"):
        Searcher(index_dir, user_dict=SHIPPED)


def test_a_changed_dictionary_file_is_reported(docs: Path, tmp_path: Path):
    path = tmp_path / "dict.txt"
    path.write_text("停息挂账\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    build_index([docs], index_dir, user_dict=path)
    with Searcher(index_dir) as s:
        assert s.search("停息挂账").notices == ()
    path.write_text("停息挂账\n上门走访\n", encoding="utf-8")
    with Searcher(index_dir) as s:
        results = s.search("停息挂账")
        assert results.hits  # still searchable, with the recorded words
        assert s.parse("申请停息挂账").terms[:2] == ("申请", "停息挂账")
    assert results.notices == (
        f"the user dictionary {path} has changed since the index was built; searching with the words recorded "
        "in the index (rebuild the index with it to use the new ones)",
    )
    with pytest.raises(IndexMismatchError):
        Searcher(index_dir, user_dict=path)


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_cli_search_checks_the_dictionary(docs: Path, tmp_path: Path):
    index_dir = tmp_path / "index"
    build_index([docs], index_dir, user_dict=SHIPPED)
    ok = run("search", "title:上门", "--index", str(index_dir), "--user-dict", str(SHIPPED), "--json")
    assert ok.exit_code == 0, ok.output
    assert [r["id"] for r in map(json.loads, ok.stdout.splitlines()) if r["type"] == "hit"] == ["visit.txt"]
    other = tmp_path / "other.txt"
    other.write_text("上门走访\n", encoding="utf-8")
    bad = run("search", "上门", "--index", str(index_dir), "--user-dict", str(other))
    assert bad.exit_code == 2
    assert bad.stderr.startswith("zhsearch: error: index at ") and "--rebuild --user-dict" in bad.stderr
    assert len(bad.stderr.splitlines()) == 1


def test_cli_reports_a_changed_dictionary_on_stderr(docs: Path, tmp_path: Path):
    path = tmp_path / "dict.txt"
    path.write_text("停息挂账\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    build_index([docs], index_dir, user_dict=path)
    path.write_text("停息挂账 5\n", encoding="utf-8")
    result = run("search", "停息挂账", "--index", str(index_dir), "--json")
    assert result.exit_code == 0
    assert result.stderr.startswith(f"zhsearch: the user dictionary {path} has changed since the index was built")


def test_index_command_records_the_user_dict(tmp_path: Path):
    from click.testing import CliRunner
    from zhsearch.search.cli import main

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("上门\n\n网贷逾期多久会上门走访？一般在九十天以后。\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    runner = CliRunner()
    result = runner.invoke(main, ["index", str(docs), "--index", str(index_dir), "--user-dict", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    stats = runner.invoke(main, ["stats", "--index", str(index_dir)])
    assert "userdict.txt" in stats.output
    other = tmp_path / "other.txt"
    other.write_text("走访时间 5\n", encoding="utf-8")
    again = runner.invoke(main, ["index", str(docs), "--index", str(index_dir), "--user-dict", str(other)])
    assert again.exit_code == 2
    assert "rebuild" in again.output


def test_searchers_with_different_dictionaries_do_not_affect_each_other(docs: Path, tmp_path: Path):
    """Three indexes open in one process, queried in turn: each cuts with its
    own dictionary, whichever was opened or asked last."""
    other_dict = tmp_path / "other.txt"
    other_dict.write_text("会上门 50\n", encoding="utf-8")
    dirs = {"plain": None, "shipped": SHIPPED, "other": other_dict}
    for name, ud in dirs.items():
        build_index([docs], tmp_path / name, user_dict=ud)
    question = "网贷逾期多久会上门走访"
    expected = {
        "plain": words(question),
        "shipped": words(question, with_dict(SHIPPED)),
        "other": words(question, with_dict(other_dict)),
    }
    assert "会上" in expected["plain"] and "上门" in expected["shipped"] and "会上门" in expected["other"]
    searchers = {name: Searcher(tmp_path / name) for name in dirs}
    try:
        for order in (["plain", "shipped", "other"], ["other", "plain", "shipped", "plain"]):
            for name in order:
                s = searchers[name]
                assert words(question, s.settings) == expected[name], name
                hits = {h.id for h in s.search("title:上门").hits}
                assert hits == ({"visit.txt"} if name == "shipped" else set()), name
    finally:
        for s in searchers.values():
            s.close()


def test_quick_cuts_belong_to_their_searcher(docs: Path, tmp_path: Path):
    """Each searcher cuts short queries with its own index's stored dictionary
    (in a fresh process: the full dictionary is not loaded there yet)."""
    import subprocess
    import sys

    build_index([docs], tmp_path / "a")
    build_index([docs], tmp_path / "b")
    script = f"""
import sys
from zhsearch.search.searcher import Searcher
a, b = Searcher({str(tmp_path / "a")!r}), Searcher({str(tmp_path / "b")!r})
assert a.settings.quick is not None and b.settings.quick is not None
assert a.settings.quick is not b.settings.quick
hits = [h.id for h in a.search("上门走访").hits]
assert hits == ["visit.txt"], hits
assert "rjieba" not in sys.modules
assert a.settings.quick.calls > 0 and b.settings.quick.calls == 0, (a.settings.quick.calls, b.settings.quick.calls)
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr
