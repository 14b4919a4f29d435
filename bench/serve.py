"""Load benchmark of ``zhsearch serve`` on the laws index, loopback only.

In one run, bounded in time:

1. unpacks ../shared/data/laws.tar.xz and builds its index (or reuses
   ``--keep DIR`` from an earlier run);
2. starts ``zhsearch serve`` in a child process on a free 127.0.0.1 port;
3. **steady**: ``--clients`` concurrent clients (default 32), each on its own
   keep-alive connection, ask ``/search`` with snippets back to back (no
   pause between requests) for ``--seconds`` (default 60).  Queries are drawn
   at random from the speed benchmark's 35 law queries and the 768 STARD dev
   questions (cut to 40 characters), 1 in 5 for page 2;
4. **update**: the same, while an incremental ``zhsearch index`` of the
   laws directory (one file changed, one added) runs and commits; afterwards
   the added law must be found;
5. with ``--browser``: the search page in headless Chromium, typing each law
   query and measuring, with the Performance API, the time from the last
   keystroke to the results on screen.

The load generator is an asyncio loop in this process speaking minimal
HTTP/1.1 (so its own cost stays small); it shares the machine's cores with
the server.  Prints a Markdown table (``--json FILE`` also writes it).

    python bench/serve.py [--data DIR] [--keep DIR] [--clients N] [--seconds S] [--workers W]
                          [--no-cache] [--browser] [--screenshot PNG] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

ARCHIVE = "laws.tar.xz"
GOAL_P95_MS = 50.0
GOAL_PAGE_MS = 150.0
NEW_LAW = "# 蓬莱阁观光条例\n\n## 第一章 总则\n\n第一条 为了规范蓬莱阁观光秩序，保护游客的合法权益，制定本条例。\n"


def log(msg: str) -> None:
    print(f"[serve-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def default_data() -> Path:
    beside = ROOT.parent / "shared" / "data"
    return beside if beside.is_dir() else Path("/work/shared/data")


def queries(data: Path) -> list[str]:
    from speed import QUERIES

    pool = list(QUERIES)
    stard = data / "stard" / "queries-dev.jsonl"
    if stard.is_file():
        with stard.open(encoding="utf-8") as f:
            pool += [json.loads(line)["query"][:40] for line in f if line.strip()]
    return pool


def prepare(data: Path, keep: Path | None) -> tuple[Path, Path, Path | None]:
    """(laws directory, index directory, temp dir to remove)."""
    work = keep or Path(tempfile.mkdtemp(prefix="zhsearch-serve-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    laws = work / "laws"
    if not laws.is_dir():
        log(f"unpacking {data / ARCHIVE}")
        with tarfile.open(data / ARCHIVE) as tar:
            tar.extractall(work, filter="data")
    (laws / "zz-bench-added.md").unlink(missing_ok=True)
    index = work / "index"
    cmd = [sys.executable, "-m", "zhsearch", "index", str(laws), "--index", str(index)]
    log("building or updating the laws index")
    if subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL).returncode != 0:
        log("rebuilding it (made by another version)")
        subprocess.run([*cmd, "--rebuild"], cwd=ROOT, check=True)
    return laws, index, None if keep else work


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index: Path, workers: int, cache: bool) -> tuple[subprocess.Popen, str]:
    """uvicorn in a child process serving ``create_app(index)`` (the app
    ``zhsearch serve`` runs), with ``workers`` processes."""
    port = free_port()
    appdir = Path(tempfile.mkdtemp(prefix="zhsearch-serve-app-"))
    atexit.register(shutil.rmtree, appdir, True)
    (appdir / "bench_app.py").write_text(
        "from zhsearch.web import create_app\n"
        f"app = create_app({str(index)!r}, cache_entries={2048 if cache else 0})\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{appdir}", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "uvicorn", "bench_app:app", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise SystemExit("the server did not start")
    return proc, base


# --------------------------------------------------------------------------
# the load generator


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> tuple[int, bytes, bool]:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode("ascii"))
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    hit = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"x-cache":
            hit = value.strip() == b"hit"
    body = await reader.readexactly(length)
    return status, body, hit


def _path(q: str, page: int) -> str:
    return "/search?" + urlencode({"q": q, "limit": 10, "page": page, "facet": "year"})


async def _client(port: int, pool: list[str], until: float, rng: random.Random, out: dict) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            path = _path(rng.choice(pool), 2 if rng.random() < 0.2 else 1)
            started = time.perf_counter()
            try:
                status, body, hit = await _get(reader, writer, path)
            except (OSError, asyncio.IncompleteReadError) as exc:
                out["errors"].append(f"{type(exc).__name__}: {exc}")
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            out["ms"].append((time.perf_counter() - started) * 1000)
            out["hits"] += hit
            if status != 200:
                out["errors"].append(f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
            elif any(not hit["snippet"] for hit in json.loads(body)["hits"]):
                out["errors"].append("a hit without a snippet")
    finally:
        writer.close()


def load(base: str, pool: list[str], clients: int, seconds: float, seed: int) -> dict:
    port = int(base.rsplit(":", 1)[1])
    out: dict = {"ms": [], "errors": [], "hits": 0}

    async def main() -> None:
        until = time.perf_counter() + seconds
        rngs = [random.Random(seed * 1000 + i) for i in range(clients)]
        await asyncio.gather(*(_client(port, pool, until, rng, out) for rng in rngs))

    started = time.perf_counter()
    asyncio.run(main())
    out["seconds"] = time.perf_counter() - started
    return out


def summary(name: str, run: dict) -> dict:
    ms = sorted(run["ms"])
    n = len(ms)

    def pct(p: float) -> float:
        return ms[min(n - 1, int(p * n))] if n else float("nan")

    return {
        "phase": name,
        "requests": n,
        "errors": len(run["errors"]),
        "req_s": n / run["seconds"],
        "cached": run["hits"] / n if n else 0.0,
        "p50": statistics.median(ms) if ms else float("nan"),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "max": ms[-1] if ms else float("nan"),
        "first_errors": run["errors"][:3],
    }


def library_anchor(index: Path, pool: list[str], n: int, seed: int) -> dict:
    """The same queries through one ``Searcher`` in this process, one at a
    time and without HTTP: what a query itself costs."""
    from zhsearch.search.searcher import Searcher

    rng = random.Random(seed)
    asked = [(rng.choice(pool), 2 if rng.random() < 0.2 else 1) for _ in range(n)]
    ms = []
    with Searcher(index) as s:
        s.search("民法典", facets=["year"])
        started = time.perf_counter()
        for q, page in asked:
            t = time.perf_counter()
            s.search(q, limit=10, page=page, facets=["year"])
            ms.append((time.perf_counter() - t) * 1000)
        seconds = time.perf_counter() - started
    return {"ms": ms, "errors": [], "hits": 0, "seconds": seconds}


def warm(base: str, pool: list[str]) -> None:
    import httpx

    with httpx.Client(base_url=base, timeout=60) as http:
        http.get("/search", params={"q": "民法典", "facet": "year"}).raise_for_status()


def update_during_load(laws: Path, index: Path, base: str, pool, clients, seconds, seed) -> tuple[dict, dict]:
    """Load for ``seconds`` while an incremental update runs from the 5th second."""
    changed = sorted(laws.rglob("*.md"))[0]
    original = changed.read_bytes()
    info: dict = {}

    def updater() -> None:
        time.sleep(5)
        changed.write_bytes(original + "\n第九百九十九条 本条为基准测试而加。\n".encode())
        (laws / "zz-bench-added.md").write_text(NEW_LAW, encoding="utf-8")
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "zhsearch", "index", str(laws), "--index", str(index), "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        info["update_s"] = time.perf_counter() - started
        info["update_rc"] = done.returncode
        info["report"] = done.stdout.strip()[:300]

    thread = threading.Thread(target=updater)
    thread.start()
    try:
        run = load(base, pool, clients, seconds, seed)
    finally:
        thread.join()
        changed.write_bytes(original)
    import httpx

    found = httpx.get(base + "/search", params={"q": "蓬莱阁观光"}, timeout=60).json()
    info["new_law_found"] = any(h["title"] == "蓬莱阁观光条例" for h in found["hits"])
    return run, info


# --------------------------------------------------------------------------
# the page in a browser


def browser_latency(base: str, typed: list[str], screenshot: Path | None) -> dict:
    sys.path.insert(0, str(ROOT / "tests" / "search"))
    from selenium.webdriver.common.by import By
    from test_web_browser import quit_browser, start_browser, wait_for  # type: ignore[import-not-found]

    driver = start_browser()
    latencies: list[float] = []
    try:
        driver.get(base + "/")
        wait_for(driver, "window.zhsearchTiming")
        box = driver.find_element(By.ID, "q")
        for q in typed:
            box.clear()
            wait_for(driver, "!document.getElementById('q').value")
            before = driver.execute_script("return window.zhsearchTiming.latencies.length")
            box.send_keys(q)
            want = json.dumps(q.strip())
            wait_for(
                driver,
                f"window.zhsearchTiming.query === {want} && window.zhsearchTiming.latencies.length > {before}",
                30,
            )
            latencies.append(driver.execute_script("return window.zhsearchTiming.latencies.at(-1)"))
        if screenshot is not None:
            box.clear()
            box.send_keys("劳动合同解除的经济补偿")
            wait_for(driver, "window.zhsearchTiming.query === '劳动合同解除的经济补偿'", 30)
            driver.execute_script("document.activeElement.blur()")  # closes the completions
            time.sleep(0.3)
            driver.save_screenshot(str(screenshot))
    finally:
        quit_browser(driver)
    ms = sorted(latencies)
    return {
        "queries": len(ms),
        "p50": statistics.median(ms),
        "p95": ms[min(len(ms) - 1, int(0.95 * len(ms)))],
        "max": ms[-1],
    }


# --------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(default_data()), help="directory holding laws.tar.xz and stard/")
    ap.add_argument("--keep", help="work directory to keep (and reuse) the unpacked laws and their index")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=1, help="server processes")
    ap.add_argument("--no-cache", action="store_true", help="serve without the per-commit answer cache")
    ap.add_argument("--skip-update", action="store_true", help="only the steady phase")
    ap.add_argument("--browser", action="store_true", help="also measure the page in headless Chromium")
    ap.add_argument("--screenshot", help="with --browser: save a screenshot of results here")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()

    data = Path(args.data)
    if not (data / ARCHIVE).is_file():
        raise SystemExit(f"no {ARCHIVE} in {data} (use --data)")
    laws, index, cleanup = prepare(data, Path(args.keep) if args.keep else None)
    pool = queries(data)
    rows = []
    info: dict = {}
    page: dict | None = None
    log("anchor: the library, one query at a time")
    rows.append(summary("library, 1 at a time (anchor)", library_anchor(index, pool, 300, args.seed)))
    proc, base = start_server(index, args.workers, not args.no_cache)
    try:
        warm(base, pool)
        log(f"steady: {args.clients} clients for {args.seconds:.0f} s, {len(pool)} distinct queries")
        rows.append(summary("steady", load(base, pool, args.clients, args.seconds, args.seed)))
        if not args.skip_update:
            log("the same while an incremental update commits")
            run, info = update_during_load(laws, index, base, pool, args.clients, args.seconds, args.seed + 1)
            rows.append(summary("during update", run))
        if args.browser:
            from speed import QUERIES

            log("the page in headless Chromium")
            page = browser_latency(base, list(QUERIES), Path(args.screenshot) if args.screenshot else None)
    finally:
        proc.terminate()
        proc.wait(30)
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)

    load_avg = os.getloadavg()
    print(
        f"\n`zhsearch serve` on the laws index ({args.clients} clients, {args.seconds:.0f} s a phase, "
        f"{args.workers} worker{'s' if args.workers > 1 else ''}, answer cache {'off' if args.no_cache else 'on'}, "
        f"{os.cpu_count()} cores, load average {load_avg[0]:.1f} at the end)\n"
    )
    print("| phase | requests | errors | req/s | from cache | p50 ms | p95 ms | p99 ms | max ms | goal |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['phase']} | {r['requests']} | {r['errors']} | {r['req_s']:.0f} | {r['cached']:.0%} "
            f"| {r['p50']:.1f} | {r['p95']:.1f} "
            f"| {r['p99']:.1f} | {r['max']:.0f} | 0 errors, p95 ≤ {GOAL_P95_MS:.0f} ms |"
        )
    if info:
        print(
            f"\nupdate: exit {info['update_rc']} in {info['update_s']:.1f} s; "
            f"the added law found afterwards: {info['new_law_found']}"
        )
    for r in rows:
        for e in r["first_errors"]:
            print(f"error ({r['phase']}): {e}")
    if page:
        print(
            f"\npage (headless Chromium, {page['queries']} queries typed): last keystroke → results shown "
            f"p50 {page['p50']:.0f} ms, p95 {page['p95']:.0f} ms, max {page['max']:.0f} ms (goal ≤ {GOAL_PAGE_MS:.0f} ms)"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"rows": rows, "update": info, "page": page}, ensure_ascii=False, indent=1)
        )


if __name__ == "__main__":
    main()
