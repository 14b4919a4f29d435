"""The index snapshot: one committed version of an index, as arrays.

A search reads everything through one of these: the Whoosh segments'
readers (stored fields, deletions), the text postings beside each segment
(``indexer.postings``), which sections are live, each section's article
number and field lengths, the lexicons.  It is the only reader of the file
formats and of Whoosh's internals; scoring (``search.ranking``) is
arithmetic over what it returns.  A snapshot opens all its files at once
(a later commit or rebuild may delete them; open files stay readable) and
numbers sections globally: segment by segment, in the order of the table
of contents.
"""

from __future__ import annotations

import bisect
import os
from collections import OrderedDict
from functools import cached_property
from pathlib import Path

import numpy as np
from zhsearch.indexer.arrays import unique, unique_inverse
from zhsearch.indexer.postings import SUFFIX, SegmentPostings

_POSTINGS_CACHE = 4096


class Snapshot:
    """One committed version of an index: segments, postings, stored fields,
    live sections, article numbering and lexicons (see the module notes)."""

    def __init__(self, reader, fields: tuple[str, ...]) -> None:
        self.n_docs = reader.doc_count_all()
        self._leaves = list(reader.leaf_readers()) if self.n_docs else []
        # Opened now, not when first needed: a later commit may delete a
        # segment's file, and an open one stays readable.
        self._stores = [(_open_postings(leaf), offset) for leaf, offset in self._leaves]
        self.lengths: dict[str, np.ndarray] = {}
        self.avg_length: dict[str, float] = {}
        self.length_sums: dict[str, float] = {}
        self.alive = np.ones(self.n_docs, dtype=bool)
        deleted: list[np.ndarray] = []
        for leaf, offset in self._leaves:
            dead = np.fromiter(leaf.segment().deleted_docs(), np.int64) if leaf.has_deletions() else np.zeros(0, int)
            self.alive[offset + dead] = False
            deleted.append(dead)
        segment_ids = [store.articles() for store, _ in self._stores]
        self.doc_article = np.zeros(self.n_docs, dtype=np.int32)
        every = [a for ids, _ in segment_ids for a in ids]
        self._article_numbers: dict[str, int] | None = None
        if len(set(every)) == len(every):
            # No article in two segments (a fresh build, or updates that
            # only added): numbered segment after segment.
            self.articles = every
            segment_numbers = []
            before = 0
            for (ids, local), (_, offset) in zip(segment_ids, self._leaves, strict=True):
                np.add(local, before, out=self.doc_article[offset : offset + len(local)])
                segment_numbers.append(np.arange(before, before + len(ids), dtype=np.int32))
                before += len(ids)
        else:
            # An article updated since keeps its number: one id, one article.
            article_ids: dict[str, int] = {}
            segment_numbers = []
            for (ids, local), (_, offset) in zip(segment_ids, self._leaves, strict=True):
                number = np.fromiter((article_ids.setdefault(a, len(article_ids)) for a in ids), np.int32, len(ids))
                self.doc_article[offset : offset + len(local)] = number[local]
                segment_numbers.append(number)
            self.articles = list(article_ids)
            self._article_numbers = article_ids
        # Recorded when written: every segment's sections come article by
        # article, and none is deleted or renumbered.
        self._in_runs = self._article_numbers is None and all(
            store.article_runs() and not len(dead) for (store, _), dead in zip(self._stores, deleted, strict=True)
        )
        for field in fields:
            arr = np.zeros(self.n_docs, dtype=np.float32)
            total = 0.0
            for (store, offset), dead in zip(self._stores, deleted, strict=True):
                part = store.lengths(field)[: self.n_docs - offset]
                arr[offset : offset + len(part)] = part
                # Summed in float64 (or as integers when written): lengths
                # are whole numbers, so the sum is exact and adds up across
                # shards to the same value.
                whole = store.length_sum(field)
                if whole is None or len(part) != store.n_docs:
                    total += float(part[self.alive[offset : offset + len(part)]].sum(dtype=np.float64))
                else:
                    total += float(whole - int(part[dead].sum(dtype=np.int64)))
            self.lengths[field] = arr
            self.length_sums[field] = total
        self._segment_ids = [ids for ids, _ in segment_ids]
        self._segment_numbers = segment_numbers
        self._offsets = [offset for _, offset in self._leaves]
        # Opened now too: a snapshot holds all its files open, so a commit
        # or rebuild may delete them (see indexer.storage) without it noticing.
        # Per-document readers of their own, through the segment's codec
        # (Whoosh's public seam), for the raw stored columns.
        self._perdocs = [leaf.codec().per_document_reader(leaf.storage(), leaf.segment()) for leaf, _ in self._leaves]
        self._stored_columns: list = [self._stored_column(perdoc) for perdoc in self._perdocs]
        self.n_alive = int(self.alive.sum())
        for field in fields:
            self.avg_length[field] = max(self.length_sums[field] / self.n_alive, 1.0) if self.n_alive else 1.0
        self._cache: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lexicons: dict[str, list[str]] = {}
        self._bounds: dict[tuple[str, str], tuple[int, float] | None] = {}

    def stored_fields(self, docnum: int) -> dict:
        """A section's stored values, read straight from its segment's
        stored column: every stored read of a search goes through here
        (Whoosh's reader adds a lookup and a copy per call, which phrase
        checks over many sections pay for)."""
        i = bisect.bisect_right(self._offsets, docnum) - 1
        records = self._stored_columns[i]
        return records[docnum - self._offsets[i]] if records is not None else {}

    @staticmethod
    def _stored_column(perdoc):  # -> indexer.codec.StoredRecords | None
        from zhsearch.indexer.codec import StoredRecords, stored_column

        column = stored_column(perdoc)
        return StoredRecords(column) if column is not None else None

    @cached_property
    def id_order(self) -> np.ndarray:
        """Each article number's place among the article ids sorted: the
        tie-break that does not depend on where documents were written."""
        order = np.empty(len(self.articles), dtype=np.int64)
        order[sorted(range(len(self.articles)), key=self.articles.__getitem__)] = np.arange(len(self.articles))
        return order

    def live_term_count(self, field: str) -> int:
        """How many distinct terms of ``field`` live (not deleted) sections hold."""
        parts = [store.live_terms(field, self.alive[offset : offset + store.n_docs]) for store, offset in self._stores]
        return len(unique(np.concatenate(parts))) if parts else 0

    def article_works(self) -> list[str] | None:
        """Each article number's work key (``indexer.works``) as stored with
        the postings, the newest segment's for an article in several;
        ``None`` if some segment was written before they were stored."""
        parts = [store.works() for store, _ in self._stores]
        if any(keys is None for keys in parts):
            return None
        if sum(map(len, self._segment_ids)) == len(self.articles):
            # No article in two segments: numbered segment after segment.
            return [key for keys in parts for key in keys]  # type: ignore[union-attr]
        works = [""] * len(self.articles)
        for keys, ids in zip(parts, self._segment_ids, strict=True):
            for article_id, key in zip(ids, keys, strict=True):  # type: ignore[arg-type]
                works[self._numbers()[article_id]] = key
        return works

    def article_standings(self) -> tuple[list[str], np.ndarray]:
        """The distinct standings (``indexer.authority``; ``""``, none,
        first) and each article number's among them, as stored with the
        postings, the newest segment's for an article in several; a segment
        that stores none (no legal documents, or written before standings
        were stored) gives its articles none: ranked as before."""
        keys = [""]
        codes = np.zeros(len(self.articles), dtype=np.int32)
        for (store, _), numbers in zip(self._stores, self._segment_numbers, strict=True):
            found = store.standings()
            if found is None:
                codes[numbers] = 0
                continue
            local, local_codes = found
            index = {k: i for i, k in enumerate(keys)}
            remap = np.array([index.setdefault(k, len(index)) for k in local], dtype=np.int32)
            keys = list(index)
            codes[numbers] = remap[local_codes]
        return keys, codes

    def _numbers(self) -> dict[str, int]:
        """Article id -> number (made when first needed: most queries never ask)."""
        if self._article_numbers is None:
            self._article_numbers = {a: i for i, a in enumerate(self.articles)}
        return self._article_numbers

    def article_number(self, article_id: str) -> int:
        """The number of an article in ``articles`` and ``doc_article`` (-1: none)."""
        return self._numbers().get(article_id, -1)

    def close(self) -> None:
        for store, _ in self._stores:
            store.close()
        for perdoc in self._perdocs:
            perdoc.close()

    def lexicon(self, field: str) -> list[str]:
        """The distinct words of a word field in the whole index, sorted."""
        lex = self._lexicons.get(field)
        if lex is None:
            parts = [store.lexicon(field) for store, _ in self._stores]
            lex = parts[0] if len(parts) == 1 else sorted(set().union(*parts))
            self._lexicons[field] = lex
        return lex

    def doc_frequency(self, field: str, text: str) -> int:
        """How many live sections contain ``text`` in ``field``."""
        return len(self.postings(field, text)[0])

    def doc_frequencies(self, field: str) -> tuple[np.ndarray, np.ndarray]:
        """Every term of ``field`` live sections hold: the sorted term keys
        and each one's number of live sections (what :meth:`doc_frequency`
        says of it), for a shard's part of the collection statistics."""
        keys, dfs = [], []
        for store, offset in self._stores:
            if not store.has_field(field):
                continue
            alive = self.alive[offset : offset + store.n_docs]
            if alive.all():
                keys.append(np.asarray(store.term_keys(field)))
                dfs.append(np.asarray(store.doc_frequencies(field), dtype=np.int64))
                continue
            # Deleted sections stay in the segment's postings until it is
            # rewritten: count the live ones, term by term.
            k, df, docs, _ = store.field_postings(field)
            starts = np.zeros(len(df), dtype=np.int64)
            if len(df) > 1:
                np.cumsum(df[:-1], out=starts[1:])
            live = np.add.reduceat(alive[docs].astype(np.int64), starts) if len(docs) else np.zeros(len(k), np.int64)
            live[np.asarray(df) == 0] = 0
            keys.append(np.asarray(k)[live > 0])
            dfs.append(live[live > 0])
        if not keys:
            return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
        if len(keys) == 1:
            return keys[0], dfs[0]
        distinct, where = unique_inverse(np.concatenate(keys))
        return distinct, np.bincount(where, weights=np.concatenate(dfs), minlength=len(distinct)).astype(np.int64)

    # -- postings
    def postings(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Global doc numbers and term frequencies of ``text`` in ``field``."""
        key = (field, text)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        parts = [(store.postings(field, text), offset) for store, offset in self._stores]
        result = self._live(parts)
        self._cache[key] = result
        if len(self._cache) > _POSTINGS_CACHE:
            self._cache.popitem(last=False)
        return result

    def term_bound(self, field: str, text: str) -> tuple[int, float] | None:
        """``(largest frequency, smallest length / frequency)`` of ``text`` in
        ``field`` over all segments (deleted sections included: still a
        bound), ``(0, inf)`` if no segment has it, ``None`` if a segment
        records no bounds (written before they existed)."""
        key = (field, text)
        if key in self._bounds:
            return self._bounds[key]
        top, low = 0, float("inf")
        found: tuple[int, float] | None = None
        for store, _ in self._stores:
            if not store.has_bounds(field):
                break
            i = store.term_index(field, text)
            if i >= 0:
                tf, ratio = store.bounds_at(field, i)
                top, low = max(top, tf), min(low, ratio)
        else:
            found = (top, low)
        # Remembered: a query looks each term up in every segment.
        if len(self._bounds) >= _POSTINGS_CACHE:
            self._bounds.clear()
        self._bounds[key] = found
        return found

    def gram_prefix_docs(self, field: str, char: str) -> np.ndarray:
        """Doc numbers of the sections with a bigram starting with ``char``."""
        from zhsearch.indexer.postings import gram_prefix_range

        lo, hi = gram_prefix_range(char)
        parts = []
        for store, offset in self._stores:
            if store.has_field(field):
                for i in store.key_range(field, lo, hi):
                    parts.append((store.postings_at(field, i), offset))
        return unique(self._live(parts)[0])

    def _live(self, parts) -> tuple[np.ndarray, np.ndarray]:
        parts = [(ids + offset, tfs) for (ids, tfs), offset in parts if len(ids)]
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        ids = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
        tfs = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
        # Deleted documents stay in a segment's postings: they must not
        # count, or document frequencies outgrow the live count.
        live = self.alive[ids]
        return (ids, tfs) if live.all() else (ids[live], tfs[live])

    @cached_property
    def _article_sections(self) -> tuple[np.ndarray, np.ndarray]:
        """Live section numbers grouped by article (in docnum order), and
        where each article's group starts."""
        if self._in_runs:
            order = np.arange(self.n_docs, dtype=np.int64)
            starts = np.searchsorted(self.doc_article, np.arange(len(self.articles) + 1, dtype=self.doc_article.dtype))
            return order, starts
        live = np.flatnonzero(self.alive)
        arts = self.doc_article[live]
        # Usually each article's live sections are one run (written
        # together, numbered in order of first appearance): no sort needed.
        if len(arts) and arts[0] == 0 and bool(np.all((np.diff(arts) == 0) | (np.diff(arts) == 1))):
            order = live
        else:
            order = live[np.argsort(arts, kind="stable")]
        # Needles of the same dtype: else numpy converts the whole haystack first.
        starts = np.searchsorted(
            self.doc_article[order], np.arange(len(self.articles) + 1, dtype=self.doc_article.dtype)
        )
        return order, starts

    def sections_of(self, article: int) -> np.ndarray:
        """The live section numbers of article number ``article``, increasing."""
        if article < 0 or article >= len(self.articles):
            return np.zeros(0, dtype=np.int64)
        order, starts = self._article_sections
        return order[starts[article] : starts[article + 1]]


def _open_postings(leaf) -> SegmentPostings:
    """The text postings written beside a Whoosh segment."""
    from zhsearch.corpus.errors import IndexDamagedError

    folder = getattr(leaf.storage(), "folder", None)
    path = Path(str(folder)) / f"{leaf.segment().segment_id()}{SUFFIX}"
    try:
        store = SegmentPostings(path)
        # Whoosh opens some segment files only when first needed: a missing
        # or truncated one is found now, not in the middle of a query.
        for name, (size, _) in store.files.items():
            if os.stat(Path(str(folder)) / name).st_size != size:
                raise ValueError(f"{name} is {os.stat(Path(str(folder)) / name).st_size} bytes, {size} were written")
        return store
    except (OSError, ValueError) as exc:
        reason = f"{path.name} is missing" if isinstance(exc, FileNotFoundError) else str(exc)
        raise IndexDamagedError(
            f"the index at {folder} is damaged ({reason})",
            index_dir=str(folder),
            file=path.name,
            reason=reason,
        ) from None
