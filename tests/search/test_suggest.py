"""Did you mean: homophone and Latin typos, on hand-made articles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from zhsearch.search.cli import main
from zhsearch.search.searcher import Searcher
from zhsearch.search.suggest import suspect_spans

ARTICLES = {
    "loan.txt": "网贷逾期怎么办\n\n一、先沟通\n\n网贷逾期以后，先和平台沟通还款计划。\n",
    "card.txt": "停息挂账\n\n一、条件\n\n信用卡逾期以后，可以申请停息挂账。\n",
    "latin.txt": "Chargeback\n\n一、正文\n\nA chargeback dispute goes through the card issuer.\n",
}


@pytest.fixture(scope="module")
def index_dir(shared_index) -> Path:
    return shared_index(ARTICLES, "suggest")


@pytest.fixture(scope="module")
def searcher(index_dir: Path):
    with Searcher(index_dir) as s:
        yield s


def test_suspect_characters_are_those_with_no_known_bigram(searcher: Searcher):
    _, ranker = searcher._current()
    assert suspect_spans("网代逾期", ranker) == [(0, 2)]  # 网代 and 代逾 unknown, 逾期 known
    assert suspect_spans("网贷愈期", ranker) == [(2, 4)]  # 期: its one bigram 愈期 is unknown
    assert suspect_spans("网贷逾期", ranker) == []


@pytest.mark.parametrize(
    ("query", "suggestion"),
    [
        ("网代逾期", "网贷逾期"),  # 网代 reads wangdai, like 网贷
        ("网贷愈期", "网贷逾期"),  # 愈期 reads yuqi, like 逾期
        ("停息挂帐", "停息挂账"),
        ("停息挂帐 网代", "停息挂账 网贷"),
        ("网代逾期怎么办?", "网贷逾期怎么办?"),  # the rest is kept as typed
        ("chargebak", "chargeback"),
        ("Chargeback disptue", "Chargeback dispute"),
    ],
)
def test_typos_get_a_suggestion(searcher: Searcher, query: str, suggestion: str):
    assert searcher.search(query, correct=False).suggestion == suggestion


@pytest.mark.parametrize("query", ["网贷逾期", "停息挂账", "chargeback", "张三李四", "zzyzx", "wdyq", "", "？"])
def test_no_suggestion_when_every_part_is_known_or_nothing_is_close(searcher: Searcher, query: str):
    assert searcher.search(query).suggestion is None


def test_a_typo_still_finds_what_its_other_words_match(searcher: Searcher):
    results = searcher.search("网代逾期", correct=False)
    assert results.suggestion == "网贷逾期" and results.corrected is None
    assert {h.id for h in results.hits} == {"loan.txt", "card.txt"}


def test_a_correction_finding_clearly_more_replaces_the_query(searcher: Searcher):
    # As typed, 网代逾期 only finds articles with 逾期; no article has both words.
    results = searcher.search("网代逾期")
    assert results.query == "网代逾期" and results.corrected == "网贷逾期" and results.suggestion is None
    assert results.terms == ("网贷", "逾期")
    assert [h.id for h in results.hits][0] == "loan.txt"
    nothing = searcher.search("chargebak")
    assert nothing.corrected == "chargeback" and [h.id for h in nothing.hits] == ["latin.txt"]


def test_a_correction_finding_no_more_is_only_suggested(searcher: Searcher):
    # No article has both 停息挂账 and 网贷: the correction finds no more
    # articles with all its words than the typed query, which stands.
    results = searcher.search("停息挂帐 网代")
    assert results.corrected is None and results.suggestion == "停息挂账 网贷"
    assert [h.id for h in results.hits] == ["card.txt"]


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_cli_shows_the_correction_first(index_dir: Path):
    result = run("search", "网代逾期", "--index", str(index_dir), "--color", "never")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "Showing results for 网贷逾期; search instead for 网代逾期 with --no-correct"
    assert lines[1].startswith("2 articles match")
    typed = run("search", "网代逾期", "--index", str(index_dir), "--color", "never", "--no-correct")
    assert typed.stdout.splitlines()[0] == "Did you mean: 网贷逾期"


def test_cli_suggestion_when_nothing_matches(index_dir: Path):
    result = run("search", "chargebak", "--index", str(index_dir), "--no-correct")
    assert result.exit_code == 1
    assert result.stdout == "Did you mean: chargeback\nNo articles match 'chargebak'.\n"


def test_cli_json_summary_has_the_suggestion_or_the_correction(index_dir: Path):
    result = run("search", "停息挂帐", "--index", str(index_dir), "--json", "--facet", "year", "--no-correct")
    summary, *hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in hits] == ["card.txt"]
    assert summary["suggestion"] == "停息挂账" and summary["corrected"] is None
    assert summary["facets"] == {"year": {}}
    fixed = run("search", "chargebak", "--index", str(index_dir), "--json")
    assert fixed.exit_code == 0
    summary, *hits = [json.loads(line) for line in fixed.stdout.splitlines()]
    assert (summary["query"], summary["corrected"], summary["suggestion"]) == ("chargebak", "chargeback", None)
    assert [r["id"] for r in hits] == ["latin.txt"]


def test_question_words_are_never_corrected(searcher: Searcher):
    _, ranker = searcher._current()
    # 哪儿 is in no article (they state, they don't ask) but is a question word.
    assert suspect_spans("网贷逾期哪儿", ranker) == []
    assert searcher.search("停息挂账哪儿").suggestion is None


def test_an_unseen_part_is_corrected_only_when_it_is_a_large_share_or_little_is_found(searcher: Searcher):
    from zhsearch.search.suggest import suggest

    _, ranker = searcher._current()
    long_query = "网代逾期以后先和平台沟通还款计划"  # 2 unseen characters of 16
    assert suggest(long_query, ranker, found=0) == "网贷逾期以后先和平台沟通还款计划"
    assert suggest(long_query, ranker, found=10) is None
    assert suggest("网代逾期", ranker, found=10) == "网贷逾期"  # half of it unseen
