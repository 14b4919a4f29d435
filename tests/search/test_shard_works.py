"""A work split into one article per clause (a law as JSON lines, one
record per 条) keeps its articles in one shard, so the same-work evidence
of ranking gives a sharded index the answers of one index."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from zhsearch.indexer.build import build_index
from zhsearch.indexer.shards import read_manifest, shard_of
from zhsearch.search.searcher import Searcher

LAWS = {
    "房屋租赁管理办法": ["出租人", "承租人", "押金", "租金", "维修", "转租"],
    "劳动合同条例": ["劳动者", "用人单位", "工资", "加班", "解除", "经济补偿"],
    "道路交通安全规定": ["驾驶", "饮酒", "醉酒", "吊销", "驾驶证", "罚款"],
    "民间借贷规定": ["借款", "利息", "出借人", "借款人", "逾期", "担保"],
}
FILLER = ["应当", "依法", "按照", "有关", "规定", "办理", "期间", "书面", "通知", "责任"]
NUMBERS = "一二三四五六七八九十"


def _corpus(folder: Path) -> Path:
    rng = random.Random(3)
    lines = []
    for law, words in LAWS.items():
        for n in range(10):
            text = "".join(rng.choice(words) + rng.choice(FILLER) for _ in range(rng.randint(4, 9))) + "。"
            lines.append({"id": f"{law}-{n}", "title": f"{law} 第{NUMBERS[n]}条", "sections": [{"text": text}]})
    for n in range(8):  # articles that are no part of a work
        text = "".join(rng.choice(FILLER) + rng.choice(rng.choice(list(LAWS.values()))) for _ in range(6)) + "。"
        lines.append({"id": f"note-{n}", "title": f"问答{n}", "sections": [{"text": text}]})
    path = folder / "laws.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    return path


def test_articles_of_a_work_share_a_shard(tmp_path: Path) -> None:
    for law in LAWS:
        assert len({shard_of(f"{law}-{n}", 3, f"{law} 第{NUMBERS[n]}条") for n in range(10)}) == 1
    # Without a work in the title an article goes where its id hashes to.
    assert shard_of("note-1", 3, "问答1") == shard_of("note-1", 3)


@pytest.mark.parametrize("shards", [3])
def test_sharded_equals_one_index_with_work_evidence(tmp_path: Path, shards: int) -> None:
    path = _corpus(tmp_path)
    single, many = tmp_path / "single", tmp_path / "many"
    build_index([path], single)
    build_index([path], many, shards=shards)
    manifest = read_manifest(many)
    assert len(manifest.shards) == shards
    queries = [
        "房东不退押金怎么办",
        "醉酒驾驶会被吊销驾驶证吗",
        "公司拖欠工资",
        "借款逾期的利息",
        "出租人 维修",
        "经济补偿",
    ]
    with Searcher(single) as one, Searcher(many) as sharded:
        for q in queries:
            want, got = one.search(q, limit=10), sharded.search(q, limit=10)
            assert want.total > 0, q
            assert [h.id for h in got.hits] == [h.id for h in want.hits], q
            assert got.scores == pytest.approx(want.scores, abs=1e-5), q
            assert got.total == want.total, q
        # An article is found whichever shard its work put it in.
        assert sharded.article("民间借贷规定-4").title == "民间借贷规定 第五条"
