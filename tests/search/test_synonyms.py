"""Synonym expansion at query time, on hand-made articles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from zhsearch.corpus.errors import WordListError
from zhsearch.search.cli import main
from zhsearch.search.searcher import Searcher, search
from zhsearch.search.synonyms import Synonyms

SYNONYMS = "# online lending\n网贷 网络贷款 网络借贷\n\n催收，讨债  # commas work too\n"

ARTICLES = {
    "short.txt": "网贷逾期\n\n一、正文\n\n网贷逾期以后要尽快还款，和平台沟通。\n",
    "long.txt": "网络借贷逾期\n\n一、正文\n\n网络借贷逾期以后要尽快还款，和平台沟通。\n",
    # 网络 and 借贷, but not together: not the synonym 网络借贷.
    "apart.txt": "网络安全\n\n一、正文\n\n网络上的东西要小心，借贷要谨慎。\n",
    "debt.txt": "讨债公司\n\n一、正文\n\n讨债公司上门讨债是违法的。\n",
}


@pytest.fixture
def index_dir(make_index) -> Path:
    return make_index(ARTICLES)


@pytest.fixture
def synonyms_file(tmp_path: Path) -> Path:
    path = tmp_path / "synonyms.txt"
    path.write_text(SYNONYMS, encoding="utf-8")
    return path


def ids(results) -> list[str]:
    return [h.id for h in results.hits]


def test_file_format():
    syn = Synonyms.from_text(SYNONYMS)
    assert syn.groups == (("网贷", "网络贷款", "网络借贷"), ("催收", "讨债"))
    assert Synonyms.from_text("網貸 網絡借貸\n").groups == (("网贷", "网络借贷"),)
    assert syn.alternatives("网贷") == ("网络贷款", "网络借贷")
    assert Synonyms.from_text("a b\na c\n").alternatives("a") == ("b", "c")


def test_longest_entry_wins_where_entries_overlap():
    syn = Synonyms.from_text("贷款 借款\n网络贷款 网贷\n")
    assert syn.matches("网络贷款逾期") == [(0, 4, "网络贷款")]
    assert syn.matches("贷款和网络贷款") == [(0, 2, "贷款"), (3, 7, "网络贷款")]


def test_a_line_with_one_entry_is_an_error_naming_the_line(tmp_path: Path):
    path = tmp_path / "syn.txt"
    path.write_text("网贷 网络贷款\n催收\n", encoding="utf-8")
    with pytest.raises(WordListError, match=r"syn\.txt line 2: '催收' has one entry"):
        Synonyms.load(path)


def test_unreadable_files_are_errors(tmp_path: Path):
    with pytest.raises(WordListError, match="cannot read"):
        Synonyms.load(tmp_path / "missing.txt")
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("网贷 网络贷款\n".encode("gbk"))
    with pytest.raises(WordListError, match="not UTF-8"):
        Synonyms.load(gbk)


def test_synonyms_find_more_and_the_word_typed_ranks_first(index_dir: Path, synonyms_file: Path):
    with Searcher(index_dir) as plain:
        assert ids(plain.search("网贷")) == ["short.txt"]
    with Searcher(index_dir, synonyms=synonyms_file) as s:
        results = s.search("网贷")
        assert ids(results) == ["short.txt", "long.txt"]
        assert results.hits[0].score > results.hits[1].score
        assert results.hits[1].render() == "[网络借贷]逾期以后要尽快还款，和平台沟通。"
        # Typing the other entry turns the order round.
        assert ids(s.search("网络借贷"))[:1] == ["long.txt"]
        assert ids(s.search("讨债")) == ["debt.txt"]
        assert ids(s.search("催收")) == ["debt.txt"]


def test_a_several_word_synonym_counts_only_as_a_phrase(index_dir: Path, synonyms_file: Path):
    with Searcher(index_dir, synonyms=synonyms_file) as s:
        assert "apart.txt" not in ids(s.search("网贷"))


def test_the_word_typed_outranks_a_rarer_synonym(make_index, synonyms_file: Path):
    docs = {f"common{i}.txt": f"第{i}篇\n\n一、正文\n\n网贷的问题{i}，{'很多' * i}。\n" for i in range(1, 4)}
    docs["rare.txt"] = "少见\n\n一、正文\n\n网络借贷的问题。\n"
    with Searcher(make_index(docs, name="rare"), synonyms=synonyms_file) as s:
        assert ids(s.search("网贷"))[-1] == "rare.txt"
        assert len(s.search("网贷").hits) == 4


def test_phrases_and_exclusions_are_not_expanded(index_dir: Path, synonyms_file: Path):
    with Searcher(index_dir, synonyms=synonyms_file) as s:
        assert ids(s.search('"网贷"')) == ["short.txt"]
        assert ids(s.search("逾期 -网贷")) == ["long.txt"]


def test_module_search_takes_a_synonym_file(index_dir: Path, synonyms_file: Path):
    assert ids(search("网贷", index_dir, synonyms=synonyms_file)) == ["short.txt", "long.txt"]
    assert ids(search("网贷", index_dir, synonyms=Synonyms.from_text("网贷 讨债"))) == ["short.txt", "debt.txt"]


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_cli_synonyms(index_dir: Path, synonyms_file: Path):
    result = run("search", "网贷", "--index", str(index_dir), "--synonyms", str(synonyms_file), "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()][1:]
    assert [r["id"] for r in rows] == ["short.txt", "long.txt"]
    assert rows[1]["snippet"][slice(*rows[1]["highlights"][0])] == "网络借贷"
    plain = run("search", "网贷", "--index", str(index_dir), "--json")
    assert [r["id"] for r in map(json.loads, plain.stdout.splitlines()) if r["type"] == "hit"] == ["short.txt"]


def test_cli_bad_synonym_file_is_a_one_line_error(index_dir: Path, tmp_path: Path):
    bad = tmp_path / "bad.txt"
    bad.write_text("网贷\n", encoding="utf-8")
    for path in (bad, tmp_path / "missing.txt"):
        result = run("search", "网贷", "--index", str(index_dir), "--synonyms", str(path))
        assert result.exit_code == 2
        assert result.stderr.startswith("zhsearch: error: ") and len(result.stderr.splitlines()) == 1
