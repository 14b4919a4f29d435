"""The layout zhsearch's own index files share (postings, dictionary).

A file is ``magic``, the header's length (8 bytes, little-endian), a JSON
header padded so the data after it starts 8-byte aligned, then the data.
Files are memory-mapped: arrays in them are read in place, and a mapping
stays readable after a later commit deletes the file.
"""

from __future__ import annotations

import json
import mmap
import os
from typing import Any


def head(magic: bytes, header: dict[str, Any]) -> bytes:
    """Everything before the data: magic, length, padded JSON header."""
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-(len(magic) + 8 + len(text)) % 8)
    return magic + len(text).to_bytes(8, "little") + text


def open_mapped(
    source: str | os.PathLike[str] | bytes, magic: bytes, kind: str
) -> tuple[mmap.mmap | bytes, dict[str, Any], int]:
    """``(mapping, header, offset of the data)`` of a file (or its bytes);
    ``ValueError`` naming ``kind`` if it is not one."""
    if isinstance(source, bytes):
        mapped: mmap.mmap | bytes = source
    else:
        with open(source, "rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    if mapped[: len(magic)] != magic:
        name = "data" if isinstance(source, bytes) else str(source)
        raise ValueError(f"{name} is not a zhsearch {kind} file")
    n = int.from_bytes(mapped[len(magic) : len(magic) + 8], "little")
    start = len(magic) + 8
    return mapped, json.loads(mapped[start : start + n]), start + n
