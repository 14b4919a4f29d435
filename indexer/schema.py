"""The Whoosh schema: one document per article section.

Every section document carries its article's id, title and metadata, so a
query can match title, heading and body together and still answer with one
section.  ``heading`` holds the whole heading path, so a section is found by
the chapter it sits under as well as by its own heading.

Text is indexed twice: as jieba words per field (title, heading, body; ranked
BM25F-style) and as character bigrams of the section's heading path and body
(``grams``: exact phrases, and recall when a question segments differently
from the article).  The title, shared by all sections of an article, is left
out of the bigrams so a phrase picks the section that contains it.

Those text postings are not written by Whoosh: they are written beside each
Whoosh segment by ``indexer.postings`` (Whoosh's per-posting Python cost is
too high for millions of bigrams).  Whoosh holds what documents need besides:
stored text and metadata, ids, filter keywords, dates.  The text fields are
in the schema all the same, with the analyzers that cut them, and
``indexer.codec`` serves their postings to Whoosh's reader: a plain Whoosh
query parser and searcher work on the index.  The ``analysis`` field is
never filled; it carries the word analyzer, user dictionary included,
pickled with the schema, so queries are cut like the articles were.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from whoosh.fields import ID, STORED, TEXT, Schema
from zhsearch.indexer.analysis import GramTokenizer, Settings, UserDict, load_user_dict, word_analyzer
from zhsearch.indexer.postings import GRAM_FIELD, WORD_FIELDS

if TYPE_CHECKING:
    from zhsearch.corpus.errors import IndexMismatchError

# Bump when documents are laid out differently; old indexes must be rebuilt.
# 5: the text fields are in the schema (Whoosh can search them).
SCHEMA_VERSION = 5

TEXT_FIELDS = WORD_FIELDS
FIELD_WEIGHTS = {"title": 2.0, "heading": 1.5, "body": 1.0}
__all__ = ["GRAM_FIELD", "TEXT_FIELDS", "FIELD_WEIGHTS", "SCHEMA_VERSION", "make_schema"]


def make_schema(settings: Settings) -> Schema:
    """The schema for an index analysed with ``settings``."""
    words = word_analyzer(settings)
    return Schema(
        # Not sortable: nothing reads a column of article ids (the postings
        # number sections by article), and at one id per section it was an
        # eighth of a clause-sectioned index.
        article=ID(),
        # The stored values of a section (the fields below), packed by a
        # worker (see indexer.codec); Whoosh's reader returns the stored
        # fields the schema names.
        packed=STORED(),
        section=STORED(),
        # Text fields, read through indexer.codec: no positions (phrases
        # are their bigrams, confirmed on the text), frequencies only.
        title=TEXT(analyzer=words, phrase=False, stored=True),
        heading=TEXT(analyzer=words, phrase=False),
        body=TEXT(analyzer=words, phrase=False, stored=True),
        grams=TEXT(analyzer=GramTokenizer(), phrase=False),
        data=STORED(),
        source=STORED(),
        analysis=TEXT(analyzer=words),
        filekey=ID(),
    )


def recorded_user_dict(schema: Schema) -> UserDict | None:
    """The user dictionary an index was built with: its word tokenizer,
    pickled in the index with the schema, carries it."""
    analyzer = schema["analysis"].analyzer if "analysis" in schema else None
    return getattr(analyzer, "user_dict", None)


def user_dict_mismatch(
    index_dir: object, recorded: UserDict | None, wanted: UserDict | None
) -> IndexMismatchError | None:
    """Why an index built with ``recorded`` can't be used with ``wanted``
    (``None``: it can; no dictionary asked for means the recorded one): the
    error to raise, naming the dictionary a rebuild should be given."""
    if wanted is None or (recorded is not None and recorded.digest == wanted.digest):
        return None
    from zhsearch.corpus.errors import IndexMismatchError

    built = (
        f"with the user dictionary {recorded.path or '(unnamed)'} ({len(recorded.entries)} words)"
        if recorded is not None
        else "without a user dictionary"
    )
    return IndexMismatchError(
        f"index at {index_dir} was built {built}, not with {wanted.path or 'this one'}",
        index_dir=str(index_dir),
        user_dict=wanted.path or "FILE",
    )


def user_dict_changed(recorded: UserDict | None) -> bool:
    """Whether the file an index's user dictionary was read from now holds
    other words (a file that is gone or unreadable is not a change: the
    index keeps its own copy)."""
    if recorded is None or not recorded.path:
        return False
    from zhsearch.corpus.errors import WordListError

    try:
        return load_user_dict(recorded.path).digest != recorded.digest
    except WordListError:
        return False
