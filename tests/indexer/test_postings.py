"""The text postings files: what is written is what is read back, and the
bigram and word terms are exactly the analyzer's."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zhsearch.indexer.analysis import default_settings, fold, gram_spans, word_counts, word_spans
from zhsearch.indexer.postings import (
    TERMS_PER_BLOCK,
    FieldPostings,
    SegmentPostings,
    analyze_sections,
    gram_key,
    gram_terms,
    word_key,
    write_segment,
)
from zhsearch.indexer.schema import GRAM_FIELD, TEXT_FIELDS

MIXED = st.text(
    alphabet=st.sampled_from(list("网贷逾期上門走訪银行卡ＡＢab12.%，。 \n-_") + ["𠮷", "か", "😀", "\u3000"]),
    max_size=60,
)


def _fields(postings: dict[str, dict[int, dict[int, int]]], n_docs: int) -> dict[str, FieldPostings]:
    """FieldPostings from ``{field: {key: {doc: count}}}``, added doc by doc
    like a build adds articles."""
    out = {}
    for name, table in postings.items():
        fp = FieldPostings()
        for doc in range(n_docs):
            keys = [k for k in table if doc in table[k]]
            fp.terms.append(np.array(keys, dtype=np.uint64))
            fp.docs.append(np.full(len(keys), doc, dtype=np.uint32))
            fp.tfs.append(np.array([table[k][doc] for k in keys], dtype=np.uint32))
        fp.lengths.append(np.arange(n_docs, dtype=np.uint32) + 1)
        out[name] = fp
    return out


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 70000).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.dictionaries(
                st.sampled_from(["甲乙", "乙丙", "丙丁", "丁", "ab", "x9"]),
                st.dictionaries(st.integers(0, n - 1), st.integers(1, 70000), min_size=1, max_size=8),
                max_size=6,
            ),
        )
    )
)
def test_postings_read_back_as_written(tmp_path_factory: pytest.TempPathFactory, case):
    n_docs, table = case
    grams = {gram_key(g): docs for g, docs in table.items()}
    path = tmp_path_factory.mktemp("p") / "seg.zpost"
    write_segment(path, n_docs, _fields({GRAM_FIELD: grams}, n_docs), ["a"], np.zeros(n_docs, dtype=np.int32))
    store = SegmentPostings(path)
    for term, docs in table.items():
        ids, tfs = store.postings(GRAM_FIELD, term)
        assert ids.tolist() == sorted(docs)
        assert tfs.tolist() == [min(docs[d], 0xFFFF) for d in sorted(docs)]
    assert store.postings(GRAM_FIELD, "没有")[0].size == 0
    assert store.lengths(GRAM_FIELD).tolist() == list(range(1, n_docs + 1))


def test_many_terms_span_blocks_and_keep_their_lexicon(tmp_path: Path):
    vocabulary = [f"词{i}" for i in range(3 * TERMS_PER_BLOCK + 5)]
    fp = FieldPostings()
    for doc in range(4):
        chosen = vocabulary[doc::4]
        fp.terms.append(np.array([word_key(w) for w in chosen], dtype=np.uint64))
        fp.docs.append(np.full(len(chosen), doc, dtype=np.uint32))
        fp.tfs.append(np.full(len(chosen), doc + 1, dtype=np.uint32))
        fp.words.update(chosen)
    fp.lengths.append(np.array([5, 6, 7, 8], dtype=np.uint32))
    write_segment(tmp_path / "s.zpost", 4, {"body": fp}, ["x", "y"], np.array([0, 0, 1, 1]))
    store = SegmentPostings(tmp_path / "s.zpost")
    for i, w in enumerate(vocabulary):
        ids, tfs = store.postings("body", w)
        assert ids.tolist() == [i % 4] and tfs.tolist() == [i % 4 + 1]
    assert store.lexicon("body") == sorted(vocabulary)
    assert store.postings("title", "词1")[0].size == 0  # a field the segment lacks
    assert store.lengths("title").tolist() == [0, 0, 0, 0]
    ids, doc_article = store.articles()
    assert [ids[i] for i in doc_article] == ["x", "x", "y", "y"]


def test_a_file_that_is_not_postings_is_refused(tmp_path: Path):
    bad = tmp_path / "x.zpost"
    bad.write_bytes(b"not a postings file at all")
    with pytest.raises(ValueError, match="not a zhsearch postings file"):
        SegmentPostings(bad)


@settings(max_examples=300, deadline=None)
@given(MIXED)
def test_gram_terms_are_the_analyzers_bigrams(text: str):
    folded = fold(text)
    keys, docs = gram_terms(folded, np.array([0]))
    assert sorted(keys.tolist()) == sorted(gram_key(g) for g, _, _ in gram_spans(folded))
    assert set(docs.tolist()) <= {0}


@settings(max_examples=300, deadline=None)
@given(MIXED)
def test_word_counts_are_the_analyzers_words(text: str):
    folded = fold(text)
    assert word_counts(folded) == Counter(w for w, _, _ in word_spans(folded))


def test_gram_keys_keep_bigrams_single_ideographs_and_words_apart():
    assert gram_key("网贷") == (ord("网") << 21) | ord("贷")
    assert gram_key("网") == ord("网")
    assert gram_key("visa") >> 63 == 1
    assert len({gram_key(t) for t in ["网贷", "贷网", "网", "贷", "visa", "vis", "2024"]}) == 7


def test_sections_are_counted_per_field():
    lexicon: dict[str, set[str]] = {}
    terms = analyze_sections(
        "网贷逾期",
        [("一、逾期 / 1.1 上门", "网贷逾期了。逾期以后"), ("二、协商", "")],
        default_settings(),
        lexicon,
    )
    assert terms.n_docs == 2
    assert terms.lengths["title"].tolist() == [2, 2]  # 网贷|逾期 in every section
    body_keys, body_docs, body_tfs = terms.pairs["body"]
    counted = {(int(k), int(d)): int(c) for k, d, c in zip(body_keys, body_docs, body_tfs, strict=True)}
    assert counted[(word_key("逾期"), 0)] == 2
    assert terms.lengths["body"].tolist() == [5, 0]  # 网贷 逾期 了 逾期 以后
    assert lexicon["heading"] >= {"逾期", "上门", "协商"}
    grams_keys, grams_docs, _ = terms.pairs[GRAM_FIELD]
    assert (gram_key("上门"), 0) in {(int(k), int(d)) for k, d in zip(grams_keys, grams_docs, strict=True)}
    assert set(TEXT_FIELDS) <= set(terms.pairs)


@pytest.mark.parametrize("reserve", [16384, 64])
def test_a_streamed_file_has_its_header_first_whatever_its_size(tmp_path: Path, reserve: int) -> None:
    """Parts written as they come, the header last: into the room kept for
    it, or (a header larger than that) in front of a copy of the data."""
    from zhsearch.indexer.binfile import StreamedFile, open_mapped

    path = tmp_path / "f.bin"
    header = {"parts": [[i, 3] for i in range(40)]}
    with StreamedFile(path, reserve=reserve) as out:
        for i in range(40):
            out.write(b"%03d" % i)
        out.finish(b"TEST\n", header)
    mapped, read, start = open_mapped(path, b"TEST\n", "test")
    assert read == header and start % 8 == 0
    assert bytes(mapped[start:]) == b"".join(b"%03d" % i for i in range(40))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]
    with pytest.raises(RuntimeError), StreamedFile(tmp_path / "g.bin", reserve=reserve) as out:
        out.write(b"abc")
        raise RuntimeError("a failed write")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(["甲", "b", "\0", "\n", "\ud800", "/"]), max_size=6), max_size=8))
def test_article_ids_and_work_keys_read_back_whatever_they_hold(tmp_path_factory: pytest.TempPathFactory, ids):
    # Ids are kept NUL-joined for a quick open; one holding a NUL (or a
    # lone surrogate from a mis-decoded name) still reads back as written.
    n = len(ids)
    path = tmp_path_factory.mktemp("ids") / "seg.zpost"
    fields = _fields({GRAM_FIELD: {gram_key("甲乙"): {0: 1}}}, max(n, 1))
    doc_article = np.arange(max(n, 1), dtype=np.int32) if n else np.zeros(1, dtype=np.int32)
    write_segment(path, max(n, 1), fields, ids or ["a"], doc_article, works=[s[::-1] for s in ids or ["a"]])
    store = SegmentPostings(path)
    assert store.articles()[0] == (ids or ["a"])
    assert store.works() == [s[::-1] for s in ids or ["a"]]
    assert store.article_runs()
    assert store.length_sum(GRAM_FIELD) == sum(range(1, max(n, 1) + 1))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["", "一、总则", "第一条", "第一条 / 2.1"]), MIXED | st.just("")), max_size=6),
    st.booleans(),
)
def test_sections_counted_together_are_each_sections_words(texts: list[tuple[str, str]], nul: bool):
    # Headings repeat, bodies may be empty or hold the separator (NUL:
    # then they are counted one at a time); the counts are word_counts of
    # each section's text either way.
    texts = [*texts, *texts[:1], *([("", "a\x00b 网贷")] if nul else [])]
    lexicon: dict[str, set[str]] = {}
    terms = analyze_sections("标题", texts, default_settings(), lexicon)
    for i, name in ((0, "heading"), (1, "body")):
        expected = {(word_key(w), d): c for d, pair in enumerate(texts) for w, c in word_counts(fold(pair[i])).items()}
        keys, docs, tfs = terms.pairs[name]
        assert {(int(k), int(d)): int(c) for k, d, c in zip(keys, docs, tfs, strict=True)} == expected
        assert len(keys) == len(expected)
        lengths = [sum(word_counts(fold(pair[i])).values()) for pair in texts]
        assert terms.lengths[name].tolist() == lengths
        assert lexicon[name] == {w for pair in texts for w in word_counts(fold(pair[i]))}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=80), st.integers(1, 6))
def test_a_term_with_many_postings_is_a_block_of_its_own(dfs: list[int], big: int) -> None:
    from zhsearch.indexer import postings

    starts = postings.block_starts(np.array(dfs))
    bounds = [*starts.tolist(), len(dfs)]
    blocks = [list(range(a, z)) for a, z in pairwise(bounds)]
    assert starts[0] == 0 and all(blocks)
    for block in blocks:
        assert len(block) <= TERMS_PER_BLOCK
        # A big term alone; small ones together, up to a full block.
        assert len(block) == 1 or all(dfs[i] < postings.BIG_TERM for i in block)


def test_big_terms_read_back_from_blocks_of_their_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zhsearch.indexer import postings

    monkeypatch.setattr(postings, "BIG_TERM", 3)
    vocabulary = [f"词{i}" for i in range(2 * TERMS_PER_BLOCK + 7)]
    common = set(vocabulary[::5])  # in every section: big terms
    fp = FieldPostings()
    for doc in range(6):
        chosen = [w for i, w in enumerate(vocabulary) if w in common or i % 6 == doc]
        fp.terms.append(np.array([word_key(w) for w in chosen], dtype=np.uint64))
        fp.docs.append(np.full(len(chosen), doc, dtype=np.uint32))
        fp.tfs.append(np.full(len(chosen), doc + 1, dtype=np.uint32))
        fp.words.update(chosen)
    fp.lengths.append(np.arange(6, dtype=np.uint32) + 3)
    write_segment(tmp_path / "s.zpost", 6, {"body": fp}, ["x"], np.zeros(6, dtype=np.int32))
    store = SegmentPostings(tmp_path / "s.zpost")
    assert store.n_blocks("body") > -(-len(vocabulary) // TERMS_PER_BLOCK)
    for i, w in enumerate(vocabulary):
        ids, tfs = store.postings("body", w)
        want = list(range(6)) if w in common else [i % 6]
        assert ids.tolist() == want and tfs.tolist() == [d + 1 for d in want]
    keys, df, docs, _ = store.field_postings("body")
    assert len(keys) == len(vocabulary) and int(df.sum()) == len(docs)
    assert not store.verify()
