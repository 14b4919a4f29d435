"""The ``zhsearch`` command line: a thin click layer over the library.

Each command parses its options, calls the library function of the same name
(``index``, ``remove``, ``search``, ``related``, ``show``, ``stats``,
``serve``, ``eval``, ``config``) and prints the result.  Options left out come from the
config files (``search.config``).  Library errors (:class:`ZhsearchError`)
become one line on stderr and exit code 2; exit code 1 means a search found
nothing.  Everything printed as text is cleaned of control characters and
JSON goes through ``search.output`` (typed records).  Library modules are
imported inside the commands so ``zhsearch --help`` starts instantly.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import click
from zhsearch.search.output import clean, dumps, render_snippet

from zhsearch import __version__

EXIT_OK, EXIT_NO_RESULTS, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 2, 3
# Errors writing to standard output itself (closed, full disk, gone).
_OUTPUT_ERRNOS = (errno.EBADF, errno.ENOSPC, errno.EIO, errno.EDQUOT)


def _stdout_problem() -> str | None:
    out = sys.stdout
    if out is None or getattr(out, "closed", False):
        return "standard output is closed; nothing can be printed (redirect it to a file or /dev/null instead)"
    return None


class _Group(click.Group):
    """Turns library errors into a one-line message instead of a traceback,
    and a failed write to standard output into a non-zero exit."""

    def main(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        problem = _stdout_problem()
        if problem:
            if sys.stderr is not None:
                print(f"zhsearch: error: {problem}", file=sys.stderr)
            sys.exit(EXIT_ERROR)
        code: Any = EXIT_OK
        try:
            super().main(*args, **kwargs)
        except SystemExit as exc:
            code = exc.code
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            pass  # output piped into `head` and closed early: not an error
        except OSError as exc:
            print(f"zhsearch: error: cannot write to standard output: {exc.strerror or exc}", file=sys.stderr)
            code = EXIT_ERROR
        sys.exit(code)

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
                action = hint(exc)
                click.echo(f"zhsearch: error: {clean(exc)}{'; ' + clean(action) if action else ''}", err=True)
                ctx.exit(exc.exit_code)
            if isinstance(exc, OSError) and exc.errno in _OUTPUT_ERRNOS and not exc.filename:
                click.echo(f"zhsearch: error: cannot write to standard output: {exc.strerror}", err=True)
                ctx.exit(EXIT_ERROR)
            click.echo(
                f"zhsearch: internal error: {type(exc).__name__}: {clean(exc)} (set ZHSEARCH_DEBUG=1 for details)",
                err=True,
            )
            ctx.exit(EXIT_ERROR)


def hint(exc: Exception) -> str:
    """The command that would fix a library error, from the error's fields
    (the library's messages name no commands); empty if none applies."""
    from zhsearch.corpus import errors

    if isinstance(exc, errors.IndexMismatchError) and exc.index_dir:
        options = (f" --user-dict {exc.user_dict}" if exc.user_dict else "") + (
            f" --shards {exc.shards}" if exc.shards else ""
        )
        return f"rebuild it with `zhsearch index PATH... --rebuild{options} --index {exc.index_dir}`"
    if isinstance(exc, errors.IndexNotFoundError) and exc.index_dir:
        if exc.occupied:
            return "give an index directory, or create one elsewhere with `zhsearch index PATH --index NEW-DIR`"
        return f"create one with `zhsearch index PATH --index {exc.index_dir}`"
    if isinstance(exc, errors.IndexLockedError):
        return "retry when it finishes or use --wait"
    if isinstance(exc, errors.DirectoryInUseError):
        return "give another --index directory"
    if isinstance(exc, errors.WorkerDiedError):
        return "run the command again, or with --jobs 1"
    return ""


class _SearchCommand(click.Command):
    """``search``: an unknown option is an error like everywhere else; one
    that is not an option at all (``-短信``) gets the ``--`` rule as hint."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)  # the parser consumes args
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            name = exc.option_name
            if name.isascii():
                raise
            word = next((a for a in given if a.startswith(name)), name)
            # The query as it would have been with the '-' words taken as words.
            lenient = click.Context(self, ignore_unknown_options=True, resilient_parsing=True)
            click.Command.parse_args(self, lenient, given)
            query = " ".join(lenient.params.get("query") or (word,))
            raise click.UsageError(
                f"{clean(word)!r} is not an option. A query word that starts with '-' goes after `--` "
                f"(zhsearch search -- {clean(query)}) or inside quotes.",
                ctx,
            ) from None


def _config(index_dir: str | None = None, **options: Any) -> Any:
    """The settings in effect (see ``search.config``); options not given are None."""
    from zhsearch.search.config import config

    return config(index_dir, **options)


def _index_of(cfg: Any) -> str | None:
    """The index to pass to the library: ``None`` for the default location
    (``$ZHSEARCH_INDEX`` or the per-user one), where the library may build the sample."""
    setting = cfg.setting("index")
    return None if setting.source in ("default", "$ZHSEARCH_INDEX") else setting.value


def _use_color(choice: str) -> bool:
    """``always``/``never``; ``auto``: on a terminal (NO_COLOR and FORCE_COLOR
    are settled by the config, see ``search.config``)."""
    if choice in ("always", "never"):
        return choice == "always"
    return sys.stdout is not None and sys.stdout.isatty()


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
    default=None,
    help="Highlight with colour (auto, the default: only on a terminal, and not with NO_COLOR set; "
    "FORCE_COLOR forces it); otherwise with [brackets].",
)


_prior_option = click.option(
    "--prior/--no-prior",
    default=None,
    help="Rank a national law before the local regulations and judicial interpretations repeating it, "
    "unless the question names their place or kind (default: on; config key prior).",
)

_cluster_option = click.option(
    "--cluster",
    metavar="ADDRESS",
    default=None,
    help="Search a sharded index on this Dask scheduler (tcp://HOST:8786).",
)


def _output_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--format text|jsonl|json`` and ``--json`` (= ``--format jsonl``)."""
    f = click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "jsonl", "json"]),
        default="text",
        show_default=True,
        help='text; jsonl: JSON Lines, one record a line, each with a "type"; json: one JSON document.',
    )(f)
    return click.option("--json", "as_json", is_flag=True, help="JSON Lines: the same as --format jsonl.")(f)


def _emit(records: list[dict[str, Any]], fmt: str, document: dict[str, Any] | None = None) -> None:
    """Print records as JSON Lines, or (``json``) ``document`` / the one record."""
    if fmt == "json":
        click.echo(dumps(document if document is not None else records[0]))
    else:
        click.echo("".join(dumps(r) + "\n" for r in records), nl=False)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _meta_line(meta: dict[str, Any]) -> str:
    return " · ".join(clean(meta[k]) for k in ("author", "date", "category") if meta.get(k))


_MAIN_HELP = """Full-text search for Chinese article collections.

Index articles (.txt, .md, .jsonl) with `zhsearch index`, then ask
questions in plain Chinese with `zhsearch search`; each hit shows the
article's best-matching section and a highlighted snippet.  Options left
out come from config files (`zhsearch config` shows them).

\b
Examples:
  zhsearch index ~/articles            # build or update the index
  zhsearch search 网贷逾期多久会上门走访   # a question, as typed
  zhsearch search wdyq                 # pinyin (initials) of 网贷逾期

\b
Shell completion (bash; zsh: zsh_source, fish: fish_source):
  eval "$(_ZHSEARCH_COMPLETE=bash_source zhsearch)"
"""


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}, help=_MAIN_HELP)
@click.version_option(__version__, prog_name="zhsearch")
def main() -> None:
    pass


# ---------------------------------------------------------------------------
@main.command(
    epilog="""\b
Examples:
  zhsearch index ~/articles                    # build, or update what changed
  zhsearch index notes/ --watch                # keep following the folder
  zhsearch index ~/articles --check            # only list what would change"""
)
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
    "--watch",
    is_flag=True,
    help="After indexing, keep watching PATHS and update the index as files change (Ctrl-C stops).",
)
@click.option(
    "--user-dict",
    type=click.Path(dir_okay=False),
    default=None,
    help="A jieba user dictionary to segment with; recorded in the index (changing it needs --rebuild).",
)
@click.option(
    "--cluster",
    metavar="ADDRESS",
    default=None,
    help="Build the shards as tasks on this Dask scheduler (tcp://HOST:8786); DIR must be on storage the workers share.",
)
@click.option(
    "--shards", default=0, type=click.IntRange(0, 999), help="Split the index into N shards (default: as it is, or 4)."
)
@_output_options
def index(
    paths: tuple[str, ...],
    index_dir: str | None,
    rebuild: bool,
    wait: bool,
    jobs: int,
    check: bool,
    watch: bool,
    user_dict: str | None,
    cluster: str | None,
    shards: int,
    as_json: bool,
    fmt: str,
) -> None:
    """Index the articles in PATHS (files or directories).

    Updates are incremental: unchanged files are skipped, changed files
    replaced, and files removed from an indexed directory dropped.  The
    first index into the default location replaces the sample index.  Exit
    code 3 when some files were skipped, 2 when nothing could be indexed.
    """
    from zhsearch.indexer.build import build_index
    from zhsearch.indexer.watch import watch as watch_paths

    fmt = "jsonl" if as_json else fmt
    cfg = _config(index_dir, user_dict=user_dict)
    index_dir, user_dict = _index_of(cfg), cfg["user_dict"]
    if check or watch:
        if check and (cluster or shards):
            raise click.UsageError("--check reads the index here and changes nothing; leave out --cluster/--shards")
        if rebuild:
            raise click.UsageError(f"--{'check changes nothing' if check else 'watch updates'}; leave out --rebuild")
        if check:
            return _check(paths, index_dir, fmt)
        click.echo(f"Watching {', '.join(clean(p) for p in paths)}; Ctrl-C stops.", err=True)
        watch_paths(
            paths, index_dir, user_dict=user_dict, on_report=lambda r: _print_index_report(r, fmt),
            shards=shards, cluster=cluster,
        )  # fmt: skip
        return click.echo("Stopped watching.", err=True)
    with _ProgressBar(enabled=fmt == "text") as bar:
        report = build_index(
            paths, index_dir, rebuild=rebuild, wait=wait, jobs=jobs, user_dict=user_dict, progress=bar.update,
            shards=shards, cluster=cluster,
        )  # fmt: skip
    _print_index_report(report, fmt)
    if report.skipped:
        nothing = report.files_indexed == 0 and report.files_unchanged == 0
        sys.exit(EXIT_ERROR if nothing else EXIT_PARTIAL)


def _print_index_report(report: Any, fmt: str) -> None:
    from zhsearch.search.output import record

    if fmt != "text":
        data = {**report.__dict__, "mb_per_s": round(report.mb_per_s, 3)}
        data["skipped"] = [s.__dict__ for s in report.skipped]
        data["warnings"] = list(report.warnings)
        return _emit([record("index", data)], fmt)
    if report.replaced_sample:
        click.echo(f"Replaced the sample index at {clean(report.index_dir)} (bundled demo articles) with yours.")
    speed = f" ({report.mb_per_s:.2f} MB/s)" if report.files_indexed else ""
    click.echo(
        f"Indexed {_plural(report.articles, 'article')} ({_plural(report.sections, 'section')}) "
        f"from {_plural(report.files_indexed, 'file')} "
        f"into {clean(report.index_dir)} in {report.seconds:.1f} s{speed}."
    )
    if report.files_unchanged:
        click.echo(f"{_plural(report.files_unchanged, 'file')} unchanged since the last run.")
    if report.files_removed:
        click.echo(f"{_plural(report.files_removed, 'file')} no longer present: their articles were removed.")
    for w in report.warnings:
        click.echo(f"warning: {clean(w)}", err=True)
    if report.skipped:
        click.echo(f"Skipped {_plural(len(report.skipped), 'file')}:")
        for s in report.skipped:
            click.echo(f"  {clean(s.path)}: {clean(s.reason)}")


def _check(paths: tuple[str, ...], index_dir: str | None, fmt: str) -> None:
    from zhsearch.indexer.build import check_index
    from zhsearch.search.output import record

    report = check_index(paths, index_dir)
    if fmt != "text":
        data = {**report.__dict__, "ok": report.ok, "unindexable": [s.__dict__ for s in report.unindexable]}
        _emit([record("check", data)], fmt)
    else:
        if report.damage:
            click.echo(f"The index at {clean(report.index_dir)} is damaged:")
            click.echo("".join(f"  {clean(problem)}\n" for problem in report.damage), nl=False)
        groups = (
            ("not in the index", report.missing),
            ("changed since indexed", report.changed),
            ("indexed but no longer present", report.removed),
        )
        for label, found in groups:
            if found:
                click.echo(f"{_plural(len(found), 'file')} {label}:")
                click.echo("".join(f"  {clean(path)}\n" for path in found), nl=False)
        if report.unindexable:
            click.echo(f"{_plural(len(report.unindexable), 'file')} cannot be indexed:")
            for s in report.unindexable:
                click.echo(f"  {clean(s.path)}: {clean(s.reason)}")
        where = clean(report.index_dir)
        if report.ok:
            click.echo(f"The index at {where} matches the {_plural(report.files, 'file')} in PATHS.")
        elif report.damage:
            click.echo(f"Repair it with `zhsearch index PATH... --rebuild --index {where}`.")
        else:
            click.echo(f"Run `zhsearch index` on the same PATHS to update {where}.")
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
@main.command(
    epilog="""\b
Examples:
  zhsearch remove ~/articles/old               # drop a folder's articles
  zhsearch remove notes/draft.md               # one file's"""
)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@_index_option
@click.option("--wait", is_flag=True, help="Wait for another process's update to finish instead of failing.")
@_output_options
def remove(paths: tuple[str, ...], index_dir: str | None, wait: bool, as_json: bool, fmt: str) -> None:
    """Remove the articles read from PATHS (files, or every file under a
    directory) from the index; the files themselves are not touched.

    Exit code 1 when nothing in the index came from PATHS.
    """
    from zhsearch.indexer.build import remove as run_remove
    from zhsearch.search.output import record

    fmt = "jsonl" if as_json else fmt
    report = run_remove(paths, _index_of(_config(index_dir)), wait=wait)
    if fmt != "text":
        _emit([record("remove", report.__dict__)], fmt)
    elif report.files_removed:
        click.echo(
            f"Removed {_plural(report.articles, 'article')} of {_plural(report.files_removed, 'file')} "
            f"from {clean(report.index_dir)}."
        )
    else:
        click.echo(f"Nothing in {clean(report.index_dir)} was read from {', '.join(clean(p) for p in paths)}.")
    if not report.files_removed:
        sys.exit(EXIT_NO_RESULTS)


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


_SEARCH_HELP = """Search for QUERY: plain words or a question, "a phrase", -exclude,
a AND b, a OR b, title:word.  Several arguments are one query.

Latin letters that read as pinyin (wangdai, wdyq) also find the Chinese
they spell.  When part of the query matches nothing, a correction is
suggested (did you mean); when it finds clearly more, its results are shown
instead (--no-correct keeps the query as typed).

A query word that starts with '-' must come after `--` (or be quoted):
options and query words are otherwise told apart by that '-'.

Without --index, the default index is used; if there is none yet, one is
built from the bundled sample articles.  Exit code 1 when nothing matches.
"""


@main.command(
    cls=_SearchCommand,
    help=_SEARCH_HELP,
    epilog="""\b
Examples:
  zhsearch search 网贷逾期多久会上门走访 -n 3
  zhsearch search -- 催收 -短信 --since 2024   # '-短信' after `--`: excluded
  zhsearch search xinyongka --json | jq -c 'select(.type == "hit") | .title'""",
)
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", "-n", default=None, type=click.IntRange(1, 1000), help="Hits per page (default 10).")
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
@click.option("--no-correct", is_flag=True, help="Show the results of the query as typed, never of a correction.")
@_prior_option
@_cluster_option
@_index_option
@_output_options
def search(
    query: tuple[str, ...],
    limit: int | None,
    color: str | None,
    index_dir: str | None,
    synonyms: str | None,
    user_dict: str | None,
    no_correct: bool,
    prior: bool | None,
    cluster: str | None,
    as_json: bool,
    fmt: str,
    **options: Any,
) -> None:
    from zhsearch.search.output import results_document, results_records
    from zhsearch.search.searcher import search as run_search

    fmt = "jsonl" if as_json else fmt
    cfg = _config(index_dir, limit=limit, synonyms=synonyms, user_dict=user_dict, color=color, prior=prior)
    results = run_search(
        " ".join(query), _index_of(cfg), limit=cfg["limit"], synonyms=cfg["synonyms"], user_dict=cfg["user_dict"],
        correct=not no_correct, prior=cfg["prior"], cluster=cluster, **options,
    )  # fmt: skip
    for notice in results.notices:
        click.echo(f"zhsearch: {clean(notice)}", err=True)
    if results.sample_built:
        click.echo("zhsearch: `zhsearch index PATH` indexes your articles there instead of the samples", err=True)
    if fmt != "text":
        _emit(results_records(results), fmt, results_document(results))
    else:
        if results.corrected:
            click.echo(
                f"Showing results for {clean(results.corrected)}; search instead for {clean(results.query)} "
                "with --no-correct"
            )
        elif results.suggestion:
            click.echo(f"Did you mean: {clean(results.suggestion)}")
        _print_results(results, _use_color(cfg["color"]))
        if results.hits:
            _print_facets(results.facets)
    if not results.hits:
        sys.exit(EXIT_NO_RESULTS)


FACET_VALUES_SHOWN = 10


def _print_facets(facets: dict[str, dict[str, int]]) -> None:
    if facets:
        click.echo("")
    for name, counts in facets.items():
        shown = [f"{clean(value)} ({n})" for value, n in list(counts.items())[:FACET_VALUES_SHOWN]]
        more = len(counts) - len(shown)
        if more:
            shown.append(f"… {more} more")
        click.echo(f"{name}: {', '.join(shown) if shown else '(none)'}")


def _print_hit(hit: Any, markers: tuple[str, str], use_color: bool, path: bool = True) -> None:
    title = click.style(clean(hit.title), bold=True) if use_color else clean(hit.title)
    click.echo(f"\n{hit.rank}. {title}", color=use_color)
    if path:
        if meta := _meta_line(hit.meta):
            click.echo(f"   {meta}")
        if hit.section.path:
            click.echo(f"   § {' › '.join(clean(p) for p in hit.section.path)}")
    click.echo(f"   {render_snippet(hit.snippet, hit.highlights, markers)}", color=use_color)
    source = hit.source if path and hit.source and not hit.source.endswith(hit.id) else None
    where = f"{clean(hit.id)}  ({clean(source)})" if source else clean(hit.id)
    click.echo(f"   {where}  [section {hit.section.index}, score {hit.score:.2f}]")


def _print_results(results: Any, use_color: bool) -> None:
    if not results.hits:
        if results.total == 0:
            click.echo(f"No articles match {clean(results.corrected or results.query)!r}.")
        else:
            click.echo(
                f"No hits on page {results.page}: {_plural(results.total, 'article')} match, "
                f"on {_plural(results.pages, 'page')} of {results.limit}."
            )
        return
    markers = ("\x1b[1;31m", "\x1b[0m") if use_color else ("[", "]")
    # A pruned ranking estimates how many match (search.pruning).
    about = "" if getattr(results, "total_exact", True) else "about "
    click.echo(
        f"{about}{_plural(results.total, 'article')} match; showing {results.hits[0].rank}-{results.hits[-1].rank} "
        f"(page {results.page} of {results.pages}, {results.seconds * 1000:.0f} ms)"
    )
    for hit in results.hits:
        _print_hit(hit, markers, use_color)


# ---------------------------------------------------------------------------
@main.command(
    epilog="""\b
Examples:
  zhsearch related wd-001.txt
  zhsearch related md-003.md -n 3 --json"""
)
@click.argument("article_id", metavar="ID")
@click.option("--limit", "-n", default=5, show_default=True, type=click.IntRange(1, 1000), help="How many articles.")
@_color_option
@_cluster_option
@_index_option
@_output_options
def related(
    article_id: str, limit: int, color: str | None, cluster: str | None, index_dir: str | None, as_json: bool, fmt: str
) -> None:
    """Articles most similar to the article ID (as shown in search results),
    compared on its key terms; each with a one-line snippet.

    Exit code 1 when no other article shares its key terms.
    """
    from zhsearch.search.output import results_document, results_records
    from zhsearch.search.searcher import related as run_related

    fmt = "jsonl" if as_json else fmt
    cfg = _config(index_dir, color=color)
    results = run_related(article_id, _index_of(cfg), limit=limit, cluster=cluster)
    for notice in results.notices:
        click.echo(f"zhsearch: {clean(notice)}", err=True)
    if fmt != "text":
        _emit(results_records(results, terms=True), fmt, results_document(results, terms=True))
    elif not results.hits:
        click.echo(f"No articles related to {clean(article_id)!r}.")
    else:
        use_color = _use_color(cfg["color"])
        markers = ("\x1b[1;31m", "\x1b[0m") if use_color else ("[", "]")
        click.echo(f"Articles related to {clean(article_id)} (key terms: {clean(' '.join(results.terms[:8]))} …)")
        for hit in results.hits:
            _print_hit(hit, markers, use_color, path=False)
    if not results.hits:
        sys.exit(EXIT_NO_RESULTS)


# ---------------------------------------------------------------------------
@main.command(
    epilog="""\b
Examples:
  zhsearch show wd-001.txt
  zhsearch show wd-001.txt --section 3 --json"""
)
@click.argument("article_id", metavar="ID")
@click.option("--section", type=int, default=None, help="Print only the section with this index.")
@_index_option
@_output_options
def show(article_id: str, section: int | None, index_dir: str | None, as_json: bool, fmt: str) -> None:
    """Print the article ID (as shown in search results), or one section."""
    from zhsearch.search.output import record
    from zhsearch.search.searcher import show as run_show

    article = run_show(article_id, _index_of(_config(index_dir)), section=section)
    if as_json or fmt != "text":
        sections = [
            {"index": s.index, "level": s.level, "heading": s.heading, "path": list(s.path), "text": s.text}
            for s in article.sections
        ]
        data = {"id": article.id, "title": article.title, "meta": article.meta, "sections": sections}
        return _emit([record("article", data)], "jsonl" if as_json else fmt)
    click.echo(clean(article.title))
    if meta := _meta_line(article.meta):
        click.echo(meta)
    printed: tuple[str, ...] = ()
    for s in article.sections:
        # Parent headings without text of their own are not indexed; print
        # them from the path when a section moves under a new parent.
        for depth, heading in enumerate(s.path):
            if printed[: depth + 1] != s.path[: depth + 1]:
                own = f"  [section {s.index}]" if depth == len(s.path) - 1 else ""
                click.echo(f"\n{'#' * (depth + 1)} {clean(heading)}{own}")
        printed = s.path
        if s.text:
            click.echo(f"\n{clean(s.text, one_line=False)}")


# ---------------------------------------------------------------------------
@main.command(epilog="\b\nExamples:\n  zhsearch stats\n  zhsearch stats --index /tmp/demo --json")
@_index_option
@_output_options
def stats(index_dir: str | None, as_json: bool, fmt: str) -> None:
    """Show what the index holds and how it was built."""
    from zhsearch.search.output import iso_time, record
    from zhsearch.search.searcher import stats as run_stats

    st = run_stats(_index_of(_config(index_dir)))
    if as_json or fmt != "text":
        return _emit([record("stats", {**st.__dict__, "updated": iso_time(st.updated)})], "jsonl" if as_json else fmt)
    analyzer = ", ".join(f"{k}={v}" for k, v in st.analyzer.items() if k != "user_dict")
    ud = st.analyzer.get("user_dict")
    click.echo(f"index:     {clean(st.index_dir)}")
    click.echo(f"articles:  {st.articles}")
    click.echo(f"sections:  {st.sections}")
    click.echo(f"terms:     {st.terms}")
    click.echo(f"size:      {st.size_bytes / 1e6:.2f} MB")
    click.echo(f"format:    {st.schema_version}")
    click.echo(f"analyzer:  {clean(analyzer)}")
    if isinstance(ud, dict):
        click.echo(f"user dict: {clean(ud.get('path'))} ({ud.get('words')} words, digest {ud.get('digest')})")
    click.echo(f"updated:   {iso_time(st.updated)}")


# ---------------------------------------------------------------------------
@main.command(
    epilog="""\b
Examples:
  zhsearch serve                               # http://127.0.0.1:8080/
  zhsearch serve --index /tmp/demo --port 9000"""
)
@_index_option
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback: this machine only)."
)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Server processes.")
@_cluster_option
def serve(index_dir: str | None, host: str, port: int, workers: int, cluster: str | None) -> None:
    """Serve the index over HTTP: a search page at / and a JSON API
    (/search, /articles/ID, /related/ID, /stats, /suggest; docs at /docs).

    Keeps answering while `zhsearch index` updates the index, from each new
    commit once it lands.  Stop with Ctrl-C.
    """
    from zhsearch.search.web import serve as run_serve

    index_dir = _index_of(_config(index_dir))
    run_serve(
        index_dir, host, port, workers=workers, ready=lambda url: click.echo(f"Serving {url} (Ctrl-C to stop)"),
        cluster=cluster,
    )  # fmt: skip


@main.command(
    "cluster",
    epilog="""\b
Examples:
  zhsearch cluster --workers 2                 # scheduler at tcp://127.0.0.1:8786
  zhsearch cluster --workers 4 --port 9786     # then: zhsearch index ... --cluster tcp://127.0.0.1:9786""",
)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 64), help="Threads per worker.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the scheduler listens on.")
@click.option("--port", default=8786, show_default=True, type=click.IntRange(0, 65535), help="Scheduler port.")
def cluster_command(workers: int, threads: int, host: str, port: int) -> None:
    """Start a local Dask cluster (a scheduler and WORKERS worker
    processes) to build and search sharded indexes on; Ctrl-C stops it.
    On several machines, run `dask scheduler` and `dask worker
    tcp://HOST:8786` instead."""
    import signal

    from zhsearch.search.cluster import cluster as start_cluster

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    running = start_cluster(workers, host=host, port=port, threads=threads)
    click.echo(f"Dask scheduler at {running.scheduler_address} with {workers} workers (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        running.close()
    click.echo("Stopped the cluster.", err=True)


# ---------------------------------------------------------------------------
@main.command(
    "eval",
    epilog="""\b
Examples:
  zhsearch eval questions.jsonl
  zhsearch eval questions.jsonl --k 5 --misses 10""",
)
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
@_prior_option
@_output_options
def eval_command(
    queries: str,
    index_dir: str | None,
    k: int,
    misses: int,
    qrels: str | None,
    prior: bool | None,
    as_json: bool,
    fmt: str,
) -> None:
    """Measure ranking quality on QUERIES, a JSON-lines file of
    {"qid", "query", "doc", "docs", "section"} lines (doc or docs: the
    relevant articles; section optional).

    Prints MRR@k, Success@1, Recall@k, nDCG@k, Recall@100, Section@1, the
    questions without results and latency, overall and per group (qid text
    before the first '-', plus '-hans' suffixes).
    """
    from zhsearch.search.evaluation import evaluate, format_table
    from zhsearch.search.output import record

    cfg = _config(index_dir, prior=prior)
    report = evaluate(queries, _index_of(cfg), k=k, qrels=qrels, prior=cfg["prior"])
    if as_json or fmt != "text":
        data = {
            "k": report.k,
            "overall": report.overall.__dict__,
            "groups": [g.__dict__ for g in report.groups],
            "misses": [list(m) for m in report.misses[:misses]],
        }
        return _emit([record("eval", data)], "jsonl" if as_json else fmt)
    click.echo(format_table(report))
    for qid, want, got in report.misses[:misses]:
        click.echo(f"miss {clean(qid)}: expected {clean(want)}, first was {clean(got)}")


# ---------------------------------------------------------------------------
@main.command(
    "config",
    epilog="""\b
Examples:
  zhsearch config
  ZHSEARCH_CONFIG=work.toml zhsearch config --json""",
)
@_index_option
@_output_options
def config_command(index_dir: str | None, as_json: bool, fmt: str) -> None:
    """Show the settings in effect and where each came from.

    Settings are read from the file named by $ZHSEARCH_CONFIG, zhsearch.toml
    in the index directory, and config.toml in the per-user config
    directory, in that order; a command-line option beats them all.
    """
    from zhsearch.search.output import record

    cfg = _config(index_dir)
    if as_json or fmt != "text":
        return _emit([record("config", cfg.as_dict())], "jsonl" if as_json else fmt)
    for s in cfg.settings:
        value = "(none)" if s.value is None else clean(s.value)
        click.echo(f"{s.name:<10} {value:<40} {clean(s.source)}")
    click.echo("\nConfig files, first wins:")
    for path, found in cfg.files:
        click.echo(f"  {clean(path)}{'' if found else '  (not there)'}")


if __name__ == "__main__":  # pragma: no cover
    main()
