"""Sharded indexes on a real Dask cluster (worker processes on 127.0.0.1):
the same answers as one index, workers killed under queries and builds,
incremental updates of one shard, partial results marked as such.

The corpus is generated here, zhwiki-style (JSON lines: a title and
sections, some articles in Traditional characters, metadata for facets),
from the sentences of the bundled sample articles; the queries are pieces
of its sections turned into questions.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from zhsearch.corpus.errors import ZhsearchError  # noqa: E402
from zhsearch.indexer.build import build_index  # noqa: E402
from zhsearch.indexer.shards import read_manifest, shard_of  # noqa: E402
from zhsearch.search.cluster import ClusterResults, ClusterSearcher  # noqa: E402
from zhsearch.search.pinyin import spell  # noqa: E402
from zhsearch.search.searcher import Searcher  # noqa: E402

ARTICLES = Path(__file__).resolve().parents[2] / "corpus" / "articles"
SHARDS = 4
CATEGORIES = ["历史", "地理", "科技", "人物", "經濟"]


def _sentences() -> list[str]:
    out: list[str] = []
    for path in sorted(ARTICLES.iterdir()):
        if path.suffix not in (".txt", ".md"):
            continue
        text = path.read_text(encoding="utf-8")
        out.extend(s for s in re.split(r"(?<=[。！？])", text) if 12 <= len(s.strip()) <= 120 and "\n" not in s.strip())
    return [s.strip() for s in out]


def write_corpus(folder: Path, n: int = 120, seed: int = 7) -> tuple[Path, list[str]]:
    """A zhwiki-like JSON-lines corpus of ``n`` articles and its queries."""
    import opencc

    rng = random.Random(seed)
    sentences = _sentences()
    t2 = opencc.OpenCC("s2t")
    folder.mkdir(parents=True, exist_ok=True)
    queries: list[str] = []
    lines = []
    for i in range(n):
        sections = []
        for k in range(rng.randint(1, 4)):
            body = "".join(rng.sample(sentences, rng.randint(2, 6)))
            sections.append({"heading": f"第{k + 1}节", "text": body})
        title_from = rng.choice(sections)["text"]
        title = re.sub(r"[，。！？、：；“”]", "", title_from)[: rng.randint(4, 12)]
        record = {
            "id": f"wiki-{i:04d}",
            "title": title,
            "sections": sections,
            "category": rng.choice(CATEGORIES),
            "author": f"编者{rng.randint(1, 6)}",
            "date": f"{rng.randint(2015, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        }
        if i % 5 == 0:  # zhwiki-qa mixes Simplified and Traditional articles
            record["title"] = t2.convert(record["title"])
            for s in sections:
                s["text"] = t2.convert(s["text"])
        lines.append(json.dumps(record, ensure_ascii=False))
        if i % 2 == 0:
            text = rng.choice(sections)["text"]
            start = rng.randrange(max(len(text) - 12, 1))
            piece = re.sub(r"[，。！？、：；“”\s]", "", text[start : start + rng.randint(5, 12)])
            queries.append(piece + rng.choice(["是什么", "怎么办?", "多久", "吗", ""]))
    corpus = folder / "corpus.jsonl"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return corpus, queries


@pytest.fixture(scope="module")
def dask_cluster():
    # Two worker processes, one thread each, on loopback; shared by the module.
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("wiki")
    path, queries = write_corpus(root / "docs")
    single = root / "single"
    build_index([path], single)
    return path, queries, single


@pytest.fixture(scope="module")
def sharded(corpus, dask_cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, _, _ = corpus
    target = tmp_path_factory.mktemp("sharded") / "index"
    report = build_index([path], target, shards=SHARDS, cluster=dask_cluster)
    assert report.articles == 120 and report.files == 1, report
    return target


def _same(got, want, what: str) -> None:
    assert [h.id for h in got.hits] == [h.id for h in want.hits], what
    assert got.scores == pytest.approx(want.scores, abs=1e-5), what
    assert got.total == want.total, what


def test_sharded_search_equals_one_index(corpus, sharded: Path, dask_cluster) -> None:
    _, queries, single = corpus
    manifest = read_manifest(sharded)
    assert len(manifest.shards) == SHARDS and manifest.generation == 1
    assert len({shard_of(f"wiki-{i:04d}", SHARDS) for i in range(120)}) == SHARDS
    extra = ['"征信"', "信用卡 -逾期", "title:网贷", "催收 AND 投诉", "网代逾期", "停息挂帐", "債務 協商"]
    # Pinyin: the titles of a few articles spelled in full and as initials.
    with Searcher(single) as one:
        titles = [one.article(f"wiki-{i:04d}").title for i in range(0, 120, 17)]
    spelled = [spell(t) for t in titles]
    extra += [s["words"] for s in spelled] + [s["initials"] for s in spelled] + ["wangdai yuqi", "zzyzx"]
    with Searcher(sharded, cluster=dask_cluster) as many, Searcher(single) as one:
        assert isinstance(many, ClusterSearcher)
        for q in [*queries, *extra]:
            got, want = many.search(q, facets=["category", "year"]), one.search(q, facets=["category", "year"])
            _same(got, want, q)
            assert got.facets == want.facets, q
            assert (got.suggestion, got.corrected) == (want.suggestion, want.corrected), q
            assert [h.snippet for h in got.hits] == [h.snippet for h in want.hits], q
            assert not got.missing and got.shards == SHARDS
        typo = many.search("网代逾期")
        assert "网贷逾期" in (typo.suggestion, typo.corrected)
        # Filters, pages and date order.
        for options in ({"category": "經濟"}, {"since": "2020", "until": "2022-06"}, {"sort": "date", "page": 2}):
            got, want = many.search("逾期 征信", limit=5, **options), one.search("逾期 征信", limit=5, **options)
            _same(got, want, str(options))
            assert [h.rank for h in got.hits] == [h.rank for h in want.hits]
        # One round to the shards per query: the statistics come from the
        # parts the shards' builds wrote (a pinyin query: one round more).
        rounds: list[str] = []
        run = many._backend.run
        many._backend.run = lambda requests, *a: rounds.append(requests[0][2]) or run(requests, *a)  # type: ignore[method-assign]
        for q in queries[:5]:
            rounds.clear()
            assert many.search(q).total and rounds == ["search"], (q, rounds)
        rounds.clear()
        many.search(spelled[0]["words"])
        assert rounds == ["pinyin", "search"]
        many._backend.run = run  # type: ignore[method-assign]
        # Related articles: key terms weighted over the whole collection.
        for i in range(0, 120, 23):
            got, want = many.related(f"wiki-{i:04d}", limit=5), one.related(f"wiki-{i:04d}", limit=5)
            _same(got, want, f"related wiki-{i:04d}")
            assert got.terms == want.terms and [h.snippet for h in got.hits] == [h.snippet for h in want.hits]
        got = many.search("逾期", category="没有这个")
        assert got.total == 0 and "no article in the index has category '没有这个'" in got.notices
        assert many.article("wiki-0003").title == one.article("wiki-0003").title
        assert many.stats().articles == one.stats().articles == 120


def test_worker_killed_mid_query_is_answered(corpus, sharded: Path, dask_cluster) -> None:
    _, queries, single = corpus
    with Searcher(single) as one:
        expected = {q: one.search(q) for q in queries[:20]}
    answers: list[ClusterResults] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def ask() -> None:
        with ClusterSearcher(sharded, cluster=dask_cluster) as many:
            while not stop.is_set():
                for q in expected:
                    try:
                        answers.append(many.search(q))
                    except BaseException as exc:  # noqa: BLE001 - reported below
                        errors.append(exc)

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        while len(answers) < 5:
            time.sleep(0.05)
        pids = dask_cluster.run(os.getpid)
        os.kill(next(iter(pids.values())), signal.SIGKILL)
        before = len(answers)
        deadline = time.monotonic() + 60
        while len(answers) < before + 40 and time.monotonic() < deadline and not errors:
            time.sleep(0.1)
    finally:
        stop.set()
        asker.join(timeout=60)
    assert not errors, errors
    assert len(answers) >= before + 40
    for res in answers:
        assert not res.missing, res.notices
        _same(res, expected[res.query], res.query)
    dask_cluster.wait_for_workers(2, timeout=60)


def test_killed_mid_build_leaves_previous_manifest(corpus, sharded: Path, dask_cluster, tmp_path: Path) -> None:
    """A worker SIGKILLed under a shard's build task: Dask reruns the task on
    another worker and the build completes (or fails, leaving the previous
    manifest). The building process itself SIGKILLed: the previous manifest
    stays in force, and the next build completes."""
    path, _, _ = corpus
    target = tmp_path / "index"
    shutil.copytree(sharded, target, copy_function=os.link)
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(20):  # new files for every shard
        (docs / f"new-{i:02d}.md").write_text(f"# 新条目{i}\n\n" + "独一无二的词语锟斤拷。" * 200, encoding="utf-8")
    before = read_manifest(target)
    result: list[object] = []
    builder = threading.Thread(
        target=lambda: result.append(_try(lambda: build_index([path, docs], target, cluster=dask_cluster)))
    )
    builder.start()
    assert _kill_when_building(dask_cluster, builder.is_alive, lambda pid: os.kill(pid, signal.SIGKILL))
    builder.join(timeout=120)
    outcome = result[0]
    if isinstance(outcome, ZhsearchError):
        assert read_manifest(target) == before and "the index is unchanged" in str(outcome)
    else:
        assert outcome.articles == 20, outcome  # type: ignore[attr-defined]
    dask_cluster.wait_for_workers(2, timeout=60)
    build_index([path, docs], target, cluster=dask_cluster)
    done = read_manifest(target)
    assert done.generation > before.generation

    # Now the process that builds is killed while its tasks run.
    for i in range(20):
        (docs / f"more-{i:02d}.md").write_text(f"# 又一条{i}\n\n" + "第二批新词汇嘟嘟囔囔。" * 200, encoding="utf-8")
    code = (
        "import sys; from zhsearch.indexer.build import build_index; "
        f"build_index([{str(path)!r}, {str(docs)!r}], {str(target)!r}, cluster={dask_cluster.scheduler.address!r})"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        assert _kill_when_building(dask_cluster, lambda: proc.poll() is None, lambda _: proc.kill(), timeout=60)
    finally:
        proc.wait(timeout=60)
    assert read_manifest(target) == done
    with ClusterSearcher(target, cluster=dask_cluster) as many:
        assert many.search("锟斤拷", limit=30).total == 20 and many.search("嘟嘟囔囔").total == 0
        build_index([path, docs], target, cluster=dask_cluster)
        assert many.search("嘟嘟囔囔", limit=30).total == 20 and many.search("锟斤拷").total == 20
    time.sleep(0.5)  # the killed build's tasks may still be finishing on the workers
    build_index([path, docs], target, cluster=dask_cluster)
    named = {s.path for s in read_manifest(target).shards}
    assert {p.name for p in target.iterdir() if p.name.startswith("shard-")} <= named | {s.path for s in done.shards}


def _kill_when_building(client, running, kill, timeout: float = 120) -> bool:
    """Call ``kill(pid of a worker running a shard build task)`` as soon as
    one runs; False if none was seen while ``running()``."""
    deadline = time.monotonic() + timeout
    while running() and time.monotonic() < deadline:
        busy = [w for w, tasks in client.processing().items() if any("zhsearch-build" in str(t) for t in tasks)]
        if busy:
            kill(client.run(os.getpid, workers=[busy[0]])[busy[0]])
            return True
        time.sleep(0.02)
    return False


def _try(fn):
    try:
        return fn()
    except ZhsearchError as exc:
        return exc


def test_incremental_update_touches_one_shard(dask_cluster, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(ARTICLES, docs)
    target = tmp_path / "index"
    build_index([docs], target, shards=3, cluster=dask_cluster)
    before = read_manifest(target)
    assert build_index([docs], target, cluster=dask_cluster).files_unchanged == len(list(docs.iterdir()))
    assert read_manifest(target) == before  # nothing changed: no new generation
    changed = docs / "md-001.md"
    old_dir = target / before.shards[shard_of("md-001.md", 3)].path
    files_before = {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in old_dir.iterdir()}
    changed.write_text(changed.read_text(encoding="utf-8") + "\n补充说明：蝴蝶效应。\n", encoding="utf-8")
    report = build_index([docs], target, cluster=dask_cluster)
    after = read_manifest(target)
    # The update hard-linked the shard into a new directory: the one the
    # previous manifest names is exactly as it was (a reader may be on it).
    assert {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in old_dir.iterdir()} == files_before
    assert report.files_indexed == 1 and after.generation == before.generation + 1
    moved = [s.shard for s, t in zip(before.shards, after.shards, strict=True) if s.path != t.path]
    assert moved == [shard_of("md-001.md", 3)]
    with Searcher(target, cluster=dask_cluster) as many:
        assert [h.id for h in many.search("蝴蝶效应").hits] == ["md-001.md"]
    # A file removed from the directory loses its article from its shard.
    (docs / "wd-002.txt").unlink()
    build_index([docs], target, cluster=dask_cluster)
    with Searcher(target) as local:  # no cluster: the shards are searched in this process
        assert local.search("征信").total == Searcher(target, cluster=dask_cluster).search("征信").total
        assert "wd-002.txt" not in {h.id for h in local.search("网贷", limit=50).hits}
    # The statistics part of the shard that lost an article counts live
    # sections only, as the shard's own postings do.
    _check_parts(target)


def _check_parts(target: Path) -> None:
    import numpy as np
    from zhsearch.indexer.collection import FIELDS, PART, ShardPart, term_key
    from zhsearch.indexer.storage import open_index
    from zhsearch.search.ranking import Ranker

    for d in read_manifest(target).shard_dirs(target):
        part = ShardPart(d / PART)
        with open_index(d).reader() as reader:
            ranker = Ranker(reader, FIELDS)
            assert part.sections == ranker.n_alive and part.length_sums == ranker.length_sums
            for f in FIELDS:
                words = ranker.lexicon(f) if f != "grams" else ["网贷", "逾期", "征信", "锟斤"]
                keys = np.array([term_key(f, w) for w in words], dtype=np.uint64)
                assert part.frequencies(f, keys).tolist() == [ranker.doc_frequency(f, w) for w in words], (d, f)
            ranker.close()


def test_shards_without_statistics_parts_are_asked_in_a_round(corpus, sharded: Path, tmp_path: Path) -> None:
    """A sharded index built before shards kept their statistics parts (or
    with one unreadable) is searched with a statistics round, alike."""
    from zhsearch.indexer.collection import PART

    _, queries, single = corpus
    target = tmp_path / "index"
    shutil.copytree(sharded, target, copy_function=os.link)
    (target / read_manifest(target).shards[1].path / PART).unlink()
    with Searcher(target) as many, Searcher(single) as one:
        for q in [*queries[:8], "wangdai yuqi", "网代逾期"]:
            got, want = many.search(q), one.search(q)
            _same(got, want, q)
            assert (got.suggestion, got.corrected) == (want.suggestion, want.corrected), q
        _same(many.related("wiki-0007"), one.related("wiki-0007"), "related")


def test_missing_shard_is_named_not_silent(corpus, sharded: Path, tmp_path: Path) -> None:
    target = tmp_path / "index"
    shutil.copytree(sharded, target, copy_function=os.link)
    manifest = read_manifest(target)
    gone = manifest.shards[2]
    shutil.rmtree(target / gone.path)
    with Searcher(target) as many, Searcher(sharded) as whole:
        res = many.search("逾期")
        assert res.partial and res.missing == ("shard-02",)
        assert any("shard-02 could not be searched" in n for n in res.notices)
        assert 0 < res.total < whole.search("逾期").total


def test_cli_sharded_index_and_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dask_cluster) -> None:
    from click.testing import CliRunner
    from zhsearch.indexer import shards
    from zhsearch.search.cli import main

    runner = CliRunner()
    target = str(tmp_path / "ix")
    address = dask_cluster.scheduler.address
    done = runner.invoke(main, ["index", str(ARTICLES), "--cluster", address, "--shards", "2", "--index", target])
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"Indexed {len(list(ARTICLES.iterdir()))} articles")
    assert len(read_manifest(target).shards) == 2
    found = runner.invoke(main, ["search", "停息挂账", "-n", "1", "--index", target, "--cluster", address])
    local = runner.invoke(main, ["search", "停息挂账", "-n", "1", "--index", target])
    assert found.exit_code == local.exit_code == 0, found.output
    assert "停息挂账" in found.output and found.output.splitlines()[2:] == local.output.splitlines()[2:]
    refused = runner.invoke(main, ["index", str(ARTICLES), "--shards", "3", "--index", target])
    assert refused.exit_code == 2 and "has 2 shards, not 3" in refused.output
    monkeypatch.setattr(shards, "CONNECT_TIMEOUT", 1)
    unreachable = runner.invoke(main, ["search", "征信", "--index", target, "--cluster", "tcp://127.0.0.1:9"])
    assert unreachable.exit_code == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in unreachable.output
    assert "dask worker" in runner.invoke(main, ["cluster", "--help"]).output


def test_check_and_watch_on_a_sharded_index(dask_cluster, tmp_path: Path) -> None:
    """``index --check`` compares every shard with the files (and finds a
    damaged shard); ``index --watch --cluster`` updates the shards on the
    cluster as files change; ``related`` runs from the CLI."""
    from click.testing import CliRunner
    from zhsearch.indexer.collection import PART
    from zhsearch.indexer.watch import watch
    from zhsearch.search.cli import main

    docs = tmp_path / "docs"
    shutil.copytree(ARTICLES, docs)
    target = tmp_path / "ix"
    stop = threading.Event()
    reports: list = []
    errors: list = []
    watcher = threading.Thread(
        target=watch,
        args=([docs], target),
        kwargs={
            "on_report": reports.append,
            "on_error": errors.append,
            "stop_event": stop,
            "debounce_ms": 600,
            "step_ms": 100,
            "shards": 3,
            "cluster": dask_cluster.scheduler.address,
        },
        daemon=True,
    )
    watcher.start()
    try:
        deadline = time.monotonic() + 60
        while not reports and time.monotonic() < deadline:
            time.sleep(0.1)
        assert reports and len(read_manifest(target).shards) == 3, errors
        time.sleep(0.3)  # let the watcher start
        (docs / "new-1.txt").write_text("新文章\n\n独一无二的独角兽。\n", encoding="utf-8")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with Searcher(target) as s:
                if [h.id for h in s.search("独角兽").hits] == ["new-1.txt"]:
                    break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the watch did not index new-1.txt: {reports} {errors}")
        assert errors == []
    finally:
        stop.set()
        watcher.join(timeout=30)
    assert not watcher.is_alive()

    runner = CliRunner()
    ok = runner.invoke(main, ["index", str(docs), "--check", "--index", str(target)])
    assert ok.exit_code == 0, ok.output
    assert ok.output == f"The index at {target} matches the {len(list(docs.iterdir()))} files in PATHS.\n"
    (docs / "md-002.md").write_text("# 改过了\n\n新的内容。\n", encoding="utf-8")
    (docs / "wd-002.txt").unlink()
    differs = runner.invoke(main, ["index", str(docs), "--check", "--index", str(target)])
    assert differs.exit_code == 1
    assert f"1 file changed since indexed:\n  {docs / 'md-002.md'}\n" in differs.output
    assert f"1 file indexed but no longer present:\n  {docs / 'wd-002.txt'}\n" in differs.output
    refused = runner.invoke(main, ["index", str(docs), "--check", "--shards", "2", "--index", str(target)])
    assert refused.exit_code == 2 and "leave out --cluster/--shards" in refused.output

    related = runner.invoke(main, ["related", "md-003.md", "-n", "2", "--index", str(target)])
    on_cluster = runner.invoke(
        main, ["related", "md-003.md", "-n", "2", "--index", str(target), "--cluster", dask_cluster.scheduler.address]
    )
    assert related.exit_code == on_cluster.exit_code == 0, related.output
    assert related.output.startswith("Articles related to md-003.md") and related.output == on_cluster.output

    part = target / read_manifest(target).shards[1].path / PART
    part.write_bytes(part.read_bytes()[:-8])
    damaged = runner.invoke(main, ["index", str(docs), "--check", "--index", str(target)])
    assert damaged.exit_code == 1 and f"shard-01: {PART}: " in damaged.output, damaged.output
    assert "Repair it with `zhsearch index PATH... --rebuild" in damaged.output


def test_serve_a_sharded_index_on_the_cluster(corpus, sharded: Path, dask_cluster, live_server) -> None:
    """``zhsearch serve --cluster``: the page's API answers from the shards
    on the workers, as one index over the same articles would."""
    import httpx

    _, queries, single = corpus
    base = live_server(sharded, cluster=dask_cluster)
    with (
        httpx.Client(base_url=base, timeout=60) as http,
        Searcher(single) as one,
    ):
        for q in queries[:4]:
            got = http.get("/search", params={"q": q, "limit": 5}).json()
            want = one.search(q, limit=5)
            assert got["total"] == want.total, q
            assert [h["id"] for h in got["hits"]] == [h.id for h in want.hits], q
        related = http.get("/related/wiki-0004", params={"limit": 3}).json()
        assert [h["id"] for h in related["hits"]] == [h.id for h in one.related("wiki-0004", limit=3).hits]
        assert http.get("/stats").json()["articles"] == 120
        assert http.get("/articles/wiki-0005").json()["title"] == one.article("wiki-0005").title
        prefix = one.article("wiki-0010").title[:2]
        suggested = http.get("/suggest", params={"q": prefix}).json()["suggestions"]
        assert any(s["kind"] == "title" and s["id"] == "wiki-0010" for s in suggested), suggested
        # Words ranked by their frequency in the whole collection, as one index ranks them.
        prefix = next(p for p in ("信用", "逾", "征", "网") if any(c.kind == "word" for c in one.complete(p)))
        words = [
            s["text"] for s in http.get("/suggest", params={"q": prefix}).json()["suggestions"] if s["kind"] == "word"
        ]
        assert words == [c.text for c in one.complete(prefix) if c.kind == "word" and not c.pinyin]
