"""Pickles zhsearch reads from an index are data, never code.

Whoosh pickles its table of contents (the schema and the segment list) and
small things inside its segment files (block headers and data, inlined
postings, column headers).  ``pickle.loads`` on a file someone else can
write runs any code they like, so when *zhsearch* opens an index every such
pickle goes through :func:`restricted_loads`: an unpickler whose
``find_class`` admits only the classes a zhsearch schema and segment list
are made of (:data:`ALLOWED`); anything else raises
:class:`UnsafePickleError`, a ``ZhsearchError``.

The restriction belongs to zhsearch's own reading path, not to the process:
Whoosh's modules are left as they are, so a plain Whoosh index opened with
``whoosh.index.open_dir`` in the same process reads as it always did.  The
path is

- :class:`SafeStructFile`, the file object ``indexer.storage.SafeStorage``
  opens: its ``read_pickle`` (the segment list, postings block headers,
  column and hash-table headers) is restricted;
- :func:`read_toc`, the table of contents with its schema read restricted
  (``indexer.storage.ZhFileIndex`` reads every TOC through it);
- :class:`SafeLeafMatcher` and :class:`SafeTermsReader`, which ``ZhCodec``
  uses for postings block data and inlined term postings.

A plain Whoosh user who opens a zhsearch index with ``open_dir`` goes
through Whoosh's own unrestricted reading: that is their choice.
"""

from __future__ import annotations

import io
import pickle
import zlib
from typing import Any, BinaryIO

from whoosh.codec.whoosh3 import W3FieldCursor, W3LeafMatcher, W3TermInfo, W3TermsReader
from whoosh.filedb.structfile import StructFile
from whoosh.system import _INT_SIZE, _LONG_SIZE
from zhsearch.corpus.errors import IndexDamagedError

# (module, name) of every global a zhsearch index's pickles may refer to:
# what pickling the schema (fields, formats, columns, the analyzer and its
# user dictionary) and the segments (W3Segment with its codec) produces,
# checked by tests/indexer/test_reliability.py.  Only classes, no functions.
ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("builtins", "set"),
        ("__builtin__", "set"),  # protocol 2 names it the Python 2 way
        ("builtins", "frozenset"),
        ("__builtin__", "frozenset"),
        ("builtins", "int"),  # the default factory of a segment's field lengths
        ("__builtin__", "int"),
        ("collections", "defaultdict"),
        ("whoosh.fields", "Schema"),
        ("whoosh.fields", "ID"),
        ("whoosh.fields", "STORED"),
        ("whoosh.fields", "TEXT"),
        ("whoosh.formats", "Existence"),
        ("whoosh.formats", "Positions"),
        ("whoosh.formats", "Frequency"),
        ("whoosh.columns", "VarBytesColumn"),
        ("whoosh.analysis.tokenizers", "IDTokenizer"),
        ("whoosh.codec.whoosh3", "W3Segment"),
        ("zhsearch.indexer.codec", "ZhCodec"),
        ("zhsearch.indexer.analysis", "WordTokenizer"),
        ("zhsearch.indexer.analysis", "GramTokenizer"),
        ("zhsearch.indexer.analysis", "UserDict"),
    }
)


class UnsafePickleError(IndexDamagedError):
    """A pickle in the index names something that is not part of a schema."""


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED:
            raise UnsafePickleError(
                f"the index refers to {module}.{name}, which is not part of a zhsearch schema; refused to load it"
            )
        return super().find_class(module, name)


def restricted_loads(data: bytes, **kwargs: Any) -> Any:
    """``pickle.loads`` admitting only :data:`ALLOWED` globals."""
    return _Restricted(io.BytesIO(data), **kwargs).load()


def restricted_load(file: BinaryIO, **kwargs: Any) -> Any:
    """``pickle.load`` admitting only :data:`ALLOWED` globals."""
    return _Restricted(file, **kwargs).load()


class SafeStructFile(StructFile):
    """Whoosh's file object, reading pickles with :func:`restricted_load`."""

    def read_pickle(self) -> Any:  # noqa: D102 - Whoosh's interface
        return restricted_load(self.file)


def read_toc(storage: Any, indexname: str, gen: int | None = None) -> Any:
    """Whoosh's ``TOC.read`` with the schema unpickled by
    :func:`restricted_loads` (the segment list is read by ``storage``'s
    :class:`SafeStructFile`).  Only the current TOC format is read: older
    ones go through Whoosh's legacy loaders, which unpickle freely."""
    from whoosh.index import _CURRENT_TOC_VERSION, TOC, EmptyIndexError

    if gen is None:
        gen = TOC._latest_generation(storage, indexname)
        if gen < 0:
            raise EmptyIndexError(f"Index {indexname!r} does not exist in {storage!r}")
    stream = storage.open_file(TOC._filename(indexname, gen))
    try:
        if not isinstance(stream, SafeStructFile):
            raise TypeError("read_toc needs a storage that opens SafeStructFile objects")
        for _ in range(3):  # the sizes of int, long and float
            stream.read_varint()
        stream.read_int()  # -12345, the byte order
        version = stream.read_int()
        if version != _CURRENT_TOC_VERSION:
            raise UnsafePickleError(
                f"table of contents format {version}, not Whoosh's current {_CURRENT_TOC_VERSION}; refused to load it"
            )
        for _ in range(3):  # the Whoosh release that wrote it
            stream.read_varint()
        schema = restricted_loads(stream.read_string())
    finally:
        stream.close()
    # Whoosh reads the rest (and checks the header) with this schema given,
    # so it skips its own unpickling of the schema.
    toc = TOC.read(storage, indexname, gen=gen, schema=schema)
    if any(seg.is_compound() for seg in toc.segments):
        # A compound file's parts are read from memory, past SafeStructFile.
        raise UnsafePickleError("a compound segment, which zhsearch never writes; refused to load it")
    return toc


def _read_block_data(matcher: Any) -> None:
    datalen = matcher._nextoffset - matcher._dataoffset
    b = matcher._postfile.get(matcher._dataoffset, datalen)
    if matcher._compression:
        b = zlib.decompress(b)
    matcher._data = restricted_loads(b)


class SafeLeafMatcher(W3LeafMatcher):
    """W3's block matcher, unpickling block data restricted."""

    def _read_data(self) -> None:
        _read_block_data(self)


def terminfo_from_bytes(s: bytes) -> W3TermInfo:
    """``W3TermInfo.from_bytes`` with inlined postings unpickled restricted."""
    st = W3TermInfo._struct
    if not s[:1] or not s[0]:  # no inlined postings: nothing is unpickled
        return W3TermInfo.from_bytes(s)
    # Whoosh's parse of the fixed part, then our unpickling of the rest.
    info = W3TermInfo.from_bytes(b"\x00" + s[1 : st.size] + bytes(_LONG_SIZE + _INT_SIZE))
    info._inlined = restricted_loads(s[st.size :])
    info._offset = info._length = None
    return info


class SafeFieldCursor(W3FieldCursor):
    def term_info(self) -> Any:  # noqa: D102 - Whoosh's interface
        if self._pos is None:
            return None
        return terminfo_from_bytes(self._tindex.dbfile.get(self._datapos, self._datalen))


class SafeTermsReader(W3TermsReader):
    """W3's terms reader, decoding term infos with :func:`terminfo_from_bytes`."""

    def cursor(self, fieldname: str, fieldobj: Any) -> Any:  # noqa: D102 - Whoosh's interface
        return SafeFieldCursor(self._tindex, fieldname, self._keycoder, self._keydecoder, fieldobj)

    def items(self) -> Any:  # noqa: D102 - Whoosh's interface
        decode = self._keydecoder
        return ((decode(k), terminfo_from_bytes(v)) for k, v in self._tindex.items())

    def items_from(self, fieldname: str, prefix: bytes) -> Any:  # noqa: D102 - Whoosh's interface
        decode = self._keydecoder
        items = self._tindex.items_from(self._keycoder(fieldname, prefix))
        return ((decode(k), terminfo_from_bytes(v)) for k, v in items)

    def term_info(self, fieldname: str, tbytes: bytes) -> Any:  # noqa: D102 - Whoosh's interface
        from whoosh.reading import TermNotFound

        try:
            return terminfo_from_bytes(self._tindex[self._keycoder(fieldname, tbytes)])
        except KeyError:
            raise TermNotFound(f"No term {fieldname}:{tbytes!r}") from None
