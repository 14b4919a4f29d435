"""The one exception hierarchy of zhsearch.

It lives at the bottom of the dependency chain (``corpus`` -> ``indexer`` ->
``search``) so every layer can raise and catch the same types.  A message says
what happened, in the library's terms; the error's fields carry what a front
end needs to say what to do (the index, the file, the user dictionary), and
the CLI adds the command to run (``search.cli.hint``), prints it as one line
and exits non-zero.
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
    """There is no index where one was expected: ``index_dir`` is where;
    ``occupied`` if something else is there (a folder that is not an index)."""

    def __init__(self, message: str, *, index_dir: str = "", occupied: bool = False) -> None:
        super().__init__(message)
        self.index_dir = index_dir
        self.occupied = occupied


class IndexMismatchError(ZhsearchError):
    """The index was built by another format version or analyzer settings,
    or with other options; rebuilding it fixes that.

    ``index_dir`` is the index (empty when not known), ``user_dict`` the
    user dictionary a rebuild should be given (empty: none), ``shards`` the
    number of shards asked for (0: not about shards).
    """

    def __init__(self, message: str, *, index_dir: str = "", user_dict: str = "", shards: int = 0) -> None:
        super().__init__(message)
        self.index_dir = index_dir
        self.user_dict = user_dict
        self.shards = shards


class IndexLockedError(ZhsearchError):
    """Another process is writing to the index: ``index_dir``, and the
    process id ``holder`` (empty when unknown)."""

    def __init__(self, message: str, *, index_dir: str = "", holder: str = "") -> None:
        super().__init__(message)
        self.index_dir = index_dir
        self.holder = holder


class DirectoryInUseError(ZhsearchError):
    """An index was to be written into ``path``, which holds something else
    (zhsearch never replaces a directory it did not create)."""

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class WorkerDiedError(ZhsearchError):
    """An indexing worker process died; nothing was committed.
    ``exit_codes`` are the workers' exit codes."""

    def __init__(self, message: str, *, exit_codes: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.exit_codes = exit_codes


class ArticleNotFoundError(ZhsearchError):
    """No article with the requested id is in the index."""


class OptionError(ZhsearchError):
    """A search option has a value zhsearch cannot use (a date, a facet or
    sort name)."""


class WordListError(ZhsearchError):
    """A synonym file or user dictionary cannot be read or has a bad line."""


class IndexDamagedError(IndexMismatchError):
    """A file of the index is missing, truncated or does not match its
    checksum; rebuilding the index repairs it.

    ``index_dir`` is the index, ``file`` the damaged file's name (empty when
    the damage is not in one file) and ``reason`` what is wrong with it.
    """

    def __init__(self, message: str, *, index_dir: str = "", file: str = "", reason: str = "") -> None:
        super().__init__(message, index_dir=index_dir)
        self.file = file
        self.reason = reason or message


class DiskWriteError(ZhsearchError):
    """Writing the index failed (no space, no permission, a read-only file
    system); what the failed run wrote has been removed and the last good
    index is unchanged.  ``errno`` is the system's error number."""

    def __init__(self, message: str, *, errno: int = 0, path: str = "") -> None:
        super().__init__(message)
        self.errno = errno
        self.path = path


class ConfigError(ZhsearchError):
    """A config file cannot be read or has a bad setting."""
