"""Relevance evaluation on a tiny index whose answers are known."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from zhsearch.corpus.errors import ZhsearchError
from zhsearch.search.evaluation import (
    Question,
    evaluate,
    format_table,
    group_of,
    measure_rankings,
    read_qrels,
    read_questions,
)

DOCS = {
    "a.txt": "停息挂账怎么申请\n\n一、申请条件\n\n停息挂账需要证明还款能力不足。\n\n二、办理流程\n\n先联系银行客服提交材料。\n",
    "b.txt": "征信修复是骗局\n\n一、征信修复\n\n征信修复公司收了钱也改不了征信记录，征信有错只能提出征信异议。\n",
    "c.txt": "信用卡逾期的后果\n\n一、后果\n\n长期逾期会影响个人征信。\n",
}

# Known answers: q1 is found first (with the right section), q2 second,
# q3 not at all.
QUESTIONS = [
    {"qid": "cmrc-1", "query": "停息挂账的申请条件", "doc": "a.txt", "section": 0},
    {"qid": "cmrc-2", "query": "征信", "doc": "c.txt", "section": 0},
    {"qid": "drcd-3-hans", "query": "雪球法", "doc": "a.txt"},
]


@pytest.fixture
def index_dir(make_index) -> Path:
    return make_index(DOCS)


@pytest.fixture
def queries_file(tmp_path: Path) -> Path:
    path = tmp_path / "queries.jsonl"
    path.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in QUESTIONS) + "\n", encoding="utf-8")
    return path


def test_the_fixture_ranks_as_the_metrics_assume(index_dir: Path):
    from zhsearch.search.searcher import Searcher

    with Searcher(index_dir) as s:
        q1 = s.search("停息挂账的申请条件").hits
        assert q1[0].id == "a.txt" and q1[0].section.index == 0
        assert [h.id for h in s.search("征信").hits] == ["b.txt", "c.txt"]
        assert s.search("雪球法").hits == ()


def test_evaluate_scores_by_hand(index_dir: Path, queries_file: Path):
    report = evaluate(queries_file, index_dir, k=10)
    m = report.overall
    assert m.group == "all"
    assert m.queries == 3
    assert m.mrr == pytest.approx((1 + 1 / 2 + 0) / 3)
    assert m.success_at_1 == pytest.approx(1 / 3)
    assert m.recall == pytest.approx(2 / 3)
    # Two questions name a section; only q1 has the right article first.
    assert m.section_at_1 == pytest.approx(1 / 2)
    assert 0 <= m.p50_ms <= m.p95_ms <= m.p99_ms
    assert report.k == 10
    assert sorted(report.misses) == [("cmrc-2", "c.txt", "b.txt"), ("drcd-3-hans", "a.txt", None)]


def test_evaluate_per_group(index_dir: Path, queries_file: Path):
    report = evaluate(queries_file, index_dir)
    groups = {g.group: g for g in report.groups}
    assert set(groups) == {"cmrc", "drcd-hans"}
    assert groups["cmrc"].queries == 2
    assert groups["cmrc"].mrr == pytest.approx((1 + 1 / 2) / 2)
    assert groups["drcd-hans"].mrr == 0
    assert groups["drcd-hans"].section_at_1 is None


def test_k_cuts_the_ranking(index_dir: Path, queries_file: Path):
    m = evaluate(queries_file, index_dir, k=1).overall
    assert m.mrr == pytest.approx(1 / 3)
    assert m.recall == pytest.approx(1 / 3)


def test_evaluate_accepts_question_objects(index_dir: Path):
    report = evaluate([Question("x-1", "征信", "b.txt", 0)], index_dir)
    assert report.overall.mrr == 1.0
    assert report.overall.section_at_1 == 1.0
    assert report.misses == ()


def test_evaluate_with_a_synonym_file(index_dir: Path, tmp_path: Path):
    # 资信 is in no article; as a synonym of 征信 it finds the one about 征信.
    question = [Question("x-1", "资信", "b.txt", 0)]
    assert evaluate(question, index_dir).overall.mrr == 0.0
    synonyms = tmp_path / "synonyms.txt"
    synonyms.write_text("征信 资信\n", encoding="utf-8")
    assert evaluate(question, index_dir, synonyms=synonyms).overall.mrr == 1.0


def test_format_table(index_dir: Path, queries_file: Path):
    table = format_table(evaluate(queries_file, index_dir))
    lines = table.splitlines()
    assert lines[0].startswith(
        "| group | queries | MRR@10 | Success@1 | Recall@10 | nDCG@10 | Recall@100 | Section@1 | no results |"
    )
    # nDCG@10: q1 first (1), q2 second (1/log2(3) = 0.631), q3 missing: 0.544.
    assert lines[-1].startswith("| all | 3 | 0.500 | 0.333 | 0.667 | 0.544 | 0.667 | 0.500 | 1 |")
    assert any(line.startswith("| drcd-hans | 1 | 0.000 | 0.000 | 0.000 | 0.000 | 0.000 | - | 1 |") for line in lines)


def test_eval_command(index_dir: Path, queries_file: Path):
    from click.testing import CliRunner
    from zhsearch.search.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["eval", str(queries_file), "--index", str(index_dir), "--misses", "5"])
    assert result.exit_code == 0, result.output
    assert "| all | 3 | 0.500 | 0.333 | 0.667 | 0.544 | 0.667 | 0.500 | 1 |" in result.stdout
    assert "miss cmrc-2: expected c.txt, first was b.txt" in result.stdout
    assert "miss drcd-3-hans: expected a.txt, first was None" in result.stdout
    as_json = runner.invoke(main, ["eval", str(queries_file), "--index", str(index_dir), "--json"])
    data = json.loads(as_json.stdout)
    assert data["overall"]["mrr"] == pytest.approx(0.5)
    assert {g["group"] for g in data["groups"]} == {"cmrc", "drcd-hans"}
    missing = runner.invoke(main, ["eval", str(queries_file.parent / "nope.jsonl"), "--index", str(index_dir)])
    assert missing.exit_code == 2
    assert missing.stderr.startswith("zhsearch: error: ") and "Traceback" not in missing.output


@pytest.mark.parametrize(
    ("qid", "group"),
    [("drcd-123-hans", "drcd-hans"), ("drcd-123", "drcd"), ("cmrc-DEV_0", "cmrc"), ("plain", "all")],
)
def test_group_of(qid: str, group: str):
    assert group_of(qid) == group


def test_bad_query_line_names_its_number(tmp_path: Path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"qid": "a", "query": "征信", "doc": "b.txt"}\n{"qid": "b", "query": "征信"}\n', encoding="utf-8")
    with pytest.raises(ZhsearchError, match=r"q\.jsonl:2:"):
        read_questions(path)


def test_empty_or_missing_queries_file(tmp_path: Path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ZhsearchError, match="no queries"):
        read_questions(empty)
    with pytest.raises(ZhsearchError, match="cannot read"):
        read_questions(tmp_path / "missing.jsonl")


def test_graded_metrics_computed_by_hand():
    # q: relevant x (grade 2), y (grade 1), z (grade 1, never retrieved);
    # ranking [n, y, x]: first relevant at rank 2.
    judged = {"q": {"x": 2, "y": 1, "z": 1}, "empty": {"x": 1}}
    got = measure_rankings(judged, {"q": ["n", "y", "x"], "empty": []}, k=2, depth=3)
    log2 = math.log2
    dcg_at_2 = 0 / log2(2) + 1 / log2(3)  # gain = grade, discount log2(rank + 1)
    ideal_at_2 = 2 / log2(2) + 1 / log2(3)
    assert got["q"]["mrr"] == pytest.approx(1 / 2)
    assert got["q"]["success_at_1"] == 0
    assert got["q"]["recall"] == pytest.approx(1 / 3)  # y of x, y, z in the top 2
    assert got["q"]["recall_deep"] == pytest.approx(2 / 3)  # x and y in the top 3
    assert got["q"]["ndcg"] == pytest.approx(dcg_at_2 / ideal_at_2)
    assert got["empty"] == {"mrr": 0, "success_at_1": 0, "recall": 0, "ndcg": 0, "recall_deep": 0}
    same = measure_rankings(judged, {"q": ["n", "y", "x"]}, k=2, depth=2)["q"]
    assert same["recall"] == same["recall_deep"] == pytest.approx(1 / 3)


def test_several_relevant_articles_and_qrels(index_dir: Path, tmp_path: Path):
    # "征信" ranks b first, c second.
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        '{"qid": "s-1", "query": "征信", "docs": ["c.txt", "b.txt"]}\n{"qid": "s-2", "query": "征信"}\n',
        encoding="utf-8",
    )
    with pytest.raises(ZhsearchError, match=r"q\.jsonl:2: .*no relevant article for 's-2'"):
        read_questions(queries)
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("s-2 0 c.txt 2\ns-2 0 b.txt 1\ns-2 0 a.txt 0\n", encoding="utf-8")
    assert read_qrels(qrels) == {"s-2": {"c.txt": 2, "b.txt": 1}}
    questions = read_questions(queries, qrels)
    assert questions[1].doc == "c.txt" and questions[1].judgments == {"c.txt": 2, "b.txt": 1}
    report = evaluate(questions, index_dir)
    assert report.overall.mrr == 1.0 and report.overall.recall == 1.0
    ideal = 2 + 1 / math.log2(3)
    got = (1 + 2 / math.log2(3)) / ideal  # b (grade 1) first, c (grade 2) second
    assert report.overall.ndcg == pytest.approx((1.0 + got) / 2)
    assert report.misses == ()  # a relevant article is first for both


def test_bad_qrels_line(tmp_path: Path):
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("s-2 0 c.txt\n", encoding="utf-8")
    with pytest.raises(ZhsearchError, match=r"qrels\.txt:1: not a qrels line"):
        read_qrels(qrels)


def test_eval_command_with_qrels(index_dir: Path, tmp_path: Path):
    from click.testing import CliRunner
    from zhsearch.search.cli import main

    queries = tmp_path / "q.jsonl"
    queries.write_text('{"qid": "s-1", "query": "征信"}\n', encoding="utf-8")
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("s-1 0 c.txt 1\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", str(queries), "--qrels", str(qrels), "--index", str(index_dir)])
    assert result.exit_code == 0, result.output
    # c is second: MRR 0.5, nDCG 1/log2(3).
    assert "| all | 1 | 0.500 | 0.000 | 1.000 | 0.631 | 1.000 | - | 0 |" in result.stdout
