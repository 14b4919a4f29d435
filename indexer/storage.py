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

Safety and durability (see also ``indexer.binfile``): every pickle read
from an index zhsearch opens goes through a restricted unpickler
(``indexer.safepickle``: this storage's files and :class:`ZhFileIndex`'s
table of contents; Whoosh itself is left unpatched); files
are opened with ``O_NOFOLLOW`` and the lock refuses a symlink; new files and
directories take the permissions of the index they extend or replace.  A
commit fsyncs every new segment file, then the directory, the table of
contents, ``zhsearch.json`` (which records the generation committed) and
the directory again, before it is reported.  Opening an index stats the
files each segment's postings header lists (:func:`damage`), and notices
when the newest committed generation is gone (:func:`served_notice`).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import re
import shutil
import stat
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile
from whoosh.index import FileIndex
from zhsearch.corpus.errors import (
    IndexDamagedError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    ZhsearchError,
)
from zhsearch.indexer.analysis import Settings, default_settings
from zhsearch.indexer.binfile import FormatError, fsync_dir, open_nofollow, write_file
from zhsearch.indexer.safepickle import SafeStructFile, read_toc
from zhsearch.indexer.schema import SCHEMA_VERSION, make_schema

META_FILE = "zhsearch.json"
INDEX_NAME = "sections"


def rebuild_hint(index_dir: str | os.PathLike[str]) -> str:
    """What repairs any damage to the index at ``index_dir``, in the
    library's terms (the CLI words it as its command)."""
    return f"rebuilding the index at {index_dir} repairs it"


class SafeStorage(FileStorage):
    """Whoosh's file storage, opening files with ``O_NOFOLLOW``, creating
    them with the index's permissions, and fsyncing each file it writes
    when it is closed (segment files are written once, so that is all a
    commit needs of them)."""

    def __init__(self, path: str, file_mode: int | None = None) -> None:
        super().__init__(path, supports_mmap=True)
        self.file_mode = file_mode

    def create_file(self, name, excl=False, mode="wb", **kwargs):  # noqa: D102 - Whoosh's interface
        if self.readonly:
            from whoosh.filedb.filestore import ReadOnlyError

            raise ReadOnlyError
        flags = os.O_RDWR | os.O_CREAT | (os.O_EXCL if excl else os.O_TRUNC)
        fd = open_nofollow(self._fpath(name), flags, 0o666 if self.file_mode is None else self.file_mode)
        if self.file_mode is not None:
            os.fchmod(fd, self.file_mode)
        fileobj = os.fdopen(fd, mode)
        onclose = kwargs.pop("onclose", None)

        def synced(sf: StructFile) -> None:
            if onclose is not None:
                onclose(sf)
            fileobj.flush()
            os.fsync(fileobj.fileno())

        return StructFile(fileobj, name=name, onclose=synced, **kwargs)

    def lock(self, name):  # noqa: D102 - Whoosh's interface
        # Writers hold zhsearch's WriteLock (beside the index, O_NOFOLLOW);
        # Whoosh's own lock file would follow a planted symlink.
        return _NoLock()

    def open_file(self, name, **kwargs):  # noqa: D102 - Whoosh's interface
        fd = open_nofollow(self._fpath(name))
        return SafeStructFile(os.fdopen(fd, "rb"), name=name, **kwargs)


class ZhFileIndex(FileIndex):
    """Whoosh's ``FileIndex`` whose table of contents is always read by
    :func:`indexer.safepickle.read_toc` (the schema unpickled restricted)."""

    def __init__(self, storage: SafeStorage, schema: Any = None, indexname: str = INDEX_NAME) -> None:
        # Not Whoosh's __init__: its check that a TOC exists unpickles it freely.
        self.storage = storage
        self._schema = schema
        self.indexname = indexname
        self._read_toc()

    def _read_toc(self) -> Any:
        return read_toc(self.storage, self.indexname)


class _NoLock:
    """Whoosh's lock interface; the exclusion is :class:`WriteLock`'s."""

    def acquire(self, blocking: bool = False) -> bool:
        return True

    def release(self) -> None:
        pass


def file_mode_of(index_dir: Path) -> int | None:
    """The permissions new files of ``index_dir`` take: those of its
    ``zhsearch.json`` (``None``: a new index, the umask decides)."""
    try:
        return os.stat(index_dir / META_FILE, follow_symlinks=False).st_mode & 0o666
    except OSError:
        return None


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
        fsync_dir(target.parent)
        return
    _follow_generation(new, target)
    _link_old_files(target, new)
    if _exchange(new, target):
        fsync_dir(target.parent)
        shutil.rmtree(new, ignore_errors=True)  # now holds the old index
    else:
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        os.rename(target, old)
        os.rename(new, target)
        fsync_dir(target.parent)
        shutil.rmtree(old, ignore_errors=True)
    _drop_old_files(target)


# How long a reader that read the old table of contents just before a swap
# has to open the old files (a search opens all of a snapshot's at once).
SWAP_GRACE = 0.5


def _drop_old_files(index_dir: Path) -> None:
    """Remove the old index's files a rebuild linked in, once readers in the
    middle of the swap have them open: a rebuilt index holds only its own."""
    from whoosh.index import TOC

    storage = SafeStorage(str(index_dir))
    try:
        toc = read_toc(storage, INDEX_NAME)
    except Exception:  # noqa: BLE001 - nothing readable: leave everything
        return
    keep = {seg.segment_id() for seg in toc.segments}
    seg_pattern = TOC._segment_pattern(INDEX_NAME)
    stale = [n for n in storage if (m := seg_pattern.match(n)) is not None and m.group(1) not in keep]
    if stale or any(
        TOC._pattern(INDEX_NAME).match(n) for n in storage if n != TOC._filename(INDEX_NAME, toc.generation)
    ):
        time.sleep(SWAP_GRACE)
        _clean_files(storage, INDEX_NAME, {toc.generation}, keep)


def _link_old_files(old: Path, new: Path) -> None:
    """Hard-link the old index's files into the new one.

    Whoosh opens segment files by name, some only when first needed; a
    reader that read the old table of contents just before the swap finds
    them at the index path after it.  The next update's commit removes them
    (see :func:`keep_previous_generation`).
    """
    from whoosh.index import TOC

    try:
        toc = read_toc(SafeStorage(str(old)), INDEX_NAME)
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
    """Let ``writer``'s commit keep the files of the generation it replaces,
    and make it durable (:func:`commit_segments`).

    Whoosh deletes files no longer referenced right after writing the new
    table of contents, but a searcher that has just read the previous one
    still opens some of its segment files by name.  With this, files are
    removed one commit later instead: long after any such reader has them
    open (an open file stays readable after it is deleted).
    """
    writer._commit_toc = lambda segments: commit_segments(writer, ix, list(segments))


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
    storage = SafeStorage(str(new), file_mode_of(new))
    toc = read_toc(storage, INDEX_NAME)
    if toc.generation > old_gen:
        return
    stale = TOC._filename(INDEX_NAME, toc.generation)
    toc.generation = old_gen + 1
    toc.write(storage, INDEX_NAME)
    storage.delete_file(stale)
    fsync_dir(new)
    record_generation(new, toc.generation)


def record_generation(index_dir: Path, generation: int) -> None:
    """Record in ``zhsearch.json`` the generation just committed."""
    path = index_dir / META_FILE
    fd = open_nofollow(path)
    with os.fdopen(fd, "rb") as f:
        data = json.loads(f.read().decode("utf-8"))
    data["generation"] = generation
    write_file(path, [_meta_bytes(data)], file_mode_of(index_dir))


def _meta_checksum(data: dict[str, Any]) -> str:
    """The checksum ``zhsearch.json`` carries: CRC-32 of its other keys and
    values in a canonical form (sorted keys, ASCII, no spaces), so it does
    not depend on the file's layout."""
    body = {k: v for k, v in data.items() if k != "checksum"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return f"crc32:{zlib.crc32(canonical.encode('ascii')):08x}"


def _meta_bytes(data: dict[str, Any]) -> bytes:
    data = {**{k: v for k, v in data.items() if k != "checksum"}, "checksum": _meta_checksum(data)}
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")


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
    generation: int = -1  # of the table of contents last committed

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
        fd = open_nofollow(path)
        with os.fdopen(fd, "rb") as f:
            raw = json.loads(f.read().decode("utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
    except FileNotFoundError:
        if Path(index_dir).is_dir() and any(Path(index_dir).iterdir()):
            if not looks_like_index(Path(index_dir)):
                raise IndexNotFoundError(
                    f"{index_dir} is not a zhsearch index (it has no {META_FILE})",
                    index_dir=str(index_dir),
                    occupied=True,
                ) from None
            raise IndexMismatchError(
                f"index at {index_dir} is damaged: its {META_FILE} (format and analyzer settings) is missing",
                index_dir=str(index_dir),
            ) from None
        raise IndexNotFoundError(f"no index at {index_dir}", index_dir=str(index_dir)) from None
    except (OSError, ValueError) as exc:
        raise IndexDamagedError(
            f"cannot read {path} ({exc})",
            index_dir=str(index_dir),
            file=META_FILE,
            reason=str(exc),
        ) from None
    # Written by every commit since the checksum was added; an index from
    # before has none and is read as it is (the next update adds one).
    if "checksum" in raw and raw["checksum"] != _meta_checksum(raw):
        raise _damaged(
            index_dir, META_FILE, "checksum mismatch: its content was changed or damaged after it was written"
        )
    try:
        return IndexMeta(
            schema_version=int(raw.get("schema_version", -1)),
            analyzer=dict(raw.get("analyzer", {})),
            created=float(raw.get("created", 0)),
            updated=float(raw.get("updated", 0)),
            generation=int(raw.get("generation", -1)),
        )
    except (TypeError, ValueError) as exc:
        raise IndexDamagedError(
            f"{path} is damaged ({exc})",
            index_dir=str(index_dir),
            file=META_FILE,
            reason=str(exc),
        ) from None


def write_meta(
    index_dir: Path, settings: Settings, created: float | None = None, generation: int = -1, mode: int | None = None
) -> None:
    """Write ``zhsearch.json`` durably (fsynced, renamed, directory fsynced),
    with the permissions ``mode`` (default: those of the file it replaces)."""
    now = time.time()
    data = {
        "schema_version": SCHEMA_VERSION,
        "analyzer": settings.as_dict(),
        "created": created if created is not None else now,
        "updated": now,
        "generation": generation,
    }
    write_file(index_dir / META_FILE, [_meta_bytes(data)], file_mode_of(index_dir) if mode is None else mode)


def check_compatible(index_dir: str | os.PathLike[str]) -> IndexMeta:
    """Read an index's meta and refuse one this version can't search."""
    meta = read_meta(index_dir)
    where = str(index_dir)
    if meta.schema_version != SCHEMA_VERSION:
        raise IndexMismatchError(
            f"index at {index_dir} has format version {meta.schema_version}, this zhsearch uses {SCHEMA_VERSION}",
            index_dir=where,
        )
    want = default_settings().as_dict()
    got = meta.analyzer
    diff = [k for k in want if k != "engine" and got.get(k) != want[k]]
    if diff:
        details = ", ".join(f"{k}={got.get(k)!r} (now {want[k]!r})" for k in diff)
        raise IndexMismatchError(
            f"index at {index_dir} was built with other analyzer settings: {details}", index_dir=where
        )
    engine = got.get("engine")
    if engine not in ("jieba", "rjieba"):
        raise IndexMismatchError(f"index at {index_dir} was built with unknown segmenter {engine!r}", index_dir=where)
    if engine == "rjieba" and default_settings().engine != "rjieba":
        raise IndexMismatchError(
            f"index at {index_dir} was segmented with rjieba, which is not installed (install rjieba, or rebuild it)",
            index_dir=where,
        )
    return meta


def open_index(index_dir: str | os.PathLike[str]):  # -> whoosh.index.Index
    """Open an existing, compatible index for reading or writing."""
    from whoosh import index as windex

    check_compatible(index_dir)
    storage = SafeStorage(str(index_dir), file_mode_of(Path(index_dir)))
    # A commit in another process may delete the table of contents just
    # listed as the latest; like Whoosh's own reader, try again shortly.
    for attempt in range(10):
        try:
            ix = ZhFileIndex(storage)
            ix._read_toc()  # the schema and segments: damage shows here
            return ix
        except IndexDamagedError as exc:  # a refused pickle
            raise _damaged(index_dir, _latest_toc_name(storage), exc.reason, type(exc)) from None
        except ZhsearchError:
            raise
        except (windex.EmptyIndexError, OSError) as exc:
            if attempt == 9:
                raise _damaged(index_dir, "", f"no readable table of contents ({exc})") from None
            time.sleep(0.05)
        except Exception as exc:  # noqa: BLE001 - whatever a damaged TOC makes Whoosh raise
            raise _damaged(index_dir, _latest_toc_name(storage), f"{type(exc).__name__}: {exc}") from None
    raise AssertionError("unreachable")


def _damaged(
    index_dir: str | os.PathLike[str], file: str, reason: str, kind: type[IndexDamagedError] = IndexDamagedError
) -> IndexDamagedError:
    where = f"{file}: " if file else ""
    return kind(
        f"the index at {index_dir} is damaged ({where}{reason})",
        index_dir=str(index_dir),
        file=file,
        reason=reason,
    )


def _latest_toc_name(storage) -> str:
    from whoosh.index import TOC

    try:
        return TOC._filename(INDEX_NAME, TOC._latest_generation(storage, INDEX_NAME))
    except Exception:  # noqa: BLE001 - only for the message
        return ""


def create_index(
    index_dir: Path, settings: Settings | None = None, *, dir_mode: int | None = None, file_mode: int | None = None
):  # -> whoosh.index.Index
    """Create an empty index in ``index_dir`` (which must be empty or new),
    with the given permissions (default: the umask's)."""
    from whoosh import index as windex

    s = settings or default_settings()
    index_dir.mkdir(parents=True, exist_ok=True)
    if dir_mode is not None:
        os.chmod(index_dir, dir_mode)
    storage = SafeStorage(str(index_dir), file_mode)
    windex.FileIndex.create(storage, make_schema(s), indexname=INDEX_NAME)
    ix = ZhFileIndex(storage)
    if s.engine == "rjieba" and s.user_dict is None:
        from zhsearch.indexer.dictionary import write_dictionary

        write_dictionary(index_dir, file_mode)  # quick query segmentation; optional
    write_meta(index_dir, s, generation=0, mode=file_mode)
    return ix


def commit_segments(writer, ix, segments: list) -> None:
    """Commit ``segments`` as the index's new generation, durably: the
    segment files are fsynced as they are closed (``SafeStorage``) and the
    postings files as written; here the directory, then the new table of
    contents, then the directory again.  The previous generation's files
    are kept one commit longer (:func:`keep_previous_generation`)."""
    from whoosh.index import TOC

    folder = Path(writer.storage.folder)
    fsync_dir(folder)
    keep_gens = {writer.generation}
    keep_ids = {seg.segment_id() for seg in segments}
    try:
        previous = read_toc(ix.storage, INDEX_NAME)
    except Exception:  # noqa: BLE001 - an unreadable TOC: nothing to keep
        previous = None
    if previous is not None and previous.segments:
        keep_gens.add(previous.generation)
        keep_ids |= {seg.segment_id() for seg in previous.segments}
    TOC(writer.schema, segments, writer.generation).write(writer.storage, writer.indexname)
    fsync_dir(folder)
    _clean_files(writer.storage, writer.indexname, keep_gens, keep_ids)


def served_notice(index_dir: str | os.PathLike[str], meta: IndexMeta, ix) -> str | None:
    """What to tell a reader when the newest commit ``zhsearch.json``
    records is gone and Whoosh found an older one (``None``: all is well)."""
    latest = ix.latest_generation()
    if meta.generation < 0 or latest >= meta.generation:
        return None
    return (
        f"the newest commit of the index at {index_dir} (generation {meta.generation}) is missing; "
        f"serving the previous one (generation {latest}), which may lack the last update; {rebuild_hint(index_dir)}"
    )


def damage(index_dir: str | os.PathLike[str], ix, *, full: bool = False) -> list[str]:
    """What is wrong with the files of ``ix``'s latest generation: postings
    files missing or unreadable, segment files missing or of another size
    than recorded, and with ``full`` every checksum (postings arrays and
    blocks, segment files, the query dictionary).  Empty: nothing found."""
    from zhsearch.indexer.postings import SUFFIX, SegmentPostings

    folder = Path(index_dir)
    problems: list[str] = []
    try:
        segments = ix._read_toc().segments
    except ZhsearchError as exc:
        return [str(exc)]
    except Exception as exc:  # noqa: BLE001 - a damaged TOC
        return [f"{_latest_toc_name(ix.storage) or 'table of contents'}: {type(exc).__name__}: {exc}"]
    for seg in segments:
        name = f"{seg.segment_id()}{SUFFIX}"
        try:
            store = SegmentPostings(folder / name)
        except FileNotFoundError:
            problems.append(f"{name}: missing")
            continue
        except (OSError, FormatError) as exc:
            problems.append(f"{name}: {exc}")
            continue
        try:
            for file, (size, want) in sorted(store.files.items()):
                path = folder / file
                try:
                    st = os.stat(path, follow_symlinks=False)
                except FileNotFoundError:
                    problems.append(f"{file}: missing")
                    continue
                if st.st_size != size:
                    problems.append(f"{file}: {st.st_size} bytes, {size} were written")
                elif full and file_crc(path) != want:
                    problems.append(f"{file}: checksum mismatch")
            if full:
                problems.extend(store.verify())
        finally:
            store.close()
    if full:
        from zhsearch.indexer.dictionary import DICTIONARY_FILE, QueryDictionary

        if (folder / DICTIONARY_FILE).exists():
            try:
                if not QueryDictionary(folder / DICTIONARY_FILE).verify():
                    problems.append(f"{DICTIONARY_FILE}: checksum mismatch")
            except (OSError, FormatError) as exc:
                problems.append(f"{DICTIONARY_FILE}: {exc}")
    return problems


def file_crc(path: Path) -> int:
    """CRC-32 of a whole file, read in chunks."""
    value = 0
    fd = open_nofollow(path)
    with os.fdopen(fd, "rb") as f:
        while chunk := f.read(1 << 20):
            value = zlib.crc32(chunk, value)
    return value & 0xFFFFFFFF


def segment_files(folder: Path, segment_id: str, skip: str) -> dict[str, tuple[int, int]]:
    """``(size, crc32)`` of each file of a Whoosh segment (its name starts
    with the segment id), ``skip`` left out."""
    found = {}
    for path in folder.iterdir():
        name = path.name
        if name.startswith(segment_id + ".") and name != skip and not name.endswith(".tmp"):
            found[name] = (path.stat().st_size, file_crc(path))
    return found


class WriteLock:
    """Exclusive right to change the index at ``index_dir``."""

    def __init__(self, index_dir: Path, wait: bool = False) -> None:
        self.path = index_dir.parent / f"{index_dir.name}.lock"
        self.wait = wait
        self._fd: int | None = None

    def __enter__(self) -> WriteLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = open_nofollow(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP or self.path.is_symlink():
                raise ZhsearchError(
                    f"the lock file {self.path} is a symbolic link; zhsearch never follows it "
                    "(it would overwrite the file it points to); remove the link and try again"
                ) from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ZhsearchError(f"the lock file {self.path} is not a regular file; remove it and try again")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise IndexLockedError(
                    f"index is being updated by process {holder}",
                    index_dir=str(self.path.parent / self.path.name.removesuffix(".lock")),
                    holder=holder,
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
