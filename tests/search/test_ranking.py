"""Ranking: the bigram fallback, coordination, proximity and section choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from zhsearch.indexer.analysis import tokenize
from zhsearch.search.ranking import choose_section, proximity
from zhsearch.search.searcher import Searcher


def test_bigram_field_finds_a_word_jieba_cut_differently(make_index):
    # jieba cuts 会上|门 in the article, so the word 上门 is not among its
    # terms; only the bigram field can match the query 上门.
    article = "一个问题\n\n催收人员多久会上门走访？一般不会。\n"
    assert "上门" not in [t for t, _, _ in tokenize("催收人员多久会上门走访？一般不会。")]
    index_dir: Path = make_index({"a.txt": article, "b.txt": "另一篇\n\n这里只谈信用卡年费和积分。\n"})
    with Searcher(index_dir) as s:
        hits = s.search("上门").hits
    assert [h.id for h in hits] == ["a.txt"]
    assert "[上门]" in hits[0].render(("[", "]"))


def test_more_matched_words_rank_higher(make_index):
    index_dir = make_index(
        {
            "one.txt": "只谈罚息\n\n罚息罚息罚息，罚息的计算方法很多，这里只说罚息。\n",
            "both.txt": "罚息和违约金\n\n罚息与违约金不同，违约金按次收取，罚息按天计算。\n",
        }
    )
    with Searcher(index_dir) as s:
        ids = [h.id for h in s.search("罚息 违约金").hits]
    assert ids == ["both.txt", "one.txt"]


def test_proximity_measures_the_best_window():
    text = "上门" + "。" * 100 + "走访和上门"
    assert proximity(text, ["上门", "走访"], window=10) == 1.0
    assert proximity(text[:50], ["上门", "走访"], window=10) == 0.5
    assert proximity("没有关系", ["上门"]) == 0.0
    assert proximity("上门", []) == 0.0


def test_choose_section_prefers_the_words_together():
    far = (1, 10.0, "上门" + "，" * 200 + "走访")
    near = (2, 9.0, "催收人员上门走访的时间")
    assert choose_section([far, near], ["上门", "走访"]) == (2, 9.0)
    # With no proximity difference the higher score wins.
    assert choose_section([(1, 10.0, "上门走访"), (2, 9.0, "上门走访")], ["上门", "走访"]) == (1, 10.0)


def test_question_picks_the_section_that_answers(make_index):
    article = (
        "信用卡逾期的后果\n\n一、逾期多久上征信\n\n银行通常在逾期后的下一个账单日向征信系统报送记录，宽限期一般为三天。\n\n"
        "二、罚息怎么计算\n\n罚息按日万分之五计算，违约金按最低还款额未还部分的百分之五收取。\n"
    )
    index_dir = make_index({"card.txt": article})
    with Searcher(index_dir) as s:
        hit = s.search("信用卡逾期多久会上征信？").hits[0]
    assert hit.section.heading == "一、逾期多久上征信"


def test_ranker_reads_field_lengths_of_every_segment(make_index, tmp_path: Path, monkeypatch):
    import zhsearch.indexer.merge
    from zhsearch.indexer.analysis import fold, word_spans
    from zhsearch.indexer.build import build_index

    monkeypatch.setattr(zhsearch.indexer.merge, "MAX_MERGED_POSTINGS", 1)  # segments stay apart

    index_dir = make_index({"a.txt": "甲\n\n" + "逾期。" * 30, "b.txt": "乙\n\n罚息"})
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "c.txt").write_text("丙\n\n" + "征信查询次数。" * 7, encoding="utf-8")
    build_index([extra], index_dir)  # a second segment
    with Searcher(index_dir) as s:
        searcher, ranker = s._current()
        reader = searcher
        assert len(list(reader.leaf_readers())) >= 2
        seen = {}
        for docnum in reader.all_doc_ids():
            body = searcher.stored_fields(docnum)["body"]
            seen[searcher.stored_fields(docnum)["article"]] = ranker.lengths["body"][docnum]
            assert ranker.lengths["body"][docnum] == len(list(word_spans(fold(body))))
        assert seen == {"a.txt": 30, "b.txt": 1, "c.txt": 21}


def test_deleted_documents_do_not_count(make_index, tmp_path: Path):
    from zhsearch.indexer.build import build_index

    same = "逾期\n\n网贷逾期以后先和平台沟通。\n"
    index_dir = make_index({"a.txt": same, "b.txt": same, "c.txt": same})
    (tmp_path / "idx-docs" / "c.txt").unlink()
    build_index([tmp_path / "idx-docs"], index_dir)
    with Searcher(index_dir) as s:
        assert sorted(h.id for h in s.search("逾期").hits) == ["a.txt", "b.txt"]


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("上门走访逾期。 a")), max_size=300),
    st.lists(st.sampled_from(["上门", "走访", "逾期", "上门走访", "a", "期。"]), min_size=1, max_size=4, unique=True),
    st.integers(1, 40),
)
def test_long_and_short_text_proximity_agree(text: str, keys: list[str], window: int):
    from zhsearch.search.ranking import _array_proximity

    found = [np.array(w) for w in ([i for i in range(len(text)) if text.startswith(k, i)] for k in keys) if w]
    assert _array_proximity(found, len(keys), window) == proximity(text, keys, window)
