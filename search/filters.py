"""Filters, facets and date order: article metadata as numpy arrays.

Every section document carries its article's metadata (category, author,
tags, date, source file).  The first time a query on an index snapshot
filters, counts facets or sorts by date, :meth:`ArticleColumns.read` reads it
once — one stored document per article — into per-article arrays.  Then:

* a **filter** is a boolean mask over articles (values of one field OR-ed,
  fields AND-ed), spread to sections through ``Ranker.doc_article`` and
  combined with the query's own requirements;
* a **facet** is a ``bincount`` of (article, value) pairs over the articles
  the query matched, so it counts articles, not sections;
* **date order** sorts articles by their date as a ``YYYYMMDD`` integer
  (0 for undated articles, which therefore come last).

Values are compared folded (width, case, Traditional -> Simplified), like
query terms: ``--category 網貸逾期`` selects 网贷逾期.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from zhsearch.corpus.errors import OptionError
from zhsearch.indexer.analysis import fold
from zhsearch.indexer.arrays import unique_first

if TYPE_CHECKING:
    from zhsearch.search.ranking import Ranker

FACETS = ("category", "author", "tag", "year")
SORTS = ("score", "date")

_DATE = re.compile(r"(\d{4})(?:[-/.年](\d{1,2})(?:[-/.月](\d{1,2}))?)?")


def _key(value: str) -> str:
    return fold(value).strip()


def date_number(value: Any) -> int:
    """An article date (``2024-08-17``, also ``2024/8/17``, ``2024年8月17日``)
    as the integer 20240817; 0 when there is none or it is not a date."""
    m = _DATE.match(str(value or "").strip())
    if not m or not m.group(3):
        return 0
    y, mo, d = (int(g) for g in m.groups())
    try:
        _dt.date(y, mo, d)
    except ValueError:
        return 0
    return y * 10000 + mo * 100 + d


def parse_bound(name: str, value: str | _dt.date, *, end: bool) -> int:
    """A ``since``/``until`` bound as ``YYYYMMDD``: ``2024`` and ``2024-05``
    stand for their first day (``since``) or last day (``until``)."""
    if isinstance(value, _dt.date):
        return value.year * 10000 + value.month * 100 + value.day
    text = str(value).strip()
    m = _DATE.fullmatch(text.rstrip("日"))
    bad = OptionError(f"{name}={text!r} is not a date: use YYYY-MM-DD, YYYY-MM or YYYY")
    if not m:
        raise bad
    y = int(m.group(1))
    mo = int(m.group(2)) if m.group(2) else (12 if end else 1)
    try:
        if m.group(3):
            day = _dt.date(y, mo, int(m.group(3)))
        elif end:
            # The month's last day, computed without the next month (9999-12 has none).
            day = _dt.date(y, mo, calendar.monthrange(y, mo)[1]) if 1 <= mo <= 12 else _dt.date(y, mo, 1)
        else:
            day = _dt.date(y, mo, 1)
    except (ValueError, OverflowError):
        raise bad from None
    return day.year * 10000 + day.month * 100 + day.day


def _strings(name: str, value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise OptionError(f"{name} must be a string or a list of strings, not {type(item).__name__}")
    return tuple(i for i in items if i.strip())


@dataclass(frozen=True)
class Filters:
    """Which articles a search may return.  Several values of one field
    are alternatives; different fields must all hold."""

    category: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    tag: tuple[str, ...] = ()
    since: int = 0  # YYYYMMDD, inclusive; 0: no bound
    until: int = 0
    source: tuple[str, ...] = ()

    @classmethod
    def make(
        cls,
        *,
        category: str | Iterable[str] | None = None,
        author: str | Iterable[str] | None = None,
        tag: str | Iterable[str] | None = None,
        since: str | _dt.date | None = None,
        until: str | _dt.date | None = None,
        source: str | Iterable[str] | None = None,
    ) -> Filters:
        """Validate the keyword arguments of ``Searcher.search``."""
        lo = parse_bound("since", since, end=False) if since not in (None, "") else 0
        hi = parse_bound("until", until, end=True) if until not in (None, "") else 0
        if lo and hi and lo > hi:
            raise OptionError(f"since={since!s} is after until={until!s}: no article can match")
        return cls(
            _strings("category", category),
            _strings("author", author),
            _strings("tag", tag),
            lo,
            hi,
            _strings("source", source),
        )

    @property
    def active(self) -> bool:
        return bool(self.category or self.author or self.tag or self.since or self.until or self.source)

    def article_mask(self, cols: ArticleColumns, notices: list[str] | None = None) -> np.ndarray | None:
        """Articles that pass every filter (``None``: no filter given).

        Values no article has are named in ``notices``.
        """
        if not self.active:
            return None
        mask = np.ones(cols.n, dtype=bool)
        for name, wanted in (("category", self.category), ("author", self.author), ("tag", self.tag)):
            if wanted:
                facet = cols.facets[name]
                ids = [facet.keys[k] for k in map(_key, wanted) if k in facet.keys]
                if notices is not None:
                    notices.extend(
                        f"no article in the index has {name} {w!r}" for w in wanted if _key(w) not in facet.keys
                    )
                mask &= facet.articles_with(ids, cols.n)
        if self.since:
            mask &= cols.date >= self.since
        if self.until:
            mask &= (cols.date <= self.until) & (cols.date > 0)
        if self.source:
            mask &= np.fromiter((any(_glob(src, p) for p in self.source) for src in cols.source), bool, cols.n)
        return mask


def _glob(path: str, pattern: str) -> bool:
    """A pattern with a ``/`` matches the whole path, one without it the
    file name (``*`` crosses ``/``, as in fnmatch)."""
    if "/" in pattern:
        return fnmatch.fnmatchcase(path, pattern)
    return fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pattern)


@dataclass(frozen=True)
class Facet:
    """One metadata field: its distinct values and which articles have them."""

    values: tuple[str, ...]  # as first seen in an article
    keys: dict[str, int]  # folded value -> index into values
    art: np.ndarray  # (article, value) pairs: article indexes ...
    val: np.ndarray  # ... and value indexes

    def articles_with(self, value_ids: list[int], n_articles: int) -> np.ndarray:
        mask = np.zeros(n_articles, dtype=bool)
        mask[self.art[np.isin(self.val, value_ids)]] = True
        return mask

    def counts(self, matching: np.ndarray) -> dict[str, int]:
        """``{value: articles}`` among the ``matching`` articles (a boolean
        mask), most frequent first, then by value."""
        n = np.bincount(self.val[matching[self.art]], minlength=len(self.values))
        order = sorted(np.flatnonzero(n), key=lambda i: (-n[i], self.values[i]))
        return {self.values[i]: int(n[i]) for i in order}


@dataclass
class ArticleColumns:
    """Per-article metadata (and titles) of one index snapshot, indexed like
    ``Ranker.articles``."""

    n: int
    date: np.ndarray  # int32 YYYYMMDD, 0 when undated
    source: list[str]
    facets: dict[str, Facet] = field(default_factory=dict)
    title: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, ranker: Ranker) -> ArticleColumns:
        """One stored document per article (the first live one: every
        section carries the same metadata)."""
        n = len(ranker.articles)
        date = np.zeros(n, dtype=np.int32)
        source = [""] * n
        title = [""] * n
        pairs: dict[str, tuple[list[str], dict[str, int], list[int], list[int]]] = {
            name: ([], {}, [], []) for name in FACETS
        }
        live = np.flatnonzero(ranker.alive)
        arts, first = unique_first(ranker.doc_article[live])
        for art, docnum in zip(arts.tolist(), live[first].tolist(), strict=True):
            stored = ranker.stored_fields(docnum)
            meta = stored.get("data", {}).get("meta", {})
            source[art] = str(stored.get("source") or meta.get("source") or "")
            title[art] = str(stored.get("title") or "")
            date[art] = date_number(meta.get("date"))
            tags = meta.get("tags") or []
            values = {
                "category": [meta.get("category")],
                "author": [meta.get("author")],
                "tag": tags if isinstance(tags, list) else [tags],
                "year": [str(date[art] // 10000)] if date[art] else [],
            }
            for name, vals in values.items():
                shown, keys, a, v = pairs[name]
                seen: set[int] = set()
                for value in vals:
                    if value in (None, "") or not str(value).strip():
                        continue
                    value = str(value).strip()
                    k = _key(value)
                    if k not in keys:
                        keys[k] = len(shown)
                        shown.append(value)
                    elif value == k:
                        # Several spellings fold together (網貸, 网贷): show
                        # the folded one, whatever article came first.
                        shown[keys[k]] = value
                    if keys[k] not in seen:
                        seen.add(keys[k])
                        a.append(art)
                        v.append(keys[k])
        facets = {
            name: Facet(tuple(shown), keys, np.array(a, dtype=np.int64), np.array(v, dtype=np.int64))
            for name, (shown, keys, a, v) in pairs.items()
        }
        return cls(n, date, source, facets, title)


def check_facets(facets: str | Iterable[str]) -> tuple[str, ...]:
    names = (facets,) if isinstance(facets, str) else tuple(facets)
    for name in names:
        if name not in FACETS:
            raise OptionError(f"unknown facet {name!r}; facets are {', '.join(FACETS)}")
    return tuple(dict.fromkeys(names))


def check_sort(sort: str) -> str:
    if sort not in SORTS:
        raise OptionError(f"unknown sort {sort!r}; sort by {' or '.join(SORTS)}")
    return sort
