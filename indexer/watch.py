"""Keeping an index in step with folders that change (``zhsearch index --watch``).

:func:`watch` first brings the index up to date with :func:`build_index`,
then waits for file-system events (watchfiles: inotify, FSEvents or
polling) on the given paths.  Events are batched — a batch ends when
nothing has changed for ``step`` ms, or after ``debounce`` ms at most — and
each batch is one incremental :func:`build_index` run, so one commit: a
searcher sees all of a batch's changes or none.

A file caught half-written is indexed as it was (or skipped with its reason,
e.g. a truncated UTF-8 sequence); the write that completes it is another
event, and the next batch indexes it again.  An error in one batch (the
index locked by another writer, a damaged file) is reported and watching
goes on.  Ctrl-C stops: a batch interrupted before its commit leaves the
index as the previous batch left it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from zhsearch.corpus.errors import ZhsearchError
from zhsearch.corpus.readers import SUPPORTED_SUFFIXES
from zhsearch.indexer.build import IndexReport, build_index
from zhsearch.indexer.storage import resolve_index_dir

DEBOUNCE_MS = 1600
STEP_MS = 200


def watch(
    paths: Iterable[str | os.PathLike[str]],
    index_dir: str | os.PathLike[str] | None = None,
    *,
    user_dict: str | os.PathLike[str] | None = None,
    jobs: int = 1,
    on_report: Callable[[IndexReport], None] | None = None,
    on_error: Callable[[ZhsearchError], None] | None = None,
    stop_event: threading.Event | None = None,
    debounce_ms: int = DEBOUNCE_MS,
    step_ms: int = STEP_MS,
    shards: int = 0,
    cluster: Any = None,
) -> int:
    """Index ``paths`` into ``index_dir``, then re-index them whenever
    files under them change, until ``stop_event`` is set or Ctrl-C.

    ``on_report`` gets each run's report (the first run's, then one per
    batch of changes that touched an article file); ``on_error`` each
    :class:`ZhsearchError` a run raised (without it, they are raised).
    Returns the number of runs that committed.  A sharded index (or
    ``shards``, for a new one) is updated shard by shard, as tasks on the
    Dask cluster ``cluster`` if given (connected once for the whole watch).
    """
    import watchfiles

    path_list = [Path(p).absolute() for p in paths]
    target = resolve_index_dir(index_dir).absolute()
    runs = 0
    client, owned = (None, False)
    if cluster is not None:
        from zhsearch.indexer.shards import connect

        client, owned = connect(cluster)

    def run() -> None:
        nonlocal runs, shards
        try:
            report = build_index(
                path_list, target, wait=True, user_dict=user_dict, jobs=jobs, shards=shards, cluster=client
            )
            shards = 0  # as many as the index has from now on
        except ZhsearchError as exc:
            if on_error is None:
                raise
            on_error(exc)
            return
        runs += 1
        if on_report is not None:
            on_report(report)

    files = {str(p) for p in path_list if not p.is_dir()}
    own = (str(target) + os.sep, str(target) + ".lock", str(target.parent / f".{target.name}."))

    def relevant(_change: object, name: str) -> bool:
        # Article files, and directories (a folder deleted or moved in);
        # never the index's own files when it sits inside a watched folder.
        if name.startswith(own) or Path(name).name.startswith("."):
            return False
        suffix = Path(name).suffix.lower()
        return name in files or suffix in SUPPORTED_SUFFIXES or not suffix

    # A file is watched through its folder: editors save by renaming a new
    # file over the old one, which a watch on the file itself would lose.
    roots = sorted({str(p if p.is_dir() else p.parent) for p in path_list if p.exists() or p.parent.is_dir()})
    try:
        run()
        if not roots:
            return runs
        for _changes in watchfiles.watch(
            *roots,
            watch_filter=relevant,
            debounce=debounce_ms,
            step=step_ms,
            stop_event=stop_event,
            raise_interrupt=True,
        ):
            run()
    except KeyboardInterrupt:
        pass  # Ctrl-C during a run: its commit did not happen, the index is the last one
    finally:
        if owned:
            client.close()  # type: ignore[union-attr]
    return runs
