"""Questions as people type them: emphasis quotes, second chances, re-cut words, word weights."""

from __future__ import annotations

import pytest
from zhsearch.search.searcher import Searcher

DOCS = {
    "sanqi.txt": "女职工的特殊保护\n\n女职工在孕期、产期、哺乳期内的，用人单位不得解除劳动合同，即常说的三期保护。\n",
    "zongze.txt": "劳动者的权利\n\n劳动者享有平等就业和选择职业的权利，受劳动法保护。\n",
    "zuijia.txt": "危险驾驶\n\n醉驾将被判处拘役，并处罚金。\n",
    "nianjia.txt": "带薪年休假\n\n职工连续工作一年以上的，享受带薪年休假。\n",
    "xianfa.txt": "宪法修正案\n\n国家有计划地发展经济，每年有预算，有监督，有审计，有报告。\n",
}


@pytest.fixture(scope="module")
def searcher(tmp_path_factory):
    from zhsearch.indexer.build import build_index

    root = tmp_path_factory.mktemp("understanding")
    docs = root / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    build_index([docs], root / "idx")
    with Searcher(root / "idx") as s:
        yield s


def ids(results) -> list[str]:
    return [h.id for h in results.hits]


def test_emphasis_quotes_boost_without_filtering(searcher: Searcher):
    quoted = searcher.search("劳动法上的“三期”指的是什么")
    assert ids(quoted)[0] == "sanqi.txt"
    assert "zongze.txt" in ids(quoted)  # 劳动法 alone still counts: not a filter
    assert not any("no article" in n for n in quoted.notices)
    assert quoted.hits[0].render().count("[三期]") == 1
    # ASCII quotes stay an exact requirement.
    assert ids(searcher.search('劳动法 "三期"')) == ["sanqi.txt"]


def test_unmatched_required_phrase_falls_back_with_a_notice(searcher: Searcher):
    results = searcher.search('"三期待遇" 劳动者')
    assert results.hits, "the relaxed query finds articles with some of the words"
    assert ids(results)[0] == "zongze.txt"
    assert any("no article has all of 三期待遇" in n for n in results.notices)
    strict = searcher.search('"三期保护" 劳动者')  # matches: no fallback, no notice
    assert ids(strict) == ["sanqi.txt"]
    assert not any("no article has all" in n for n in strict.notices)
    # AND falls back the same way; exclusions stay exact.
    both = searcher.search("劳动者 AND 罚金 -醉驾")
    assert "zuijia.txt" not in ids(both) and both.hits
    assert any("no article has all of 劳动者 + 罚金" in n for n in both.notices)


def test_a_cut_that_loses_an_indexed_word_is_repaired(searcher: Searcher):
    # jieba cuts the question 醉|驾会|坐牢|吗; the article has the word 醉驾.
    results = searcher.search("醉驾会坐牢吗")
    assert ids(results)[:1] == ["zuijia.txt"]
    assert "[醉驾]" in results.hits[0].render()
    assert "no article contains 坐牢" in results.notices


def test_notice_names_the_words_that_matched_nothing(searcher: Searcher):
    results = searcher.search("年休假 房东")
    assert ids(results) == ["nianjia.txt"]
    assert "no article contains 房东" in results.notices
    assert not any("no article" in n for n in searcher.search("年休假").notices)


def test_single_characters_cannot_outrank_a_matching_content_word(make_index, monkeypatch):
    from zhsearch.search import query, ranking

    index_dir = make_index(
        {
            "nianjia.txt": "职工休假\n\n职工连续工作一年以上的，享受带薪年休假。\n",
            "xianfa.txt": "修正案\n\n年年有预算，有监督，有审计，有报告，年有年的安排。\n",
            "other.txt": "其他\n\n职工的工作安排。\n",
        }
    )
    with Searcher(index_dir) as s:
        assert ids(s.search("年 有 年休假"))[0] == "nianjia.txt"
        # A single character still counts when nothing longer matches.
        assert ids(s.search("年 有"))[0] == "xianfa.txt"
        monkeypatch.setattr(ranking, "SINGLE_ONLY_WEIGHT", 1.0)
        monkeypatch.setattr(ranking, "COORD_IDF", False)
        monkeypatch.setattr(query, "SINGLE_CHAR_WEIGHT", 1.0)
        assert ids(s.search("年 有 年休假"))[0] == "xianfa.txt"  # what the weighting prevents


def test_articles_of_one_work_share_evidence():
    import numpy as np
    from zhsearch.search.ranking import group_evidence, group_keys

    titles = ["商标法 第六条", "商标法 第七条", "商标法实施条例 第三条", "商标法 第八条之一", "Wiki", "Act Article 3"]
    assert group_keys(titles).tolist() == [0, 0, 1, 0, 2, 3]
    scores = np.array([5.0, 4.0, 6.0, 3.0, 1.0], dtype=np.float32)
    groups = np.array([0, 0, 1, 0, 2])
    bonus = group_evidence(scores, groups, 0.6, best=3)
    assert bonus.tolist() == pytest.approx([2.4, 2.4, 1.2, 2.4, 0.2])  # 0.6 x (best three) / 3
    # The right article of the right law now outranks a lone match elsewhere.
    assert (scores + bonus)[0] > (scores + bonus)[2]
