"""Main-text extraction benchmark on our hand-made pages.

Every ``*.html`` page of ``corpus/articles/`` and ``bench/pages/`` has a
``bench/pages/<name>.expected.txt`` holding the main text we wrote for it
(without the title, bylines, navigation, comments and teasers); the reader's
cleaning rules were written looking at these.  ``bench/pages/heldout/``
holds 3 pages written after the first session's rules were frozen and
``bench/pages/heldout2/`` 9 more written (and committed) before the second
session changed any rule, ``bench/pages/heldout3/`` 9 more before the third
session did; each set is reported separately.  For each
extractor considered, the page's extracted text is compared with it at the
character level (whitespace removed; matched characters by difflib's
longest matching blocks): precision = matched / extracted, recall =
matched / expected.  Pages/s is CPU time over all pages (one core).  The
last table is what counts for indexing: ``build_index`` on copies of the
pages, one process, MB of HTML per second.

    python bench/extraction.py [--repeat N] [--copies N] [--per-page]
"""

from __future__ import annotations

import argparse
import difflib
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zhsearch.corpus.html import decode_html, parse_html  # noqa: E402

PAGES = ROOT / "bench" / "pages"
HELDOUT = {"heldout": PAGES / "heldout", "heldout2": PAGES / "heldout2", "heldout3": PAGES / "heldout3"}
SAMPLES = ROOT / "corpus" / "articles"
_WS = re.compile(r"\s+")


def pages(which: str) -> list[tuple[str, bytes, str]]:
    """``(name, html bytes, expected text)`` for every page with an expectation:
    ``tuned`` the pages the reader's cleaning rules were written against,
    ``heldout`` / ``heldout2`` / ``heldout3`` pages written after the rules were frozen."""
    found = []
    if which == "tuned":
        paths, where = sorted([*SAMPLES.glob("*.html"), *PAGES.glob("*.html")]), PAGES
    else:
        where = HELDOUT[which]
        paths = sorted(where.glob("*.html"))
    for path in paths:
        expected = where / f"{path.stem}.expected.txt"
        if expected.exists():
            found.append((path.name, path.read_bytes(), expected.read_text(encoding="utf-8")))
    return found


# --------------------------------------------------------------------------
# Extractors: bytes -> main text


def zhsearch_text(data: bytes) -> str:
    article = parse_html(data, "page.html")
    if article is None:
        return ""
    out = []
    for s in article.sections:
        if s.heading:
            out.append(s.heading)
        out.append(s.text)
    return "\n".join(out)


def trafilatura_text(data: bytes) -> str:
    import trafilatura

    return trafilatura.extract(decode_html(data, "page"), include_comments=False, include_tables=True) or ""


def readability_text(data: bytes) -> str:
    import lxml.html
    from readability import Document

    summary = Document(decode_html(data, "page")).summary(html_partial=True)
    root = lxml.html.fromstring(summary)
    return "\n".join(t for t in root.itertext())


_NOISE_TAGS = "script, style, nav, footer, header, aside, form, iframe, noscript, textarea, select"


def selectolax_text(data: bytes) -> str:
    """A text-density extractor on selectolax: drop the obvious boilerplate
    tags, then take the element whose own paragraphs hold the most text."""
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    tree = HTMLParser(decode_html(data, "page"))
    for node in tree.css(_NOISE_TAGS):
        node.decompose()
    best, best_score = None, 0
    for node in tree.css("div, article, section, td, main, body"):
        score = 0
        for child in node.iter():
            if child.tag in ("p", "h2", "h3", "h4", "br", "span", "section"):
                text = child.text(deep=True, strip=True)
                links = sum(len(a.text(strip=True)) for a in child.css("a"))
                score += max(0, len(text) - 2 * links)
        if score > best_score:
            best, best_score = node, score
    if best is None:
        return ""
    parts = [n.text(deep=True, strip=True) for n in best.css("p, h1, h2, h3, h4, h5, h6, li")]
    return "\n".join(p for p in parts if p) or best.text(separator="\n", strip=True)


EXTRACTORS: dict[str, Callable[[bytes], str]] = {
    "zhsearch (trafilatura + cleaning)": zhsearch_text,
    "trafilatura alone": trafilatura_text,
    "readability-lxml": readability_text,
    "selectolax, text density": selectolax_text,
}


# --------------------------------------------------------------------------


def precision_recall(expected: str, extracted: str) -> tuple[float, float]:
    exp, ext = _WS.sub("", expected), _WS.sub("", extracted)
    if not exp or not ext:
        return (0.0 if ext else 1.0), (0.0 if exp else 1.0)
    matcher = difflib.SequenceMatcher(None, exp, ext, autojunk=False)
    matched = sum(b.size for b in matcher.get_matching_blocks())
    return matched / len(ext), matched / len(exp)


def padded(data: bytes, kb: int) -> bytes:
    """The page with ``kb`` KB of inline script and style before ``</head>``
    (our hand-made pages are far lighter than real ones, whose HTML is
    mostly scripts, styles and markup)."""
    unit = b"var cfg={a:1,b:[1,2,3],c:'x'};function f(n){return n*2+cfg.a;}\n.nav li a{color:#333;margin:0 4px}\n"
    block = unit * (kb * 1024 // len(unit) // 2)
    extra = b"<script>" + block + b"</script><style>" + block + b"</style>"
    head = data.find(b"</head>")
    return data[:head] + extra + data[head:] if head >= 0 else extra + data


def indexing_speed(items: list[tuple[str, bytes, str]], copies: int) -> tuple[int, int, float, float]:
    """``(files, bytes, wall seconds, CPU seconds)`` of ``build_index`` (one
    process) on ``copies`` copies of every page.  CPU time is what one core
    spends, so it holds on a machine shared with other jobs."""
    from zhsearch.indexer.build import build_index

    tmp = Path(tempfile.mkdtemp(prefix="zhsearch-extraction-"))
    try:
        docs = tmp / "pages"
        docs.mkdir()
        size = 0
        for i in range(copies):
            for name, data, _ in items:
                (docs / f"{i:03d}-{name}").write_bytes(data)
                size += len(data)
        t0, c0 = time.perf_counter(), time.process_time()
        result = build_index([docs], tmp / "index", jobs=1)
        return result.files_indexed, size, time.perf_counter() - t0, time.process_time() - c0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="timed passes over the pages per extractor")
    ap.add_argument("--copies", type=int, default=40, help="copies of each page for the indexing run")
    ap.add_argument("--per-page", action="store_true", help="also print every page's figures")
    ap.add_argument(
        "--pad",
        type=int,
        default=60,
        help="also index the pages with KB of inline script and style added, the weight real pages carry (0: off)",
    )
    ap.add_argument("--only", default=None, help="run only the extractors whose name contains this")
    args = ap.parse_args()
    for which in ("tuned", *HELDOUT):
        report(which, pages(which), args)
    if args.copies:
        items = [item for which in ("tuned", *HELDOUT) for item in pages(which)]
        print("| indexing (build_index, 1 process) | files | MB of HTML | wall s | CPU s | MB/s wall | MB/s CPU |")
        print("|---|---|---|---|---|---|---|")
        runs = [("as written", items)]
        if args.pad:
            runs.append((f"+{args.pad} KB script/style each", [(n, padded(d, args.pad), e) for n, d, e in items]))
        for label, run_items in runs:
            files, size, wall, cpu = indexing_speed(run_items, args.copies)
            print(
                f"| {len(items)} pages {label} × {args.copies} | {files} | {size / 2**20:.1f} | {wall:.1f} | {cpu:.1f} "
                f"| {size / 2**20 / wall:.2f} | {size / 2**20 / cpu:.2f} |"
            )


def report(which: str, items: list[tuple[str, bytes, str]], args: argparse.Namespace) -> None:
    total_bytes = sum(len(d) for _, d, _ in items)
    label = "pages the cleaning rules were written against" if which == "tuned" else f"held-out pages ({which})"
    print(f"{which}: {len(items)} {label}, {total_bytes / 1024:.0f} KB of HTML\n")
    rows = []
    per_page: dict[str, list[tuple[str, float, float]]] = {}
    for name, extract in EXTRACTORS.items():
        if args.only and args.only not in name:
            continue
        scores = []
        for page, data, expected in items:
            p, r = precision_recall(expected, extract(data))
            scores.append((page, p, r))
        per_page[name] = scores
        t0 = time.process_time()
        for _ in range(args.repeat):
            for _page, data, _expected in items:
                extract(data)
        seconds = time.process_time() - t0
        n = len(items) * args.repeat
        ps = [p for _, p, _ in scores]
        rs = [r for _, _, r in scores]
        rows.append(
            (
                name,
                statistics.mean(ps),
                statistics.mean(rs),
                min(ps),
                min(rs),
                n / seconds,
                total_bytes * args.repeat / 2**20 / seconds,
            )
        )
    print("| extractor | precision (mean) | recall (mean) | min precision | min recall | pages/s (CPU) | MB/s (CPU) |")
    print("|---|---|---|---|---|---|---|")
    for name, p, r, minp, minr, pps, mbs in rows:
        print(f"| {name} | {p:.3f} | {r:.3f} | {minp:.3f} | {minr:.3f} | {pps:.0f} | {mbs:.2f} |")
    if args.per_page:
        for name, scores in per_page.items():
            print(f"\n{name}:\n\n| page | precision | recall |\n|---|---|---|")
            for page, p, r in scores:
                print(f"| {page} | {p:.3f} | {r:.3f} |")
    print()


if __name__ == "__main__":
    main()
