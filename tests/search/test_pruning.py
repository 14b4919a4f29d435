"""Dynamic pruning (search.pruning): the pruned page equals the exhaustive one."""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zhsearch.indexer.build import build_index
from zhsearch.indexer.postings import impact_bounds
from zhsearch.search import pruning
from zhsearch.search.authority import Prior
from zhsearch.search.cli import main
from zhsearch.search.query import parse, plan
from zhsearch.search.ranking import K1
from zhsearch.search.searcher import Searcher

WORDS = ["合同", "解除", "赔偿", "劳动", "工资", "责任", "保护", "网络", "个人", "信息", "期限", "违约", "抵押", "担保"]
WORKS = ["劳动合同法", "民法典", "网络安全法", "北京市物业条例", "最高人民法院关于劳动争议的解释"]
# The standing (meta level, doc_kind) of each work: the document-level
# prior scales the local rule's and the interpretation's scores down.
STANDING = {"北京市物业条例": ("local", "条例"), "最高人民法院关于劳动争议的解释": ("national", "司法解释")}


def _corpus(rng: random.Random, n_articles: int) -> dict[str, str]:
    """Laws-like articles: most are numbered articles of a few works (so
    same-work evidence counts), some stand alone; sections of random words
    with skewed frequencies (a few common words, many rare ones)."""
    weights = [1.0 / (i + 1) for i in range(len(WORDS))]
    files = {}
    for a in range(n_articles):
        work = rng.choice(WORKS)
        title = f"{work} 第{a + 1}条" if rng.random() < 0.7 else f"条例{a}"
        parts = [f"# {title}\n"]
        if title.startswith(work) and work in STANDING:
            level, kind = STANDING[work]
            parts.insert(0, f"---\nlevel: {level}\ndoc_kind: {kind}\n---\n")
        for s in range(rng.randint(1, 3)):
            body = "，".join(rng.choices(WORDS, weights, k=rng.randint(1, 12)))
            parts.append(f"## 第{s + 1}节 {rng.choice(WORDS)}\n\n{body}。\n")
        files[f"a{a:03d}.md"] = "\n".join(parts)
    return files


def _index(files: dict[str, str], root: Path) -> Path:
    docs = root / "docs"
    for name, text in files.items():
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(text, encoding="utf-8")
    build_index([docs], root / "index")
    return root / "index"


@pytest.fixture(autouse=True)
def _prune_small_indexes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Prune whenever it is possible, not only when it pays: on these small
    # collections the thresholds meant for large ones would leave it unused.
    monkeypatch.setattr(pruning, "SEED_MIN", 0)
    monkeypatch.setattr(pruning, "MAX_WORK", 1.0)
    monkeypatch.setattr(pruning, "MAX_SHARE", 1.0)
    monkeypatch.setattr(pruning, "SPARSE_SHARE", 0.0)


def _page(
    s: Searcher, query: str, limit: int, page: int, monkeypatch: pytest.MonkeyPatch, prune: bool, sparse: bool = False
):
    monkeypatch.setattr(pruning, "MIN_SECTIONS", 0 if prune or sparse else 1 << 60)
    # ``sparse``: every query ranked over its postings alone (sparse_articles).
    monkeypatch.setattr(pruning, "SPARSE_SHARE", float("inf") if sparse else 0.0)
    r = s.search(query, limit=limit, page=page, snippets=False, suggestions=False, correct=False, prior=Prior())
    return r, [(h.id, h.section.index, h.score) for h in r.hits], r.scores


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2**32 - 1), st.integers(8, 40))
def test_pruned_top_k_is_the_exhaustive_top_k(monkeypatch: pytest.MonkeyPatch, seed: int, n_articles: int) -> None:
    rng = random.Random(seed)
    root = Path(tempfile.mkdtemp(prefix="zhsearch-prune-"))
    try:
        with Searcher(_index(_corpus(rng, n_articles), root)) as s:
            for _ in range(12):
                words = rng.sample(WORDS, rng.randint(1, 4))
                spaced = rng.random() < 0.5
                if rng.random() < 0.3:
                    words[0] = f'"{words[0]}"'  # a required phrase
                if rng.random() < 0.2:
                    words.append(f"-{rng.choice(WORDS)}")  # an excluded word
                query = " ".join(words) if spaced or not words[0].isalnum() or "-" in words[-1] else "".join(words)
                if rng.random() < 0.2:
                    query += " " + rng.choice(["北京", "解释"])  # names a place or a kind: no demotion there
                limit, page = rng.randint(1, 5), rng.randint(1, 2)
                exhaustive, want, want_scores = _page(s, query, limit, page, monkeypatch, prune=False)
                pruned, got, got_scores = _page(s, query, limit, page, monkeypatch, prune=True)
                assert got == want, query
                assert got_scores == want_scores, query
                assert exhaustive.total_exact
                sparse, got, got_scores = _page(s, query, limit, page, monkeypatch, prune=False, sparse=True)
                assert (got, got_scores) == (want, want_scores), query
                assert sparse.total_exact and sparse.total == exhaustive.total, query
                if pruned.total_exact:
                    assert pruned.total == exhaustive.total, query
                else:
                    # The estimate is never below the articles it saw match.
                    assert pruned.total >= (1 if want else 0)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# A collection where one word is everywhere and another in a few articles.
def _skewed() -> dict[str, str]:
    files = {}
    for a in range(80):
        rare = "抵押登记的效力。" if a % 20 == 3 else ""
        body = "合同当事人应当履行合同。" * (1 + a % 4) + rare
        files[f"law{a:02d}.md"] = f"# 条例{a}\n\n## 第一节\n\n{body}\n\n## 第二节\n\n合同的订立。\n"
    return files


@pytest.fixture(scope="module")
def skewed_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _index(_skewed(), tmp_path_factory.mktemp("skewed"))


def test_a_common_term_costs_no_pass_over_its_sections(skewed_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Searcher(skewed_index) as s:
        _, ranker = s._current()
        qplan = plan(parse("合同 抵押", s.settings), s.settings)
        terms = list(qplan.scoring)
        found = pruning.top_articles(ranker, terms, None, None, None, 0, 2)
        assert found is not None
        common = len(ranker.postings("body", "合同")[0])
        assert common == 160  # both sections of all 80 articles
        # Only the rare word's sections (and the page's articles) were scored.
        assert len(found.docs) < common / 4
        exhaustive = ranker.top_articles(ranker.score(terms), None, 0, 2)
        assert found.top == exhaustive[1]
        assert found.found == 4
        assert found.total >= found.found
        pruned, got, _ = _page(s, "合同 抵押", 2, 1, monkeypatch, prune=True)
        _, want, _ = _page(s, "合同 抵押", 2, 1, monkeypatch, prune=False)
        assert got == want
        assert {h.id for h in pruned.hits} <= {"law03.md", "law23.md", "law43.md", "law63.md"}
        assert len(pruned.hits) == 2
        assert not pruned.total_exact


def test_the_cli_says_about_when_the_total_is_an_estimate(skewed_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pruning, "MIN_SECTIONS", 0)
    runner = CliRunner()
    out = runner.invoke(main, ["search", "合同 抵押", "--index", str(skewed_index), "-n", "2"])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[0].startswith("about ")
    record = json.loads(
        runner.invoke(
            main, ["search", "合同 抵押", "--index", str(skewed_index), "-n", "2", "--json"]
        ).output.splitlines()[0]
    )
    assert record["total_exact"] is False
    monkeypatch.setattr(pruning, "MIN_SECTIONS", 1 << 60)
    out = runner.invoke(main, ["search", "合同 抵押", "--index", str(skewed_index), "-n", "2"])
    assert out.output.splitlines()[0].startswith("80 articles match")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 300), st.integers(1, 2000)), min_size=1, max_size=60),
    st.floats(0.0, 1.0),
    st.floats(0.5, 500.0),
)
def test_impact_bounds_bound_every_bm25_weight(postings, b: float, avg: float) -> None:
    # One term: (frequency, section length) per posting.
    tfs = np.array([t for t, _ in postings], dtype=np.uint32)
    lengths = np.array([max(n, t) for t, n in postings], dtype=np.uint32)
    top, low = impact_bounds(np.array([len(postings)]), np.arange(len(postings)), tfs, lengths)
    weight = tfs * (K1 + 1) / (tfs + K1 * (1 - b + b * lengths / avg))
    bound = (K1 + 1.0) / (1.0 + K1 * (1.0 - b) / float(top[0]) + K1 * b * float(low[0]) / avg)
    assert weight.max() <= bound * (1 + 1e-9)


@pytest.fixture(scope="module")
def larger_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Enough sections that a common word's list is long and most of its
    # sections are left out of the candidates by their weights' bound.
    return _index(_corpus(random.Random(7), 300), tmp_path_factory.mktemp("larger"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(WORDS), min_size=2, max_size=6, unique=True), st.integers(1, 8), st.integers(0, 2))
def test_sections_left_out_by_their_bound_never_belong_on_the_page(
    larger_index: Path, monkeypatch: pytest.MonkeyPatch, words: list[str], limit: int, page: int
) -> None:
    monkeypatch.setattr(pruning, "MIN_SECTIONS", 0)
    with Searcher(larger_index) as s:
        _, ranker = s._current()
        terms = list(plan(parse(" ".join(words), s.settings), s.settings).scoring)
        start, stop = page * limit, (page + 1) * limit
        # With the document-level prior: a local rule's sections count less.
        factors = ranker.authority(Prior(), " ".join(words))
        assert factors is not None and factors.min() < 1
        found = pruning.top_articles(ranker, terms, None, None, None, start, stop, factors=factors)
        want = ranker.top_articles(ranker.score(terms, factors=factors), None, start, stop)[1]
        if found is not None:
            assert found.top == want
            assert len(found.docs) < ranker.n_alive


def test_pruning_leaves_most_sections_out_on_the_larger_index(
    larger_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The test above must exercise the bound: most queries are pruned, with
    # far fewer sections scored than match.
    monkeypatch.setattr(pruning, "MIN_SECTIONS", 0)
    rng = random.Random(3)
    pruned = 0
    with Searcher(larger_index) as s:
        _, ranker = s._current()
        for _ in range(30):
            terms = list(plan(parse(" ".join(rng.sample(WORDS, rng.randint(2, 5))), s.settings), s.settings).scoring)
            found = pruning.top_articles(ranker, terms, None, None, None, 0, 3)
            if found is None:
                continue
            matching = int(np.count_nonzero(ranker.score(terms) > 0))
            assert found.top == ranker.top_articles(ranker.score(terms), None, 0, 3)[1]
            pruned += len(found.docs) < matching / 2
    assert pruned >= 10
