"""Query parsing: free text, phrases, exclusions, operators, fields, and leniency."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zhsearch.indexer.analysis import fold
from zhsearch.search.query import Clause, parse, phrase_pattern, plan, relaxed, repair_cuts


def test_free_text_question_drops_question_words_and_punctuation():
    parsed = parse("网贷逾期多久会上门走访?")
    assert {"网贷", "逾期", "走访"} <= set(parsed.terms)
    assert "多久" not in parsed.terms
    assert "?" not in parsed.terms and "？" not in parsed.terms
    assert parsed.notices == ()
    assert parsed.phrases == ()
    qplan = plan(parsed)
    assert qplan.scoring and not qplan.required and not qplan.excluded
    assert "多久" not in {t.text for t in qplan.scoring if t.field in ("title", "heading", "body")}


@pytest.mark.parametrize("question", ["为什么会逾期", "如何协商还款呢", "征信是什么吗"])
def test_question_particles_are_not_terms(question: str):
    parsed = parse(question)
    assert not {"为什么", "如何", "呢", "什么", "吗"} & set(parsed.terms)
    assert parsed.terms


def test_only_question_words_still_searches_them():
    # Dropping every word would leave nothing to search for.
    assert parse("什么").terms == ("什么",)


@pytest.mark.parametrize("quoted", ['"上门走访"', 'AND "上门走访"'])
def test_quoted_phrase(quoted: str):
    parsed = parse(f"网贷 {quoted}")
    assert parsed.phrases == ("上门走访",)
    assert parsed.terms == ("网贷",)
    assert any(c.text == "上门走访" and c.phrase for c in parsed.clauses)
    assert parsed.notices == ()
    assert len(plan(parsed).required) == (2 if "AND" in quoted else 1)


@pytest.mark.parametrize("quoted", ["“三期”", "「三期」", "『三期』"])
def test_typographic_quotes_are_emphasis_not_a_filter(quoted: str):
    parsed = parse(f"劳动法上的{quoted}指的是什么")
    assert Clause("三期", emphasis=True) in parsed.clauses
    assert "三期" in parsed.phrases  # highlighted whole
    qplan = plan(parsed)
    assert qplan.required == ()
    plain = {t.text: t.boost for t in plan(parse("劳动法 三期")).scoring if t.field == "body"}
    boosted = {t.text: t.boost for t in qplan.scoring if t.field == "body"}
    assert boosted["三期"] > plain["三期"] and boosted["劳动法"] == plain["劳动法"]


def test_relaxed_turns_requirements_into_emphasis():
    parsed = parse('"上门走访" AND 网贷 -征信')
    loose = relaxed(parsed)
    assert loose is not None
    assert [(c.text, c.required, c.phrase, c.excluded) for c in loose.clauses] == [
        ("上门走访", False, False, False),
        ("网贷", False, False, False),
        ("征信", False, False, True),
    ]
    assert plan(loose).required == () and len(plan(loose).excluded) == 1
    assert relaxed(parse("上门走访 网贷")) is None


def test_repair_cuts_prefers_words_the_index_holds():
    parsed = parse("醉驾会坐牢吗")
    assert "驾会" in parsed.terms  # jieba cuts 醉|驾会|坐牢|吗
    index_words = {"醉驾", "坐牢", "拘役"}
    repaired, unmatched = repair_cuts(parsed, index_words.__contains__)
    assert repaired.clauses[0].words == ("醉驾", "坐牢")
    assert unmatched == ()
    assert {t.text for t in plan(repaired).scoring if t.field == "body"} == {"醉驾", "坐牢"}
    _, unmatched = repair_cuts(parsed, {"坐牢"}.__contains__)
    assert unmatched == ("驾会",)


def test_minus_excludes_a_word():
    parsed = parse("逾期 -网贷")
    assert parsed.terms == ("逾期",)
    assert [c.text for c in parsed.clauses if c.excluded] == ["网贷"]
    qplan = plan(parsed)
    assert len(qplan.excluded) == 1
    assert "网贷" not in {t.text for t in qplan.scoring}


def test_not_and_excluded_phrase():
    parsed = parse('逾期 NOT 信用卡 -"上门走访"')
    assert sorted(c.text for c in parsed.clauses if c.excluded) == ["上门走访", "信用卡"]
    assert parsed.terms == ("逾期",)


def test_only_exclusions_is_empty():
    parsed = parse("-网贷")
    assert parsed.empty
    qplan = plan(parsed)
    assert qplan.empty and qplan.excluded


def test_and_makes_both_sides_required():
    parsed = parse("协商 AND 征信")
    assert [(c.text, c.required) for c in parsed.clauses] == [("协商", True), ("征信", True)]
    assert len(plan(parsed).required) == 2


@pytest.mark.parametrize("op", ["OR", "||"])
def test_or_leaves_both_optional(op: str):
    parsed = parse(f"协商 {op} 征信")
    assert [(c.text, c.required) for c in parsed.clauses] == [("协商", False), ("征信", False)]
    assert parsed.notices == ()
    assert plan(parsed).required == ()


def test_lowercase_and_is_a_word_not_an_operator():
    parsed = parse("协商 and 征信")
    assert not any(c.required for c in parsed.clauses)


@pytest.mark.parametrize("field", ["title", "heading", "body", "TITLE"])
def test_field_prefix(field: str):
    parsed = parse(f"{field}:征信 逾期")
    assert parsed.clauses[0] == Clause("征信", field=field.lower())
    assert parsed.clauses[1].field is None
    assert parsed.notices == ()


def test_unknown_field_is_searched_as_text_with_a_notice():
    parsed = parse("author:小花")
    assert len(parsed.notices) == 1
    assert "author" in parsed.notices[0]
    assert parsed.clauses[0].field is None
    assert "小花" in parsed.terms


@pytest.mark.parametrize("query", ['"上门走访', '网贷 "上门', "「上门走访"])
def test_unbalanced_quote_is_a_notice_not_an_exception(query: str):
    parsed = parse(query)
    assert any("quote" in n for n in parsed.notices)
    assert "上门" in "".join(parsed.terms)
    assert parsed.phrases == ()


@pytest.mark.parametrize(
    ("query", "side"),
    [
        ("AND 征信", "left"),
        ("OR 征信", "left"),
        ("征信 AND", "right"),
        ("征信 OR", "right"),
        ("征信 AND OR 协商", "left"),
    ],
)
def test_dangling_operator_is_a_notice(query: str, side: str):
    parsed = parse(query)
    assert any(side in n for n in parsed.notices)
    assert "征信" in parsed.terms


@pytest.mark.parametrize("query", ["征信 -", "征信 title:", "征信 NOT"])
def test_trailing_minus_field_or_not_is_harmless(query: str):
    parsed = parse(query)
    assert "征信" in parsed.terms
    assert not any(c.excluded for c in parsed.clauses)


def test_very_long_query_is_shortened_with_a_notice():
    parsed = parse("逾期" * 6000)
    assert any("shortened" in n for n in parsed.notices)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.lists(
            st.one_of(
                st.sampled_from([*'" “ ” 「 」 『 - － AND OR NOT && || title: foo: :'.split(), " "]),
                st.text(max_size=6),
            ),
            max_size=12,
        ).map(" ".join),
    )
)
def test_parse_and_plan_never_raise(text: str):
    parsed = parse(text)
    qplan = plan(parsed)
    assert all(isinstance(n, str) for n in parsed.notices)
    if parsed.terms:
        assert qplan.scoring


def test_lone_surrogate_does_not_crash():
    parsed = parse("网贷\udcff逾期")
    plan(parsed)
    assert "网贷" in parsed.terms


@pytest.mark.parametrize(
    ("phrase", "text", "found"),
    [
        ("上门走访", "会上门走访吗", True),
        ("上门 走访", "先上门，再走访", False),
        ("上门 走访", "上门，走访", True),
        ("上门 走访", "上门走访", False),  # a space in the phrase wants a break in the text
        ("iphone手机", "买iphone 手机", True),
        ("bank", "banking", False),  # never inside a Latin word
        ("bank", "the bank.", True),
        ("3.5", "利率3.5%", True),
    ],
)
def test_phrase_pattern(phrase: str, text: str, found: bool):
    assert (phrase_pattern(fold(phrase)).search(fold(text)) is not None) is found
