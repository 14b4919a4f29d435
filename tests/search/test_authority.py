"""The document-level prior (search.authority): a national law before the
local regulations and judicial interpretations that repeat its wording,
unless the question names their place or kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from zhsearch.corpus.clauses import legal_meta, legal_places
from zhsearch.corpus.errors import ConfigError, ZhsearchError
from zhsearch.indexer.authority import Standing, standing_key
from zhsearch.indexer.build import build_index
from zhsearch.search.authority import JUDICIAL_FACTOR, LOCAL_FACTOR, Prior, resolve
from zhsearch.search.cli import main
from zhsearch.search.config import read_config_file
from zhsearch.search.searcher import Searcher

CLAUSE = "用人单位拖欠劳动报酬的，劳动者可以解除劳动合同，用人单位应当支付经济补偿。"
QUESTION = "用人单位拖欠劳动报酬 经济补偿"


def _law(title: str, opening: str) -> str:
    return f"# {title}\n\n第一条 {opening}\n\n第二条 {CLAUSE}\n"


LAWS = {
    "national.md": _law("中华人民共和国劳动合同法", "为了完善劳动合同制度，制定本法。"),
    "beijing.md": _law("北京市劳动合同条例", "为了规范本市劳动合同，制定本条例。"),
    "interpretation.md": _law(
        "最高人民法院关于审理劳动争议案件适用法律问题的解释", "为正确审理劳动争议案件，制定本解释。"
    ),
    "essay.md": f"# 拖欠工资怎么办\n\n{CLAUSE}\n",
}


@pytest.fixture(scope="module")
def laws(shared_index) -> Path:
    return shared_index(LAWS, name="authority")


def _standings(ranker) -> dict[str, str]:
    keys, codes = ranker.article_standings()
    return {a: keys[c] for a, c in zip(ranker.articles, codes.tolist(), strict=True)}


def _order(s: Searcher, query: str, **kw) -> list[str]:
    return [h.id for h in s.search(query, limit=10, snippets=False, correct=False, **kw).hits]


def test_places_and_standing_come_from_the_title() -> None:
    assert legal_places("浙江省温州市市容条例") == ("浙江省", "浙江")
    assert legal_places("温州市民间融资管理条例") == ("温州市", "温州")
    assert legal_places("上海市台湾同胞投资权益保护规定") == ("上海市", "上海")  # not 台湾
    assert legal_places("深圳经济特区绿色建筑条例") == ("深圳经济特区", "深圳")
    assert legal_places("中华人民共和国劳动合同法") == ()
    # National regulations whose subject starts like a city name.
    assert legal_places("城市市容和环境卫生管理条例") == ()
    assert legal_meta("人力资源市场暂行条例")["level"] == "national"
    key = standing_key("北京市劳动合同条例", {"level": "local", "doc_kind": "条例"})
    assert Standing.parse(key) == Standing("local", "条例", ("北京市", "北京"))
    assert standing_key("拖欠工资怎么办", {}) == ""  # not a legal document: never demoted


def test_the_standing_is_stored_at_build_and_read_without_stored_fields(laws: Path) -> None:
    with Searcher(laws) as s:
        _, ranker = s._current()
        by_id = _standings(ranker)
        assert by_id == {
            "national.md": "national|法",
            "beijing.md": "local|条例|北京市|北京",
            "interpretation.md": "national|司法解释",
            "essay.md": "",
        }
        s.search(QUESTION, snippets=False)
        assert "columns" not in ranker.__dict__  # no article's stored fields were read


def test_a_collection_without_legal_documents_stores_no_standings(make_index) -> None:
    index = make_index({"essay.md": LAWS["essay.md"], "note.md": "# 笔记\n\n合同的效力。\n"})
    with Searcher(index) as s:
        _, ranker = s._current()
        assert not any(store.standings() for store, _ in ranker._stores)
        assert ranker.authority(Prior(), QUESTION) is None


def test_a_local_regulation_repeating_a_national_clause_ranks_below_it(laws: Path) -> None:
    with Searcher(laws) as s:
        on = s.search(QUESTION, snippets=False, correct=False)
        off = s.search(QUESTION, snippets=False, correct=False, prior=False)
        scores_on = {h.id: h.score for h in on.hits}
        scores_off = {h.id: h.score for h in off.hits}
        # The same clause: equal scores without the prior.
        assert scores_off["beijing.md"] == scores_off["national.md"] == scores_off["interpretation.md"]
        order = [h.id for h in on.hits]
        assert order.index("national.md") < order.index("interpretation.md") < order.index("beijing.md")
        assert scores_on["beijing.md"] == pytest.approx(LOCAL_FACTOR * scores_off["beijing.md"], abs=1e-4)
        assert scores_on["interpretation.md"] == pytest.approx(
            JUDICIAL_FACTOR * scores_off["interpretation.md"], abs=1e-4
        )
        # Not a legal document: left alone.
        assert scores_on["essay.md"] == scores_off["essay.md"]


@pytest.mark.parametrize("place", ["北京市", "北京", "北京的"])
def test_a_question_naming_the_place_keeps_its_regulation(laws: Path, place: str) -> None:
    with Searcher(laws) as s:
        query = f"{place}{QUESTION}"
        on = {h.id: h.score for h in s.search(query, snippets=False, correct=False).hits}
        off = {h.id: h.score for h in s.search(query, snippets=False, correct=False, prior=False).hits}
        assert on["beijing.md"] == off["beijing.md"]
        assert on["beijing.md"] >= on["national.md"]
        # Another place does not.
        other = {h.id: h.score for h in s.search(f"上海{QUESTION}", snippets=False, correct=False).hits}
        assert other["beijing.md"] < other["national.md"]


def test_a_question_asking_for_an_interpretation_keeps_it(laws: Path) -> None:
    with Searcher(laws) as s:
        for query in (f"{QUESTION} 司法解释", f"最高人民法院 {QUESTION}"):
            on = {h.id: h.score for h in s.search(query, snippets=False, correct=False).hits}
            off = {h.id: h.score for h in s.search(query, snippets=False, correct=False, prior=False).hits}
            assert on["interpretation.md"] == off["interpretation.md"], query
            assert on["beijing.md"] < off["beijing.md"], query  # still a local rule nobody asked for


def test_the_switch_turns_it_off(laws: Path, tmp_path: Path) -> None:
    with Searcher(laws) as s:
        off = s.search(QUESTION, snippets=False, correct=False, prior=False)
        neutral = s.search(QUESTION, snippets=False, correct=False, prior=Prior(local=1.0, judicial=1.0))
        assert [h.score for h in off.hits] == [h.score for h in neutral.hits]
        assert len({h.score for h in off.hits if h.id != "essay.md"}) == 1
    runner = CliRunner()
    args = ["search", QUESTION, "--index", str(laws), "--json"]

    def scores(result) -> dict[str, float]:
        assert result.exit_code == 0, result.output
        hits = [json.loads(line) for line in result.stdout.splitlines()]
        return {h["id"]: h["score"] for h in hits if h.get("type") == "hit"}

    on, no = scores(runner.invoke(main, args)), scores(runner.invoke(main, [*args, "--no-prior"]))
    assert on["beijing.md"] < on["national.md"]
    assert no["beijing.md"] == no["national.md"]
    # The same from a config file.
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("prior = false\n", encoding="utf-8")
    assert scores(runner.invoke(main, args, env={"ZHSEARCH_CONFIG": str(cfg)})) == no
    assert scores(runner.invoke(main, [*args, "--prior"], env={"ZHSEARCH_CONFIG": str(cfg)})) == on
    cfg.write_text('prior = "no"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="prior must be true or false"):
        read_config_file(cfg)


def test_only_local_legislation_is_scaled() -> None:
    prior = Prior()
    assert prior.factor(Standing("local", "条例", ("清河市", "清河")), "催收") == LOCAL_FACTOR
    # A local notice (a web page's government notice) is not legislation repeating a law.
    assert prior.factor(Standing("local", "通知", ("清河市", "清河")), "催收") == 1.0
    assert prior.factor(Standing("national", "条例"), "催收") == 1.0
    assert prior.factor(Standing(), "催收") == 1.0


def test_factors_must_scale_down() -> None:
    for bad in (0.0, 1.5, -1.0):
        with pytest.raises(ZhsearchError, match="at most 1"):
            Prior(local=bad)
    assert resolve(False) is None
    assert resolve(Prior(1.0, 1.0)) is None
    with pytest.raises(ZhsearchError):
        resolve("yes")  # type: ignore[arg-type]


def test_the_standing_survives_updates_and_merges(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in LAWS.items():
        (docs / name).write_text(text, encoding="utf-8")
    index = tmp_path / "index"
    build_index([docs], index)
    for i in range(5):
        # Each update adds a segment; the merge policy folds them together.
        (docs / f"local{i}.md").write_text(
            _law(f"上海市劳动条例（{2020 + i}年修正）", f"本条例第{i}版。"), encoding="utf-8"
        )
        (docs / "national.md").write_text(_law("中华人民共和国劳动合同法", f"制定本法{i}。"), encoding="utf-8")
        build_index([docs], index)
    with Searcher(index) as s:
        _, ranker = s._current()
        assert len(ranker._stores) < 6  # some segments were merged
        by_id = _standings(ranker)
        assert by_id["national.md"] == "national|法"
        assert by_id["beijing.md"] == "local|条例|北京市|北京"
        assert all(by_id[f"local{i}.md"] == "local|条例|上海市|上海" for i in range(5))
        order = _order(s, QUESTION)
        assert order.index("national.md") < order.index("local0.md")


def _jsonl(folder: Path) -> Path:
    """Laws as JSON lines (one record per 条, the level and form given as
    metadata): a national law, a local copy of it, an interpretation."""
    lines = []
    for law, level, kind in (
        ("中华人民共和国租赁法", "national", "法"),
        ("北京市房屋租赁条例", "local", "条例"),
        ("上海市房屋租赁条例", "local", "条例"),
        ("最高人民法院关于审理房屋租赁合同纠纷案件的解释", "national", "司法解释"),
    ):
        texts = [
            "出租人应当按照约定退还押金。",
            "承租人逾期支付租金的，出租人可以解除合同。",
            "出租人负责维修租赁房屋。",
        ]
        for n, text in enumerate(texts):
            number = "一二三"[n]
            lines.append({"id": f"{law}-{n}", "title": f"{law} 第{number}条", "level": level, "doc_kind": kind, "sections": [{"text": text}]})  # fmt: skip
    path = folder / "laws.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    return path


def test_a_sharded_index_ranks_with_the_prior_like_one_index(tmp_path: Path) -> None:
    path = _jsonl(tmp_path)
    single, many = tmp_path / "single", tmp_path / "many"
    build_index([path], single)
    build_index([path], many, shards=3)
    queries = ["房东不退押金怎么办", "北京 承租人逾期支付租金", "上海市出租人维修", "司法解释 押金", "租金"]
    with Searcher(single) as one, Searcher(many) as sharded:
        changed = 0
        for q in queries:
            want, got = one.search(q, limit=12), sharded.search(q, limit=12)
            assert [h.id for h in got.hits] == [h.id for h in want.hits], q
            assert got.scores == pytest.approx(want.scores, abs=1e-5), q
            off = sharded.search(q, limit=12, prior=False)
            assert [h.id for h in off.hits] == [h.id for h in one.search(q, limit=12, prior=False).hits], q
            changed += [h.id for h in off.hits] != [h.id for h in got.hits]
        assert changed  # the prior did reorder something
        top = one.search("押金", limit=1).hits[0]
        assert top.title.startswith("中华人民共和国租赁法")


def test_the_web_api_turns_it_off_too(laws: Path, live_server) -> None:
    import httpx

    base = live_server(laws)

    def scores(**params) -> dict[str, float]:
        got = httpx.get(f"{base}/search", params={"q": QUESTION, **params}, timeout=10).json()
        return {h["id"]: h["score"] for h in got["hits"]}

    on, off = scores(), scores(prior="false")
    assert on["beijing.md"] < on["national.md"]
    assert off["beijing.md"] == off["national.md"]


def test_an_index_written_before_standings_ranks_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zhsearch.indexer.build as build_module

    original = build_module.write_segment

    def without_standings(*args, **kwargs):
        args = args[:8]  # up to works: what segments held before standings
        kwargs.pop("standings", None)
        return original(*args, **kwargs)

    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in LAWS.items():
        (docs / name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(build_module, "write_segment", without_standings)
    build_index([docs], tmp_path / "old")
    monkeypatch.undo()
    with Searcher(tmp_path / "old") as s:
        _, ranker = s._current()
        assert set(_standings(ranker).values()) == {""}
        assert not any(store.standings() for store, _ in ranker._stores)  # nothing stored
        on = s.search(QUESTION, snippets=False, correct=False)
        off = s.search(QUESTION, snippets=False, correct=False, prior=False)
        assert [(h.id, h.score) for h in on.hits] == [(h.id, h.score) for h in off.hits]


def test_a_json_lines_record_of_one_numbered_article_gets_its_laws_standing(tmp_path: Path) -> None:
    from zhsearch.corpus.readers import parse_jsonl

    lines = [
        {"id": "a", "title": "北京市物业管理条例 第十条", "text": "业主大会。"},
        {"id": "b", "title": "最高人民法院关于审理物业服务纠纷案件的解释 第一条", "text": "业主大会。"},
        {"id": "c", "title": "物业管理第十条怎么理解", "text": "业主大会。"},  # not a numbered article
        {"id": "d", "title": "物业管理条例 第二条", "level": "local", "text": "业主大会。"},  # given: kept
    ]
    articles, _ = parse_jsonl("\n".join(json.dumps(x, ensure_ascii=False) for x in lines))
    meta = {a.id: {k: a.meta.get(k) for k in ("doc_kind", "level")} for a in articles}
    assert meta["a"] == {"doc_kind": "条例", "level": "local"}
    assert meta["b"] == {"doc_kind": "司法解释", "level": "national"}
    assert meta["c"] == {"doc_kind": None, "level": None}
    assert meta["d"] == {"doc_kind": None, "level": "local"}


def test_eval_measures_with_or_without_the_prior(laws: Path, tmp_path: Path) -> None:
    # A question whose answer is the local regulation: without the prior
    # only the short essay is above it (the three laws' equal scores tie,
    # broken by id); the prior puts the national law and the interpretation
    # above it too.
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"qid": "q-1", "query": QUESTION, "doc": "beijing.md"}) + "\n", encoding="utf-8")
    runner = CliRunner()

    def mrr(*flags: str) -> float:
        result = runner.invoke(main, ["eval", str(questions), "--index", str(laws), "--json", *flags])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["overall"]["mrr"]

    assert mrr("--no-prior") == 0.5
    assert mrr() == 0.25
    assert mrr("--prior") == 0.25
