"""Snippets: which part of a section is shown, and which characters are marked."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from zhsearch.search.snippets import ELLIPSIS, Snippet, make_snippet

FILLER = "这是一段没有关键词的填充文字用来拉开距离。"


def test_render_wraps_highlights():
    assert Snippet("催收员会上门走访", ((4, 6),)).render(("[", "]")) == "催收员会[上门]走访"
    assert Snippet("ab", ()).render() == "ab"


def test_highlight_lands_on_the_matched_characters():
    snippet = make_snippet("长期不还款，催收员会上门走访。", ["上门"])
    assert snippet.render(("[", "]")) == "长期不还款，催收员会[上门]走访。"
    assert snippet.matched == ["上门"]


def test_word_matches_inside_a_differently_segmented_run():
    # jieba cuts 会上|门 here; the highlight still marks 上门.
    snippet = make_snippet("网贷逾期多久会上门？", ["上门", "逾期"])
    assert snippet.render(("[", "]")) == "网贷[逾期]多久会[上门]？"


def test_adjacent_matches_merge():
    assert make_snippet("催收人员上门走访之前", ["上门", "走访"]).render(("[", "]")) == "催收人员[上门走访]之前"


def test_single_character_matches_only_as_a_word():
    assert make_snippet("门口有人。上门的人来了。", ["门"]).render(("[", "]")) == "门口有人。上门的人来了。"


def test_latin_and_numbers_match_as_whole_tokens():
    snippet = make_snippet("分期3.5%利率，iPhone分期，phone不算。", ["3.5", "iphone"])
    assert snippet.render(("[", "]")) == "分期[3.5]%利率，[iPhone]分期，phone不算。"


def test_traditional_text_is_highlighted_for_simplified_terms():
    snippet = make_snippet("卡債還不出來怎麼辦？先申請前置協商。", ["卡债", "协商"])
    assert snippet.render(("[", "]")) == "[卡債]還不出來怎麼辦？先申請前置[協商]。"


def test_phrase_matches_across_punctuation():
    snippet = make_snippet("前置协商，前置-协商，前置的协商", [], ["前置协商"])
    assert snippet.render(("[", "]")) == "[前置协商]，[前置-协商]，前置的协商"


def test_window_goes_to_the_densest_matches():
    text = "上门一次。" + FILLER * 8 + "上门走访和电话催收不同，上门走访要表明身份。" + FILLER * 8
    snippet = make_snippet(text, ["上门", "走访", "电话"], width=60)
    rendered = snippet.render(("[", "]"))
    assert rendered.startswith(ELLIPSIS + "[上门走访]和[电话]催收不同")
    assert "上门一次" not in rendered


def test_window_starts_after_a_sentence_end_and_stops_at_one():
    text = FILLER * 10 + "催收人员上门走访之前通常会先打电话通知。" + FILLER * 10
    snippet = make_snippet(text, ["上门"], width=80)
    assert snippet.text.startswith(ELLIPSIS + "催收人员上门走访")
    assert snippet.text.endswith("。" + ELLIPSIS)
    assert len(snippet.text) <= 80 + 2 * len(ELLIPSIS)


def test_ellipsis_marks_a_cut_only_where_text_was_cut():
    short = "催收人员上门走访之前通常会先打电话通知。"
    assert make_snippet(short, ["上门"], width=120).text == short
    text = short + FILLER * 10
    snippet = make_snippet(text, ["上门"], width=40)
    assert not snippet.text.startswith(ELLIPSIS)
    assert snippet.text.endswith(ELLIPSIS)


def test_width_is_configurable():
    text = FILLER * 20 + "上门走访" + FILLER * 20
    lengths = []
    for width in (30, 60, 120, 240):
        snippet = make_snippet(text, ["上门"], width=width)
        body = snippet.text.strip(ELLIPSIS)
        assert width // 2 <= len(body) <= width
        assert "上门" in snippet.matched
        lengths.append(len(body))
    assert lengths == sorted(lengths) and lengths[0] < lengths[-1]


def test_no_matches_shows_the_start_of_the_text():
    text = "开头第一句话。" + FILLER * 10
    snippet = make_snippet(text, ["不存在的词"], width=40)
    assert snippet.text.startswith("开头第一句话。")
    assert snippet.text.endswith(ELLIPSIS)
    assert snippet.highlights == ()


def test_newlines_become_spaces():
    snippet = make_snippet("第一行上门\n第二行", ["上门"])
    assert "\n" not in snippet.text
    assert snippet.render(("[", "]")) == "第一行[上门] 第二行"


_WORDS = st.sampled_from(["上门", "走访", "逾期", "网贷", "卡債", "协商", "abc", "3.5", "门", "。", "！", "\n", " "])


@settings(max_examples=200, deadline=None)
@given(
    text=st.one_of(st.text(max_size=300), st.lists(st.one_of(_WORDS, st.text(max_size=8)), max_size=80).map("".join)),
    terms=st.lists(
        st.one_of(st.sampled_from(["上门", "走访", "逾期", "网贷", "卡债", "abc", "3.5", "门"]), st.text(max_size=4)),
        max_size=4,
    ),
    phrases=st.lists(st.one_of(st.sampled_from(["上门走访", "网贷逾期"]), st.text(max_size=5)), max_size=2),
    width=st.integers(min_value=1, max_value=200),
)
def test_highlights_lie_inside_the_snippet_and_do_not_overlap(text, terms, phrases, width):
    snippet = make_snippet(text, terms, phrases, width=width)
    last_end = 0
    for start, end in snippet.highlights:
        assert 0 <= start < end <= len(snippet.text)
        assert start >= last_end
        last_end = end
    assert snippet.render(("", "")) == snippet.text
    body = snippet.text.removeprefix(ELLIPSIS).removesuffix(ELLIPSIS)
    assert body in text.replace("\n", " ").replace("\r", " ")
