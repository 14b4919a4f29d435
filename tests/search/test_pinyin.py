"""Pinyin queries: full, joined and initials, on hand-made articles; and the title measure."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from zhsearch.search.cli import main
from zhsearch.search.pinyin import query_parts, reading, spell, spelled
from zhsearch.search.searcher import Searcher

ARTICLES = {
    "loan.txt": "网贷逾期怎么办\n\n一、先沟通\n\n网贷逾期以后，先和平台沟通还款计划。\n",
    "card.txt": "信用卡年费\n\n一、年费\n\n信用卡年费可以和朋友一起到网点咨询。\n",
    "latin.txt": "拼音笔记\n\n一、正文\n\n有人把网络贷款简写成 wangdai，这里记一笔。\n",
    "tw.txt": "卡債協商\n\n一、流程\n\n卡債協商要先準備收入證明。\n",
}


@pytest.fixture(scope="module")
def searcher(shared_index):
    with Searcher(shared_index(ARTICLES, "pinyin")) as s:
        yield s


def ids(results) -> list[str]:
    return [h.id for h in results.hits]


def test_what_looks_like_pinyin():
    assert query_parts("wangdai yuqi") == [("full", "wangdaiyuqi")]
    assert query_parts("WangDaiYuQi") == [("full", "wangdaiyuqi")]
    assert query_parts("xi'an") == [("full", "xian")]
    assert query_parts("wdyq") == [("initials", "wdyq")]
    assert query_parts("wangdai yq") == [("full", "wangdai"), ("initials", "yq")]
    for not_pinyin in ("网贷", "wd2", "wangdai!", "", "  ", "quiz", "title:wd"):
        assert query_parts(not_pinyin) is None, not_pinyin


def test_readings():
    assert reading("网贷逾期") == ["wang", "dai", "yu", "qi"]
    assert reading("银行卡") == ["yin", "hang", "ka"]  # the phrase's reading, not 行's first
    assert reading("绿") == ["lv"]
    assert spelled("LPR四倍？") == ["si", "bei"]
    assert spell("网贷逾期怎么办？") == {
        "words": "wangdai yuqi zenmeban",
        "joined": "wangdaiyuqizenmeban",
        "initials": "wdyqzmb",
    }


@pytest.mark.parametrize("query", ["wangdaiyuqi", "wang dai yu qi", "wdyq", "wang'dai yq"])
def test_pinyin_finds_the_article_and_marks_its_characters(searcher: Searcher, query: str):
    results = searcher.search(query)
    assert ids(results)[0] == "loan.txt"
    assert results.hits[0].render() == "[网贷逾期]以后，先和平台沟通还款计划。"
    assert results.notices == (f"read {query!r} as pinyin: 网贷 逾期",)


def test_traditional_text_is_found_and_marked_in_its_own_script(searcher: Searcher):
    results = searcher.search("kazhai xieshang")
    assert ids(results) == ["tw.txt"]
    assert results.hits[0].render() == "[卡債協商]要先準備收入證明。"


@pytest.mark.parametrize("query", ["wangdai", "wangdai yuqi"])
def test_exact_characters_outrank_pinyin(searcher: Searcher, query: str):
    # latin.txt has the letters "wangdai" as typed; loan.txt only 网贷.
    results = searcher.search(query)
    assert ids(results)[:2] == ["latin.txt", "loan.txt"]
    assert "[wangdai]" in results.hits[0].render()
    assert "[网贷" in results.hits[1].render()


def test_less_common_homophones_rank_lower_and_are_marked_where_they_matched(searcher: Searcher):
    # wd also spells 网点 and yq 一起, which card.txt has: 网贷 and 逾期 are
    # commoner in this index, so loan.txt comes first.
    hits = searcher.search("wdyq").hits
    assert [h.id for h in hits] == ["loan.txt", "card.txt"]
    assert hits[1].render() == "信用卡年费可以和朋友[一起]到[网点]咨询。"


@pytest.mark.parametrize("query", ["zzyzx", "qqqq", "bcdfg"])
def test_initials_nothing_spells_find_nothing(searcher: Searcher, query: str):
    results = searcher.search(query)
    assert results.hits == () and results.notices == ()


def test_chinese_queries_are_untouched(searcher: Searcher):
    results = searcher.search("网贷")
    assert results.notices == ()
    assert ids(results) == ["loan.txt"]


def test_pinyin_queries_built_from_titles_find_their_article_first(sample_index: Path):
    """The measure: every sample title spelled in full (spaced and joined)
    and as initials; at least 80% must find the title's article at rank 1
    (bench/pinyin.py prints the same on any index)."""
    total = first = 0
    with Searcher(sample_index) as s:
        _, ranker = s._current()
        for art in ranker.articles:
            for query in spell(s.article(art).title, s.settings).values():
                total += 1
                first += [h.id for h in s.search(query, limit=1, snippets=False).hits] == [art]
    assert total == 3 * 41
    assert first / total >= 0.8


def test_cli_pinyin(searcher: Searcher):
    result = CliRunner().invoke(main, ["search", "wdyq", "--index", str(searcher.index_dir), "--color", "never"])
    assert result.exit_code == 0, result.output
    assert result.stderr == "zhsearch: read 'wdyq' as pinyin: 网贷 逾期\n"
    lines = result.stdout.splitlines()
    assert re.match(r"\d+ articles? match", lines[0])
    assert "1. 网贷逾期怎么办" in lines
    assert "   [网贷逾期]以后，先和平台沟通还款计划。" in lines


def test_a_far_less_common_homophone_is_not_marked():
    from zhsearch.search.pinyin import Reading

    r = Reading(((("网贷", 1.0),), (("逾期", 1.0), ("一起", 0.1))))
    assert r.text == "网贷 逾期"
    assert r.words_in("网贷和朋友一起") == ["网贷"]
    assert r.words_in("网贷逾期，一起") == ["网贷", "逾期"]


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz' ", max_size=24))
def test_any_latin_query_is_searched_without_error(searcher: Searcher, query: str):
    results = searcher.search(query, limit=5)
    assert results.total >= len(results.hits)
    assert results.suggestion != query
    for hit in results.hits:
        assert all(0 <= a < b <= len(hit.snippet) for a, b in hit.highlights)
