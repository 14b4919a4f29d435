"""Whoosh as a reference: it reads zhsearch's postings through its codec
interface (``indexer.codec``), and its BM25F scores the same postings as
``search.ranking`` does.

The comparison, in the manner of bm25s checking itself against a reference
implementation: a small collection written here, plain word queries, and on
each side the same BM25F — per field, ``idf · tf·(k1+1) / (tf + k1·(1 − b +
b·len/avglen))`` times the field's weight, summed over fields and terms,
with zhsearch's k1, per-field b and field weights.  Two things are set to
make the two the same formula, and only these:

- zhsearch's ranker is run as plain BM25F: terms carry no word group (no
  coordination factor), and the two structure adjustments of
  ``search.ranking`` (single-character-only sections, shared titles) are
  turned off.  Bigram fallback, phrase checks and work evidence live in the
  searcher, which is not used here.
- Whoosh's BM25F computes idf as ``log(N/(df+1)) + 1``; zhsearch uses the
  BM25 (Lucene) idf ``log(1 + (N − df + 0.5)/(df + 0.5))``.  Whoosh's own
  seam for that, ``WeightingModel.idf``, is given the latter; lengths,
  averages, document frequencies, tf saturation, boosts and the walk over
  the postings stay Whoosh's.  A one-word query is also compared with
  Whoosh's stock BM25F: idf is then one factor, so the ranking must be the
  same and the scores proportional.

Tolerance: zhsearch scores in float32, Whoosh in float64; relative 1e-5.
Sections whose scores tie within it may come in either order.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
import whoosh.index
from whoosh import scoring
from whoosh.qparser import MultifieldParser, OrGroup, QueryParser
from whoosh.query import Or, Term
from zhsearch.indexer.analysis import GramTokenizer, default_settings, word_analyzer
from zhsearch.indexer.build import build_index
from zhsearch.indexer.schema import FIELD_WEIGHTS, TEXT_FIELDS
from zhsearch.indexer.storage import INDEX_NAME, open_index
from zhsearch.search import ranking
from zhsearch.search.ranking import FIELD_B, K1, Ranker, ScoreTerm

REL = 1e-5
K = 10
WORDS = (
    "法院 合同 责任 赔偿 劳动 工资 公司 员工 房屋 租赁 违约 解除 通知 期限 债务 利息 借款 担保 "
    "保险 事故 医疗 费用 证据 诉讼 调解 仲裁 协议 财产 继承 离婚 抚养 股东 税务 发票 银行 账户 "
    "网络 平台 消费者 商品 退货 质量 广告 隐私 数据 信息 邻居 噪音 物业 维修"
).split()
# Queries drawn once from the vocabulary (fixed seed), not picked by hand.
QUERIES = [" ".join(random.Random(n).sample(WORDS, 1 + n % 3)) for n in range(40)]


class LuceneIdfBM25F(scoring.BM25F):
    """Whoosh's BM25F with the BM25 idf zhsearch uses (see the module notes)."""

    def idf(self, searcher, fieldname, text):
        parent = searcher.get_parent()
        n = parent.doc_count_all()
        df = parent.doc_frequency(fieldname, text)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def _weighting(cls: type[scoring.BM25F]) -> scoring.BM25F:
    return cls(B=ranking.B, K1=K1, **{f"{f}_B": b for f, b in FIELD_B.items()})


def _sentence(rng: random.Random, n: int) -> str:
    words = rng.choices(WORDS, weights=[1.0 / (i + 1) for i in range(len(WORDS))], k=n)
    return "，".join("".join(words[i : i + 3]) for i in range(0, n, 3)) + "。"


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sixty articles of two to four sections of varied length, from a fixed seed."""
    root = tmp_path_factory.mktemp("reference")
    docs = root / "docs"
    docs.mkdir()
    rng = random.Random(12)
    for a in range(60):
        parts = [f"# {_sentence(rng, rng.randint(2, 4))[:-1]}\n"]
        for _ in range(rng.randint(2, 4)):
            parts.append(f"## {_sentence(rng, rng.randint(1, 3))[:-1]}\n")
            parts.append(" ".join(_sentence(rng, rng.randint(3, 40)) for _ in range(rng.randint(1, 4))) + "\n")
        (docs / f"a{a:02d}.md").write_text("\n".join(parts), encoding="utf-8")
    build_index([docs], root / "index")
    return root / "index"


@pytest.fixture
def plain_bm25f(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ranking, "SINGLE_ONLY_WEIGHT", 1.0)
    monkeypatch.setattr(ranking, "SHARED_TITLE_WEIGHT", 1.0)


def _query_terms(query: str) -> tuple[list[str], list[str]]:
    """The query's distinct words and bigrams, cut as the index cut its text."""
    words = word_analyzer(default_settings())
    grams = GramTokenizer()
    return (
        list(dict.fromkeys(t.text for t in words(query))),
        list(dict.fromkeys(t.text for t in grams(query))),
    )


def _ours(ranker: Ranker, terms: list[ScoreTerm]) -> list[tuple[int, float]]:
    """Every scored section, best first (ties by section number, as Whoosh)."""
    scores = ranker.score(terms)
    hit = np.flatnonzero(scores)
    order = hit[np.lexsort((hit, -scores[hit]))]
    return [(int(d), float(scores[d])) for d in order]


def _plain_terms(words: list[str], grams: list[str]) -> list[ScoreTerm]:
    terms = [ScoreTerm(f, w, FIELD_WEIGHTS[f]) for w in words for f in TEXT_FIELDS]
    return terms + [ScoreTerm("grams", g) for g in grams]


def _whoosh(searcher, words: list[str], grams: list[str], limit: int) -> list[tuple[int, float]]:
    q = Or([Term(f, w, boost=FIELD_WEIGHTS[f]) for w in words for f in TEXT_FIELDS] + [Term("grams", g) for g in grams])
    return [(hit.docnum, hit.score) for hit in searcher.search(q, limit=limit)]


def _assert_same_top(ours: list[tuple[int, float]], theirs: list[tuple[int, float]], k: int) -> None:
    """Same scores rank by rank, same sections up to the order of ties."""
    assert len(ours[:k]) == len(theirs[:k])
    for (_, a), (_, b) in zip(ours[:k], theirs[:k], strict=True):
        assert a == pytest.approx(b, rel=REL)
    i = 0
    while i < min(k, len(theirs)):
        j = i + 1
        while j < len(theirs) and theirs[j][1] == pytest.approx(theirs[i][1], rel=REL):
            j += 1
        # A run of ties that crosses rank k: ours may hold any of them there.
        want = {d for d, _ in theirs[i:j]}
        got = {d for d, _ in ours[i : min(j, k)]}
        assert got <= want if j > k else got == want, (i, j)
        i = j


def test_plain_whoosh_finds_articles_by_their_words(collection: Path) -> None:
    """A Whoosh user opens the index with Whoosh alone and searches its text."""
    ix = whoosh.index.open_dir(str(collection), indexname=INDEX_NAME)
    assert {"title", "heading", "body", "grams"} <= set(ix.schema.names())
    with ix.searcher() as searcher:
        q = QueryParser("body", ix.schema).parse("租赁")
        hits = searcher.search(q, limit=None)
        assert len(hits) > 0
        assert all("租赁" in hit["body"] for hit in hits)
        # Every section holding the word, no other: the bigram field agrees.
        bodies = [fields["body"] for fields in searcher.all_stored_fields()]
        assert len(hits) == sum("租赁" in b for b in bodies)
        multi = MultifieldParser(["title", "heading", "body"], ix.schema, group=OrGroup).parse("离婚 抚养")
        assert len(searcher.search(multi, limit=None)) > 0
        assert b"\xe7\xa7\x9f\xe8\xb5\x81" in set(searcher.reader().expand_prefix("body", "租"))  # 租赁
        assert searcher.search(QueryParser("body", ix.schema).parse("量子纠缠"), limit=None).is_empty()


@pytest.mark.usefixtures("plain_bm25f")
def test_scores_and_top10_equal_whoosh_bm25f(collection: Path) -> None:
    ix = open_index(collection)
    reader = ix.reader()
    ranker = Ranker(reader, (*TEXT_FIELDS, "grams"))
    wix = whoosh.index.open_dir(str(collection), indexname=INDEX_NAME)
    compared = 0
    try:
        with wix.searcher(weighting=_weighting(LuceneIdfBM25F)) as searcher:
            for query in QUERIES:
                words, grams = _query_terms(query)
                ours = _ours(ranker, _plain_terms(words, grams))
                theirs = _whoosh(searcher, words, grams, K + 30)
                assert theirs, query
                _assert_same_top(ours, theirs, K)
                compared += 1
    finally:
        ranker.close()
        reader.close()
    assert compared == len(QUERIES)


@pytest.mark.usefixtures("plain_bm25f")
def test_one_word_ranks_as_stock_whoosh_bm25f(collection: Path) -> None:
    """With one term, idf is a common factor: Whoosh's own BM25F, unchanged,
    ranks the same and its scores are ours times one constant."""
    ix = open_index(collection)
    reader = ix.reader()
    ranker = Ranker(reader, (*TEXT_FIELDS, "grams"))
    try:
        with whoosh.index.open_dir(str(collection), indexname=INDEX_NAME).searcher(
            weighting=_weighting(scoring.BM25F)
        ) as searcher:
            for word in WORDS[::5]:
                ours = _ours(ranker, [ScoreTerm("body", word)])
                theirs = [(h.docnum, h.score) for h in searcher.search(Term("body", word), limit=K + 30)]
                assert theirs, word
                ratio = theirs[0][1] / ours[0][1]
                _assert_same_top([(d, s * ratio) for d, s in ours], theirs, K)
    finally:
        ranker.close()
        reader.close()


def test_whoosh_sees_updates(tmp_path: Path) -> None:
    """After an incremental update (new sections, the old ones deleted or
    merged away), Whoosh finds the new text and not the replaced one."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# 房屋租赁\n\n## 押金\n\n租赁押金的退还期限。\n", encoding="utf-8")
    (docs / "b.md").write_text("# 劳动合同\n\n## 工资\n\n拖欠工资的赔偿。\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    build_index([docs], index_dir)
    (docs / "a.md").write_text("# 房屋租赁\n\n## 维修\n\n房屋维修的费用由谁承担。\n", encoding="utf-8")
    build_index([docs], index_dir)
    ix = whoosh.index.open_dir(str(index_dir), indexname=INDEX_NAME)
    with ix.searcher() as searcher:
        parser = QueryParser("body", ix.schema)
        assert searcher.search(parser.parse("押金"), limit=None).is_empty()
        assert [h["article"] for h in searcher.search(parser.parse("维修"), limit=None)] == ["a.md"]
        assert [h["article"] for h in searcher.search(parser.parse("赔偿"), limit=None)] == ["b.md"]
