"""The one exception hierarchy of zhsearch.

It lives at the bottom of the dependency chain (``corpus`` -> ``indexer`` ->
``search``) so every layer can raise and catch the same types.  Every message
says what happened and what the user can do about it; the CLI prints it as one
line and exits non-zero.
"""

from __future__ import annotations


class ZhsearchError(Exception):
    """Base class for every error zhsearch raises on purpose."""

    exit_code = 2


class ReadError(ZhsearchError):
    """A file could not be read as an article collection."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class IndexNotFoundError(ZhsearchError):
    """There is no index where one was expected."""


class IndexMismatchError(ZhsearchError):
    """The index was built by another format version or analyzer settings."""


class IndexLockedError(ZhsearchError):
    """Another process is writing to the index."""


class ArticleNotFoundError(ZhsearchError):
    """No article with the requested id is in the index."""


class OptionError(ZhsearchError):
    """A search option has a value zhsearch cannot use (a date, a facet or
    sort name)."""


class WordListError(ZhsearchError):
    """A synonym file or user dictionary cannot be read or has a bad line."""
