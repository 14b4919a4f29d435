"""Work keys stored with the postings: same-work groups without stored fields."""

from __future__ import annotations

from zhsearch.indexer.build import build_index
from zhsearch.indexer.works import work_key
from zhsearch.search.ranking import group_keys
from zhsearch.search.searcher import Searcher

TITLES = {
    "a.md": "民法典 第一条",
    "b.md": "民法典 第二条",
    "c.md": "刑法 第一条",
    "d.md": "民法典",
    "e.md": "Code Article 3",
    "f.md": "Code Article 4",
}


def test_work_key_cuts_the_part_number() -> None:
    assert work_key("民法典 第十二条") == "民法典"
    assert work_key("民法典 第十二条之一") == "民法典"
    assert work_key("Code Article 3") == "Code"
    assert work_key("民法典") == ""
    assert work_key("第一条") == ""


def test_groups_come_from_the_index_not_the_stored_titles(tmp_path, make_index) -> None:
    index = make_index({name: f"# {title}\n\n合同的效力。\n" for name, title in TITLES.items()})
    with Searcher(index) as s:
        _, ranker = s._current()
        works = ranker.article_works()
        assert works is not None
        by_id = dict(zip(ranker.articles, works, strict=True))
        assert by_id == {"a.md": "民法典", "b.md": "民法典", "c.md": "刑法", "d.md": "", "e.md": "Code", "f.md": "Code"}
        groups = ranker.article_groups
        assert "columns" not in ranker.__dict__  # no article's stored fields were read
        # The same partition as from the titles themselves.
        from_titles = group_keys(ranker.columns.title)
        assert len(set(zip(groups.tolist(), from_titles.tolist(), strict=True))) == len(set(groups.tolist()))
        assert len(set(groups.tolist())) == 4
    # No per-section column of article ids: nothing reads one.
    assert not [p.name for p in index.iterdir() if p.name.endswith(".article.col")]


def test_work_keys_survive_updates_and_merges(tmp_path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, title in TITLES.items():
        (docs / name).write_text(f"# {title}\n\n合同的效力。\n", encoding="utf-8")
    index = tmp_path / "index"
    build_index([docs], index)
    for i in range(4):
        # Each update adds a segment; merging folds them together.
        (docs / f"n{i}.md").write_text(f"# 刑法 第{i + 2}条\n\n合同的效力。\n", encoding="utf-8")
        (docs / "a.md").write_text(f"# 民法典 第一条\n\n合同的效力{i}。\n", encoding="utf-8")
        build_index([docs], index)
    with Searcher(index) as s:
        _, ranker = s._current()
        works = dict(zip(ranker.articles, ranker.article_works() or [], strict=True))
        assert works["a.md"] == "民法典"
        assert all(works[f"n{i}.md"] == "刑法" for i in range(4))
        live = {ranker.articles[a] for a in set(ranker.doc_article[ranker.alive].tolist())}
        assert len(live) == 10
