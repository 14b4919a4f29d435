"""Cluster benchmark: a sharded laws index on a local Dask cluster (loopback)
against one index on one node, in the same run.

The corpus is the laws of ``laws.tar.xz`` copied ``--copies`` times (each
copy beyond the first with a unique line appended to every file, as
``bench/scale.py`` makes them).  Then:

1. build time: ``build_index(..., jobs=2)`` (one node, two worker
   processes) against ``--shards`` shards built as tasks on a 2-worker
   ``LocalCluster`` (worker processes, one thread each; cluster start-up
   timed apart);
2. the same answers: top-10 ids of the 35 questions of ``bench/speed.py``
   on the sharded index against the single one;
3. warm query latency (with snippets): one open ``Searcher`` against one
   ``ClusterSearcher`` on the 2-worker cluster, p50/p95 over ``--passes``
   passes;
4. throughput: ``--clients`` threads asking the questions for
   ``--seconds`` seconds through the cluster, on a 1-worker and on a
   2-worker cluster (queries per second, and the ratio).

    python bench/cluster.py [--copies 4] [--shards 2] [--work DIR [--queries-only]] [--data DIR] [--json FILE]

With ``--work DIR`` (e.g. ``/tmp/bench-cluster``) the unpacked laws and the
copies are made once there and reused by later runs (the indexes are built
afresh every run: their build is what is timed); without it everything goes
to a temporary directory removed at the end.

Progress goes to stderr, the Markdown table to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scale import default_data, make_corpus  # noqa: E402
from speed import ARCHIVE, QUERIES, _unpack, summary  # noqa: E402

GOALS = {
    "build": "cluster ≤ 1.1× one node --jobs 2",
    "p95": "cluster ≤ 2× one node",
    "throughput": "2 workers ≥ 1.6× 1 worker",
}


def log(msg: str) -> None:
    print(f"[cluster {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def local_cluster(workers: int):
    from distributed import Client, LocalCluster

    started = time.perf_counter()
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    client = Client(cluster)
    client.wait_for_workers(workers)
    return cluster, client, time.perf_counter() - started


def warm(searcher, passes: int) -> dict:
    for q in QUERIES:
        searcher.search(q, limit=10)
    ms = []
    for _ in range(passes):
        for q in QUERIES:
            t0 = time.perf_counter()
            searcher.search(q, limit=10)
            ms.append((time.perf_counter() - t0) * 1000)
    return summary(ms)


def throughput(index_dir: Path, client, clients: int, seconds: float) -> float:
    from zhsearch.search.cluster import ClusterSearcher

    with ClusterSearcher(index_dir, cluster=client) as s:
        for q in QUERIES:  # every shard opened on its worker first
            s.search(q, limit=10)
        done = [0] * clients
        stop = time.monotonic() + seconds

        def ask(i: int) -> None:
            k = i
            while time.monotonic() < stop:
                s.search(QUERIES[k % len(QUERIES)], limit=10)
                done[i] += 1
                k += clients

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sum(done) / (time.perf_counter() - started)


def run(args) -> dict:
    from zhsearch.indexer.build import build_index
    from zhsearch.search.cluster import ClusterSearcher
    from zhsearch.search.searcher import Searcher

    reuse = args.work is not None
    work = Path(args.work) if reuse else Path(tempfile.mkdtemp(prefix="zhsearch-cluster-", dir=args.tmp))
    r: dict = {
        "copies": args.copies,
        "shards": args.shards,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        corpus = work / f"corpus-x{args.copies}"
        made = work / f"corpus-x{args.copies}.json"  # beside it: not an article
        if reuse and made.is_file():
            r["files"], r["bytes"] = json.loads(made.read_text(encoding="utf-8"))
            log(f"reusing {corpus}")
        else:
            shutil.rmtree(corpus, ignore_errors=True)
            if not (work / "unpacked" / "laws").is_dir():
                _unpack(Path(args.data) / ARCHIVE, work / "unpacked")
            r["files"], r["bytes"] = make_corpus(work / "unpacked" / "laws", corpus, args.copies)
            made.write_text(json.dumps([r["files"], r["bytes"]]), encoding="utf-8")
        log(f"corpus: {r['files']} files, {r['bytes'] / 1e6:.0f} MB")
        r["load_before"] = os.getloadavg()[0]

        single = work / f"single-x{args.copies}"
        sharded = work / f"sharded-x{args.copies}"
        if not args.queries_only:
            shutil.rmtree(single, ignore_errors=True)
            t0 = time.perf_counter()
            build_index([corpus], single, jobs=2)
            r["build_single"] = time.perf_counter() - t0
            log(f"one node, --jobs 2: {r['build_single']:.1f} s")

        cluster, client, r["cluster_start"] = local_cluster(2)
        try:
            if not args.queries_only:
                shutil.rmtree(sharded, ignore_errors=True)
                t0 = time.perf_counter()
                build_index([corpus], sharded, shards=args.shards, cluster=client)
                r["build_cluster"] = time.perf_counter() - t0
                log(f"{args.shards} shards on 2 workers: {r['build_cluster']:.1f} s (start {r['cluster_start']:.1f} s)")
            with Searcher(single) as one, ClusterSearcher(sharded, cluster=client) as many:
                same = sum([h.id for h in one.search(q).hits] == [h.id for h in many.search(q).hits] for q in QUERIES)
                r["same_top10"] = f"{same}/{len(QUERIES)}"
                r["warm_single"] = warm(one, args.passes)
                r["warm_cluster"] = warm(many, args.passes)
            log(f"warm p95: one node {r['warm_single']['p95']:.1f} ms, cluster {r['warm_cluster']['p95']:.1f} ms")
            r["qps_2"] = throughput(sharded, client, args.clients, args.seconds)
        finally:
            client.close()
            cluster.close()
        cluster, client, _ = local_cluster(1)
        try:
            r["qps_1"] = throughput(sharded, client, args.clients, args.seconds)
        finally:
            client.close()
            cluster.close()
        log(f"throughput: 1 worker {r['qps_1']:.1f} q/s, 2 workers {r['qps_2']:.1f} q/s")
        r["load_after"] = os.getloadavg()[0]
    finally:
        if args.keep or reuse:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return r


def _build_row(r: dict, mb: float) -> str:
    if "build_single" not in r:
        return f"| build | not in this run (--queries-only) | | | {GOALS['build']} |"
    ratio = r["build_cluster"] / r["build_single"]
    return (
        f"| build | {r['build_single']:.1f} s ({mb / r['build_single']:.2f} MB/s, --jobs 2) | "
        f"{r['build_cluster']:.1f} s ({mb / r['build_cluster']:.2f} MB/s) | {ratio:.2f}× | {GOALS['build']} |"
    )


def table(r: dict) -> str:
    mb = r["bytes"] / 1e6
    ratio_p95 = r["warm_cluster"]["p95"] / r["warm_single"]["p95"]
    ratio_qps = r["qps_2"] / r["qps_1"]
    rows = [
        f"laws ×{r['copies']} ({r['files']:,} files, {mb:.0f} MB), {r['shards']} shards, "
        f"{r['cpus']} cores, load average {r['load_before']:.1f} before / {r['load_after']:.1f} after",
        "",
        "| | one node | cluster (2 workers) | ratio | goal |",
        "|---|---|---|---|---|",
        _build_row(r, mb),
        f"| warm p50 / p95, with snippets | {r['warm_single']['p50']:.1f} / {r['warm_single']['p95']:.1f} ms | "
        f"{r['warm_cluster']['p50']:.1f} / {r['warm_cluster']['p95']:.1f} ms | {ratio_p95:.2f}× | {GOALS['p95']} |",
        f"| throughput, 1 → 2 workers | | {r['qps_1']:.1f} → {r['qps_2']:.1f} queries/s | {ratio_qps:.2f}× | "
        f"{GOALS['throughput']} |",
        f"| same top-10 as one index | | {r['same_top10']} questions | | all |",
        "",
        f"Cluster start-up (scheduler + 2 workers): {r['cluster_start']:.1f} s, not in the build time.",
    ]
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=4, help="laws copies (16 is the issue's size)")
    ap.add_argument("--shards", type=int, default=2, help="shards (default: one per worker)")
    ap.add_argument("--data", default=default_data())
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--clients", type=int, default=4, help="threads asking at once for the throughput")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument(
        "--queries-only",
        action="store_true",
        help="reuse the indexes a previous run left in --work: measure queries and throughput only",
    )
    ap.add_argument("--work", default=None, help="a directory to keep the corpus copies in and reuse")
    ap.add_argument("--tmp", default=None, help="where to unpack and build (default: the system's temp dir)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.queries_only and args.work is None:
        ap.error("--queries-only reuses the indexes of a previous run: give its --work DIR")
    r = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=1), encoding="utf-8")
    print(table(r))


if __name__ == "__main__":
    main()
