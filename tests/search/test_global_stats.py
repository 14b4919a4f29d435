"""The statistics seam: two halves of a collection, each searched with the
statistics of the whole, score exactly like one index over all of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from zhsearch.indexer.build import build_index
from zhsearch.search.ranking import CollectionStats
from zhsearch.search.searcher import Searcher

QUERIES = ["网贷逾期多久会上门走访", "征信 异议", '"停息挂账"', "信用卡 -短信", "title:催收", "協商還款"]


@pytest.fixture(scope="module")
def halves(tmp_path_factory: pytest.TempPathFactory, articles_dir: Path, sample_index: Path):
    root = tmp_path_factory.mktemp("halves")
    files = sorted(articles_dir.iterdir())
    dirs = []
    for part in (0, 1):
        docs = root / f"docs-{part}"
        docs.mkdir()
        for f in files[part::2]:
            shutil.copy(f, docs / f.name)
        build_index([docs], root / f"index-{part}")
        dirs.append(root / f"index-{part}")
    return dirs


def test_halves_with_global_stats_score_like_one_index(halves, sample_index: Path) -> None:
    differs = 0
    with Searcher(sample_index) as whole, Searcher(halves[0]) as a, Searcher(halves[1]) as b:
        for query in QUERIES:
            stats = CollectionStats.merged([a.statistics(query), b.statistics(query)])
            assert stats.sections == whole.statistics(query).sections
            want = {h.id: h.score for h in whole.search(query, limit=50, snippets=False).hits}
            got = {}
            for s in (a, b):
                got.update({h.id: h.score for h in s.search(query, limit=50, snippets=False, stats=stats).hits})
            assert got == want, query
            # Without the global statistics each half scores by its own.
            local = {h.id: h.score for h in a.search(query, limit=50, snippets=False).hits}
            # (a half without the phrase falls back to its words: other articles)
            differs += any(want.get(k) != v for k, v in local.items())
    assert differs >= len(QUERIES) - 1
