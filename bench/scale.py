"""Scale benchmark: the laws corpus copied 1×, 4×, 16×, zhsearch beside tantivy.

Each size is the 3,475 laws of ``laws.tar.xz`` copied k times; every copy
beyond the first gets a unique line appended to every file, so no two files
are the same.  For each size, in the same run, zhsearch and tantivy-py (with
rjieba tokenization in Python, words joined by spaces and indexed with
tantivy's whitespace tokenizer, one document per file, title and body
stored) are:

1. built in a child process: wall time, source MB/s, peak RSS of *all* the
   processes of the build (sampled from /proc every 0.1 s, workers summed),
   segments after the build, index size;
2. queried warm through one open searcher: the 35 questions of
   ``bench/speed.py``, one warm-up pass and ``--passes`` timed ones; p50/p95,
   zhsearch with and without snippets, tantivy top-10 (and with its
   ``SnippetGenerator``);
3. queried cold: median wall time of a new ``zhsearch search`` process (and
   a new Python process opening the tantivy index for one query).

With ``--updates N`` the ``--updates-size`` corpus (default 4×) is then
updated N times (each time a few files change, one is removed, one added)
and segments, warm p95, cold time and index size are compared with a fresh
build of the same files.

    python bench/scale.py [--sizes 1,4,16] [--data DIR] [--keep DIR] [--reuse DIR] [--updates 30] [--json FILE]

``--reuse DIR`` keeps the built indexes in DIR and, on a later run, measures
queries on them without building again (query changes, same index format).

Progress goes to stderr, the Markdown tables to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from speed import (  # noqa: E402
    ARCHIVE,
    COLD_QUERY,
    QUERIES,
    _unpack,
    _walk,
    compile_bytecode,
    dir_size,
    median_wall,
    summary,
    time_queries,
)

GOALS = {
    "warm_snip": "16×: p95 ≤ 15 ms; 16×/1× ≤ 1.5",
    "cold": "≤ 0.35 s",
    "mb_s": "≥ tantivy",
    "rss": "≤ 1,000 MB",
}


def log(msg: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def default_data() -> str:
    beside = ROOT.parent / "shared" / "data"
    return str(beside if beside.is_dir() else Path("/work/shared/data"))


# ---------------------------------------------------------------------------
# corpus


def make_corpus(laws: Path, dest: Path, copies: int) -> tuple[int, int]:
    """``copies`` copies of ``laws`` under ``dest``: copy 0 as it is (hard
    links), copy i > 0 with a line naming the copy and the file appended.
    Returns (files, bytes)."""
    files = [p.relative_to(laws) for p in _walk(laws)]
    n = size = 0
    for i in range(copies):
        root = dest / f"copy{i:02d}"
        for rel in files:
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if i == 0:
                try:
                    os.link(laws / rel, target)
                except OSError:
                    shutil.copyfile(laws / rel, target)
            else:
                data = (laws / rel).read_bytes()
                data += f"\n\n本文件为基准测试第{i}份副本，原文件{rel.as_posix()}。\n".encode()
                target.write_bytes(data)
            n += 1
            size += target.stat().st_size
    return n, size


# ---------------------------------------------------------------------------
# builds, each in a child process


def _tokens(text: str) -> str:
    import rjieba

    return " ".join(w for w in rjieba.cut(text) if w.strip())


def _tantivy_schema():
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_text_field("path", stored=True, tokenizer_name="raw")
    sb.add_text_field("title", stored=True, tokenizer_name="whitespace")
    sb.add_text_field("body", stored=True, tokenizer_name="whitespace")
    return sb.build()


def _child_build(kind: str, corpus: str, index_dir: str, jobs: int) -> None:
    t0 = time.perf_counter()
    if kind == "zhsearch":
        from zhsearch.indexer.build import build_index

        rep = build_index([corpus], index_dir, rebuild=True, jobs=jobs)
        out = {"bytes": rep.bytes, "docs": rep.sections, "warnings": list(rep.warnings)}
    elif kind == "tantivy":
        import tantivy

        os.makedirs(index_dir, exist_ok=True)
        ix = tantivy.Index(_tantivy_schema(), path=index_dir)
        writer = ix.writer(heap_size=200_000_000, num_threads=max(jobs, 1))
        n = n_bytes = 0
        for path in _walk(Path(corpus)):
            data = path.read_bytes()
            text = data.decode("utf-8", errors="replace")
            title = next((ln[2:].strip() for ln in text.splitlines()[:20] if ln.startswith("# ")), path.stem)
            # Stored text as written; indexed text as rjieba's words.
            doc = tantivy.Document(path=str(path), title=_tokens(title), body=_tokens(text))
            writer.add_document(doc)
            n += 1
            n_bytes += len(data)
        writer.commit()
        writer.wait_merging_threads()
        out = {"bytes": n_bytes, "docs": n, "warnings": []}
    else:
        raise SystemExit(f"unknown build kind {kind!r}")
    out["seconds"] = time.perf_counter() - t0
    print(json.dumps(out))


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2 :].split()
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sum(rss.get(p, 0) for p in tree)


def run_build(kind: str, corpus: Path, index_dir: Path, jobs: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "_build", kind, str(corpus), str(index_dir), str(jobs)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    done.set()
    sampler.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(stderr)
        raise SystemExit(f"{kind} build failed (exit {proc.returncode})")
    out = json.loads(stdout.strip().splitlines()[-1])
    out["wall"] = wall
    out["peak_rss_mb"] = peak[0] / 1e6
    out["index_bytes"] = dir_size(index_dir)
    out["segments"] = segments(kind, index_dir)
    return out


def segments(kind: str, index_dir: Path) -> int:
    if kind == "tantivy":
        return len(json.loads((index_dir / "meta.json").read_text())["segments"])
    from zhsearch.indexer.storage import open_index

    with open_index(index_dir).reader() as r:
        return len(list(r.leaf_readers())) if r.doc_count_all() else 0


# ---------------------------------------------------------------------------
# queries


def _tantivy_query_text(q: str) -> str:
    # Query syntax is zhsearch's; tantivy gets the words only.
    return _tokens("".join(" " if c in '"-+()' else c for c in q))


def warm_zhsearch(index_dir: Path, passes: int) -> dict:
    from zhsearch.search.searcher import Searcher

    with Searcher(index_dir) as s:
        out = time_queries(lambda q, snippets: s.search(q, limit=10, snippets=snippets), passes)
        out["totals"] = {q: s.search(q, limit=10, snippets=False).total for q in QUERIES}
    return out


def warm_tantivy(index_dir: Path, passes: int) -> dict:
    import tantivy

    schema = _tantivy_schema()
    ix = tantivy.Index.open(str(index_dir))
    searcher = ix.searcher()
    texts = {q: _tantivy_query_text(q) for q in QUERIES}

    def run(q: str, snippets: bool) -> int:
        query = ix.parse_query(texts[q], ["title", "body"])
        result = searcher.search(query, 10)
        if snippets:
            gen = tantivy.SnippetGenerator.create(searcher, query, schema, "body")
            for _, address in result.hits:
                gen.snippet_from_doc(searcher.doc(address)).to_html()
        return len(result.hits)

    return time_queries(run, passes)


TANTIVY_COLD = """
import sys, rjieba, tantivy
ix = tantivy.Index.open(sys.argv[1])
q = ix.parse_query(" ".join(w for w in rjieba.cut(sys.argv[2]) if w.strip()), ["title", "body"])
s = ix.searcher()
for _, a in s.search(q, 10).hits:
    print(s.doc(a)["path"][0])
"""


def cold(zidx: Path, tidx: Path | None, runs: int) -> dict:
    cli = [sys.executable, "-m", "zhsearch", "search", COLD_QUERY, "--index", str(zidx)]
    out = {"zhsearch_s": median_wall(cli, runs, ok=(0, 1))}
    if tidx is not None:
        out["tantivy_s"] = median_wall([sys.executable, "-c", TANTIVY_COLD, str(tidx), COLD_QUERY], runs)
    return out


# ---------------------------------------------------------------------------
# incremental updates


def updates(corpus: Path, index_dir: Path, fresh_dir: Path, n: int, jobs: int, passes: int, runs: int) -> dict:
    """``n`` updates of ``corpus`` into ``index_dir``: each modifies three
    files, removes one and adds one; then the same measurements on the
    updated index and on a fresh build of the files as they are now."""
    from zhsearch.indexer.build import build_index

    files = sorted(_walk(corpus))
    step = max(len(files) // (5 * n + 5), 1)
    seconds = []
    for u in range(n):
        base = 5 * u * step
        for k in range(3):
            path = files[(base + k * step) % len(files)]
            with path.open("a", encoding="utf-8") as f:
                f.write(f"\n\n第九千九百{u}条 基准测试第{u}次更新追加的条文。\n")
        removed = files[(base + 3 * step) % len(files)]
        if removed.exists():
            removed.unlink()
        added = corpus / "updates" / f"update{u:02d}.md"
        added.parent.mkdir(parents=True, exist_ok=True)
        added.write_text(f"# 基准测试第{u}次更新新增条例\n\n第一条 本条例为第{u}次更新新增。\n", encoding="utf-8")
        t0 = time.perf_counter()
        build_index([corpus], index_dir, jobs=jobs)
        seconds.append(time.perf_counter() - t0)
        log(f"  update {u + 1}/{n}: {seconds[-1]:.1f} s, {segments('zhsearch', index_dir)} segments")
    log("fresh build of the updated files")
    run_build("zhsearch", corpus, fresh_dir, jobs)
    out: dict = {"n": n, "update_s": summary(seconds)}
    for name, d in (("updated", index_dir), ("fresh", fresh_dir)):
        warm = warm_zhsearch(d, passes)
        out[name] = {
            "segments": segments("zhsearch", d),
            "index_bytes": dir_size(d),
            "warm": warm["snippets"],
            "totals": warm["totals"],
            "cold_s": cold(d, None, runs)["zhsearch_s"],
        }
    out["same_totals"] = out["updated"].pop("totals") == out["fresh"].pop("totals")
    return out


# ---------------------------------------------------------------------------
# report


def table(r: dict) -> str:
    sizes = [s["copies"] for s in r["sizes"]]
    head = [
        f"Scale benchmark, {r['date']}; {r['cpus']} CPUs; Python {r['python']}; jobs={r['jobs']}; "
        f"warm: {len(QUERIES)} queries × {r['passes']} passes after a warm-up; cold: median of {r['cold_runs']}.",
        "",
        "| metric | " + " | ".join(f"{k}×" for k in sizes) + " | goal |",
        "|---|" + "---|" * (len(sizes) + 1),
    ]
    rows = []

    def row(name: str, f, goal: str = "") -> None:
        cells = []
        for s in r["sizes"]:
            try:
                cells.append(f(s))
            except (KeyError, TypeError):
                cells.append("—")
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {goal} |")

    def lat(d: dict) -> str:
        return f"{d['p50']:.1f} / {d['p95']:.1f}"

    row("corpus: files, MB", lambda s: f"{s['files']:,}, {s['bytes'] / 1e6:.0f}")
    row("zhsearch sections", lambda s: f"{s['zhsearch']['build']['docs']:,}")
    row(
        "zhsearch warm p50 / p95 ms, with snippets",
        lambda s: lat(s["zhsearch"]["warm"]["snippets"]),
        GOALS["warm_snip"],
    )
    row("zhsearch warm p50 / p95 ms, no snippets", lambda s: lat(s["zhsearch"]["warm"]["no_snippets"]))
    row("tantivy warm p50 / p95 ms, top-10", lambda s: lat(s["tantivy"]["warm"]["no_snippets"]))
    row("tantivy warm p50 / p95 ms, top-10 + snippets", lambda s: lat(s["tantivy"]["warm"]["snippets"]))
    p95 = r["sizes"][0]["zhsearch"]["warm"]["snippets"]["p95"]
    row("zhsearch p95 with snippets / 1×'s", lambda s: f"{s['zhsearch']['warm']['snippets']['p95'] / p95:.2f}×")
    row("zhsearch cold `search` process s", lambda s: f"{s['cold']['zhsearch_s']:.3f}", GOALS["cold"])
    row("tantivy + rjieba cold query process s", lambda s: f"{s['cold']['tantivy_s']:.3f}")
    row(
        "build MB/s zhsearch (tantivy)",
        lambda s: (
            f"{s['bytes'] / 1e6 / s['zhsearch']['build']['wall']:.2f} "
            f"({s['bytes'] / 1e6 / s['tantivy']['build']['wall']:.2f})"
        ),
        GOALS["mb_s"],
    )
    row(
        "build peak RSS, all processes MB zhsearch (tantivy)",
        lambda s: f"{s['zhsearch']['build']['peak_rss_mb']:,.0f} ({s['tantivy']['build']['peak_rss_mb']:,.0f})",
        GOALS["rss"],
    )
    row(
        "segments after a fresh build zhsearch (tantivy)",
        lambda s: f"{s['zhsearch']['build']['segments']} ({s['tantivy']['build']['segments']})",
    )
    row(
        "index size MB zhsearch (tantivy)",
        lambda s: (
            f"{s['zhsearch']['build']['index_bytes'] / 1e6:.0f} ({s['tantivy']['build']['index_bytes'] / 1e6:.0f})"
        ),
    )
    row("build warnings (zhsearch)", lambda s: str(len(s["zhsearch"]["build"]["warnings"])))
    text = "\n".join(head + rows)
    u = r.get("updates")
    if u:
        up, fr = u["updated"], u["fresh"]
        text += "\n\n" + "\n".join(
            [
                f"{u['n']} incremental updates at {u['copies']}× (each: 3 files modified, 1 removed, 1 added; "
                f"update p50 {u['update_s']['p50']:.1f} s) vs a fresh build of the same files:",
                "",
                "| metric | updated | fresh build | updated / fresh |",
                "|---|---|---|---|",
                f"| segments | {up['segments']} | {fr['segments']} | |",
                f"| warm p95 ms, with snippets | {up['warm']['p95']:.1f} | {fr['warm']['p95']:.1f} | "
                f"{up['warm']['p95'] / fr['warm']['p95']:.2f} |",
                f"| cold `search` s | {up['cold_s']:.3f} | {fr['cold_s']:.3f} | {up['cold_s'] / fr['cold_s']:.2f} |",
                f"| index size MB | {up['index_bytes'] / 1e6:.1f} | {fr['index_bytes'] / 1e6:.1f} | "
                f"{up['index_bytes'] / fr['index_bytes']:.2f} |",
                f"| same totals for all {len(QUERIES)} queries | {'yes' if u['same_totals'] else 'NO'} | | |",
            ]
        )
    return text


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_build":
        _child_build(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=default_data(), help="directory holding laws.tar.xz")
    ap.add_argument("--keep", metavar="DIR", help="unpack laws/ into DIR once and reuse it")
    ap.add_argument("--sizes", default="1,4,16", help="copies of the corpus, comma-separated (default 1,4,16)")
    ap.add_argument("--jobs", type=int, default=2, help="build worker processes / tantivy threads (default 2)")
    ap.add_argument("--passes", type=int, default=3, help="timed query passes after the warm-up (default 3)")
    ap.add_argument("--cold-runs", type=int, default=5, help="cold-start runs, median taken (default 5)")
    ap.add_argument("--updates", type=int, default=0, metavar="N", help="then N incremental updates (default 0)")
    ap.add_argument("--updates-size", type=int, default=4, metavar="K", help="corpus copies for --updates")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument(
        "--reuse",
        metavar="DIR",
        help="keep each size's indexes in DIR and, when a previous run left them there, measure queries on them "
        "without building again (the build rows then show that run's figures)",
    )
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    data = Path(args.data)
    if not (data / ARCHIVE).is_file():
        raise SystemExit(f"no {ARCHIVE} in {data} (use --data)")
    date = subprocess.run(["date", "-u"], capture_output=True, text=True).stdout.strip()
    r: dict = {
        "date": date,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "jobs": args.jobs,
        "passes": args.passes,
        "cold_runs": args.cold_runs,
        "sizes": [],
    }
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="zhsearch-scale-") as tmp_s:
        tmp = Path(tmp_s)
        unpacked = Path(args.keep).resolve() if args.keep else tmp / "unpacked"
        if not (unpacked / "laws").is_dir():
            log(f"unpacking {data / ARCHIVE}")
            _unpack(data / ARCHIVE, unpacked)
        laws = unpacked / "laws"
        for k in sizes:
            corpus = tmp / f"laws-x{k}"
            files, size = make_corpus(laws, corpus, k)
            log(f"{k}×: {files:,} files, {size / 1e6:.0f} MB")
            s: dict = {"copies": k, "files": files, "bytes": size}
            keep = Path(args.reuse).resolve() if args.reuse else None
            zidx, tidx = (keep or tmp) / f"zh-x{k}", (keep or tmp) / f"tv-x{k}"
            for kind, idx in (("zhsearch", zidx), ("tantivy", tidx)):
                built = idx.with_name(idx.name + ".build.json")
                if keep is not None and built.is_file() and idx.is_dir():
                    # The build figures are those of the run that built it.
                    b = json.loads(built.read_text(encoding="utf-8"))
                    log(f"  reusing {idx} (built {b.get('date', '?')})")
                else:
                    log(f"  building {kind}")
                    b = run_build(kind, corpus, idx, args.jobs)
                    b["date"] = date
                    if keep is not None:
                        built.write_text(json.dumps(b), encoding="utf-8")
                log(f"    {b['wall']:.1f} s, {size / 1e6 / b['wall']:.2f} MB/s, {b['segments']} segments")
                s[kind] = {"build": b}
            log("  warm queries")
            s["zhsearch"]["warm"] = warm_zhsearch(zidx, args.passes)
            s["tantivy"]["warm"] = warm_tantivy(tidx, args.passes)
            log("  cold queries")
            s["cold"] = cold(zidx, tidx, args.cold_runs)
            s["zhsearch"]["warm"].pop("totals")
            r["sizes"].append(s)
            # Each size's figures as soon as they are measured (a 16× run is long).
            print(table(r) + "\n", flush=True)
            if args.json:
                Path(args.json).write_text(json.dumps(r, ensure_ascii=False, indent=2), encoding="utf-8")
            if keep is None:
                shutil.rmtree(tidx)
            if not (args.updates and k == args.updates_size):
                if keep is None:
                    shutil.rmtree(zidx)
                shutil.rmtree(corpus)
        if args.updates:
            k = args.updates_size
            corpus, zidx = tmp / f"laws-x{k}", tmp / f"zh-x{k}"
            if not zidx.is_dir():
                make_corpus(laws, corpus, k)
                run_build("zhsearch", corpus, zidx, args.jobs)
            log(f"{args.updates} updates at {k}×")
            r["updates"] = updates(corpus, zidx, tmp / "fresh", args.updates, args.jobs, args.passes, args.cold_runs)
            r["updates"]["copies"] = k
    text = table(r)
    print(text)
    if args.json:
        r["table"] = text
        Path(args.json).write_text(json.dumps(r, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
