"""zhsearch: full-text search for Chinese article collections.

This package is the public API.  Its implementation lives in three
subpackages, one per stage of the pipeline, with dependencies pointing one
way: ``zhsearch.corpus`` (reading articles) → ``zhsearch.indexer`` (analysis
and the on-disk index) → ``zhsearch.search`` (queries, ranking, snippets, the
CLI).  Names are imported lazily so that ``import zhsearch`` stays cheap for
the command line's cold start.

>>> from zhsearch import Searcher, build_index          # doctest: +SKIP
>>> build_index(["articles/"], "my-index")             # doctest: +SKIP
>>> with Searcher("my-index") as s:                    # doctest: +SKIP
...     for hit in s.search("网贷逾期多久会上门走访").hits:
...         print(hit.title, hit.section.path)
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# In a source checkout the subpackages sit beside this directory (corpus/,
# indexer/, search/ at the top of the repository); in an installed wheel they
# are inside it.  Either way they are imported as zhsearch.corpus etc.
_here = os.path.dirname(os.path.abspath(__file__))
if not os.path.isdir(os.path.join(_here, "indexer")):  # pragma: no branch
    __path__.append(os.path.dirname(_here))  # noqa: F821 - package __path__

__version__ = "0.2.0"

_EXPORTS: dict[str, str] = {
    "Article": "zhsearch.corpus.model",
    "Section": "zhsearch.corpus.model",
    "ZhsearchError": "zhsearch.corpus.errors",
    "ReadError": "zhsearch.corpus.errors",
    "IndexNotFoundError": "zhsearch.corpus.errors",
    "IndexMismatchError": "zhsearch.corpus.errors",
    "IndexLockedError": "zhsearch.corpus.errors",
    "IndexDamagedError": "zhsearch.corpus.errors",
    "DiskWriteError": "zhsearch.corpus.errors",
    "DirectoryInUseError": "zhsearch.corpus.errors",
    "WorkerDiedError": "zhsearch.corpus.errors",
    "ArticleNotFoundError": "zhsearch.corpus.errors",
    "OptionError": "zhsearch.corpus.errors",
    "WordListError": "zhsearch.corpus.errors",
    "ConfigError": "zhsearch.corpus.errors",
    "build_index": "zhsearch.indexer.build",
    "check_index": "zhsearch.indexer.build",
    "IndexReport": "zhsearch.indexer.build",
    "CheckReport": "zhsearch.indexer.build",
    "Skipped": "zhsearch.indexer.build",
    "Progress": "zhsearch.indexer.build",
    "remove": "zhsearch.indexer.build",
    "RemoveReport": "zhsearch.indexer.build",
    "watch": "zhsearch.indexer.watch",
    "Searcher": "zhsearch.search.searcher",
    "Hit": "zhsearch.search.searcher",
    "Results": "zhsearch.search.searcher",
    "SectionRef": "zhsearch.search.searcher",
    "IndexStats": "zhsearch.search.searcher",
    "search": "zhsearch.search.searcher",
    "related": "zhsearch.search.searcher",
    "show": "zhsearch.search.searcher",
    "stats": "zhsearch.search.searcher",
    "evaluate": "zhsearch.search.evaluation",
    "EvalReport": "zhsearch.search.evaluation",
    "complete": "zhsearch.search.searcher",
    "Completion": "zhsearch.search.complete",
    "config": "zhsearch.search.config",
    "Config": "zhsearch.search.config",
    "Setting": "zhsearch.search.config",
    "Prior": "zhsearch.search.authority",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'zhsearch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from zhsearch.corpus.errors import (
        ArticleNotFoundError,
        ConfigError,
        DirectoryInUseError,
        DiskWriteError,
        IndexDamagedError,
        IndexLockedError,
        IndexMismatchError,
        IndexNotFoundError,
        OptionError,
        ReadError,
        WordListError,
        WorkerDiedError,
        ZhsearchError,
    )
    from zhsearch.corpus.model import Article, Section
    from zhsearch.indexer.build import (
        CheckReport,
        IndexReport,
        Progress,
        RemoveReport,
        Skipped,
        build_index,
        check_index,
        remove,
    )
    from zhsearch.indexer.watch import watch
    from zhsearch.search.authority import Prior
    from zhsearch.search.complete import Completion
    from zhsearch.search.config import Config, Setting, config
    from zhsearch.search.evaluation import EvalReport, evaluate
    from zhsearch.search.searcher import (
        Hit,
        IndexStats,
        Results,
        Searcher,
        SectionRef,
        complete,
        related,
        search,
        show,
        stats,
    )
