"""The Whoosh segment format: W3 with small lists inlined and stored fields
that come packed.

Whoosh writes every term's postings as a pickled, compressed block with its
own header, about 150 bytes even for a term that occurs once.  A bigram index
has hundreds of thousands of such rare terms.  W3 was meant to store short
posting lists inside the term dictionary instead ("inlining"), but a typo in
Whoosh 2.7.4 (``set_inline`` for ``set_inlined``) means it never could; this
codec does it, for lists shorter than ``INLINE_LIMIT``.  Reading needs nothing
new: Whoosh's reader already understands inlined postings.

Stored fields are data, not pickles: Whoosh pickles every document's stored
values, and unpickling a file someone else wrote runs their code.  Here they
are MessagePack (msgspec), zlib-compressed, in Whoosh's stored column; the
per-document reader decodes them (:func:`unpack_stored`), so Whoosh's own
``stored_fields`` and its segment merging read and write the same format.
Packing was also the bottleneck of a parallel build when done in the process
that writes the segment, so a document may bring its values already packed
by a worker (:func:`pack_stored`) in the ``PACKED`` field; they are written
as they are.
"""

from __future__ import annotations

import zlib
from typing import Any

import msgspec
from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader, W3PerDocWriter, W3PostingsWriter
from whoosh.columns import VarBytesColumn

INLINE_LIMIT = 16
PACKED = "packed"


_ENCODER = msgspec.msgpack.Encoder(enc_hook=str)
_DECODER = msgspec.msgpack.Decoder(dict)


class StoredFieldsError(ValueError):
    """A stored-fields record that is not a zhsearch one (damaged or crafted)."""


def pack_stored(values: dict[str, Any]) -> bytes:
    """A document's stored values as the stored column keeps them."""
    return zlib.compress(_ENCODER.encode(values), 3)


def unpack_stored(blob: bytes | None) -> dict[str, Any]:
    """The stored values :func:`pack_stored` packed (``{}`` for none);
    :class:`StoredFieldsError` if ``blob`` is not such a record."""
    if not blob:
        return {}
    try:
        return _DECODER.decode(zlib.decompress(blob))
    except (zlib.error, msgspec.DecodeError, ValueError) as exc:
        raise StoredFieldsError(f"stored fields are not a zhsearch record ({exc})") from None


# The stored column as it is on disk: one blob per document, no pickling.
RAW_STORED = VarBytesColumn()


class _PackedPerDocWriter(W3PerDocWriter):
    def finish_doc(self):  # noqa: D102 - Whoosh's interface
        sf = self._storedfields
        if sf:
            packed = sf.pop(PACKED, None)
            if packed is not None and sf:
                raise ValueError(f"stored fields {sorted(sf)} given beside packed ones")
            if packed is None:
                packed = pack_stored(sf)
            column = self._get_column("_stored")
            # Past Whoosh's pickling and compressing column wrapper, to its file.
            VarBytesColumn.Writer.add(column._child, self._docnum, packed)
            sf.clear()
        super().finish_doc()


def stored_column(perdoc) -> Any:
    """The raw stored column of a segment's per-document reader (``None``
    when no document stored anything); decode items with :func:`unpack_stored`."""
    return perdoc._cached_reader("_stored", RAW_STORED)


class _DataPerDocReader(W3PerDocReader):
    def stored_fields(self, docnum):  # noqa: D102 - Whoosh's interface
        column = stored_column(self)
        return unpack_stored(column[docnum]) if column is not None else {}


class _InliningPostingsWriter(W3PostingsWriter):
    def finish_postings(self):  # noqa: D102 - Whoosh's interface
        terminfo = self._terminfo
        if not self.written() and len(self) < self._inlinelimit:
            terminfo.add_block(self)
            terminfo.set_inlined(self._ids, self._weights, self._values)
            self._terminfo = None
            return terminfo
        return super().finish_postings()


class ZhCodec(W3Codec):
    """W3 with working inlining of short posting lists and stored fields as data."""

    def __init__(self, blocklimit: int = 128, compression: int = 3, inlinelimit: int = INLINE_LIMIT) -> None:
        super().__init__(blocklimit=blocklimit, compression=compression, inlinelimit=inlinelimit)

    def postings_writer(self, dbfile, byteids=False):  # noqa: D102 - Whoosh's interface
        return _InliningPostingsWriter(
            dbfile,
            blocklimit=self._blocklimit,
            byteids=byteids,
            compression=self._compression,
            inlinelimit=self._inlinelimit,
        )

    def per_document_writer(self, storage, segment):  # noqa: D102 - Whoosh's interface
        return _PackedPerDocWriter(self, storage, segment)

    def per_document_reader(self, storage, segment):  # noqa: D102 - Whoosh's interface
        return _DataPerDocReader(storage, segment)
