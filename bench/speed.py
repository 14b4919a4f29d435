"""Speed benchmark on ../shared/data/laws.tar.xz: indexing, queries, cold start.

Unpacks the 3,475 Chinese laws into a temporary directory, then in one run:

1. builds the zhsearch index in a child process (wall time, MB/s, sections/s,
   peak RSS, index size);
2. builds the naive baseline -- Whoosh + ``jieba.analyse.ChineseAnalyzer``,
   one document per file, plain ``ix.writer()`` -- the same way;
3. times warm queries through one open ``Searcher`` (with and without
   snippets) and the same questions against the baseline;
4. times a cold ``zhsearch search`` process against
   ``python -c "import jieba; jieba.initialize()"``;
5. times incremental re-indexing: nothing changed, then one file modified,
   one deleted and one added;

and prints one Markdown table (``--json FILE`` also writes it as JSON).
Progress goes to stderr, the report to stdout.

    python bench/speed.py [--data DIR] [--keep DIR] [--sample N] [--jobs J] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ARCHIVE = "laws.tar.xz"

# Proposed targets for the "goal" column; adjust them to the issue's.
# The goals of the speed issue.
GOALS = {
    "mb_s": "≥ 4× naive",
    "ratio": "≥ 4×",
    "rss": "≤ 1,000 MB",
    "size_x": "≤ 2× source",
    "warm_snip": "p95 ≤ 30 ms",
    "warm_nosnip": "",
    "cold": "≤ ½ jieba init",
    "cold_ratio": "≤ 0.5×",
    "noop": "≤ 5 % of full build",
    "changes": "counts right",
}

# What people ask a collection of laws: questions, keywords, "phrases", -exclusions.
QUERIES = [
    "劳动合同解除的经济补偿怎么计算",
    "醉酒驾驶 处罚",
    '"个人信息" 保护',
    "未成年人 网络 保护",
    "离婚后子女抚养",
    "民间借贷利率上限",
    "工伤认定需要哪些材料",
    "试用期最长可以约定多久",
    "加班费的计算标准",
    "房屋租赁合同到期不退押金怎么办",
    "交通事故责任认定",
    "拖欠农民工工资",
    '"正当防卫"',
    "正当防卫 -特殊",
    "食品安全 召回",
    "消费者 七日无理由退货",
    "商标侵权 赔偿数额",
    "著作权保护期限",
    "行政复议的申请期限",
    "遗嘱继承和法定继承",
    "夫妻共同债务",
    "公司股东出资责任",
    "环境污染 损害赔偿",
    "网络诈骗 立案标准",
    "产假 天数",
    "最低工资标准",
    '"不可抗力"',
    "物业服务费 拖欠",
    "土地承包经营权流转",
    "征收补偿 -集体",
    "高空抛物",
    "数据出境安全评估",
    "电动自行车 管理",
    "个人所得税专项附加扣除",
    "知识产权 质押",
]

COLD_QUERY = QUERIES[0]

MODIFIED_WORD = "翡翠蝾螈"  # appended to the modified file
ADDED_WORD = "琥珀蜂鸟"  # only in the added file
ADDED_LAW = f"""# 基准测试新增条例

## 第一章 总则

第一条 为了测试增量索引，制定本条例。本条例所称{ADDED_WORD}，是指基准测试新增的文件。

第二条 本条例自公布之日起施行。

## 第二章 附则

第三条 本条例由基准测试脚本负责解释。
"""


def log(msg: str) -> None:
    print(f"[speed {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# child processes: one index build each, so peak RSS is the build's own


def _child_build(kind: str, corpus: str, index_dir: str, jobs: int) -> None:
    started = time.perf_counter()
    if kind == "zhsearch":
        from zhsearch.indexer.build import build_index

        t0 = time.perf_counter()
        rep = build_index([corpus], index_dir, rebuild=True, jobs=jobs)
        seconds = time.perf_counter() - t0
        out = {
            "files": rep.files,
            "docs": rep.sections,
            "articles": rep.articles,
            "sections": rep.sections,
            "bytes": rep.bytes,
            "skipped": len(rep.skipped),
            "warnings": len(rep.warnings),
        }
    elif kind == "naive":
        import jieba
        import jieba.analyse
        from whoosh import index as windex
        from whoosh.fields import ID, TEXT, Schema

        jieba.setLogLevel(60)
        t0 = time.perf_counter()
        schema = Schema(
            path=ID(stored=True, unique=True),
            title=TEXT(stored=True),
            content=TEXT(analyzer=jieba.analyse.ChineseAnalyzer(), stored=True),
        )
        os.makedirs(index_dir, exist_ok=True)
        ix = windex.create_in(index_dir, schema)
        writer = ix.writer()
        n = n_bytes = 0
        for path in _walk(Path(corpus)):
            data = path.read_bytes()
            text = data.decode("utf-8", errors="replace")
            writer.add_document(path=str(path), title=_title(text, path), content=text)
            n += 1
            n_bytes += len(data)
        writer.commit()
        seconds = time.perf_counter() - t0
        out = {"files": n, "docs": n, "bytes": n_bytes}
    else:
        raise SystemExit(f"unknown build kind {kind!r}")
    out["seconds"] = seconds
    out["process_seconds"] = time.perf_counter() - started
    # ru_maxrss is in KiB on Linux.  CHILDREN: the largest waited-for worker.
    out["rss_self_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["rss_workers_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(out))


def _walk(root: Path):
    """Files under ``root`` in the order zhsearch's discover() walks them."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and name.endswith(".md"):
                yield Path(dirpath) / name


def _title(text: str, path: Path) -> str:
    for line in text.splitlines()[:20]:
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem


def run_build(kind: str, corpus: Path, index_dir: Path, jobs: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "_build", kind, str(corpus), str(index_dir), str(jobs)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{kind} build failed (exit {proc.returncode})")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["child_wall"] = wall
    out["index_bytes"] = dir_size(index_dir)
    return out


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


# ---------------------------------------------------------------------------
# data


def prepare_corpus(data: Path, keep: str | None, sample: int, tmp: Path) -> tuple[Path, float]:
    """A private working copy of ``laws/`` under ``tmp`` (the incremental
    step changes files in it), unpacked from the archive or copied from --keep."""
    archive = data / ARCHIVE
    t0 = time.perf_counter()
    if keep:
        src_root = Path(keep).resolve()
        if not (src_root / "laws").is_dir():
            log(f"unpacking {archive} into {src_root} (kept for later runs)")
            _unpack(archive, src_root)
        else:
            log(f"reusing {src_root / 'laws'}")
    else:
        src_root = tmp / "unpacked"
        log(f"unpacking {archive} into {src_root}")
        _unpack(archive, src_root)
    src = src_root / "laws"
    work = tmp / "laws"
    files = sorted(p.relative_to(src).as_posix() for p in _walk(src))
    if sample:
        files = files[:sample]
    if not keep and not sample:
        src.rename(work)
    else:
        for rel in files:
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, work / rel)
    return work.resolve(), time.perf_counter() - t0


def _unpack(archive: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:xz") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # pragma: no cover - Python < 3.11.4
            tar.extractall(dest)


# ---------------------------------------------------------------------------
# queries


def pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values), q))


def summary(ms: list[float]) -> dict:
    return {"p50": pct(ms, 50), "p95": pct(ms, 95), "max": max(ms), "n": len(ms)}


def time_queries(run: Callable[[str, bool], object], passes: int) -> dict:
    """Warm latency of ``run(query, snippets)`` over QUERIES: for snippets on
    and off, one warm-up pass, then ``passes`` timed ones."""
    out: dict = {}
    for snippets in (True, False):
        for q in QUERIES:  # warm-up pass
            run(q, snippets)
        ms = []
        for _ in range(passes):
            for q in QUERIES:
                t0 = time.perf_counter()
                run(q, snippets)
                ms.append((time.perf_counter() - t0) * 1000)
        out["snippets" if snippets else "no_snippets"] = summary(ms)
    return out


def warm_zhsearch(index_dir: Path, passes: int) -> dict:
    from zhsearch.search.searcher import Searcher

    with Searcher(index_dir) as s:
        out = time_queries(lambda q, snippets: s.search(q, limit=10, snippets=snippets), passes)
        out["with_hits"] = sum(1 for q in QUERIES if s.search(q, limit=10, snippets=False).total > 0)
    # Each query the first time it is asked: a searcher that has answered
    # other queries (index open, code loaded) but not this one, so nothing
    # it remembers per query (phrase checks, posting blocks) helps.
    first = []
    for q in QUERIES:
        with Searcher(index_dir) as s:
            s.search("法律", limit=10)
            t0 = time.perf_counter()
            s.search(q, limit=10)
            first.append((time.perf_counter() - t0) * 1000)
    out["first"] = summary(first)
    return out


def warm_naive(index_dir: Path, passes: int) -> dict:
    """The baseline's usual query path: OR over title+content, Whoosh's
    highlighter for snippets (it re-analyses each hit's stored text)."""
    import jieba

    jieba.setLogLevel(60)
    from whoosh import index as windex
    from whoosh.qparser import MultifieldParser, OrGroup, PlusMinusPlugin

    ix = windex.open_dir(str(index_dir))
    parser = MultifieldParser(["title", "content"], ix.schema, group=OrGroup)
    parser.add_plugin(PlusMinusPlugin())
    with ix.searcher() as s:

        def run(q: str, snippets: bool) -> int:
            results = s.search(parser.parse(q), limit=10)
            if snippets:
                for hit in results:
                    hit.highlights("content")
            return len(results)

        out = time_queries(run, passes)
        out["with_hits"] = sum(1 for q in QUERIES if run(q, False) > 0)
    return out


def zhsearch_command() -> list[str]:
    exe = Path(sys.executable).parent / "zhsearch"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("zhsearch")
    return [found] if found else [sys.executable, "-m", "zhsearch.search.cli"]


def compile_bytecode() -> None:
    """Write .pyc files for zhsearch's own modules, as ``pip install`` does
    for an installed package and for jieba (an editable install run with
    PYTHONDONTWRITEBYTECODE=1 would otherwise recompile them every run)."""
    import compileall

    for package in ("corpus", "indexer", "search"):
        compileall.compile_dir(str(ROOT / package), quiet=1)


def median_wall(cmd: list[str], runs: int, ok=(0,)) -> float:
    times = []
    for i in range(runs + 1):  # the first run is untimed (page cache, jieba's dictionary cache)
        t0 = time.perf_counter()
        rc = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ).returncode
        dt = time.perf_counter() - t0
        if rc not in ok:
            raise SystemExit(f"{cmd} exited {rc}")
        if i:
            times.append(dt)
    return statistics.median(times)


# ---------------------------------------------------------------------------
# incremental updates


def incremental(corpus: Path, index_dir: Path, jobs: int) -> dict:
    from zhsearch.corpus.errors import ArticleNotFoundError
    from zhsearch.corpus.readers import article_id_for
    from zhsearch.indexer.build import build_index
    from zhsearch.search.searcher import Searcher

    out: dict = {}
    log("re-indexing the unchanged corpus")
    rep = build_index([corpus], index_dir, jobs=jobs)
    out["noop"] = {
        "seconds": rep.seconds,
        "files_unchanged": rep.files_unchanged,
        "files": rep.files,
        "ok": rep.files_unchanged == rep.files and rep.files_indexed == 0 and rep.files_removed == 0,
    }

    files = list(_walk(corpus))
    modified, deleted = files[len(files) // 2], files[len(files) // 3]
    added = corpus / "基准测试" / "基准测试新增条例.md"
    mod_id, del_id = article_id_for(corpus, modified), article_id_for(corpus, deleted)
    with Searcher(index_dir) as s:
        before = s.stats()
        mod_before = len(s.article(mod_id).sections)
        del_n = len(s.article(del_id).sections)

    with modified.open("a", encoding="utf-8") as f:
        f.write(f"\n\n第九千九百九十九条 本条为基准测试追加的条文，含有{MODIFIED_WORD}一词。\n")
    deleted.unlink()
    added.parent.mkdir(parents=True, exist_ok=True)
    added.write_text(ADDED_LAW, encoding="utf-8")
    add_id = article_id_for(corpus, added)

    log("re-indexing after 1 modified, 1 deleted, 1 added file")
    rep = build_index([corpus], index_dir, jobs=jobs)
    checks: dict[str, bool] = {
        "report: 2 indexed, 1 removed, rest unchanged": rep.files_indexed == 2
        and rep.files_removed == 1
        and rep.files_unchanged == rep.files - 2,
    }
    with Searcher(index_dir) as s:
        after = s.stats()
        mod_after = len(s.article(mod_id).sections)
        add_n = len(s.article(add_id).sections)
        try:
            s.article(del_id)
            checks["deleted article gone"] = False
        except ArticleNotFoundError:
            checks["deleted article gone"] = True
        checks["article count unchanged (-1 +1)"] = after.articles == before.articles
        checks["section count = before - deleted - modified(old) + modified(new) + added"] = (
            after.sections == before.sections - del_n - mod_before + mod_after + add_n
        )
        hits = s.search(MODIFIED_WORD, limit=3, snippets=False).hits
        checks["modified text found"] = bool(hits) and hits[0].id == mod_id
        hits = s.search(ADDED_WORD, limit=3, snippets=False).hits
        checks["added article found"] = bool(hits) and hits[0].id == add_id
    out["changes"] = {
        "seconds": rep.seconds,
        "files_indexed": rep.files_indexed,
        "files_removed": rep.files_removed,
        "articles": [before.articles, after.articles],
        "sections": [before.sections, after.sections],
        "section_delta_expected": -del_n - mod_before + mod_after + add_n,
        "checks": checks,
        "ok": all(checks.values()),
    }
    return out


# ---------------------------------------------------------------------------
# report


def fmt_lat(d: dict | None) -> str:
    return "—" if not d else f"{d['p50']:.1f} / {d['p95']:.1f} / {d['max']:.1f}"


def table(r: dict) -> str:
    z, n = r["build"]["zhsearch"], r["build"].get("naive")
    src = r["corpus"]["bytes"]
    full = z["seconds"]

    def both(f, fmt="{:.2f}") -> tuple[str, str]:
        return fmt.format(f(z)), (fmt.format(f(n)) if n else "—")

    rows = []

    def row(metric: str, zs: str, ns: str, goal: str = "") -> None:
        rows.append(f"| {metric} | {zs} | {ns} | {goal} |")

    row("index build, wall s", *both(lambda b: b["seconds"], "{:.1f}"))
    row("indexing MB/s (source MB / wall s)", *both(lambda b: b["bytes"] / 1e6 / b["seconds"]), GOALS["mb_s"])
    row(
        "documents indexed (zhsearch: sections; naive: files)",
        *both(lambda b: b["docs"], "{:,}"),
    )
    row("sections/s (naive: files/s)", *both(lambda b: b["docs"] / b["seconds"], "{:,.0f}"))
    if n:
        ratio = (z["bytes"] / z["seconds"]) / (n["bytes"] / n["seconds"])
        row("indexing speed ratio zhsearch / naive", f"{ratio:.2f}×", "1×", GOALS["ratio"])
    row("peak RSS, build process MB", *both(lambda b: b["rss_self_mb"], "{:,.0f}"), GOALS["rss"])
    row(
        f"peak RSS, largest worker MB (jobs={r['jobs']})",
        f"{z['rss_workers_mb']:,.0f}" if z["rss_workers_mb"] else "—",
        "— (no workers)",
    )
    row("index size MB", *both(lambda b: b["index_bytes"] / 1e6, "{:.1f}"))
    row("index size × source", *both(lambda b: b["index_bytes"] / src, "{:.2f}×"), GOALS["size_x"])
    wz, wn = r["warm"]["zhsearch"], r["warm"].get("naive")
    nq = len(QUERIES)
    row(
        f"warm query p50 / p95 / max ms, with snippets ({nq} queries × {r['passes']})",
        fmt_lat(wz["snippets"]),
        fmt_lat(wn and wn["snippets"]),
        GOALS["warm_snip"],
    )
    row(
        "warm query p50 / p95 / max ms, no snippets",
        fmt_lat(wz["no_snippets"]),
        fmt_lat(wn and wn["no_snippets"]),
        GOALS["warm_nosnip"],
    )
    if "first" in wz:
        row(
            f"each query asked the first time, p50 / p95 / max ms, with snippets ({nq} queries)",
            fmt_lat(wz["first"]),
            "—",
        )
    row("queries with ≥ 1 hit", f"{wz['with_hits']}/{nq}", f"{wn['with_hits']}/{nq}" if wn else "—")
    c = r["cold"]
    row(f"cold `zhsearch search` process, median of {c['runs']} s", f"{c['zhsearch_s']:.3f}", "—", GOALS["cold"])
    row('`python -c "import jieba; jieba.initialize()"`, median s (reference)', f"{c['jieba_s']:.3f}", "—")
    row("cold query / jieba init", f"{c['zhsearch_s'] / c['jieba_s']:.2f}×", "—", GOALS["cold_ratio"])
    inc = r["incremental"]
    noop, ch = inc["noop"], inc["changes"]
    row(
        "re-index, nothing changed: s (% of full build)",
        f"{noop['seconds']:.2f} ({100 * noop['seconds'] / full:.1f} %)" + ("" if noop["ok"] else " — NOT a no-op!"),
        "—",
        GOALS["noop"],
    )
    failed = [k for k, v in ch["checks"].items() if not v]
    row(
        "re-index, 1 modified + 1 deleted + 1 added: s (% of full)",
        f"{ch['seconds']:.2f} ({100 * ch['seconds'] / full:.1f} %)",
        "—",
        GOALS["changes"],
    )
    row(
        "  counts after the change",
        f"{ch['files_indexed']} indexed, {ch['files_removed']} removed; articles "
        f"{ch['articles'][0]:,}→{ch['articles'][1]:,}, sections {ch['sections'][0]:,}→{ch['sections'][1]:,} "
        + ("(as expected)" if ch["ok"] else "(UNEXPECTED: " + "; ".join(failed) + ")"),
        "—",
    )
    head = [
        f"Speed benchmark, {r['date']}; {r['cpus']} CPUs; Python {r['python']}; "
        f"corpus: {r['corpus']['files']:,} files, {src / 1e6:.1f} MB"
        + (f" (sample of the first {r['sample']})" if r["sample"] else "")
        + f"; zhsearch jobs={r['jobs']}.",
        "",
        "| metric | zhsearch | naive Whoosh+ChineseAnalyzer | goal |",
        "|---|---|---|---|",
    ]
    return "\n".join(head + rows)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_build":
        _child_build(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="directory holding laws.tar.xz")
    ap.add_argument("--keep", metavar="DIR", help="unpack into DIR (or reuse DIR/laws) instead of a temporary dir")
    ap.add_argument("--sample", type=int, default=0, metavar="N", help="only the first N files (sorted): quick runs")
    ap.add_argument("--jobs", type=int, default=2, help="zhsearch build worker processes (default 2)")
    ap.add_argument("--passes", type=int, default=3, help="timed query passes after the warm-up (default 3)")
    ap.add_argument("--cold-runs", type=int, default=7, help="cold-start runs, median taken (default 7)")
    ap.add_argument("--no-naive", action="store_true", help="skip the Whoosh+ChineseAnalyzer baseline")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args()
    data = Path(args.data)
    if not (data / ARCHIVE).is_file():
        raise SystemExit(f"no {ARCHIVE} in {data} (use --data)")
    t_start = time.perf_counter()
    date = subprocess.run(["date"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="zhsearch-speed-") as tmp_s:
        tmp = Path(tmp_s)
        corpus, unpack_s = prepare_corpus(data, args.keep, args.sample, tmp)
        files = list(_walk(corpus))
        src_bytes = sum(p.stat().st_size for p in files)
        log(f"corpus: {len(files):,} files, {src_bytes / 1e6:.1f} MB ({unpack_s:.1f} s to prepare)")
        r: dict = {
            "date": date,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "jobs": args.jobs,
            "passes": args.passes,
            "sample": args.sample,
            "corpus": {"files": len(files), "bytes": src_bytes},
            "build": {},
            "warm": {},
        }
        zidx, nidx = tmp / "zhsearch-index", tmp / "naive-index"
        log(f"building the zhsearch index (jobs={args.jobs})")
        r["build"]["zhsearch"] = z = run_build("zhsearch", corpus, zidx, args.jobs)
        log(f"  {z['seconds']:.1f} s, {z['bytes'] / 1e6 / z['seconds']:.2f} MB/s, {z['sections']:,} sections")
        if not args.no_naive:
            log("building the naive Whoosh + ChineseAnalyzer index")
            r["build"]["naive"] = n = run_build("naive", corpus, nidx, 1)
            log(f"  {n['seconds']:.1f} s, {n['bytes'] / 1e6 / n['seconds']:.2f} MB/s")
        log(f"warm queries: {len(QUERIES)} queries, 1 warm-up + {args.passes} passes")
        if not args.no_naive:
            # First, as before: zhsearch's pickle allowlist now applies only
            # to the indexes zhsearch opens (indexer/safepickle.py).
            log("warm queries on the naive index")
            r["warm"]["naive"] = warm_naive(nidx, args.passes)
        r["warm"]["zhsearch"] = warm_zhsearch(zidx, args.passes)
        log(f"cold start: {args.cold_runs} runs each")
        compile_bytecode()
        cli = zhsearch_command() + ["search", COLD_QUERY, "--index", str(zidx)]
        r["cold"] = {
            "runs": args.cold_runs,
            "query": COLD_QUERY,
            "zhsearch_s": median_wall(cli, args.cold_runs, ok=(0, 1)),
            "jieba_s": median_wall([sys.executable, "-c", "import jieba; jieba.initialize()"], args.cold_runs),
        }
        r["incremental"] = incremental(corpus, zidx, args.jobs)
    r["total_seconds"] = time.perf_counter() - t_start
    text = table(r)
    print(text)
    print(f"\nTotal benchmark time: {r['total_seconds'] / 60:.1f} min.")
    if args.json:
        r["table"] = text
        Path(args.json).write_text(json.dumps(r, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
