"""The Whoosh schema: one document per article section.

Every section document carries its article's id, title and metadata, so a
query can match title, heading and body together and still answer with one
section.  Text fields come twice: as jieba words (ranked with BM25F) and as
character bigrams (``*_g``: exact phrases, and recall when a query segments
differently from the article).  ``heading`` holds the whole heading path, so
a section is found by the chapter it sits under as well as by its own
heading.
"""

from __future__ import annotations

from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

from indexer.analysis import Settings, gram_analyzer, word_analyzer

# Bump when documents are laid out differently; old indexes must be rebuilt.
SCHEMA_VERSION = 1

TEXT_FIELDS = ("title", "heading", "body")
GRAM_FIELDS = {"title": "title_g", "heading": "heading_g", "body": "body_g"}
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
        title_g=TEXT(analyzer=grams, phrase=True),
        heading_g=TEXT(analyzer=grams, phrase=True),
        body_g=TEXT(analyzer=grams, phrase=True),
        data=STORED(),
        source=ID(stored=True),
        filekey=ID(),
        category=KEYWORD(commas=True, lowercase=True, scorable=False),
        author=KEYWORD(commas=True, lowercase=True, scorable=False),
        tags=KEYWORD(commas=True, lowercase=True, scorable=False),
        date=ID(stored=False, sortable=True),
    )


def section_key(article_id: str, section_index: int) -> str:
    return f"{article_id}\x1f{section_index}"
