"""Filters, facets and date order, on hand-made articles whose answers are known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from zhsearch.corpus.errors import OptionError
from zhsearch.search.cli import main
from zhsearch.search.filters import date_number, parse_bound
from zhsearch.search.searcher import Searcher, search


def md(title: str, body: str, **meta: object) -> str:
    lines = [f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in meta.items()]
    return "---\n" + "\n".join([f"title: {title}", *lines]) + "\n---\n\n" + body


# By score for 催收: visit > card > tw > debt > plain; old.md does not have it.
ARTICLES = {
    "loans/visit.md": md(
        "上门催收怎么办",
        "## 一、上门\n\n催收人员上门催收，催收要合规，催收不能骚扰。\n\n## 二、投诉\n\n违规催收可以投诉。\n",
        category="网贷逾期",
        author="老周",
        tags=["催收", "上门"],
        date="2024-08-17",
    ),
    "cards/card.md": md(
        "信用卡催收",
        "信用卡逾期后银行催收，也有委外催收。\n",
        category="信用卡逾期",
        author="小花",
        tags=["停息挂账"],
        date="2023-05-01",
    ),
    "loans/tw.md": md(
        "網貸催收",
        "網貸逾期後，還有第三方催收。\n",
        category="網貸逾期",
        author="老周",
        tags=["催收"],
        date="2025-01-10",
    ),
    "debt.txt": "债务重组\n\n阿杰2024-08-17债务优化120\n\n一、概述\n\n催收之外，债务重组是另一条路。\n",
    "plain.md": md("没有日期的文章", "这里也提到催收一次，但没有写日期。\n", category="其他"),
    "old.md": md("旧文", "旧文章只谈征信，不谈别的。\n", category="征信知识", date="2020-02-29"),
}


@pytest.fixture(scope="module")
def index_dir(shared_index) -> Path:
    return shared_index(ARTICLES, "filters")


@pytest.fixture(scope="module")
def searcher(index_dir: Path):
    with Searcher(index_dir) as s:
        yield s


def ids(results) -> list[str]:
    return [h.id for h in results.hits]


def test_without_filters_everything_with_the_word_matches(searcher: Searcher):
    assert ids(searcher.search("催收")) == ["loans/visit.md", "cards/card.md", "loans/tw.md", "debt.txt", "plain.md"]


# --------------------------------------------------------------------------
# Filters


def test_category_matches_folded_and_alternatives_are_ored(searcher: Searcher):
    assert ids(searcher.search("催收", category="网贷逾期")) == ["loans/visit.md", "loans/tw.md"]
    assert ids(searcher.search("催收", category="網貸逾期")) == ["loans/visit.md", "loans/tw.md"]
    assert ids(searcher.search("催收", category=["信用卡逾期", "债务优化"])) == ["cards/card.md", "debt.txt"]


def test_author_and_tag(searcher: Searcher):
    assert ids(searcher.search("催收", author="老周")) == ["loans/visit.md", "loans/tw.md"]
    assert ids(searcher.search("催收", tag="上门")) == ["loans/visit.md"]
    assert ids(searcher.search("催收", tag=["催收", "停息挂账"])) == ["loans/visit.md", "cards/card.md", "loans/tw.md"]


def test_date_bounds_are_inclusive_and_exclude_undated_articles(searcher: Searcher):
    assert ids(searcher.search("催收", since="2024-08-17")) == ["loans/visit.md", "loans/tw.md", "debt.txt"]
    assert ids(searcher.search("催收", until="2024-08-17")) == ["loans/visit.md", "cards/card.md", "debt.txt"]
    assert ids(searcher.search("催收", since="2024-08-18")) == ["loans/tw.md"]
    # A year or a month stands for its first day (since) or last day (until).
    assert ids(searcher.search("催收", since="2024", until="2024")) == ["loans/visit.md", "debt.txt"]
    assert ids(searcher.search("催收", until="2023-05")) == ["cards/card.md"]
    assert ids(searcher.search("征信", until="2020-02")) == ["old.md"]


def test_source_glob_on_file_name_or_path(searcher: Searcher):
    assert ids(searcher.search("催收", source="*.txt")) == ["debt.txt"]
    assert ids(searcher.search("催收", source="*/loans/*")) == ["loans/visit.md", "loans/tw.md"]
    assert ids(searcher.search("催收", source=["card.md", "plain.*"])) == ["cards/card.md", "plain.md"]
    assert ids(searcher.search("催收", source="visit")) == []


def test_filters_combine_with_each_other_and_with_the_query(searcher: Searcher):
    assert ids(searcher.search("催收", author="老周", since="2025")) == ["loans/tw.md"]
    assert ids(searcher.search("催收 -上门", author="老周")) == ["loans/tw.md"]
    assert ids(searcher.search('"第三方催收"', category="网贷逾期")) == ["loans/tw.md"]
    assert ids(searcher.search('"第三方催收"', category="信用卡逾期")) == []


def test_a_value_no_article_has_finds_nothing_and_says_so(searcher: Searcher):
    results = searcher.search("催收", category="不存在")
    assert results.hits == () and results.total == 0
    assert results.notices == ("no article in the index has category '不存在'",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"since": "2024-13"}, "since='2024-13' is not a date"),
        ({"until": "yesterday"}, "until='yesterday' is not a date"),
        ({"since": "2025", "until": "2024"}, "after until"),
        ({"facets": ["colour"]}, "unknown facet 'colour'"),
        ({"sort": "views"}, "unknown sort 'views'"),
        ({"category": [1]}, "category must be a string"),
    ],
)
def test_bad_options_are_library_errors(searcher: Searcher, kwargs, message: str):
    with pytest.raises(OptionError, match=message):
        searcher.search("催收", **kwargs)


def test_date_parsing():
    assert date_number("2024-08-17") == 20240817
    assert date_number("2024/8/7") == 20240807
    assert date_number("2024年8月7日") == 20240807
    assert date_number("2024-02-30") == 0 and date_number("") == 0 and date_number(None) == 0
    assert parse_bound("until", "2024-02", end=True) == 20240229
    assert parse_bound("until", "2023-12", end=True) == 20231231
    assert parse_bound("since", "2023", end=False) == 20230101


# --------------------------------------------------------------------------
# Facets


def test_facets_count_matching_articles_not_sections(searcher: Searcher):
    results = searcher.search("催收", facets=["category", "author", "tag", "year"], limit=1)
    assert len(results.hits) == 1  # counts cover all matches, not the page
    # visit.md matches in two sections and counts once; 網貸逾期 folds into 网贷逾期.
    assert results.facets == {
        "category": {"网贷逾期": 2, "信用卡逾期": 1, "债务优化": 1, "其他": 1},
        "author": {"老周": 2, "小花": 1, "阿杰": 1},
        "tag": {"催收": 2, "上门": 1, "停息挂账": 1},
        "year": {"2024": 2, "2023": 1, "2025": 1},
    }


def test_facets_follow_the_filters_and_are_empty_unless_asked(searcher: Searcher):
    assert searcher.search("催收", facets=["year"], author="老周").facets == {"year": {"2024": 1, "2025": 1}}
    assert searcher.search("催收").facets == {}
    assert searcher.search("催收", facets=["year"], category="不存在").facets == {"year": {}}


def test_facet_counts_equal_filtered_totals(sample_index: Path):
    with Searcher(sample_index) as s:
        counts = s.search("逾期", facets=["category", "author"]).facets
        # Every matching article with a category counted once (the sample
        # PDF has none).
        hits = s.search("逾期", limit=100).hits
        assert sum(counts["category"].values()) == sum(1 for h in hits if h.meta.get("category"))
        for name in ("category", "author"):
            for value, n in counts[name].items():
                filtered = s.search("逾期", limit=100, **{name: value})
                assert filtered.total == n
                assert all(h.meta[name] == value for h in filtered.hits)


# --------------------------------------------------------------------------
# Sorting


def test_sort_by_date_newest_first_undated_last(searcher: Searcher):
    results = searcher.search("催收", sort="date")
    assert ids(results) == ["loans/tw.md", "loans/visit.md", "debt.txt", "cards/card.md", "plain.md"]
    # visit.md and debt.txt share a date: the better match goes first.
    assert results.hits[1].score > results.hits[2].score
    assert [h.rank for h in results.hits] == [1, 2, 3, 4, 5]


def test_sorted_pages_are_slices_of_one_order(searcher: Searcher):
    whole = ids(searcher.search("催收", sort="date"))
    pages = [ids(searcher.search("催收", sort="date", limit=2, page=p)) for p in (1, 2, 3)]
    assert sum(pages, []) == whole


def test_module_search_takes_the_same_keywords(index_dir: Path):
    results = search("催收", index_dir, category="网贷逾期", sort="date", facets=["author"])
    assert ids(results) == ["loans/tw.md", "loans/visit.md"]
    assert results.facets == {"author": {"老周": 2}}


# --------------------------------------------------------------------------
# The command line


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_cli_filters_sort_and_facets(index_dir: Path):
    result = run(
        "search", "催收", "--index", str(index_dir), "--author", "老周", "--sort", "date",
        "--facet", "category", "--facet", "year", "--color", "never",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("2 articles match; showing 1-2")
    assert [ln for ln in lines if ln[:2] in ("1.", "2.")] == ["1. 網貸催收", "2. 上门催收怎么办"]
    assert lines[-3:] == ["", "category: 网贷逾期 (2)", "year: 2024 (1), 2025 (1)"]


def test_cli_json_ends_with_the_facets_only_when_asked(index_dir: Path):
    result = run("search", "催收", "--index", str(index_dir), "--json", "--facet", "tag", "--since", "2024")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows[1:]] == ["loans/visit.md", "loans/tw.md", "debt.txt"]
    assert rows[0]["type"] == "summary" and rows[0]["facets"] == {"tag": {"催收": 2, "上门": 1}}
    plain = run("search", "催收", "--index", str(index_dir), "--json", "--category", "其他")
    assert [r["id"] for r in map(json.loads, plain.stdout.splitlines()) if r["type"] == "hit"] == ["plain.md"]


def test_cli_source_and_tag(index_dir: Path):
    result = run("search", "催收", "--index", str(index_dir), "--source", "*.txt", "--source", "card.md", "--json")
    assert [r["id"] for r in map(json.loads, result.stdout.splitlines()) if r["type"] == "hit"] == [
        "cards/card.md",
        "debt.txt",
    ]
    result = run("search", "催收", "--index", str(index_dir), "--tag", "上门", "--json")
    assert [r["id"] for r in map(json.loads, result.stdout.splitlines()) if r["type"] == "hit"] == ["loans/visit.md"]


def test_cli_filter_matching_nothing_exits_1_with_a_notice(index_dir: Path):
    result = run("search", "催收", "--index", str(index_dir), "--category", "不存在")
    assert result.exit_code == 1
    assert result.stderr == "zhsearch: no article in the index has category '不存在'\n"
    assert "No articles match '催收'." in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--since", "2024-13"], "is not a date"), (["--since", "2025", "--until", "2024"], "after until")],
)
def test_cli_bad_dates_are_one_line_errors(index_dir: Path, args: list[str], message: str):
    result = run("search", "催收", "--index", str(index_dir), *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("zhsearch: error: ") and message in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_cli_rejects_unknown_facet_and_sort(index_dir: Path):
    for args in (["--facet", "colour"], ["--sort", "views"]):
        result = run("search", "催收", "--index", str(index_dir), *args)
        assert result.exit_code == 2 and "Invalid value" in result.stderr


# --------------------------------------------------------------------------
# Properties


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(
    query=st.text(max_size=20),
    category=st.sampled_from([None, "网贷逾期", "信用卡逾期", "其他", "不存在"]),
    since=st.sampled_from([None, "2023", "2024-08-17"]),
    sort=st.sampled_from(["score", "date"]),
)
def test_filtered_results_obey_their_filters_and_facets_add_up(searcher: Searcher, query, category, since, sort):
    results = searcher.search(query, limit=50, category=category, since=since, sort=sort, facets=["category"])
    assert results.total == len(results.hits)
    assert sum(results.facets.get("category", {}).values()) == results.total
    for hit in results.hits:
        if category:
            assert hit.meta.get("category") in (category, "網貸逾期")
        if since:
            assert date_number(hit.meta.get("date")) >= parse_bound("since", since, end=False)
    if sort == "date":
        dates = [date_number(h.meta.get("date")) or -1 for h in results.hits]
        assert dates == sorted(dates, reverse=True)
