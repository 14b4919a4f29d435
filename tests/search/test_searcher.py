"""Searching the sample articles: ranking, sections, highlights, syntax, and the library API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zhsearch.corpus.errors import ArticleNotFoundError, IndexNotFoundError, ZhsearchError
from zhsearch.indexer.analysis import fold, grams, tokenize
from zhsearch.indexer.build import build_index
from zhsearch.indexer.schema import SCHEMA_VERSION
from zhsearch.indexer.storage import index_exists
from zhsearch.search.searcher import Hit, Results, Searcher, search, show, stats

ARTICLES = Path(__file__).resolve().parents[2] / "corpus" / "articles"
ALL_IDS = sorted(p.name for p in ARTICLES.iterdir())


@pytest.fixture(scope="module")
def searcher(sample_index: Path):
    with Searcher(sample_index) as s:
        yield s


@pytest.fixture(scope="module")
def haystacks(searcher: Searcher) -> dict[str, list[str]]:
    """Folded indexed text of every sample article: title, heading paths, bodies."""
    out = {}
    for art_id in ALL_IDS:
        article = searcher.article(art_id)
        parts = [article.title]
        for s in article.sections:
            parts.extend(s.path)
            parts.append(s.text)
        out[art_id] = [fold(p) for p in parts]
    return out


def contains(haystacks: dict[str, list[str]], art_id: str, text: str) -> bool:
    return any(fold(text) in part for part in haystacks[art_id])


# --------------------------------------------------------------------------
# Relevance


QUESTION = "网贷逾期多久会上门走访"


def test_question_finds_the_article_about_it_first(searcher: Searcher):
    results = searcher.search(QUESTION)
    top = results.hits[0]
    assert top.id == "wd-001.txt"
    assert top.title == "网贷逾期多久会有人上门？上门走访的时间节点和应对办法"
    assert any("上门" in h or "多久" in h for h in top.section.path)


def test_question_answers_with_a_section_on_when_visits_happen(searcher: Searcher):
    top = searcher.search(QUESTION).hits[0]
    assert top.id == "wd-001.txt"
    # Under the chapter on the stage at which home visits happen (1.1 on
    # overdue months or 1.2 on amounts; "多久" itself carries no weight).
    assert top.section.path[0] == "一、上门走访一般出现在什么阶段"
    assert "[上门]" in top.render(("[", "]"))


def test_simplified_query_finds_traditional_article_with_highlights_in_its_script(searcher: Searcher):
    results = searcher.search("前置协商")
    top = results.hits[0]
    assert top.id == "tw-001.txt"
    rendered = top.render(("[", "]"))
    assert "[前置協商]" in rendered
    assert "前置协商" not in top.snippet


def test_traditional_query_finds_simplified_articles(searcher: Searcher):
    hits = searcher.search("網貸逾期多久會上門走訪").hits
    assert "wd-001.txt" in [h.id for h in hits[:3]]


@pytest.mark.parametrize("phrase", ["逾期半年", "上门走访", "前置协商", "最低还款", "信用卡逾期"])
def test_phrase_matches_exactly_the_articles_with_those_characters(searcher, haystacks, phrase: str):
    results = searcher.search(f'"{phrase}"', limit=100)
    expected = {a for a in ALL_IDS if contains(haystacks, a, phrase)}
    assert expected, "pick a phrase that occurs in the sample"
    assert {h.id for h in results.hits} == expected
    assert results.total == len(expected)


def test_two_phrases_from_different_sections_find_the_article(searcher: Searcher):
    assert [h.id for h in searcher.search('"忘了还" "外访通知"').hits] == ["wd-001.txt"]


def test_phrase_is_stricter_than_its_words(searcher: Searcher):
    words = {h.id for h in searcher.search("逾期 半年", limit=100).hits}
    phrase = {h.id for h in searcher.search('"逾期半年"', limit=100).hits}
    assert phrase < words


def test_exclude_removes_articles_containing_the_word(searcher, haystacks):
    with_word = {h.id for h in searcher.search("逾期", limit=100).hits}
    results = searcher.search("逾期 -网贷", limit=100)
    ids = {h.id for h in results.hits}
    assert ids
    assert not [a for a in ids if contains(haystacks, a, "网贷")]
    assert ids == {a for a in with_word if not contains(haystacks, a, "网贷")}


def test_title_field_only_matches_titles(searcher, haystacks):
    hits = searcher.search("title:征信", limit=100).hits
    assert hits
    assert all("征信" in fold(h.title) for h in hits)


def test_and_requires_both_words(searcher, haystacks):
    hits = searcher.search("协商 AND 征信", limit=100).hits
    assert hits
    for h in hits:
        assert contains(haystacks, h.id, "协商") and contains(haystacks, h.id, "征信")


# Bank and platform names that appear only in the 相关文章 teasers of the sample
# pages (wd-001.txt and fx-001.txt tease 浦发银行, tw-001.txt tease 玉山銀行 ...).
TEASER_ONLY = ["浦发银行", "度小满", "玉山銀行", "洋钱罐", "美团月付"]


@pytest.mark.parametrize("name", TEASER_ONLY)
def test_words_only_in_related_teasers_do_not_find_the_article(searcher, haystacks, name: str):
    teasing = [a for a in ALL_IDS if name in (ARTICLES / a).read_text(encoding="utf-8", errors="replace")]
    assert teasing, "the name must occur in some sample file"
    assert not any(contains(haystacks, a, name) for a in ALL_IDS)
    exact = searcher.search(f'"{name}"', limit=100)
    # No article has the phrase: at most the relaxed query's hits, said so.
    assert not exact.hits or any("no article has all of" in n for n in exact.notices)
    # Free text may match parts of the name (银行); every hit must be explained
    # by its own indexed text, never by a teaser.
    pieces = [g for g, _, _ in grams(name)] + [t for t, _, _ in tokenize(name)]
    for hit in (*searcher.search(name, limit=100).hits, *exact.hits):
        assert any(contains(haystacks, hit.id, p) for p in pieces), hit.id


def test_teaser_text_is_not_searchable_but_body_text_is(make_index):
    index_dir = make_index(
        {
            "teased.txt": "网贷逾期怎么办\n\n一、先别慌\n\n先和平台沟通。\n\n相关文章\n\n招商银行信用卡逾期两个月会怎样\n\n招商银行的持卡人逾期以后...\n",
            "bank.txt": "信用卡分期\n\n一、办理\n\n招商银行可以在手机上办理账单分期。\n",
        }
    )
    with Searcher(index_dir) as s:
        assert [h.id for h in s.search("招商银行").hits] == ["bank.txt"]
        assert s.article("teased.txt").meta["related"] == ["招商银行信用卡逾期两个月会怎样"]


COLLAPSE_QUERIES = [
    "逾期",
    QUESTION,
    "信用卡",
    "征信 OR 协商",
    "逾期 -网贷",
    "信用卡 -征信",
    '"上门走访" OR 逾期',
]


@pytest.mark.parametrize("query", COLLAPSE_QUERIES)
@pytest.mark.parametrize("limit", [10, 100])
def test_each_article_appears_at_most_once(searcher: Searcher, query: str, limit: int):
    results = searcher.search(query, limit=limit)
    ids = [h.id for h in results.hits]
    assert ids
    assert len(ids) == len(set(ids))
    assert [h.rank for h in results.hits] == list(range(1, len(ids) + 1))
    assert results.total >= len(ids)
    if len(ids) < limit:
        assert results.total == len(ids)


def test_scores_are_in_descending_order(searcher: Searcher):
    scores = [h.score for h in searcher.search(QUESTION, limit=20).hits]
    assert scores == sorted(scores, reverse=True)


def test_pagination(searcher: Searcher):
    p1 = searcher.search("逾期", limit=5, page=1)
    p2 = searcher.search("逾期", limit=5, page=2)
    assert p1.total == p2.total > 10
    assert [h.rank for h in p1.hits] == [1, 2, 3, 4, 5]
    assert [h.rank for h in p2.hits] == [6, 7, 8, 9, 10]
    assert [h.id for h in p1.hits] != [h.id for h in p2.hits]
    assert p1.pages == (p1.total + 4) // 5
    beyond = searcher.search("逾期", limit=5, page=p1.pages + 1)
    assert beyond.hits == () and beyond.total == p1.total


@pytest.mark.parametrize("query", ["逾期", "征信", "逾期 -网贷"])
def test_pages_are_slices_of_one_ranking(searcher: Searcher, query: str):
    top20 = [h.id for h in searcher.search(query, limit=20).hits]
    p1 = [h.id for h in searcher.search(query, limit=5, page=1).hits]
    p2 = [h.id for h in searcher.search(query, limit=5, page=2).hits]
    assert not set(p1) & set(p2)
    assert p1 + p2 == top20[:10]


# --------------------------------------------------------------------------
# Hits


def test_hit_fields(searcher: Searcher):
    results = searcher.search(QUESTION, limit=3)
    assert isinstance(results, Results)
    assert results.query == QUESTION
    assert len(results) == 3 and list(results) == list(results.hits)
    hit = results.hits[0]
    assert isinstance(hit, Hit)
    assert hit.rank == 1
    assert hit.id == "wd-001.txt"
    assert hit.title.startswith("网贷逾期多久会有人上门")
    assert hit.score > 0
    article = searcher.article(hit.id)
    section = next(s for s in article.sections if s.index == hit.section.index)
    assert hit.section.heading == section.heading
    assert hit.section.path == section.path
    assert hit.section.path[-1] == hit.section.heading
    assert hit.snippet and hit.highlights
    for start, end in hit.highlights:
        assert hit.snippet[start:end] in section.text
    assert hit.meta["author"] == "老周"
    assert hit.meta["date"] == "2024-08-17"
    assert "source" not in hit.meta
    assert hit.source is not None and Path(hit.source).name == "wd-001.txt"


def test_hit_as_dict_is_json_serialisable(searcher: Searcher):
    for hit in searcher.search(QUESTION, limit=5).hits:
        data = json.loads(json.dumps(hit.as_dict(), ensure_ascii=False))
        assert data["id"] == hit.id
        assert data["section"]["path"] == list(hit.section.path)
        assert data["highlights"] == [list(h) for h in hit.highlights]
        assert set(data) >= {"rank", "id", "title", "score", "section", "snippet", "highlights", "meta", "source"}


def test_snippets_can_be_skipped(searcher: Searcher):
    hits = searcher.search(QUESTION, limit=3, snippets=False).hits
    assert [h.id for h in hits] == [h.id for h in searcher.search(QUESTION, limit=3).hits]
    assert all(h.snippet == "" and h.highlights == () for h in hits)


def test_snippet_width_follows_snippet_chars(sample_index: Path):
    with Searcher(sample_index, snippet_chars=30) as s:
        hits = s.search("逾期", limit=5).hits
    assert all(len(h.snippet) <= 32 for h in hits)


# --------------------------------------------------------------------------
# Odd queries never raise


@pytest.mark.parametrize(
    "query",
    ["", "   ", "？！。，、", "???", "什么吗呢", '"上门走访', "「", "-", "AND", "OR OR", "title:", "😀" * 100],
    ids=[
        "empty",
        "spaces",
        "cjk-punct",
        "ascii-punct",
        "question-words",
        "open-quote",
        "open-corner",
        "minus",
        "and",
        "or-or",
        "field-only",
        "emoji",
    ],
)
def test_odd_queries_never_raise(searcher: Searcher, query: str):
    results = searcher.search(query)
    assert results.total >= len(results.hits)
    if not results.hits:
        assert results.notices or results.total == 0


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_search_accepts_any_string(searcher: Searcher, query: str):
    results = searcher.search(query, limit=3)
    assert results.total >= len(results.hits)
    assert len({h.id for h in results.hits}) == len(results.hits)


def test_empty_query_says_so(searcher: Searcher):
    results = searcher.search("")
    assert results.hits == () and results.total == 0
    assert any("empty" in n for n in results.notices)
    assert searcher.search("？！。").notices


def test_10000_char_query_is_shortened_with_a_notice(searcher: Searcher):
    query = ("上门走访的时间节点，网贷逾期以后怎么应对？" * 500)[:10_000]
    results = searcher.search(query)
    assert results.hits
    assert any("shortened" in n for n in results.notices)


def test_non_string_query_is_a_library_error(searcher: Searcher):
    with pytest.raises(ZhsearchError):
        searcher.search(None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# The library API


def test_searcher_is_a_context_manager(sample_index: Path):
    with Searcher(sample_index) as s:
        assert isinstance(s, Searcher)
        assert s.search("征信").hits


def test_searcher_sees_updates_made_while_open(make_index, tmp_path: Path):
    index_dir = make_index({"a.txt": "第一篇\n\n一、内容\n\n协商还款的经验。\n"})
    with Searcher(index_dir) as s:
        assert s.search("停息挂账").hits == ()
        (tmp_path / "idx-docs" / "b.txt").write_text("第二篇\n\n一、内容\n\n停息挂账的条件。\n", encoding="utf-8")
        build_index([tmp_path / "idx-docs"], index_dir)
        assert [h.id for h in s.search("停息挂账").hits] == ["b.txt"]


def test_show_returns_the_article(sample_index: Path):
    article = show("wd-001.txt", sample_index)
    assert article.id == "wd-001.txt"
    assert article.title == "网贷逾期多久会有人上门？上门走访的时间节点和应对办法"
    assert article.meta["author"] == "老周"
    headings = [s.heading for s in article.sections]
    assert "1.1 从账龄看：M1到M3" in headings
    assert "相关文章" not in article.text and "浦发银行" not in article.text


def test_show_one_section(sample_index: Path):
    full = show("wd-001.txt", sample_index)
    timing = next(s for s in full.sections if s.heading == "1.1 从账龄看：M1到M3")
    article = show("wd-001.txt", sample_index, section=timing.index)
    assert article.sections == (timing,)
    assert "90天以后" in fold(timing.text)


def test_show_unknown_article_or_section(sample_index: Path):
    with pytest.raises(ArticleNotFoundError, match="nope.txt"):
        show("nope.txt", sample_index)
    with pytest.raises(ArticleNotFoundError, match="no section 999"):
        show("wd-001.txt", sample_index, section=999)


def test_stats(sample_index: Path):
    st = stats(sample_index)
    assert st.articles == 41
    assert st.sections > st.articles
    assert st.terms > 1000
    assert st.size_bytes > 0
    assert st.schema_version == SCHEMA_VERSION
    assert st.analyzer["engine"] in ("jieba", "rjieba")
    assert st.index_dir == str(sample_index)


def test_search_function_matches_searcher(sample_index: Path, searcher: Searcher):
    results = search(QUESTION, sample_index, limit=3)
    assert [h.id for h in results.hits] == [h.id for h in searcher.search(QUESTION, limit=3).hits]
    assert results.notices == ()


def test_search_without_an_index_builds_the_sample_one_at_the_default_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    index_dir = tmp_path / "fresh"
    monkeypatch.setenv("ZHSEARCH_INDEX", str(index_dir))
    results = search("上门走访")
    assert index_exists(index_dir)
    assert results.hits and results.hits[0].id == "wd-001.txt"
    assert len(results.notices) == 1
    assert str(index_dir) in results.notices[0]
    assert "41" in results.notices[0] and "sample" in results.notices[0]
    # Second time the index is there: no notice.
    assert search("上门走访").notices == ()


def test_search_of_a_given_directory_without_an_index_is_an_error(tmp_path: Path):
    with pytest.raises(IndexNotFoundError, match="no index at .*mistyped$"):
        search("上门走访", tmp_path / "mistyped")
    assert not (tmp_path / "mistyped").exists()


def test_a_phrase_is_confirmed_on_the_text_not_just_its_bigrams(make_index):
    index_dir = make_index(
        {
            "apart.txt": "分开\n\n个人信用要紧。信息公开另说。\n",  # 个人 人信 信息, never 个人信息
            "simple.txt": "简体\n\n个人信息受法律保护。\n",
            "trad.txt": "繁體\n\n個人信息受法律保護。\n",  # found through folding
            "title.txt": "个人信息怎么查\n\n正文没有这个词组。\n",  # in the title only
        }
    )
    with Searcher(index_dir) as s:
        assert sorted(h.id for h in s.search('"个人信息"')) == ["simple.txt", "title.txt", "trad.txt"]
        assert sorted(h.id for h in s.search('信用 -"个人信息"')) == ["apart.txt"]
        assert sorted(h.id for h in s.search('body:"个人信息"')) == ["simple.txt", "trad.txt"]
        # Asked again (paging), the same answer from the snapshot's memory.
        assert s.search('"个人信息"', page=2, limit=2).total == 3
