"""Related articles (more like this), on hand-made articles whose neighbours are known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from zhsearch.corpus.errors import ArticleNotFoundError
from zhsearch.search.cli import main
from zhsearch.search.related import SNIPPET_CHARS, key_terms
from zhsearch.search.searcher import Searcher, related

ARTICLES = {
    "stop.txt": (
        "停息挂账怎么申请\n\n一、条件\n\n停息挂账要求持卡人确实没有还款能力，银行才会同意停息挂账。\n\n"
        "二、流程\n\n先打信用卡客服电话，说明停息挂账的诉求，再提交收入证明，银行审核后办理停息挂账。\n"
    ),
    "stop2.txt": (
        "停息挂账被银行拒绝怎么办\n\n一、原因\n\n银行拒绝停息挂账，多半是认为持卡人还有还款能力。\n\n"
        "二、再申请\n\n补充收入证明后，可以再次向信用卡中心申请停息挂账。\n"
    ),
    "annual.txt": "信用卡年费\n\n一、年费\n\n信用卡年费一般刷卡六次可以免除，银行客服电话可以查询。\n",
    "iou.txt": "借条怎么写\n\n一、要素\n\n借条要写明出借人、借款人、金额和还款日期，借条最好手写签名。\n",
}


@pytest.fixture(scope="module")
def index_dir(shared_index) -> Path:
    return shared_index(ARTICLES, "related")


@pytest.fixture(scope="module")
def searcher(index_dir: Path):
    with Searcher(index_dir) as s:
        yield s


def test_key_terms_are_the_articles_own_topic(searcher: Searcher):
    _, ranker = searcher._current()
    terms = [t for t, _ in key_terms(searcher.article("stop.txt"), ranker)]
    assert {"停息", "挂账"} <= set(terms[:3])
    assert {"银行", "持卡人", "收入"} <= set(terms)
    assert not {"怎么", "的", "了"} & set(terms)


def test_most_similar_first_and_itself_excluded(searcher: Searcher):
    results = searcher.related("stop.txt")
    # annual.txt shares 信用卡, 银行 and 客服电话; iou.txt none of the key terms.
    assert [h.id for h in results.hits] == ["stop2.txt", "annual.txt"]
    assert results.total == 2
    assert [h.rank for h in results.hits] == [1, 2]
    assert results.hits[0].score > 2 * results.hits[1].score


def test_each_related_article_has_a_one_line_highlighted_snippet(searcher: Searcher):
    for hit in searcher.related("stop.txt").hits:
        assert "\n" not in hit.snippet
        assert len(hit.snippet) <= SNIPPET_CHARS + 2
        assert hit.highlights
    top = searcher.related("stop.txt", limit=1).hits[0]
    assert top.render(("[", "]")) == "补充[收入证明]后，可以再次向信用卡中心[申请停息挂账]。"


def test_limit_and_the_library_function(index_dir: Path, searcher: Searcher):
    assert [h.id for h in related("stop2.txt", index_dir, limit=1).hits] == ["stop.txt"]
    assert len(searcher.related("iou.txt", limit=2).hits) <= 2


def test_unknown_article_is_an_error(searcher: Searcher):
    with pytest.raises(ArticleNotFoundError, match="nope.txt"):
        searcher.related("nope.txt")


def test_sample_article_relates_to_articles_on_the_same_subject(sample_index: Path):
    with Searcher(sample_index) as s:
        results = s.related("wd-001.txt", limit=3)
    # wd-001 is about home visits by debt collectors; so is the first of
    # the two collection articles (cs-002 debunks "we will visit tomorrow").
    assert "wd-001.txt" not in [h.id for h in results.hits]
    assert results.hits[0].id == "cs-002.txt"
    assert {"上门", "走访"} <= set(results.terms)


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_cli_related(index_dir: Path):
    result = run("related", "stop.txt", "--index", str(index_dir), "-n", "2", "--color", "never")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Articles related to stop.txt (key terms: ")
    assert lines[2] == "1. 停息挂账被银行拒绝怎么办"
    assert lines[3].startswith("   ") and "[" in lines[3]
    assert lines[4].startswith("   stop2.txt  [section ")
    assert lines[6] == "2. 信用卡年费"
    assert len(lines) == 9


def test_cli_related_json(index_dir: Path, searcher: Searcher):
    result = run("related", "stop.txt", "--index", str(index_dir), "--json")
    assert result.exit_code == 0
    summary, *rows = [json.loads(line) for line in result.stdout.splitlines()]
    expected = searcher.related("stop.txt", limit=5)
    assert rows == [{"type": "hit", **h.as_dict()} for h in expected.hits]
    assert summary["type"] == "summary" and summary["query"] == "stop.txt"
    assert summary["terms"] == list(expected.terms) and summary["total"] == expected.total


def test_cli_related_unknown_id_is_a_one_line_error(index_dir: Path):
    result = run("related", "nope.txt", "--index", str(index_dir))
    assert result.exit_code == 2
    assert result.stderr.startswith("zhsearch: error: no article with id 'nope.txt'")
    assert len(result.stderr.splitlines()) == 1


def test_cli_related_without_neighbours_exits_1(make_index):
    index_dir = make_index({"only.txt": "孤零零\n\n一、正文\n\n这篇文章没有任何相似的文章。\n"})
    result = run("related", "only.txt", "--index", str(index_dir))
    assert result.exit_code == 1
    assert result.stdout == "No articles related to 'only.txt'.\n"
