"""The Whoosh segment format: W3 with small lists inlined and stored fields
that come packed.

Whoosh writes every term's postings as a pickled, compressed block with its
own header, about 150 bytes even for a term that occurs once.  A bigram index
has hundreds of thousands of such rare terms.  W3 was meant to store short
posting lists inside the term dictionary instead ("inlining"), but a typo in
Whoosh 2.7.4 (``set_inline`` for ``set_inlined``) means it never could; this
codec does it, for lists shorter than ``INLINE_LIMIT``.  Reading needs nothing
new: Whoosh's reader already understands inlined postings.

Stored fields: Whoosh pickles and compresses every document's stored values
in the process that writes the segment, which made it the bottleneck of a
parallel build.  A document may instead bring them already packed — pickled
and zlib-compressed by a worker (:func:`pack_stored`) — in the ``PACKED``
field; they are written as they are, in the same format, so Whoosh reads
them back unchanged.
"""

from __future__ import annotations

import pickle
import zlib
from typing import Any

from whoosh.codec.whoosh3 import W3Codec, W3PerDocWriter, W3PostingsWriter
from whoosh.columns import VarBytesColumn

INLINE_LIMIT = 16
PACKED = "packed"


def pack_stored(values: dict[str, Any]) -> bytes:
    """A document's stored values as Whoosh's stored column keeps them."""
    return zlib.compress(pickle.dumps(values, pickle.HIGHEST_PROTOCOL), 3)


class _PackedPerDocWriter(W3PerDocWriter):
    def finish_doc(self):  # noqa: D102 - Whoosh's interface
        sf = self._storedfields
        packed = sf.pop(PACKED, None) if sf else None
        if packed is not None:
            if sf:
                raise ValueError(f"stored fields {sorted(sf)} given beside packed ones")
            column = self._get_column("_stored")
            # Past the pickling and compressing column wrapper, to its file.
            VarBytesColumn.Writer.add(column._child, self._docnum, packed)
        super().finish_doc()


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
    """W3 with working inlining of short posting lists and packed stored fields."""

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
