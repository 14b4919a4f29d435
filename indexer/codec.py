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
by a worker in the ``PACKED`` field; they are written as they are.  A worker
packs an article's sections in runs (:func:`pack_stored_runs`): one zlib
stream for up to ``STORED_BLOCK`` sections in the first one's record, a
two-byte reference in the others' — the title, source and metadata every
section repeats, and a law's clauses' shared words, compress once (stored
fields went from 73 to 28 MB on the laws).  :class:`StoredRecords` reads
both kinds, and single records of indexes written before.

The read side serves the text postings to Whoosh too.  They live beside
each segment in zhsearch's own file (``indexer.postings``), not in Whoosh's
term dictionary; :class:`TextTermsReader` answers Whoosh's questions about
the text fields (``title``, ``heading``, ``body``, ``grams``) from that file
— which terms, their statistics, a matcher over a term's block — and
everything else from Whoosh's own files, and the per-document reader gives
the fields' lengths from it.  So a plain ``whoosh.index.open_dir`` with
Whoosh's ``QueryParser`` and ``Searcher`` finds sections by their words and
scores them with Whoosh's own BM25F: a reference for ``search.ranking``
(``tests/indexer/test_whoosh_reference.py``).  zhsearch itself reads the
postings through ``indexer.snapshot``; the file is opened here only when
Whoosh is asked about a text field.
"""

from __future__ import annotations

import bisect
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from whoosh.codec.base import FieldCursor, TermsReader
from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader, W3PerDocWriter, W3PostingsWriter
from whoosh.columns import VarBytesColumn
from whoosh.matching import ListMatcher
from whoosh.reading import TermInfo, TermNotFound
from zhsearch.indexer.postings import GRAM_FIELD, SUFFIX, WORD_FIELDS, SegmentPostings
from zhsearch.indexer.safepickle import SafeLeafMatcher, SafeTermsReader

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


# Consecutive sections of one article packed together (their title, source
# and metadata repeat, and so do a law's clauses' words): a third of the
# size of one zlib stream per section.  At most this many sections a block.
STORED_BLOCK = 16
# First bytes of a block's record and of a reference to it; a record of
# one section is a zlib stream, which starts with neither.
_BLOCK = 1
_REF = 2
_RAWS = msgspec.msgpack.Decoder(list[msgspec.Raw])


def pack_stored_runs(records: list[dict[str, Any]]) -> list[bytes]:
    """The stored values of consecutive sections of one article, as the
    stored column keeps them: each run of ``STORED_BLOCK`` sections packed
    in its first section's record, the others a two-byte reference to it
    (how many documents back it is).  Sections are deleted and merged an
    article at a time, so a reference always finds its block."""
    out: list[bytes] = []
    for a in range(0, len(records), STORED_BLOCK):
        run = records[a : a + STORED_BLOCK]
        out.append(bytes([_BLOCK]) + zlib.compress(_ENCODER.encode(run), 6))
        out.extend(bytes([_REF, k]) for k in range(1, len(run)))
    return out


class StoredRecords:
    """A segment's stored values by document number, from its raw stored
    column (:func:`stored_column`): single records and packed runs, the last
    few runs kept decoded (a search reads neighbouring sections)."""

    _KEEP = 16

    def __init__(self, column: Any) -> None:
        self.column = column
        self._runs: dict[int, list[msgspec.Raw]] = {}

    def __getitem__(self, docnum: int) -> dict[str, Any]:
        blob = self.column[docnum]
        if not blob or blob[0] not in (_BLOCK, _REF):
            return unpack_stored(blob)
        k = blob[1] if blob[0] == _REF and len(blob) == 2 else 0
        if blob[0] == _REF and (len(blob) != 2 or not 0 < k <= docnum):
            raise StoredFieldsError("stored fields are not a zhsearch record (a bad reference)")
        owner = docnum - k
        run = self._runs.get(owner)
        if run is None:
            data = blob if k == 0 else self.column[owner]
            try:
                if not data or data[0] != _BLOCK:
                    raise ValueError("a reference to no block")
                run = _RAWS.decode(zlib.decompress(data[1:]))
            except (zlib.error, msgspec.DecodeError, ValueError) as exc:
                raise StoredFieldsError(f"stored fields are not a zhsearch record ({exc})") from None
            if len(self._runs) >= self._KEEP:
                self._runs.clear()
            self._runs[owner] = run
        if k >= len(run):
            raise StoredFieldsError("stored fields are not a zhsearch record (a reference past its block)")
        try:
            return _DECODER.decode(run[k])
        except (msgspec.DecodeError, ValueError) as exc:
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
    return perdoc.column_reader("_stored", RAW_STORED) if perdoc.has_column("_stored") else None


# The fields whose postings are in zhsearch's own file, not Whoosh's.
TEXT_POSTINGS_FIELDS = (*WORD_FIELDS, GRAM_FIELD)


class _SegmentText:
    """The text postings file of one segment, opened when first asked for
    (zhsearch's own reading never asks: it opens the file in its snapshot).
    A segment without one — a segment being written, or a storage that is
    not a folder — has no text terms."""

    def __init__(self, storage: Any, segment: Any) -> None:
        folder = getattr(storage, "folder", None)
        self._path = Path(str(folder)) / f"{segment.segment_id()}{SUFFIX}" if folder is not None else None
        self._store: SegmentPostings | None = None
        self._opened = False
        self._texts: dict[str, list[bytes]] = {}

    def store(self, fieldname: str) -> SegmentPostings | None:
        """The postings, if they hold field ``fieldname``."""
        if not self._opened:
            self._opened = True
            if self._path is not None and self._path.exists():
                self._store = SegmentPostings(self._path)
        store = self._store
        return store if store is not None and store.has_field(fieldname) else None

    def index(self, fieldname: str, tbytes: bytes) -> tuple[SegmentPostings, int] | None:
        store = self.store(fieldname)
        if store is None:
            return None
        i = store.term_index(fieldname, tbytes.decode("utf-8", "surrogatepass"))
        return (store, i) if i >= 0 else None

    def texts(self, fieldname: str) -> list[bytes]:
        """The field's terms as Whoosh orders them (UTF-8, sorted).  A word
        field keeps its words; a bigram field's terms are rebuilt from their
        keys, except non-CJK words there, which are stored hashed (they are
        found by :meth:`index`, not listed)."""
        texts = self._texts.get(fieldname)
        if texts is None:
            store = self.store(fieldname)
            if store is None:
                texts = []
            elif fieldname in WORD_FIELDS:
                texts = [w.encode("utf-8", "surrogatepass") for w in store.lexicon(fieldname)]
            else:
                texts = sorted(
                    t.encode("utf-8", "surrogatepass")
                    for t in map(_gram_text, store.term_keys(fieldname).tolist())
                    if t
                )
            self._texts[fieldname] = texts
        return texts

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _gram_text(key: int) -> str:
    """The bigram-field term stored under ``key`` (see ``postings.gram_key``);
    ``""`` for a hashed one."""
    if key >> 63:
        return ""
    return chr(key) if key < 1 << 21 else chr(key >> 21) + chr(key & 0x1FFFFF)


class _TextMatcher(ListMatcher):
    """A term's postings decoded from its block of the postings file: section
    numbers and frequencies, with the term's statistics for Whoosh's
    block-quality pruning (Whoosh's ``ListMatcher.copy`` drops them; a copy
    here is made anew and moved to the same posting)."""

    def __init__(self, ids: list[int], weights: list[float], format_: Any, scorer: Any, term: Any, info: Any) -> None:
        super().__init__(ids, weights, format=format_, scorer=scorer, term=term, terminfo=info)
        self._made_from = (ids, weights, format_, scorer, term, info)

    def copy(self):  # noqa: D102 - Whoosh's interface
        ids, weights, format_, scorer, term, info = self._made_from
        if not self.is_active():
            return _TextMatcher([], [], format_, scorer, term, info)
        twin = _TextMatcher(ids, weights, format_, scorer, term, info)
        twin.skip_to(self.id())
        return twin


class _TextCursor(FieldCursor):
    """A cursor over a text field's sorted terms (fuzzy and spelling look-ups)."""

    def __init__(self, texts: list[bytes], fieldobj: Any) -> None:
        self._texts = texts
        self._fieldobj = fieldobj
        self._i = 0

    def first(self):  # noqa: D102 - Whoosh's interface
        self._i = 0
        return self.text()

    def find(self, term):  # noqa: D102 - Whoosh's interface
        if not isinstance(term, bytes):
            term = self._fieldobj.to_bytes(term)
        self._i = bisect.bisect_left(self._texts, term)
        return self.text()

    def next(self):  # noqa: D102 - Whoosh's interface
        self._i += 1
        return self.text()

    def text(self):  # noqa: D102 - Whoosh's interface
        return self._texts[self._i].decode("utf-8", "surrogatepass") if self.is_valid() else None

    def term(self):  # noqa: D102 - Whoosh's interface
        return self._texts[self._i] if self.is_valid() else None

    def is_valid(self) -> bool:  # noqa: D102 - Whoosh's interface
        return self._i < len(self._texts)


class TextTermsReader(TermsReader):
    """Whoosh's terms reader for a zhsearch segment: the text fields from the
    postings file beside it, the other fields from Whoosh's term dictionary."""

    def __init__(self, documents: TermsReader, text: _SegmentText) -> None:
        self._documents = documents
        self._text = text

    def _found(
        self, fieldname: str, tbytes: bytes, missing: type[Exception] = TermNotFound
    ) -> tuple[SegmentPostings, int]:
        # Whoosh's readers raise TermNotFound for postings, KeyError for counts.
        found = self._text.index(fieldname, tbytes)
        if found is None:
            raise missing(f"no term {fieldname}:{tbytes!r}")
        return found

    def __contains__(self, term):
        fieldname, tbytes = term
        if fieldname in TEXT_POSTINGS_FIELDS:
            return self._text.index(fieldname, tbytes) is not None
        return term in self._documents

    def indexed_field_names(self):  # noqa: D102 - Whoosh's interface
        ours = [f for f in TEXT_POSTINGS_FIELDS if self._text.store(f) is not None]
        return [*self._documents.indexed_field_names(), *ours]

    def cursor(self, fieldname, fieldobj):  # noqa: D102 - Whoosh's interface
        if fieldname in TEXT_POSTINGS_FIELDS:
            return _TextCursor(self._text.texts(fieldname), fieldobj)
        return self._documents.cursor(fieldname, fieldobj)

    def _field_terms(self, fieldname: str, prefix: bytes = b"") -> Iterator[tuple[str, bytes]]:
        texts = self._text.texts(fieldname)
        return ((fieldname, t) for t in texts[bisect.bisect_left(texts, prefix) :])

    def terms(self):  # noqa: D102 - Whoosh's interface
        yield from self._documents.terms()
        for fieldname in TEXT_POSTINGS_FIELDS:
            yield from self._field_terms(fieldname)

    def terms_from(self, fieldname, prefix):  # noqa: D102 - Whoosh's interface
        if fieldname in TEXT_POSTINGS_FIELDS:
            return self._field_terms(fieldname, prefix)
        return self._documents.terms_from(fieldname, prefix)

    def items(self):  # noqa: D102 - Whoosh's interface
        yield from self._documents.items()
        for term in self.terms():
            if term[0] in TEXT_POSTINGS_FIELDS:
                yield term, self.term_info(*term)

    def items_from(self, fieldname, prefix):  # noqa: D102 - Whoosh's interface
        if fieldname not in TEXT_POSTINGS_FIELDS:
            return self._documents.items_from(fieldname, prefix)
        return ((term, self.term_info(*term)) for term in self._field_terms(fieldname, prefix))

    def _postings(self, fieldname: str, tbytes: bytes) -> tuple[np.ndarray, np.ndarray, TermInfo]:
        store, i = self._found(fieldname, tbytes)
        ids, tfs = store.postings_at(fieldname, i)
        lengths = store.lengths(fieldname)[ids]
        info = TermInfo(
            weight=float(tfs.sum()),
            df=len(ids),
            minlength=int(lengths.min()),
            maxlength=int(lengths.max()),
            maxweight=float(tfs.max()),
            minid=int(ids[0]),
            maxid=int(ids[-1]),
        )
        return ids, tfs, info

    def term_info(self, fieldname, tbytes):  # noqa: D102 - Whoosh's interface
        if fieldname in TEXT_POSTINGS_FIELDS:
            return self._postings(fieldname, tbytes)[2]
        return self._documents.term_info(fieldname, tbytes)

    def frequency(self, fieldname, tbytes):  # noqa: D102 - Whoosh's interface
        if fieldname in TEXT_POSTINGS_FIELDS:
            store, i = self._found(fieldname, tbytes, KeyError)
            return float(store.postings_at(fieldname, i)[1].sum())
        return self._documents.frequency(fieldname, tbytes)

    def doc_frequency(self, fieldname, tbytes):  # noqa: D102 - Whoosh's interface
        if fieldname in TEXT_POSTINGS_FIELDS:
            store, i = self._found(fieldname, tbytes, KeyError)
            return int(store.doc_frequencies(fieldname)[i])
        return self._documents.doc_frequency(fieldname, tbytes)

    def matcher(self, fieldname, tbytes, format_, scorer=None):  # noqa: D102 - Whoosh's interface
        if fieldname not in TEXT_POSTINGS_FIELDS:
            return self._documents.matcher(fieldname, tbytes, format_, scorer=scorer)
        ids, tfs, info = self._postings(fieldname, tbytes)
        return _TextMatcher(ids.tolist(), tfs.tolist(), format_, scorer, (fieldname, tbytes), info)

    def close(self) -> None:
        self._documents.close()
        self._text.close()


class _DataPerDocReader(W3PerDocReader):
    def __init__(self, storage, segment):
        super().__init__(storage, segment)
        self._text = _SegmentText(storage, segment)
        self._stored_reader: tuple[StoredRecords | None] | None = None

    def stored_fields(self, docnum):  # noqa: D102 - Whoosh's interface
        if self._stored_reader is None:
            column = stored_column(self)
            self._stored_reader = (StoredRecords(column) if column is not None else None,)
        records = self._stored_reader[0]
        return records[docnum] if records is not None else {}

    def _cached_reader(self, fieldname, column):  # noqa: D102 - Whoosh's interface
        # Whoosh asks for a lengths column on every posting it writes (a
        # file-system stat each time, when the field has none: the article
        # and file keys); the answer is remembered, absent ones too.
        if fieldname not in self._readers:
            self._readers[fieldname] = super()._cached_reader(fieldname, column)
        return self._readers[fieldname]

    def _text_lengths(self, fieldname: str) -> np.ndarray | None:
        if fieldname not in TEXT_POSTINGS_FIELDS:
            return None
        store = self._text.store(fieldname)
        return store.lengths(fieldname) if store is not None else np.zeros(0, dtype=np.uint32)

    def doc_field_length(self, docnum, fieldname, default=0):  # noqa: D102 - Whoosh's interface
        lengths = self._text_lengths(fieldname)
        if lengths is None:
            return super().doc_field_length(docnum, fieldname, default)
        return int(lengths[docnum]) if docnum < len(lengths) else default

    def field_length(self, fieldname):  # noqa: D102 - Whoosh's interface
        lengths = self._text_lengths(fieldname)
        return super().field_length(fieldname) if lengths is None else int(lengths.sum(dtype=np.int64))

    def min_field_length(self, fieldname):  # noqa: D102 - Whoosh's interface
        lengths = self._text_lengths(fieldname)
        if lengths is None:
            return super().min_field_length(fieldname)
        return int(lengths.min()) if len(lengths) else 0

    def max_field_length(self, fieldname):  # noqa: D102 - Whoosh's interface
        lengths = self._text_lengths(fieldname)
        if lengths is None:
            return super().max_field_length(fieldname)
        return int(lengths.max()) if len(lengths) else 0

    def close(self):  # noqa: D102 - Whoosh's interface
        super().close()
        self._text.close()


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

    def terms_reader(self, storage, segment):  # noqa: D102 - Whoosh's interface
        return TextTermsReader(_w3_terms_reader(self, storage, segment), _SegmentText(storage, segment))

    # Reading: pickles in the segment files are read restricted (see
    # indexer.safepickle), wherever the index is opened from.

    def postings_reader(self, dbfile, terminfo, format_, term=None, scorer=None):  # noqa: D102 - Whoosh's interface
        if terminfo.is_inlined():
            return super().postings_reader(dbfile, terminfo, format_, term=term, scorer=scorer)
        offset, length = terminfo.extent()
        return SafeLeafMatcher(dbfile, offset, length, format_, term=term, scorer=scorer)


def _w3_terms_reader(codec: W3Codec, storage: Any, segment: Any) -> SafeTermsReader:
    """W3's terms reader of what Whoosh wrote, with term infos unpickled restricted."""
    name = segment.make_filename(codec.TERMS_EXT)
    postfile = segment.open_file(storage, codec.POSTS_EXT)
    return SafeTermsReader(codec, storage.open_file(name), storage.file_length(name), postfile)


class DocumentsCodec(ZhCodec):
    """:class:`ZhCodec` reading only what Whoosh wrote itself, not the text
    postings: for copying a segment's documents when merging (the postings
    are merged on their own, ``indexer.merge``)."""

    def terms_reader(self, storage, segment):  # noqa: D102 - Whoosh's interface
        return _w3_terms_reader(self, storage, segment)
