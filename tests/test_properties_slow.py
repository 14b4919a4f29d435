"""Property tests across the pipeline, 10,000 examples each (``pytest -m slow``).

The default run has a few hundred examples of each: the readers' below, the
others in the package tests (test_analysis, test_query, test_searcher,
test_snippets), with narrower strategies.

* readers, given any bytes under any supported name, return articles or
  raise :class:`ReadError`, nothing else; what they return is clean text;
* the analyzer's offsets lie inside the text and the folded text at each
  offset is the token;
* the query parser and the searcher accept any string;
* every highlight span lies inside its snippet.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zhsearch.corpus.errors import ReadError
from zhsearch.corpus.readers import MAX_SECTION_CHARS, MAX_TITLE_CHARS, read_file
from zhsearch.indexer.analysis import fold, grams, tokenize
from zhsearch.search.query import parse, plan
from zhsearch.search.searcher import Searcher
from zhsearch.search.snippets import make_snippet

SLOW = 10_000


def both(*strategies, fast: int = 300, **kw_strategies) -> Callable:
    """Turn ``check(...)`` into two tests: ``fast`` examples in the default
    run, 10,000 in the slow one."""

    def decorate(check: Callable) -> tuple[Callable, Callable]:
        return variant(check, fast, strategies, kw_strategies), slow(*strategies, **kw_strategies)(check)

    return decorate


def slow(*strategies, **kw_strategies) -> Callable:
    """A 10,000-example test for the slow run."""

    def decorate(check: Callable) -> Callable:
        return pytest.mark.slow(variant(check, SLOW, strategies, kw_strategies))

    return decorate


def variant(check: Callable, n: int, strategies: tuple, kw_strategies: dict) -> Callable:
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])(
        given(*strategies, **kw_strategies)(check)
    )


# Any code point, lone surrogates included (they arrive from JSON escapes
# and from undecodable command-line bytes).
ANY_CHAR = st.characters(blacklist_categories=())
TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=200),
    st.lists(
        st.one_of(
            st.sampled_from(
                ["網貸", "逾期", "上门走访", "ＡＢＣ", "3.5%", "𠮷", "😀", "\ue000", "\u3000", "。", "\n", " "]
            ),
            st.text(ANY_CHAR, max_size=5),
        ),
        max_size=40,
    ).map("".join),
)

# --------------------------------------------------------------------------
# Readers

_FRAGMENTS = st.sampled_from(
    [
        "---",
        "title: 标题",
        "# 标题",
        "## ",
        "```",
        "<!--",
        "一、标题",
        "1.1 小节",
        "相关文章",
        "小花2024-12-09债务优化83",
        '{"id": 1, "title": "t", "body": "b"}',
        '{"id": "x", "sections": [1, {"heading": null}]}',
        '{"id": "\\ud800"}',
        '{"id": "y", "body": {"a": 1}}',
        "[[[[[[",
        "\x1b[31m",
        "\x00",
        "\r",
    ]
)
_DOC = st.lists(st.one_of(_FRAGMENTS, st.text(ANY_CHAR, max_size=20)), max_size=30).map("\n".join)
_ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "gb18030", "gbk", "big5"]
BYTES = st.one_of(
    st.binary(max_size=600),
    st.tuples(_DOC, st.sampled_from(_ENCODINGS)).map(lambda t: t[0].encode(t[1], errors="ignore")),
    # valid text with a few bytes flipped
    st.tuples(
        _DOC, st.sampled_from(_ENCODINGS), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4)
    ).map(lambda t: _flip(t[0].encode(t[1], errors="ignore"), t[2])),
    st.tuples(
        st.sampled_from([codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE]),
        st.binary(max_size=200),
    ).map(b"".join),
)
SUFFIXES = st.sampled_from(
    [".txt", ".md", ".jsonl", ".TXT", ".markdown", ".ndjson", ".pdf", ".html", ".HTM", ".docx", ".epub", ""]
)
_UNCLEAN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _flip(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    buf = bytearray(data)
    for pos, value in flips:
        if buf:
            buf[pos % len(buf)] = value
    return bytes(buf)


@both(BYTES, SUFFIXES)
def check_readers_return_clean_articles_or_raise_read_error(data: bytes, suffix: str):
    root = Path("/nonexistent")
    try:
        result = read_file(root / f"doc{suffix}", root, data=data)
    except ReadError as exc:
        assert exc.reason
        return
    for article in result.articles:
        assert article.id and article.sections
        assert len(article.title) <= MAX_TITLE_CHARS
        assert [s.index for s in article.sections] == list(range(len(article.sections)))
        for section in article.sections:
            assert len(section.text) <= MAX_SECTION_CHARS
            for text in (article.title, section.heading, section.text):
                assert not _UNCLEAN.search(text), repr(text)
    assert all(isinstance(w, str) for w in result.warnings)


test_readers_return_clean_articles_or_raise_read_error, test_readers_slow = (
    check_readers_return_clean_articles_or_raise_read_error
)

# --------------------------------------------------------------------------
# Analyzer


@slow(TEXT)
def test_analyzer_offsets_point_at_the_token(text: str):
    for spans in (tokenize(text), grams(text)):
        for term, start, end in spans:
            assert 0 <= start < end <= len(text)
            assert fold(text[start:end]) == term


# --------------------------------------------------------------------------
# Queries and highlights

QUERY = st.one_of(
    TEXT,
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    '"',
                    "“",
                    "”",
                    "「",
                    "」",
                    "(",
                    ")",
                    "-",
                    "－",
                    "AND",
                    "OR",
                    "NOT",
                    "&&",
                    "||",
                    "title:",
                    "heading:",
                    "nofield:",
                    ":",
                    "*",
                    "?",
                    "~",
                    "^2",
                    "逾期",
                    "上门",
                    "网贷",
                    "卡債",
                    "的",
                    "吗",
                ]
            ),
            st.text(ANY_CHAR, max_size=6),
        ),
        max_size=15,
    ).map(" ".join),
    st.text(ANY_CHAR, min_size=900, max_size=1200),
)


@pytest.fixture(scope="module")
def searcher(sample_index: Path):
    with Searcher(sample_index) as s:
        yield s


@slow(QUERY)
def test_parser_accepts_anything(query: str):
    parsed = parse(query)
    plan(parsed)
    assert all(isinstance(n, str) and n for n in parsed.notices)


def _valid_spans(snippet: str, spans) -> None:
    last = 0
    for start, end in spans:
        assert last <= start < end <= len(snippet)
        last = end


@slow(QUERY)
def test_searcher_accepts_anything(searcher: Searcher, query: str):
    results = searcher.search(query, limit=5)
    assert results.total >= len(results.hits)
    assert len({h.id for h in results.hits}) == len(results.hits)
    for hit in results.hits:
        _valid_spans(hit.snippet, hit.highlights)
        assert hit.render(("", "")) == hit.snippet


_TERMS = st.lists(
    st.one_of(
        st.sampled_from(["上门", "走访", "逾期", "网贷", "卡债", "abc", "3.5", "门", "𠮷"]),
        st.text(ANY_CHAR, max_size=4),
    ),
    max_size=5,
)


@slow(
    text=TEXT,
    terms=_TERMS,
    phrases=st.lists(st.one_of(st.sampled_from(["上门走访", "网贷逾期"]), st.text(ANY_CHAR, max_size=5)), max_size=2),
    width=st.integers(min_value=1, max_value=300),
)
def test_highlights_lie_inside_the_snippet(text: str, terms: list[str], phrases: list[str], width: int):
    snippet = make_snippet(text, terms, phrases, width=width)
    _valid_spans(snippet.text, snippet.highlights)
