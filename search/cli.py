"""The ``zhsearch`` command line: a thin click layer over the library.

Each command parses its options, calls the library function of the same name
(``index``, ``search``, ``related``, ``show``, ``stats``, ``serve``) and prints the result.  Library
errors (:class:`ZhsearchError`) become one line on stderr and exit code 2;
exit code 1 means a search found nothing.  Library modules are imported
inside the commands so ``zhsearch --help`` starts instantly.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from zhsearch import __version__

EXIT_OK, EXIT_NO_RESULTS, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 2, 3


class _Group(click.Group):
    """Turns library errors into a one-line message instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("zhsearch: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            # Output piped into `head` and closed early: not an error.
            sys.stderr.close()
            ctx.exit(0)
        except Exception as exc:  # noqa: BLE001 - the CLI must never show a traceback
            from zhsearch.corpus.errors import ZhsearchError

            if os.environ.get("ZHSEARCH_DEBUG"):
                raise
            if isinstance(exc, ZhsearchError):
                click.echo(f"zhsearch: error: {exc}", err=True)
                ctx.exit(exc.exit_code)
            click.echo(
                f"zhsearch: internal error: {type(exc).__name__}: {exc} (set ZHSEARCH_DEBUG=1 for details)", err=True
            )
            ctx.exit(EXIT_ERROR)


def _index_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--index",
        "index_dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Index directory (default: $ZHSEARCH_INDEX, else a per-user data directory).",
    )(f)


_color_option = click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Highlight with colour (auto: only on a terminal); otherwise with [brackets].",
)


def _json_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zhsearch")
def main() -> None:
    """Full-text search for Chinese article collections.

    Index articles (.txt, .md, .jsonl) with `zhsearch index`, then ask
    questions in plain Chinese with `zhsearch search`; each hit shows the
    article's best-matching section and a highlighted snippet.
    """


# ---------------------------------------------------------------------------
@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@_index_option
@click.option("--rebuild", is_flag=True, help="Build a fresh index instead of updating the existing one.")
@click.option("--wait", is_flag=True, help="Wait for another process's update to finish instead of failing.")
@click.option(
    "--jobs",
    "-j",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Worker processes (0: one per core; small jobs run in one process).",
)
@click.option(
    "--check", is_flag=True, help="Change nothing: list how the index differs from PATHS (exit 1 if it does)."
)
@click.option(
    "--user-dict",
    type=click.Path(dir_okay=False),
    default=None,
    help="A jieba user dictionary to segment with; recorded in the index (changing it needs --rebuild).",
)
@_json_option("Print the report as one JSON object.")
def index(
    paths: tuple[str, ...],
    index_dir: str | None,
    rebuild: bool,
    wait: bool,
    jobs: int,
    check: bool,
    user_dict: str | None,
    as_json: bool,
) -> None:
    """Index the articles in PATHS (files or directories).

    Updates are incremental: unchanged files are skipped, changed files
    replaced, and files removed from an indexed directory dropped.  Exit
    code 3 when some files were skipped, 2 when nothing could be indexed.
    """
    from zhsearch.indexer.build import build_index

    if check:
        if rebuild:
            raise click.UsageError("--check changes nothing; leave out --rebuild")
        _check(paths, index_dir, as_json)
        return
    with _ProgressBar(enabled=not as_json) as bar:
        report = build_index(
            paths, index_dir, rebuild=rebuild, wait=wait, jobs=jobs, user_dict=user_dict, progress=bar.update
        )
    if as_json:
        data = dict(report.__dict__)
        data["skipped"] = [s.__dict__ for s in report.skipped]
        data["warnings"] = list(report.warnings)
        click.echo(_dump(data))
    else:
        click.echo(
            f"Indexed {_plural(report.articles, 'article')} ({_plural(report.sections, 'section')}) "
            f"from {_plural(report.files_indexed, 'file')} "
            f"into {report.index_dir} in {report.seconds:.1f} s ({report.mb_per_s:.2f} MB/s)."
        )
        if report.files_unchanged:
            click.echo(f"{_plural(report.files_unchanged, 'file')} unchanged since the last run.")
        if report.files_removed:
            click.echo(f"{_plural(report.files_removed, 'file')} no longer present: their articles were removed.")
        for w in report.warnings:
            click.echo(f"warning: {w}", err=True)
        if report.skipped:
            click.echo(f"Skipped {_plural(len(report.skipped), 'file')}:")
            for s in report.skipped:
                click.echo(f"  {s.path}: {s.reason}")
    if report.skipped:
        nothing = report.files_indexed == 0 and report.files_unchanged == 0
        sys.exit(EXIT_ERROR if nothing else EXIT_PARTIAL)


def _check(paths: tuple[str, ...], index_dir: str | None, as_json: bool) -> None:
    from zhsearch.indexer.build import check_index

    report = check_index(paths, index_dir)
    if as_json:
        data = {**report.__dict__, "ok": report.ok, "unindexable": [s.__dict__ for s in report.unindexable]}
        click.echo(_dump(data))
    else:
        if report.damage:
            click.echo(f"The index at {report.index_dir} is damaged:")
            click.echo("".join(f"  {problem}\n" for problem in report.damage), nl=False)
        groups = (
            ("not in the index", report.missing),
            ("changed since indexed", report.changed),
            ("indexed but no longer present", report.removed),
        )
        for label, found in groups:
            if found:
                click.echo(f"{_plural(len(found), 'file')} {label}:")
                click.echo("".join(f"  {path}\n" for path in found), nl=False)
        if report.unindexable:
            click.echo(f"{_plural(len(report.unindexable), 'file')} cannot be indexed:")
            for s in report.unindexable:
                click.echo(f"  {s.path}: {s.reason}")
        if report.ok:
            click.echo(f"The index at {report.index_dir} matches the {_plural(report.files, 'file')} in PATHS.")
        elif report.damage:
            click.echo(f"Repair it with `zhsearch index PATH... --rebuild --index {report.index_dir}`.")
        else:
            click.echo(f"Run `zhsearch index` on the same PATHS to update {report.index_dir}.")
    if not report.ok:
        sys.exit(EXIT_NO_RESULTS)


class _ProgressBar:
    """A progress bar on stderr, shown only when stderr is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._bar: Any = None
        self._done = 0
        self._started = time.perf_counter()
        self._last: Any = None

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def _label(self) -> str:
        p = self._last
        if p is None:
            return ""
        mb_s = p.bytes_done / 1e6 / max(time.perf_counter() - self._started, 1e-6)
        return f"{p.files_done}/{p.files_total} files, {p.sections} sections, {mb_s:.2f} MB/s"

    def update(self, progress: Any) -> None:
        if not self.enabled:
            return
        self._last = progress
        if self._bar is None:
            self._bar = click.progressbar(
                length=progress.files_total, label="Indexing", file=sys.stderr, item_show_func=lambda _: self._label()
            )
            self._bar.__enter__()
        self._bar.update(progress.files_done - self._done, progress)
        self._done = progress.files_done


# ---------------------------------------------------------------------------
def _filter_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The article filters, facets and sort order of `search`."""
    options = [
        click.option(
            "--category", multiple=True, help="Only articles in this category (repeat for either of several)."
        ),
        click.option("--author", multiple=True, help="Only articles by this author (repeatable)."),
        click.option("--tag", multiple=True, help="Only articles with this tag (repeatable)."),
        click.option(
            "--since", metavar="DATE", help="Only articles dated on or after DATE (YYYY-MM-DD, YYYY-MM or YYYY)."
        ),
        click.option(
            "--until", metavar="DATE", help="Only articles dated on or before DATE (YYYY-MM-DD, YYYY-MM or YYYY)."
        ),
        click.option(
            "--source",
            metavar="GLOB",
            multiple=True,
            help="Only articles read from files matching GLOB (the file name, or the whole path if GLOB has a '/').",
        ),
        click.option(
            "--facet",
            "facets",
            multiple=True,
            type=click.Choice(["category", "author", "tag", "year"]),
            help="Count the matching articles per value of this field, after the hits (repeatable).",
        ),
        click.option(
            "--sort",
            type=click.Choice(["score", "date"]),
            default="score",
            show_default=True,
            help="Order of the hits: best match first, or newest first.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


# Unknown options are query words: `zhsearch search -短信 催收` excludes 短信.
@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(1, 1000), help="Hits per page.")
@click.option("--page", "-p", default=1, show_default=True, type=click.IntRange(1), help="Page of results.")
@click.option("--snippet-chars", default=120, show_default=True, type=click.IntRange(20, 2000), help="Snippet length.")
@_color_option
@_filter_options
@click.option(
    "--synonyms",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Synonym file: one group of equivalent words a line (网贷 网络贷款), searched at a lower weight.",
)
@click.option(
    "--user-dict",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="The jieba user dictionary the index was built with (checked; the index's own copy is used).",
)
@_index_option
@_json_option(
    "One JSON object per hit per line, with the library's fields; then the suggestion and the facets, if any."
)
def search(
    query: tuple[str, ...],
    limit: int,
    page: int,
    snippet_chars: int,
    color: str,
    index_dir: str | None,
    as_json: bool,
    **options: Any,
) -> None:
    """Search for QUERY: plain words or a question, "a phrase", -exclude,
    a AND b, a OR b, title:word.  Several arguments are one query.

    If there is no index yet, one is built from the bundled sample articles.
    Exit code 1 when nothing matches.
    """
    from zhsearch.search.searcher import search as run_search

    results = run_search(" ".join(query), index_dir, limit=limit, page=page, snippet_chars=snippet_chars, **options)
    for notice in results.notices:
        click.echo(f"zhsearch: {notice}", err=True)
    if as_json:
        for hit in results.hits:
            click.echo(_dump(hit.as_dict()))
        if results.suggestion:
            click.echo(_dump({"suggestion": results.suggestion}))
        if options["facets"]:
            click.echo(_dump({"facets": results.facets}))
    else:
        use_color = color == "always" or (color == "auto" and sys.stdout.isatty())
        if results.suggestion:
            click.echo(f"Did you mean: {results.suggestion}")
        _print_results(results, use_color)
        if results.hits:
            _print_facets(results.facets)
    if not results.hits:
        sys.exit(EXIT_NO_RESULTS)


FACET_VALUES_SHOWN = 10


def _print_facets(facets: dict[str, dict[str, int]]) -> None:
    if facets:
        click.echo("")
    for name, counts in facets.items():
        shown = [f"{value} ({n})" for value, n in list(counts.items())[:FACET_VALUES_SHOWN]]
        more = len(counts) - len(shown)
        if more:
            shown.append(f"… {more} more")
        click.echo(f"{name}: {', '.join(shown) if shown else '(none)'}")


def _print_results(results: Any, use_color: bool) -> None:
    if not results.hits:
        click.echo(f"No articles match {results.query!r}." if results.total == 0 else "No hits on this page.")
        return
    markers = ("\x1b[1;31m", "\x1b[0m") if use_color else ("[", "]")
    last = results.hits[-1].rank
    click.echo(
        f"{_plural(results.total, 'article')} match; showing {results.hits[0].rank}-{last} "
        f"(page {results.page} of {results.pages}, {results.seconds * 1000:.0f} ms)"
    )
    for hit in results.hits:
        title = click.style(hit.title, bold=True) if use_color else hit.title
        click.echo(f"\n{hit.rank}. {title}", color=use_color)
        meta = " · ".join(str(hit.meta[k]) for k in ("author", "date", "category") if hit.meta.get(k))
        if meta:
            click.echo(f"   {meta}")
        if hit.section.path:
            click.echo(f"   § {' › '.join(hit.section.path)}")
        click.echo(f"   {hit.render(markers)}", color=use_color)
        where = hit.id if not hit.source or hit.source.endswith(hit.id) else f"{hit.id}  ({hit.source})"
        click.echo(f"   {where}  [section {hit.section.index}, score {hit.score:.2f}]")


# ---------------------------------------------------------------------------
@main.command()
@click.argument("article_id", metavar="ID")
@click.option("--limit", "-n", default=5, show_default=True, type=click.IntRange(1, 1000), help="How many articles.")
@_color_option
@_index_option
@_json_option("One JSON object per article per line, with the same fields as `search --json`.")
def related(article_id: str, limit: int, color: str, index_dir: str | None, as_json: bool) -> None:
    """Articles most similar to the article ID (as shown in search results),
    compared on its key terms; each with a one-line snippet.

    Exit code 1 when no other article shares its key terms.
    """
    from zhsearch.search.searcher import related as run_related

    results = run_related(article_id, index_dir, limit=limit)
    for notice in results.notices:
        click.echo(f"zhsearch: {notice}", err=True)
    if as_json:
        for hit in results.hits:
            click.echo(_dump(hit.as_dict()))
    elif not results.hits:
        click.echo(f"No articles related to {article_id!r}.")
    else:
        use_color = color == "always" or (color == "auto" and sys.stdout.isatty())
        markers = ("\x1b[1;31m", "\x1b[0m") if use_color else ("[", "]")
        click.echo(f"Articles related to {article_id} (key terms: {' '.join(results.terms[:8])} …)")
        for hit in results.hits:
            title = click.style(hit.title, bold=True) if use_color else hit.title
            click.echo(f"\n{hit.rank}. {title}", color=use_color)
            click.echo(f"   {hit.render(markers)}", color=use_color)
            click.echo(f"   {hit.id}  [section {hit.section.index}, score {hit.score:.2f}]")
    if not results.hits:
        sys.exit(EXIT_NO_RESULTS)


# ---------------------------------------------------------------------------
@main.command()
@click.argument("article_id", metavar="ID")
@click.option("--section", type=int, default=None, help="Print only the section with this index.")
@_index_option
@_json_option("Print the article as one JSON object.")
def show(article_id: str, section: int | None, index_dir: str | None, as_json: bool) -> None:
    """Print the article ID (as shown in search results), or one section."""
    from zhsearch.search.searcher import show as run_show

    article = run_show(article_id, index_dir, section=section)
    if as_json:
        click.echo(
            _dump(
                {
                    "id": article.id,
                    "title": article.title,
                    "meta": article.meta,
                    "sections": [
                        {"index": s.index, "level": s.level, "heading": s.heading, "path": list(s.path), "text": s.text}
                        for s in article.sections
                    ],
                }
            )
        )
        return
    click.echo(article.title)
    meta = " · ".join(str(article.meta[k]) for k in ("author", "date", "category") if article.meta.get(k))
    if meta:
        click.echo(meta)
    printed: tuple[str, ...] = ()
    for s in article.sections:
        # Parent headings without text of their own are not indexed; print
        # them from the path when a section moves under a new parent.
        for depth, heading in enumerate(s.path):
            if printed[: depth + 1] != s.path[: depth + 1]:
                own = f"  [section {s.index}]" if depth == len(s.path) - 1 else ""
                click.echo(f"\n{'#' * (depth + 1)} {heading}{own}")
        printed = s.path
        if s.text:
            click.echo(f"\n{s.text}")


# ---------------------------------------------------------------------------
@main.command()
@_index_option
@_json_option("Print the statistics as one JSON object.")
def stats(index_dir: str | None, as_json: bool) -> None:
    """Show what the index holds and how it was built."""
    from zhsearch.search.searcher import stats as run_stats

    st = run_stats(index_dir)
    if as_json:
        click.echo(_dump(st.__dict__))
        return
    analyzer = ", ".join(f"{k}={v}" for k, v in st.analyzer.items() if k != "user_dict")
    ud = st.analyzer.get("user_dict")
    click.echo(f"index:     {st.index_dir}")
    click.echo(f"articles:  {st.articles}")
    click.echo(f"sections:  {st.sections}")
    click.echo(f"terms:     {st.terms}")
    click.echo(f"size:      {st.size_bytes / 1e6:.2f} MB")
    click.echo(f"format:    {st.schema_version}")
    click.echo(f"analyzer:  {analyzer}")
    if isinstance(ud, dict):
        click.echo(f"user dict: {ud.get('path')} ({ud.get('words')} words, digest {ud.get('digest')})")
    click.echo(f"updated:   {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(st.updated))}")


# ---------------------------------------------------------------------------
@main.command()
@_index_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback: this machine only).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Server processes.")
def serve(index_dir: str | None, host: str, port: int, workers: int) -> None:
    """Serve the index over HTTP: a search page at / and a JSON API
    (/search, /articles/ID, /related/ID, /stats, /suggest; docs at /docs).

    Keeps answering while `zhsearch index` updates the index, from each new
    commit once it lands.  Stop with Ctrl-C.
    """
    from zhsearch.search.web import serve as run_serve

    run_serve(index_dir, host, port, workers=workers, ready=lambda url: click.echo(f"Serving {url} (Ctrl-C to stop)"))


# ---------------------------------------------------------------------------
@main.command("eval")
@click.argument("queries", type=click.Path(dir_okay=False))
@_index_option
@click.option(
    "--k", "k", default=10, show_default=True, type=click.IntRange(1, 1000), help="Cut-off for MRR and recall."
)
@click.option(
    "--misses", default=0, type=click.IntRange(0), help="Also list this many questions whose answer was not first."
)
@click.option(
    "--qrels",
    type=click.Path(dir_okay=False),
    default=None,
    help="TREC qrels file ('qid 0 doc grade' lines) judging the questions instead of their doc/docs.",
)
@_json_option("Print the metrics as one JSON object.")
def eval_command(queries: str, index_dir: str | None, k: int, misses: int, qrels: str | None, as_json: bool) -> None:
    """Measure ranking quality on QUERIES, a JSON-lines file of
    {"qid", "query", "doc", "docs", "section"} lines (doc or docs: the
    relevant articles; section optional).

    Prints MRR@k, Success@1, Recall@k, nDCG@k, Recall@100, Section@1, the
    questions without results and latency, overall and per group (qid text
    before the first '-', plus '-hans' suffixes).
    """
    from zhsearch.search.evaluation import evaluate, format_table

    report = evaluate(queries, index_dir, k=k, qrels=qrels)
    if as_json:
        click.echo(
            _dump(
                {
                    "k": report.k,
                    "overall": report.overall.__dict__,
                    "groups": [g.__dict__ for g in report.groups],
                    "misses": [list(m) for m in report.misses[:misses]],
                }
            )
        )
        return
    click.echo(format_table(report))
    for qid, want, got in report.misses[:misses]:
        click.echo(f"miss {qid}: expected {want}, first was {got}")


if __name__ == "__main__":  # pragma: no cover
    main()
