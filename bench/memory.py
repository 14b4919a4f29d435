"""Memory benchmark: peak RSS of indexing one large JSON-lines file.

Writes a ``.jsonl`` file of about ``--mb`` MB (default 1,000) into a
temporary directory (or ``--keep DIR``): the zhwiki-qa articles
(``../shared/data/zhwiki-qa/corpus.jsonl``) repeated under new ids, so the
text is real Chinese.  Then runs ``zhsearch index`` on it in a child process
and samples, every 0.1 s, the resident memory of that process and all its
descendants (the workers) summed, from ``/proc``; also reports the largest
single process's peak (``ru_maxrss``).  In the same run, the same command on
the original 4 MB corpus is the anchor: what a small file costs.

    python bench/memory.py [--data DIR] [--mb N] [--jobs J] [--keep DIR]

Linux only (``/proc``).  Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def default_data() -> Path:
    beside = ROOT.parent / "shared" / "data"
    return beside if beside.is_dir() else Path("/work/shared/data")


def make_jsonl(source: Path, out: Path, target_mb: float) -> tuple[int, int]:
    """Write ``out`` from ``source``'s lines repeated with new ids; ``(bytes, articles)``."""
    records = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    target = int(target_mb * 1e6)
    written = n = 0
    with open(out, "w", encoding="utf-8") as f:
        copy = 0
        while written < target:
            for rec in records:
                line = json.dumps({**rec, "id": f"{rec['id']}#{copy}"}, ensure_ascii=False) + "\n"
                f.write(line)
                written += len(line.encode("utf-8"))
                n += 1
                if written >= target:
                    break
            copy += 1
    return written, n


def _tree(pid: int) -> dict[int, int]:
    """Resident bytes of ``pid`` and each of its descendants, by pid."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        p, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(p)
        rss[p] = int(fields[21]) * page
    found, todo = {}, [pid]
    while todo:
        p = todo.pop()
        if p in rss:
            found[p] = rss[p]
        todo.extend(children.get(p, ()))
    return found


def _pss(pids: Iterable[int]) -> int:
    """Proportional set size summed: a page shared by forked processes
    counts once in total (split among them), unlike RSS."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup", "rb") as f:
                for line in f:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


def run_index(paths: list[Path], index_dir: Path, jobs: int, timeline: Path | None = None) -> dict[str, Any]:
    """Index ``paths`` in a child process; wall time and memory peaks.

    RSS is sampled every 0.1 s, PSS every 0.5 s (reading it costs more);
    with ``timeline`` every sample goes to that file as tab-separated
    ``seconds, processes, RSS summed MB, PSS summed MB, RSS of each MB``.
    """
    cmd = [sys.executable, "-m", "zhsearch", "index", *map(str, paths), "--index", str(index_dir), "--jobs", str(jobs)]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = peak_pss = peak_procs = 0
    peak_at = 0.0
    log = open(timeline, "w", encoding="utf-8") if timeline else None
    samples = 0
    try:
        while proc.poll() is None:
            tree = _tree(proc.pid)
            total = sum(tree.values())
            pss = _pss(tree) if samples % 5 == 0 else -1
            samples += 1
            now = time.perf_counter() - started
            if total > peak:
                peak, peak_at, peak_procs = total, now, len(tree)
            peak_pss = max(peak_pss, pss)
            if log:
                each = " ".join(f"{v / 1e6:.0f}" for _, v in sorted(tree.items()))
                pss_mb = f"{pss / 1e6:.0f}" if pss >= 0 else ""
                log.write(f"{now:.1f}\t{len(tree)}\t{total / 1e6:.0f}\t{pss_mb}\t{each}\n")
            time.sleep(0.1)
    finally:
        if log:
            log.close()
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"index failed ({proc.returncode}): {err.strip()}")
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "seconds": seconds,
        "peak_tree_mb": peak / 1e6,
        "peak_at": peak_at,
        "peak_procs": peak_procs,
        "peak_pss_mb": peak_pss / 1e6,
        "largest_process_mb": largest * 1024 / 1e6 if largest > before else float("nan"),
        "summary": out.strip().splitlines()[0] if out.strip() else "",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(default_data()), help="directory holding zhwiki-qa/corpus.jsonl")
    ap.add_argument("--mb", type=float, default=1000, help="size of the large file in MB (default 1000)")
    ap.add_argument("--jobs", type=int, default=2, help="--jobs for zhsearch index (default 2)")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR (kept) instead of a temporary directory")
    ap.add_argument("--timeline", metavar="FILE", help="write every memory sample of the large file's run to FILE")
    ap.add_argument("--skip-anchor", action="store_true", help="do not index the 4 MB anchor first")
    args = ap.parse_args()
    source = Path(args.data) / "zhwiki-qa" / "corpus.jsonl"
    if not source.is_file():
        raise SystemExit(f"no {source} (use --data)")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="zhsearch-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        big = work / "large.jsonl"
        print(f"[memory] writing {args.mb:.0f} MB of JSON lines to {big}", file=sys.stderr)
        size, n = make_jsonl(source, big, args.mb)
        rows: list[tuple[str, float, dict[str, Any]]] = []
        for label, path in (("zhwiki-qa corpus.jsonl (anchor)", source), (f"{size / 1e6:,.0f} MB .jsonl", big)):
            index_dir = work / f"index-{len(rows)}"
            shutil.rmtree(index_dir, ignore_errors=True)
            print(f"[memory] indexing {label}", file=sys.stderr)
            if args.skip_anchor and path == source:
                continue
            timeline = Path(args.timeline) if args.timeline and path == big else None
            r = run_index([path], index_dir, args.jobs, timeline)
            file_mb = path.stat().st_size / 1e6
            rows.append((label, file_mb, r))
        print(
            f"Memory benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs; "
            f"--jobs {args.jobs}; large file: {n:,} articles (zhwiki-qa repeated under new ids).\n"
        )
        print(
            "| file | MB | index s | MB/s | peak RSS, all processes MB | processes then | "
            "peak PSS, all processes MB | largest process MB | goal |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for label, mb, r in rows:
            goal = "≤ 1,000 MB" if mb > 100 else ""
            print(
                f"| {label} | {mb:,.1f} | {r['seconds']:.1f} | {mb / r['seconds']:.2f} | "
                f"{r['peak_tree_mb']:,.0f} (at {r['peak_at']:.0f} s) | {r['peak_procs']} | "
                f"{r['peak_pss_mb']:,.0f} | {r['largest_process_mb']:,.0f} | {goal} |"
            )
        print(f"\n{rows[-1][2]['summary']}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
