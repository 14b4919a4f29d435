"""The index on disk: where it lives, what built it, and who may write it.

An index directory holds Whoosh's segment files and ``zhsearch.json``, which
records the schema version and the analyzer settings the index was built
with.  Opening an index checks both against this version of zhsearch, so a
query is never tokenized differently from the articles it searches.

Writers take an exclusive ``flock`` on ``<index>.lock`` (beside the index, so
it survives a rebuild swapping the directory).  The kernel drops the lock
when its process dies, so a killed ``zhsearch index`` never leaves a stale
lock behind; the file only names the last holder's pid for error messages.

A rebuild writes ``.<index>.new-<pid>`` beside the index and swaps it in:
atomically with one ``renameat2(RENAME_EXCHANGE)`` where Linux offers it,
else with two renames through ``.<index>.old-<pid>``.  A process killed
between those two renames leaves no index at the usual path; the next
process to open it finds the ``.old`` directory and puts it back.  Leftover
``.new``/``.old`` directories of killed runs are removed by the next writer.

Whoosh opens some segment files by name only when a searcher first needs
them, so a searcher that has just read the previous table of contents may
still ask for files the writer no longer uses.  They are therefore deleted
one commit late (:func:`keep_previous_generation`), and a rebuild hard-links
the old index's files into the new directory before swapping it in.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zhsearch.corpus.errors import IndexLockedError, IndexMismatchError, IndexNotFoundError
from zhsearch.indexer.analysis import Settings, default_settings
from zhsearch.indexer.schema import SCHEMA_VERSION, make_schema

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


def index_exists(index_dir: str | os.PathLike[str], *, recover: bool = True) -> bool:
    """Is there an index at ``index_dir``?  With ``recover``, an index left
    aside by a rebuild killed mid-swap is first put back."""
    path = Path(index_dir)
    if (path / META_FILE).is_file():
        return True
    return recover and _recover(path)


def looks_like_index(path: Path) -> bool:
    """``path`` holds an index (perhaps a damaged one) or nothing at all, so
    a rebuild may replace it."""
    if not path.exists():
        return True
    if not path.is_dir():
        return False
    names = [p.name for p in path.iterdir()]
    return not names or META_FILE in names or any(n.startswith(f"_{INDEX_NAME}_") and n.endswith(".toc") for n in names)


def _leftovers(index_dir: Path, kind: str = "new|old") -> list[Path]:
    pattern = re.compile(rf"\.{re.escape(index_dir.name)}\.(?:{kind})-\d+")
    try:
        found = [p for p in index_dir.parent.iterdir() if pattern.fullmatch(p.name) and p.is_dir()]
    except OSError:
        return []
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def _recover(index_dir: Path) -> bool:
    """Put back an index a killed rebuild left aside; True if there is one now."""
    if not _leftovers(index_dir, "old"):
        return False
    try:
        with WriteLock(index_dir):
            repair(index_dir)
    except IndexLockedError:
        # A rebuild is running and may be between its two renames right now;
        # the second one follows immediately.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and not (index_dir / META_FILE).is_file():
            time.sleep(0.01)
    return (index_dir / META_FILE).is_file()


def repair(index_dir: Path) -> None:
    """Undo what a killed writer left behind; call with the write lock held.

    If the index is missing but a rebuild set it aside as ``.old``, the most
    recent one is renamed back; then every ``.new``/``.old`` leftover and
    stray temporary meta file is removed.
    """
    if not (index_dir / META_FILE).is_file():
        for old in _leftovers(index_dir, "old"):
            if (old / META_FILE).is_file() and looks_like_index(index_dir):
                if index_dir.exists():
                    index_dir.rmdir()  # empty, see looks_like_index
                os.rename(old, index_dir)
                break
    for leftover in _leftovers(index_dir):
        shutil.rmtree(leftover, ignore_errors=True)
    if index_dir.is_dir():
        for tmp in index_dir.glob(f".{META_FILE}.*.tmp"):
            tmp.unlink(missing_ok=True)


def swap_in(new: Path, target: Path) -> None:
    """Make the index built in ``new`` the one at ``target``; remove the old.

    Readers opening ``target`` meanwhile see the old index or the new one,
    never none, when the exchange is atomic; otherwise see the module notes.
    """
    if not target.exists():
        os.rename(new, target)
        return
    _follow_generation(new, target)
    _link_old_files(target, new)
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # now holds the old index
        return
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    os.rename(target, old)
    os.rename(new, target)
    shutil.rmtree(old, ignore_errors=True)


def _link_old_files(old: Path, new: Path) -> None:
    """Hard-link the old index's files into the new one.

    Whoosh opens segment files by name, some only when first needed; a
    reader that read the old table of contents just before the swap finds
    them at the index path after it.  The next update's commit removes them
    (see :func:`keep_previous_generation`).
    """
    from whoosh.filedb.filestore import FileStorage
    from whoosh.index import TOC

    try:
        toc = TOC.read(FileStorage(str(old)), INDEX_NAME)
    except Exception:  # noqa: BLE001 - a damaged old index: nothing worth keeping
        return
    ids = {seg.segment_id() for seg in toc.segments}
    segment = TOC._segment_pattern(INDEX_NAME)
    for path in old.iterdir():
        m = segment.match(path.name)
        wanted = path.name == TOC._filename(INDEX_NAME, toc.generation) or (m is not None and m.group(1) in ids)
        if not wanted or (new / path.name).exists():
            continue
        try:
            os.link(path, new / path.name)
        except OSError:
            return  # no hard links here: readers mid-swap may miss files


def keep_previous_generation(writer, ix) -> None:
    """Let ``writer``'s commit keep the files of the generation it replaces.

    Whoosh deletes files no longer referenced right after writing the new
    table of contents, but a searcher that has just read the previous one
    still opens some of its segment files by name.  With this, files are
    removed one commit later instead: long after any such reader has them
    open (an open file stays readable after it is deleted).
    """
    from whoosh.index import TOC

    try:
        previous = TOC.read(ix.storage, INDEX_NAME)
    except Exception:  # noqa: BLE001 - an unreadable TOC: nothing to keep
        return
    if not previous.segments:
        return  # a new, empty index: nobody can be reading anything
    keep_gen = previous.generation
    keep_ids = {seg.segment_id() for seg in previous.segments}

    def commit_toc(segments) -> None:
        TOC(writer.schema, segments, writer.generation).write(writer.storage, writer.indexname)
        keep = {*(seg.segment_id() for seg in segments), *keep_ids}
        _clean_files(writer.storage, writer.indexname, {writer.generation, keep_gen}, keep)

    writer._commit_toc = commit_toc


def _clean_files(storage, indexname: str, keep_gens: set[int], keep_ids: set[str]) -> None:
    """Whoosh's ``clean_files``, keeping several generations."""
    from whoosh.index import TOC

    toc_pattern, seg_pattern = TOC._pattern(indexname), TOC._segment_pattern(indexname)
    for name in list(storage):
        if name.startswith("."):
            continue
        toc, seg = toc_pattern.match(name), seg_pattern.match(name)
        if (toc and int(toc.group(1)) not in keep_gens) or (seg and seg.group(1) not in keep_ids):
            try:
                storage.delete_file(name)
            except OSError:
                pass


def _follow_generation(new: Path, old: Path) -> None:
    """Number the new index's commit after the old one's.

    An open searcher refreshes when the generation at the index path differs
    from the one it has; a rebuilt index starts counting again, and at the
    same number it would go unnoticed.
    """
    from whoosh.filedb.filestore import FileStorage
    from whoosh.index import TOC

    try:
        old_gen = TOC._latest_generation(FileStorage(str(old)), INDEX_NAME)
    except OSError:
        return
    storage = FileStorage(str(new))
    toc = TOC.read(storage, INDEX_NAME)
    if toc.generation > old_gen:
        return
    stale = TOC._filename(INDEX_NAME, toc.generation)
    toc.generation = old_gen + 1
    toc.write(storage, INDEX_NAME)
    storage.delete_file(stale)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2``); False where the
    system or file system can't."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(a))


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
        if not path.is_file():
            _recover(Path(index_dir))
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
            f"index at {index_dir} was segmented with rjieba, which is not installed; `pip install rjieba` or {rebuild}"
        )
    return meta


def open_index(index_dir: str | os.PathLike[str]):  # -> whoosh.index.Index
    """Open an existing, compatible index for reading or writing."""
    from whoosh import index as windex

    check_compatible(index_dir)
    # A commit in another process may delete the table of contents just
    # listed as the latest; like Whoosh's own reader, try again shortly.
    for attempt in range(10):
        try:
            return windex.open_dir(str(index_dir), indexname=INDEX_NAME)
        except (windex.EmptyIndexError, OSError) as exc:
            if attempt == 9:
                raise IndexMismatchError(
                    f"index at {index_dir} is damaged or incomplete ({exc}); "
                    f"rebuild it with `zhsearch index PATH... --rebuild --index {index_dir}`"
                ) from None
            time.sleep(0.05)
    raise AssertionError("unreachable")


def create_index(index_dir: Path, settings: Settings | None = None):  # -> whoosh.index.Index
    """Create an empty index in ``index_dir`` (which must be empty or new)."""
    from whoosh import index as windex

    s = settings or default_settings()
    index_dir.mkdir(parents=True, exist_ok=True)
    ix = windex.create_in(str(index_dir), make_schema(s), indexname=INDEX_NAME)
    if s.engine == "rjieba" and s.user_dict is None:
        from zhsearch.indexer.dictionary import write_dictionary

        write_dictionary(index_dir)  # quick query segmentation; optional
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
