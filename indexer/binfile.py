"""The layout zhsearch's own index files share (postings, dictionary), and
how every index file is written and opened.

A file is ``magic``, the header's length and its CRC-32 (4 bytes each,
little-endian), a JSON header padded so the data after it starts 8-byte
aligned, then the data.  Files are memory-mapped: arrays in them are read in
place, and a mapping stays readable after a later commit deletes the file.
The header carries the checksums of the data's parts (see
``indexer.postings``), so any damaged byte is detected.

Writes are durable and never follow links: :func:`write_file` writes a
temporary file (``O_NOFOLLOW | O_EXCL``), fsyncs it and renames it into
place; :func:`fsync_dir` makes the rename itself survive a power loss.
Files are opened with ``O_NOFOLLOW`` (:func:`open_nofollow`): a symlink
planted in an index directory is refused, not followed.
"""

from __future__ import annotations

import json
import mmap
import os
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class FormatError(ValueError):
    """A file that is not the zhsearch file it should be, or is damaged."""


def crc(data: bytes | memoryview) -> int:
    """CRC-32 of ``data`` (zlib's, fast enough to check every block read)."""
    return zlib.crc32(data) & 0xFFFFFFFF


def head(magic: bytes, header: dict[str, Any], size: int = 0) -> bytes:
    """Everything before the data: magic, length and CRC, padded JSON header
    (to ``size`` bytes in all when it is given and they suffice)."""
    text = json.dumps(header).encode("utf-8")
    room = size - len(magic) - 8
    if size % 8 == 0 and len(text) <= room:
        text += b" " * (room - len(text))  # JSON allows trailing white space
    text += b" " * (-(len(magic) + 8 + len(text)) % 8)
    return magic + len(text).to_bytes(4, "little") + crc(text).to_bytes(4, "little") + text


def open_nofollow(path: str | os.PathLike[str], flags: int = os.O_RDONLY, mode: int = 0o666) -> int:
    """``os.open`` that refuses a symbolic link as the last component."""
    return os.open(path, flags | NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode)


def open_mapped(
    source: str | os.PathLike[str] | bytes, magic: bytes, kind: str
) -> tuple[mmap.mmap | bytes, dict[str, Any], int]:
    """``(mapping, header, offset of the data)`` of a file (or its bytes);
    :class:`FormatError` naming ``kind`` if it is not one or its header is
    damaged."""
    name = "data" if isinstance(source, bytes) else str(source)
    if isinstance(source, bytes):
        mapped: mmap.mmap | bytes = source
    else:
        fd = open_nofollow(source)
        try:
            if os.fstat(fd).st_size < len(magic) + 8:
                raise FormatError(f"{name} is not a zhsearch {kind} file (too short)")
            mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
    if mapped[: len(magic)] != magic:
        raise FormatError(f"{name} is not a zhsearch {kind} file of this version")
    n = int.from_bytes(mapped[len(magic) : len(magic) + 4], "little")
    want = int.from_bytes(mapped[len(magic) + 4 : len(magic) + 8], "little")
    start = len(magic) + 8
    text = mapped[start : start + n]
    if len(text) != n or crc(text) != want:
        raise FormatError(f"{name}: the {kind} file's header is damaged (checksum mismatch)")
    try:
        header = json.loads(text)
    except ValueError as exc:
        raise FormatError(f"{name}: the {kind} file's header is damaged ({exc})") from None
    if not isinstance(header, dict):
        raise FormatError(f"{name}: the {kind} file's header is damaged")
    return mapped, header, start + n


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make the entries of directory ``path`` (new names, renames) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, parts: Iterable[bytes], mode: int | None = None, *, sync_dir: bool = True) -> None:
    """Write ``parts`` to ``path`` atomically and durably: a temporary file
    beside it, fsynced, renamed over it, and (``sync_dir``) the directory
    fsynced.  ``mode`` is the new file's permission bits (default: 0o666
    less the umask).  A failed write removes the temporary file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    fd = open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else mode)
    try:
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            with os.fdopen(fd, "wb", closefd=False) as f:
                for part in parts:
                    f.write(part)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    if sync_dir:
        fsync_dir(path.parent)


class StreamedFile:
    """A file written like :func:`write_file` (a temporary file beside it,
    fsynced, renamed into place) whose data comes a part at a time and whose
    header, which names where the parts are, comes last: written into room
    kept for it before the data (``reserve`` bytes), or, if it outgrows that,
    in front of a copy of the data.  A file of any size is written without
    holding it in memory.  Use as a context manager: an exception removes
    the temporary file."""

    def __init__(self, path: Path, mode: int | None = None, reserve: int = 16384) -> None:
        self.path = path
        self.mode = mode
        self.reserve = reserve
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            self.tmp.unlink()
        except FileNotFoundError:
            pass
        fd = open_nofollow(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else mode)
        if mode is not None:
            os.fchmod(fd, mode)
        self.file = os.fdopen(fd, "wb")
        self.file.seek(reserve)

    def write(self, data: bytes) -> None:
        """Append ``data`` after what was written before."""
        self.file.write(data)

    def finish(self, magic: bytes, header: dict[str, Any], *, sync_dir: bool = True) -> None:
        """Write the header, make the file durable and rename it into place."""
        first = head(magic, header, self.reserve)
        if len(first) == self.reserve:
            self.file.seek(0)
            self.file.write(first)
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
        else:
            self.file.close()
            self._copy_after(first)
        os.replace(self.tmp, self.path)
        if sync_dir:
            fsync_dir(self.path.parent)

    def _copy_after(self, first: bytes) -> None:
        import shutil

        copy = self.tmp.with_name(self.tmp.name + "2")
        fd = open_nofollow(copy, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 if self.mode is None else self.mode)
        try:
            with os.fdopen(fd, "wb") as out, open(self.tmp, "rb") as data:
                out.write(first)
                data.seek(self.reserve)
                shutil.copyfileobj(data, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(copy, self.tmp)
        except BaseException:
            try:
                copy.unlink()
            except OSError:
                pass
            raise

    def abort(self) -> None:
        """Remove the temporary file (the target is untouched)."""
        try:
            self.file.close()
        except OSError:
            pass
        try:
            self.tmp.unlink()
        except OSError:
            pass

    def __enter__(self) -> StreamedFile:
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is not None:
            self.abort()
