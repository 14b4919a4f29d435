"""Pickles read from an index are data, never code.

Whoosh pickles its table of contents (the schema and the segment list) and
small things inside its segment files (block headers, inlined postings,
column headers).  ``pickle.loads`` on a file someone else can write runs any
code they like, so every pickle Whoosh reads goes through
:func:`restricted_loads`: an unpickler whose ``find_class`` admits only the
classes a zhsearch schema and segment list are made of (:data:`ALLOWED`);
anything else raises :class:`UnsafePickleError`, a ``ZhsearchError``.

:func:`install` points Whoosh's reading modules at it.  They import
``loads``/``load`` by name, so the names are replaced in each module; it is
idempotent and done once, when ``indexer.storage`` is imported (every index
is opened through it).  Whoosh's writers keep the standard ``pickle.dumps``.
"""

from __future__ import annotations

import io
import pickle
from typing import Any, BinaryIO

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


class _PickleModule:
    """What ``whoosh.index`` uses of the ``pickle`` module, reading restricted."""

    dumps = staticmethod(pickle.dumps)
    loads = staticmethod(restricted_loads)
    PicklingError = pickle.PicklingError


def install() -> None:
    """Make Whoosh read every pickle with :func:`restricted_loads`."""
    import whoosh.codec.plaintext
    import whoosh.codec.whoosh3
    import whoosh.columns
    import whoosh.filedb.structfile
    import whoosh.formats
    import whoosh.index

    for module in (whoosh.codec.whoosh3, whoosh.columns, whoosh.formats, whoosh.codec.plaintext):
        module.loads = restricted_loads  # type: ignore[attr-defined]
    whoosh.filedb.structfile.load_pickle = restricted_load  # type: ignore[attr-defined]
    whoosh.index.pickle = _PickleModule  # type: ignore[attr-defined]
