"""The index on disk: where it lives, what built it, and who may write it.

An index directory holds Whoosh's segment files and ``zhsearch.json``, which
records the schema version and the analyzer settings the index was built
with.  Opening an index checks both against this version of zhsearch, so a
query is never tokenized differently from the articles it searches.

Writers take an exclusive ``flock`` on ``<index>.lock`` (beside the index, so
it survives a rebuild swapping the directory).  The kernel drops the lock
when its process dies, so a killed ``zhsearch index`` never leaves a stale
lock behind; the file only names the last holder's pid for error messages.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus.errors import IndexLockedError, IndexMismatchError, IndexNotFoundError
from indexer.analysis import Settings, default_settings
from indexer.schema import SCHEMA_VERSION, make_schema

META_FILE = "zhsearch.json"
INDEX_NAME = "sections"


def default_index_dir() -> Path:
    """``$ZHSEARCH_INDEX``, else ``index`` in the per-user data directory."""
    env = os.environ.get("ZHSEARCH_INDEX")
    if env:
        return Path(env).expanduser()
    import click

    return Path(click.get_app_dir("zhsearch")) / "index"


def resolve_index_dir(index_dir: str | os.PathLike[str] | None) -> Path:
    return Path(index_dir).expanduser() if index_dir is not None else default_index_dir()


def index_exists(index_dir: str | os.PathLike[str]) -> bool:
    return (Path(index_dir) / META_FILE).is_file()


@dataclass(frozen=True)
class IndexMeta:
    """What ``zhsearch.json`` records about an index."""

    schema_version: int
    analyzer: dict[str, Any]
    created: float
    updated: float

    def settings(self) -> Settings:
        a = self.analyzer
        return Settings(
            version=int(a.get("version", -1)),
            engine=str(a.get("engine", "")),
            hmm=bool(a.get("hmm", True)),
            fold=str(a.get("fold", "")),
            grams=int(a.get("grams", 0)),
        )


def read_meta(index_dir: str | os.PathLike[str]) -> IndexMeta:
    path = Path(index_dir) / META_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexNotFoundError(
            f"no zhsearch index at {index_dir}; create one with `zhsearch index PATH --index {index_dir}`"
        ) from None
    except (OSError, ValueError) as exc:
        raise IndexMismatchError(
            f"cannot read {path} ({exc}); rebuild with `zhsearch index PATH --rebuild --index {index_dir}`"
        ) from None
    return IndexMeta(
        schema_version=int(raw.get("schema_version", -1)),
        analyzer=dict(raw.get("analyzer", {})),
        created=float(raw.get("created", 0)),
        updated=float(raw.get("updated", 0)),
    )


def write_meta(index_dir: Path, settings: Settings, created: float | None = None) -> None:
    now = time.time()
    data = {
        "schema_version": SCHEMA_VERSION,
        "analyzer": settings.as_dict(),
        "created": created if created is not None else now,
        "updated": now,
    }
    tmp = index_dir / f".{META_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, index_dir / META_FILE)


def check_compatible(index_dir: str | os.PathLike[str]) -> IndexMeta:
    """Read an index's meta and refuse one this version can't search."""
    meta = read_meta(index_dir)
    rebuild = f"rebuild it with `zhsearch index PATH... --rebuild --index {index_dir}`"
    if meta.schema_version != SCHEMA_VERSION:
        raise IndexMismatchError(
            f"index at {index_dir} has format version {meta.schema_version}, this zhsearch uses {SCHEMA_VERSION}; {rebuild}"
        )
    want = default_settings().as_dict()
    got = meta.analyzer
    diff = [k for k in want if k != "engine" and got.get(k) != want[k]]
    if diff:
        details = ", ".join(f"{k}={got.get(k)!r} (now {want[k]!r})" for k in diff)
        raise IndexMismatchError(f"index at {index_dir} was built with other analyzer settings: {details}; {rebuild}")
    engine = got.get("engine")
    if engine not in ("jieba", "rjieba"):
        raise IndexMismatchError(f"index at {index_dir} was built with unknown segmenter {engine!r}; {rebuild}")
    if engine == "rjieba" and default_settings().engine != "rjieba":
        raise IndexMismatchError(
            f"index at {index_dir} was segmented with rjieba, which is not installed; "
            f"`pip install rjieba` or {rebuild}"
        )
    return meta


def open_index(index_dir: str | os.PathLike[str]):  # -> whoosh.index.Index
    """Open an existing, compatible index for reading or writing."""
    from whoosh import index as windex

    check_compatible(index_dir)
    try:
        return windex.open_dir(str(index_dir), indexname=INDEX_NAME)
    except (windex.EmptyIndexError, OSError) as exc:
        raise IndexMismatchError(
            f"index at {index_dir} is damaged or incomplete ({exc}); "
            f"rebuild it with `zhsearch index PATH... --rebuild --index {index_dir}`"
        ) from None


def create_index(index_dir: Path, settings: Settings | None = None):  # -> whoosh.index.Index
    """Create an empty index in ``index_dir`` (which must be empty or new)."""
    from whoosh import index as windex

    s = settings or default_settings()
    index_dir.mkdir(parents=True, exist_ok=True)
    ix = windex.create_in(str(index_dir), make_schema(s), indexname=INDEX_NAME)
    write_meta(index_dir, s)
    return ix


class WriteLock:
    """Exclusive right to change the index at ``index_dir``."""

    def __init__(self, index_dir: Path, wait: bool = False) -> None:
        self.path = index_dir.parent / f"{index_dir.name}.lock"
        self.wait = wait
        self._fd: int | None = None

    def __enter__(self) -> WriteLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise IndexLockedError(
                    f"index is being updated by process {holder}; retry when it finishes or use --wait"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
