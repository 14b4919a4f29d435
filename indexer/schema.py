"""The Whoosh schema: one document per article section.

Every section document carries its article's id, title and metadata, so a
query can match title, heading and body together and still answer with one
section.  ``heading`` holds the whole heading path, so a section is found by
the chapter it sits under as well as by its own heading.

Text is indexed twice: as jieba words per field (title, heading, body; ranked
BM25F-style) and as character bigrams of the section's heading path and body
(``grams``: exact phrases, and recall when a question segments differently
from the article).  One bigram field rather than one per text field, because
Whoosh pays for every distinct term and bigrams are many; the title, shared
by all sections of an article, is left out of it so a phrase picks the
section that contains it.
"""

from __future__ import annotations

from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

from indexer.analysis import Settings, UserDict, gram_analyzer, load_user_dict, word_analyzer

# Bump when documents are laid out differently; old indexes must be rebuilt.
SCHEMA_VERSION = 2

TEXT_FIELDS = ("title", "heading", "body")
GRAM_FIELD = "grams"
FIELD_WEIGHTS = {"title": 2.0, "heading": 1.5, "body": 1.0}


def make_schema(settings: Settings) -> Schema:
    """The schema for an index analysed with ``settings``."""
    words = word_analyzer(settings)
    grams = gram_analyzer()
    return Schema(
        key=ID(unique=True, stored=False),
        article=ID(stored=True, sortable=True),
        section=NUMERIC(int, stored=True),
        title=TEXT(analyzer=words, stored=True, phrase=True),
        heading=TEXT(analyzer=words, stored=False, phrase=True),
        body=TEXT(analyzer=words, stored=True, phrase=True),
        grams=TEXT(analyzer=grams, phrase=True),
        data=STORED(),
        source=ID(stored=True),
        filekey=ID(),
        category=KEYWORD(commas=True, lowercase=True, scorable=False),
        author=KEYWORD(commas=True, lowercase=True, scorable=False),
        tags=KEYWORD(commas=True, lowercase=True, scorable=False),
        date=ID(stored=False, sortable=True),
    )


def gram_text(heading: str, body: str) -> str:
    """What the bigram field indexes for a section: its own text, not the
    article title, which every section shares (a phrase found only in the
    title is matched on the title's words instead)."""
    return f"{heading}\n{body}"


def section_key(article_id: str, section_index: int) -> str:
    return f"{article_id}\x1f{section_index}"


def recorded_user_dict(schema: Schema) -> UserDict | None:
    """The user dictionary an index was built with: its word tokenizer,
    pickled in the index with the schema, carries it."""
    analyzer = schema["body"].analyzer if "body" in schema else None
    return getattr(analyzer, "user_dict", None)


def user_dict_mismatch(index_dir: object, recorded: UserDict | None, wanted: UserDict | None) -> str | None:
    """Why an index built with ``recorded`` can't be used with ``wanted``
    (``None``: it can; no dictionary asked for means the recorded one)."""
    if wanted is None or (recorded is not None and recorded.digest == wanted.digest):
        return None
    built = (
        f"with the user dictionary {recorded.path or '(unnamed)'} ({len(recorded.entries)} words)"
        if recorded is not None
        else "without a user dictionary"
    )
    return (
        f"index at {index_dir} was built {built}, not with {wanted.path or 'this one'}; "
        f"rebuild it with `zhsearch index PATH... --rebuild --user-dict {wanted.path or 'FILE'} --index {index_dir}`"
    )


def user_dict_changed(recorded: UserDict | None) -> bool:
    """Whether the file an index's user dictionary was read from now holds
    other words (a file that is gone or unreadable is not a change: the
    index keeps its own copy)."""
    if recorded is None or not recorded.path:
        return False
    from corpus.errors import WordListError

    try:
        return load_user_dict(recorded.path).digest != recorded.digest
    except WordListError:
        return False
