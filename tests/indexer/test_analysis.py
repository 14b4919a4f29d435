"""Analysis: folding, segmentation, exact offsets and positions, bigrams, stop words."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from zhsearch.corpus.readers import read_file
from zhsearch.indexer.analysis import Settings, WordTokenizer, fold, gram_spans, grams, stopwords, tokenize, word_spans

ARTICLES = Path(__file__).resolve().parents[2] / "corpus" / "articles"

# Text as users write it: CJK (both scripts), full-width forms, Latin, digits,
# punctuation of both widths, emoji and astral ideographs.
_ALPHABET = st.one_of(
    st.characters(codec="utf-8"),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
    st.characters(min_codepoint=0xFF01, max_codepoint=0xFF5E),
    st.sampled_from(list("網貸逾期還款銀行卡債，。！？、（）《》“”「」 \n\t%.-_😀🎉𠀀𠀁ﬁß")),
)
_TEXT = st.text(_ALPHABET, max_size=80)


def word_tokens(text: str) -> list[tuple[str, int, int, int]]:
    """(term, pos, startchar, endchar) from the Whoosh tokenizer the index uses."""
    return [(t.text, t.pos, t.startchar, t.endchar) for t in WordTokenizer()(text, positions=True, chars=True)]


def terms(text: str) -> list[str]:
    return [t for t, _, _ in tokenize(text)]


# --------------------------------------------------------------------------
# Positions and offsets


def test_whoosh_tokens_have_consecutive_positions_and_exact_offsets():
    text = "網貸逾期多久會上門？第1章，看ＡＢＣ１２３。"
    tokens = word_tokens(text)
    assert [pos for _, pos, _, _ in tokens] == list(range(len(tokens)))
    assert [(term, text[s:e]) for term, _, s, e in tokens] == [
        ("网贷", "網貸"),
        ("逾期", "逾期"),
        ("多久", "多久"),
        ("会上", "會上"),
        ("门", "門"),
        ("第", "第"),
        ("1", "1"),
        ("章", "章"),
        ("看", "看"),
        ("abc", "ＡＢＣ"),
        ("123", "１２３"),
    ]


def test_positions_stay_consecutive_across_dropped_punctuation():
    tokens = word_tokens("逾期！！！……  😀😀 上门")
    assert [(t, p) for t, p, _, _ in tokens] == [("逾期", 0), ("上门", 1)]


def test_start_pos_and_start_char_shift_tokens():
    tokens = [
        (t.text, t.pos, t.startchar)
        for t in WordTokenizer()("网贷逾期", positions=True, chars=True, start_pos=5, start_char=100)
    ]
    assert tokens == [("网贷", 5, 100), ("逾期", 6, 102)]


@settings(max_examples=200, deadline=None)
@given(_TEXT)
@example("😀網貸逾期𠀀𠀁ＡＢＣ")
def test_offsets_point_at_the_source_text_of_each_token(text: str):
    tokens = word_tokens(text)
    assert [pos for _, pos, _, _ in tokens] == list(range(len(tokens)))
    for term, _, start, end in tokens:
        assert 0 <= start < end <= len(text)
        assert fold(text[start:end]) == term
        assert any(ch.isalnum() for ch in term)
    assert [(t, s, e) for t, _, s, e in tokens] == tokenize(text)


# --------------------------------------------------------------------------
# Folding


def test_full_width_folds_to_half_width():
    assert fold("ＡＢＣ１２３") == "abc123"
    # Letters and digits of a mixed token become separate terms, the way
    # both segmenters agree on (see test_rjieba_and_jieba_segment_identically).
    assert terms("ＡＢＣ１２３") == ["abc", "123"]


def test_case_folds():
    assert terms("LPR iPhone") == ["lpr", "iphone"]
    assert terms("lpr") == terms("LPR") == terms("ＬＰＲ")


def test_traditional_folds_to_simplified_with_offsets_on_the_original():
    text = "網貸逾期還不上"
    assert fold(text) == "网贷逾期还不上"
    tokens = tokenize(text)
    assert tokens[0] == ("网贷", 0, 2)
    assert text[tokens[0][1] : tokens[0][2]] == "網貸"
    assert terms("卡債") == terms("卡债")


def test_digits_and_single_letters_are_kept():
    assert "1" in terms("第1章")
    assert terms("a b c") == ["a", "b", "c"]
    assert "3.5" in terms("年化3.5%")


def test_punctuation_and_emoji_are_dropped():
    assert terms("，。！？、（）《》“”「」……—— 😀 🎉") == []
    assert terms("逾期？") == ["逾期"]


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_fold_preserves_length(text: str):
    assert len(fold(text)) == len(text)


@settings(max_examples=200, deadline=None)
@given(_TEXT)
@example("薴")
def test_fold_is_idempotent(text: str):
    once = fold(text)
    assert fold(once) == once


# --------------------------------------------------------------------------
# Bigrams


def test_gram_spans_are_overlapping_cjk_bigrams_and_whole_latin_words():
    folded = fold("網貸逾期 ABC 多")
    assert list(gram_spans(folded)) == [
        ("网贷", 0, 2),
        ("贷逾", 1, 3),
        ("逾期", 2, 4),
        ("abc", 5, 8),
        ("多", 9, 10),
    ]


def test_grams_offsets_point_at_the_original_text():
    text = "還款，卡債"
    assert [(g, text[s:e]) for g, s, e in grams(text)] == [("还款", "還款"), ("卡债", "卡債")]


# --------------------------------------------------------------------------
# rjieba and jieba segment alike


def _long_text() -> str:
    (article,) = read_file(ARTICLES / "wd-001.txt", ARTICLES).articles
    return article.text


SEGMENTATION_SAMPLES = [
    pytest.param("网贷逾期多久会上门走访", id="simplified-question"),
    pytest.param("卡債還不出來怎麼辦？前置協商、更生與清算一次看懂", id="traditional"),
    pytest.param("iPhone15Pro分期，年化利率3.5%，LPR四倍是14.8%。第1章", id="latin-digits"),
    pytest.param("中华人民共和国民法典第六百八十条禁止高利放贷", id="legal"),
    pytest.param("😀表情和emoji混排🎉  多个空格\t换行\n", id="emoji-spaces"),
    pytest.param(_long_text(), id="long-article"),
    pytest.param("老周2024-08-17网贷逾期 e-mail www.pbccrc.org.cn v1.2.3 x3.5y", id="hyphen-dot-words"),
]


@pytest.mark.parametrize("text", SEGMENTATION_SAMPLES)
def test_rjieba_and_jieba_segment_identically(text: str):
    """The terms (not jieba's raw tokens, which differ on 2024-08-17 or
    e-mail) are the same whichever engine built the index."""
    folded = fold(text)
    rust = list(word_spans(folded, Settings(engine="rjieba")))
    python = list(word_spans(folded, Settings(engine="jieba")))
    assert rust == python
    assert rust, "the sample must produce terms"


# --------------------------------------------------------------------------
# Stop words


def test_stopwords_are_question_words_not_content_words():
    stop = stopwords()
    assert {"什么", "吗", "呢", "为什么", "如何"} <= stop
    assert not {"逾期", "网贷", "上门", "征信", "协商"} & stop
