"""A shard's part of the collection statistics, written when it is built.

A score on a sharded index needs numbers of the whole collection: live
sections, field length sums, and the document frequency of every term the
query scores (``search.ranking.CollectionStats``).  Asking every shard for
them costs a round to the shards per query; instead each shard's build task
writes them beside its index, in ``PART`` inside the shard's directory, so
the part is committed (and replaced) with the shard itself and a manifest
always names parts of one generation.  A client sums the parts of the
shards it searches — a memory-mapped binary search per term and shard — and
sends the sums with the query: one round per query.

Layout (``indexer.binfile``): ``MAGIC``, a JSON header (sections, length
sums, per field where its arrays are), then per field the sorted 64-bit
term keys (``indexer.postings``' keys: a word's hash, a bigram's packed
code points) and each key's number of live sections, and per word field
its words (zlib-compressed, newline-separated: pinyin and did-you-mean read
the collection's words).  Every array and blob records its CRC-32, checked
when the file is opened.
"""

from __future__ import annotations

import os
import zlib
from functools import cached_property
from pathlib import Path

import numpy as np
from zhsearch.indexer.binfile import FormatError, crc, head, open_mapped, write_file
from zhsearch.indexer.postings import GRAM_FIELD, gram_key, word_key
from zhsearch.indexer.schema import TEXT_FIELDS

PART = "collection.zstats"
MAGIC = b"ZHSTAT1\n"
FIELDS = (*TEXT_FIELDS, GRAM_FIELD)


def term_key(field: str, text: str) -> int:
    """The key a term of ``field`` is stored under in the postings."""
    return gram_key(text) if field == GRAM_FIELD else word_key(text)


def write_part(index_dir: str | os.PathLike[str]) -> Path:
    """Write the statistics part of the (shard) index at ``index_dir`` into
    it, from its latest committed snapshot."""
    from zhsearch.indexer.snapshot import Snapshot
    from zhsearch.indexer.storage import open_index

    ix = open_index(index_dir)
    with ix.reader() as reader:
        snap = Snapshot(reader, FIELDS)
        try:
            blobs: list[bytes] = []
            size = 0

            def add(data: bytes) -> list[int]:
                nonlocal size
                if size % 8:
                    pad = b"\0" * (8 - size % 8)
                    blobs.append(pad)
                    size += len(pad)
                where = [size, len(data), crc(data)]
                blobs.append(data)
                size += len(data)
                return where

            fields = {}
            for field in FIELDS:
                keys, dfs = snap.doc_frequencies(field)
                entry = {
                    "keys": add(np.ascontiguousarray(keys, dtype="<u8").tobytes()),
                    "df": add(np.ascontiguousarray(dfs, dtype="<i8").tobytes()),
                    "count": len(keys),
                }
                if field != GRAM_FIELD:
                    entry["words"] = add(zlib.compress("\n".join(snap.lexicon(field)).encode("utf-8", "surrogatepass")))
                fields[field] = entry
            header = {
                "sections": snap.n_alive,
                "length_sums": {f: snap.length_sums[f] for f in FIELDS},
                "fields": fields,
            }
        finally:
            snap.close()
    path = Path(index_dir) / PART
    write_file(path, [head(MAGIC, header), *blobs])
    return path


class ShardPart:
    """One shard's statistics part, memory-mapped and checked on opening."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._map, header, self._data = open_mapped(path, MAGIC, "collection statistics")
        try:
            self.sections = int(header["sections"])
            self.length_sums = {str(f): float(v) for f, v in header["length_sums"].items()}
            self._fields = {
                f: (self._array(e["keys"], "<u8", e["count"]), self._array(e["df"], "<i8", e["count"]), e.get("words"))
                for f, e in header["fields"].items()
            }
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise FormatError(f"{path}: the collection statistics header is damaged ({exc!r})") from None

    def _bytes(self, at: list[int]) -> memoryview:
        o = self._data + at[0]
        raw = memoryview(self._map)[o : o + at[1]]
        if len(raw) != at[1] or crc(raw) != at[2]:
            raise FormatError(f"{self.path}: damaged data at byte {o} (checksum mismatch or truncated)")
        return raw

    def _array(self, at: list[int], dtype: str, count: int) -> np.ndarray:
        return np.frombuffer(self._bytes(at), dtype=dtype, count=count)

    def frequencies(self, field: str, keys: np.ndarray) -> np.ndarray:
        """The document frequencies of term ``keys`` of ``field`` (0: absent)."""
        entry = self._fields.get(field)
        if entry is None or not len(entry[0]):
            return np.zeros(len(keys), dtype=np.int64)
        known, dfs, _ = entry
        i = np.minimum(np.searchsorted(known, keys), len(known) - 1)
        return np.where(known[i] == keys, dfs[i], 0)

    def lexicon(self, field: str) -> list[str]:
        """The sorted words of word field ``field``."""
        return self._words.get(field, [])

    @cached_property
    def _words(self) -> dict[str, list[str]]:
        out = {}
        for f, (_, _, at) in self._fields.items():
            if at is not None:
                text = zlib.decompress(self._bytes(at)).decode("utf-8", "surrogatepass")
                out[f] = text.split("\n") if text else []
        return out
