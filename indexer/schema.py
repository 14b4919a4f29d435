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

from indexer.analysis import Settings, gram_analyzer, word_analyzer

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
