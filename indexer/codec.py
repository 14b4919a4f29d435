"""The on-disk postings format: Whoosh's W3 codec with small lists inlined.

Whoosh writes every term's postings as a pickled, compressed block with its
own header, about 150 bytes even for a term that occurs once.  A bigram index
has hundreds of thousands of such rare terms.  W3 was meant to store short
posting lists inside the term dictionary instead ("inlining"), but a typo in
Whoosh 2.7.4 (``set_inline`` for ``set_inlined``) means it never could; this
codec does it, for lists shorter than ``INLINE_LIMIT``.  Reading needs nothing
new: Whoosh's reader already understands inlined postings.
"""

from __future__ import annotations

from whoosh.codec.whoosh3 import W3Codec, W3PostingsWriter

INLINE_LIMIT = 16


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
    """W3 with working inlining of short posting lists."""

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
