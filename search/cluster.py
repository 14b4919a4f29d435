"""Searching a sharded index, on a Dask cluster or in this process.

A query needs the statistics of the whole collection (live sections,
field length sums, document frequencies — ``ranking.CollectionStats``).
Each shard's build wrote its part of them beside it (``indexer.collection``),
so the client sums the parts for the query's terms itself and the query
goes to the shards in one round: each shard searches with those global
statistics and returns its best ``page × limit`` articles, and the lists
are merged by score.  (A shard without a part, from an older build, makes
the query take a first round in which every shard reports its statistics,
as Elasticsearch's ``dfs_query_then_fetch`` does.)  Since every collection-wide number a score
uses comes from the sums, a shard scores an article exactly as one index
over all articles would: same ids, same order, same scores.  Totals and
facet counts add up (an article lives in one shard).  Did-you-mean runs
here, against the shards' combined words and document frequencies.

On a cluster each shard's ``Searcher`` stays open in a worker process
(a worker-local cache keyed by the shard's directory), and shard ``k`` is
asked of worker ``k mod W`` so the same worker keeps answering for it.  When
a worker dies under a query, Dask runs the task again on another worker,
which opens the shard from the shared storage; a shard whose task fails is
asked once more, and if it still cannot answer, the results say which shard
is missing (:attr:`ClusterResults.missing`) instead of silently leaving its
articles out.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from zhsearch.corpus.errors import ArticleNotFoundError, IndexMismatchError, ZhsearchError
from zhsearch.corpus.model import Article
from zhsearch.indexer.analysis import UserDict, fold, load_user_dict, word_spans
from zhsearch.indexer.collection import PART, ShardPart, term_key
from zhsearch.indexer.schema import GRAM_FIELD, SCHEMA_VERSION, TEXT_FIELDS
from zhsearch.indexer.shards import Manifest, connect, read_manifest, shard_name, shard_of
from zhsearch.indexer.storage import resolve_index_dir
from zhsearch.search.complete import MAX_PREFIX_CHARS, Completion
from zhsearch.search.filters import Filters, check_facets, check_sort, date_number
from zhsearch.search.ranking import CollectionStats, bm25_idf
from zhsearch.search.searcher import IndexStats, Results, Searcher
from zhsearch.search.snippets import DEFAULT_WIDTH
from zhsearch.search.synonyms import Synonyms

# Seconds a round may take before the shards that have not answered count
# as missing.
ROUND_TIMEOUT = 60.0


@dataclass(frozen=True)
class ClusterResults(Results):
    """Results of a sharded index; ``missing`` names the shards that could
    not be searched (their articles are not in the results)."""

    missing: tuple[str, ...] = ()
    shards: int = 0

    @property
    def partial(self) -> bool:
        return bool(self.missing)


@dataclass(frozen=True)
class _Failed:
    """A shard that did not answer a round, and why."""

    shard: int
    reason: str


# -- the shard side: runs in a worker (or in this process)

_SERVED: dict[str, tuple[Searcher, threading.Lock]] = {}
_SERVED_LOCK = threading.Lock()
# Open shard searchers a process keeps (the older generations of a shard
# are closed first).
MAX_OPEN_SHARDS = 64


def _searcher(path: str, user_dict: UserDict | None) -> tuple[Searcher, threading.Lock]:
    """The open searcher of a shard directory, opened the first time."""
    with _SERVED_LOCK:
        hit = _SERVED.get(path)
        if hit is None:
            hit = (Searcher(path, user_dict=user_dict), threading.Lock())
            # A new generation of a shard: the one before may still be
            # asked by a query under way, older ones are closed.
            prefix = path.rsplit(".g", 1)[0] + ".g"
            stale = [p for p in _SERVED if p.startswith(prefix)][:-1]
            stale += list(_SERVED)[: max(len(_SERVED) - MAX_OPEN_SHARDS + 1, 0)]
            for p in dict.fromkeys(stale):
                old = _SERVED.pop(p, None)
                if old is not None:
                    with old[1]:
                        old[0].close()
            _SERVED[path] = hit
        return hit


def serve(path: str, options: dict[str, Any], method: str, args: tuple, kwargs: dict[str, Any]) -> Any:
    """Answer one request for the shard at ``path`` (a Dask task)."""
    searcher, lock = _searcher(path, options.get("user_dict"))
    with lock:
        searcher.synonyms = options.get("synonyms")
        searcher.snippet_chars = options.get("snippet_chars", DEFAULT_WIDTH)
        if method == "search":
            return searcher.search(*args, **kwargs)
        _, ranker = searcher._current()
        if method == "statistics":
            query, probes = args
            stats = searcher.statistics(query)
            probed = ranker.stats(probes)
            return replace(stats, doc_frequencies={**probed.doc_frequencies, **stats.doc_frequencies})
        if method == "pinyin":
            from zhsearch.search.pinyin import part

            query, reading, stats = args
            return part(query, ranker, reading, stats)
        if method == "frequencies":
            return ranker.stats(args[0]).doc_frequencies
        if method == "lexicon":
            return ranker.lexicon(args[0])
        if method == "complete":
            from zhsearch.search.searcher import _complete_matches

            typed, fixed, filters = args
            chosen = Filters.make(**filters)
            wanted = chosen.article_mask(ranker.columns) if chosen.active else None
            return _complete_matches(ranker, typed, wanted), _complete_matches(ranker, fixed, wanted)
        if method == "article":
            try:
                return searcher.article(*args)
            except ArticleNotFoundError:
                return None
        if method == "stats":
            return searcher.stats()
        if method == "related":
            return searcher.related(*args, **kwargs)
        if method == "completions":
            return searcher.complete(*args)
    raise ZhsearchError(f"unknown shard request {method!r}")


# -- running a round on every shard


class _LocalShards:
    """Shards searched one after another in this process."""

    def run(self, requests: list[tuple[int, str, str, tuple, dict]], options: dict[str, Any], timeout: float):
        out: list[Any] = []
        for shard, path, method, args, kwargs in requests:
            try:
                out.append(serve(path, options, method, args, kwargs))
            except Exception as exc:  # noqa: BLE001 - a shard that fails is reported, not fatal
                out.append(_Failed(shard, f"{type(exc).__name__}: {exc}"))
        return out

    def close(self) -> None:
        pass


class ShardServer:
    """A Dask actor answering for shards (see :func:`serve`): calls go
    straight to its worker, not through the scheduler (a round of four
    shards: 3 ms instead of 20)."""

    def call(self, path: str, options: dict[str, Any], method: str, args: tuple, kwargs: dict[str, Any]) -> Any:
        return serve(path, options, method, args, kwargs)


class _DaskShards:
    """Shards searched through one actor per shard, shard ``k`` on worker
    ``k mod W``; a shard whose actor fails (its worker died) gets a new
    actor on a live worker and is asked once more."""

    def __init__(self, cluster: Any) -> None:
        self.client, self._owned = connect(cluster)
        self._actors: dict[int, tuple[Any, Any]] = {}  # shard -> (future, actor)

    def _workers(self) -> list[str]:
        return sorted(self.client.scheduler_info(n_workers=-1)["workers"])

    def _actor(self, shard: int, timeout: float) -> Any:
        held = self._actors.get(shard)
        if held is None:
            workers = self._workers()
            future = self.client.submit(
                ShardServer,
                actor=True,
                key=f"zhsearch-shard-{shard_name(shard)}-{uuid.uuid4().hex}",
                workers=[workers[shard % len(workers)]] if workers else None,
                allow_other_workers=True,
            )
            held = (future, future.result(timeout=timeout))
            self._actors[shard] = held
        return held[1]

    def _round(self, requests: list[tuple[int, str, str, tuple, dict]], options: dict[str, Any], timeout: float):
        """Ask every shard at once; each answer or the exception it raised.

        The calls are made and awaited in one coroutine on the client's
        event loop: one hand-off from this thread to the loop and back per
        round, not two per shard (a blocking call per actor)."""
        actors: list[Any] = []
        for request in requests:
            try:
                actors.append(self._actor(request[0], timeout))
            except Exception as exc:  # noqa: BLE001 - reported by the caller
                actors.append(exc)

        async def ask(actor: Any, request: tuple[int, str, str, tuple, dict]) -> Any:
            if isinstance(actor, Exception):
                raise actor
            _, path, method, args, kwargs = request
            # In the worker the call runs in its actor thread: answering on
            # the worker's event loop instead (separate_thread=False) made
            # queries on laws ×4 twice as slow (p50 104 against 50 ms).
            return await actor.call(path, options, method, args, kwargs)

        async def everything() -> list[Any]:
            calls = [asyncio.wait_for(ask(a, r), timeout) for a, r in zip(actors, requests, strict=True)]
            return await asyncio.gather(*calls, return_exceptions=True)

        return self.client.sync(everything)

    def run(self, requests: list[tuple[int, str, str, tuple, dict]], options: dict[str, Any], timeout: float):
        out = self._round(requests, options, timeout)
        again = [i for i, answer in enumerate(out) if isinstance(answer, BaseException)]
        if again:
            # A new actor on a live worker opens the shard from the shared
            # storage, and the shard is asked once more.
            for i in again:
                self._actors.pop(requests[i][0], None)
            for i, answer in zip(again, self._round([requests[i] for i in again], options, timeout), strict=True):
                out[i] = (
                    _Failed(requests[i][0], f"{type(answer).__name__}: {answer}")
                    if isinstance(answer, BaseException)
                    else answer
                )
        return out

    def close(self) -> None:
        self._actors.clear()
        if self._owned:
            self.client.close()


class _Collection:
    """The statistics of the whole sharded index, summed from the parts the
    shards' builds wrote (``indexer.collection``): what a query is scored
    with, found here instead of in a round to the shards.  Shaped like the
    part of a ``Ranker`` that ``Searcher.statistics`` and did-you-mean read."""

    def __init__(self, parts: list[ShardPart]) -> None:
        self.parts = parts
        self.sections = sum(p.sections for p in parts)
        self.length_sums: dict[str, float] = {}
        for p in parts:
            for f, v in p.length_sums.items():
                self.length_sums[f] = self.length_sums.get(f, 0.0) + v
        self._df: dict[tuple[str, str], int] = {}
        self._lexicons: dict[str, list[str]] = {}

    def frequencies(self, terms: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Document frequencies of (field, term) pairs over all shards."""
        out: dict[tuple[str, str], int] = {}
        by_field: dict[str, list[str]] = {}
        for key in dict.fromkeys(terms):
            df = self._df.get(key)
            if df is None:
                by_field.setdefault(key[0], []).append(key[1])
            else:
                out[key] = df
        for field_name, texts in by_field.items():
            keys = np.fromiter((term_key(field_name, t) for t in texts), dtype=np.uint64, count=len(texts))
            total = np.zeros(len(texts), dtype=np.int64)
            for p in self.parts:
                total += p.frequencies(field_name, keys)
            for t, df in zip(texts, total.tolist(), strict=True):
                out[(field_name, t)] = df
        if len(self._df) > 200_000:
            self._df.clear()
        self._df.update(out)
        return out

    def doc_frequency(self, field: str, text: str) -> int:
        df = self._df.get((field, text))
        return df if df is not None else self.frequencies([(field, text)])[(field, text)]

    def stats(self, terms: Iterable[tuple[str, str]] = ()) -> CollectionStats:
        return CollectionStats(self.sections, dict(self.length_sums), self.frequencies(terms))

    def lexicon(self, field: str) -> list[str]:
        lex = self._lexicons.get(field)
        if lex is None:
            parts = [p.lexicon(field) for p in self.parts]
            lex = self._lexicons[field] = parts[0] if len(parts) == 1 else sorted(set().union(*parts))
        return lex


class _CombinedView:
    """The shards' words and document frequencies together, shaped like the
    part of a ``Ranker`` that did-you-mean reads (``search.suggest``)."""

    def __init__(self, owner: ClusterSearcher, known: dict[tuple[str, str], int]) -> None:
        self._owner = owner
        self._df = dict(known)

    def doc_frequency(self, field: str, text: str) -> int:
        key = (field, text)
        if key not in self._df:
            self._df.update(self._owner._frequencies([key]))
        return self._df[key]

    def lexicon(self, field: str) -> list[str]:
        return self._owner._lexicon(field)

    @property
    def pinyin(self):  # -> search.pinyin.PinyinIndex
        return self._owner._pinyin_index()

    @property
    def columns(self) -> Any:
        # Titles are per shard (pinyin title matches are found there);
        # did-you-mean reads none.
        return SimpleNamespace(title=[])


class ClusterSearcher:
    """Searches a sharded index (see ``indexer.shards``): on the Dask
    cluster ``cluster`` (a scheduler address such as ``tcp://host:8786``, a
    ``distributed.Client`` or a cluster object), or, with ``cluster=None``,
    shard after shard in this process.  ``Searcher(index_dir, cluster=...)``
    returns one.

    Each query reads the manifest's generation first, so an update becomes
    visible whole: all shards of the new generation, or all of the old.
    """

    def __init__(
        self,
        index_dir: str | os.PathLike[str] | None = None,
        *,
        cluster: Any = None,
        snippet_chars: int = DEFAULT_WIDTH,
        synonyms: Synonyms | str | os.PathLike[str] | None = None,
        user_dict: UserDict | str | os.PathLike[str] | None = None,
        timeout: float = ROUND_TIMEOUT,
    ) -> None:
        if synonyms is not None and not isinstance(synonyms, Synonyms):
            synonyms = Synonyms.load(synonyms)
        if user_dict is not None and not isinstance(user_dict, UserDict):
            user_dict = load_user_dict(user_dict)
        self.index_dir = resolve_index_dir(index_dir)
        self.synonyms: Synonyms | None = synonyms
        self.snippet_chars = snippet_chars
        self.timeout = timeout
        self._user_dict = user_dict
        self.manifest = self._read_manifest()
        # The query side of the analysis, as the shards have it: a local
        # searcher of the first shard checks the user dictionary and holds
        # the settings (it is not searched).
        self._first = Searcher(self.index_dir / self.manifest.shards[0].path, user_dict=user_dict)
        self.settings = self._first.settings
        self.notices = self._first.notices
        self._backend: _LocalShards | _DaskShards = _LocalShards() if cluster is None else _DaskShards(cluster)
        self._lexicons: dict[str, list[str]] = {}
        self._pinyin = None
        self._collection = self._load_collection()

    def _load_collection(self) -> _Collection | None:
        """The shards' statistics parts summed, or ``None`` when a shard has
        none (built by an older zhsearch): then each query asks the shards
        for their statistics in a round of its own."""
        try:
            return _Collection([ShardPart(d / PART) for d in self.manifest.shard_dirs(self.index_dir)])
        except (OSError, ValueError):
            return None

    def _read_manifest(self) -> Manifest:
        manifest = read_manifest(self.index_dir)
        if manifest.schema_version != SCHEMA_VERSION:
            raise IndexMismatchError(
                f"the sharded index at {self.index_dir} was built with schema version {manifest.schema_version}, "
                f"this zhsearch reads version {SCHEMA_VERSION}",
                index_dir=str(self.index_dir),
            )
        return manifest

    def _refresh(self) -> None:
        """Pick up a manifest committed since the last query."""
        manifest = self._read_manifest()
        if manifest.generation != self.manifest.generation:
            self.manifest = manifest
            self._lexicons.clear()
            self._pinyin = None
            self._collection = self._load_collection()

    # -- lifecycle
    def close(self) -> None:
        self._first.close()
        self._backend.close()

    def __enter__(self) -> ClusterSearcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- rounds
    def _options(self) -> dict[str, Any]:
        return {"synonyms": self.synonyms, "snippet_chars": self.snippet_chars, "user_dict": self._user_dict}

    def _round(self, method: str, args: tuple = (), kwargs: dict | None = None, shards: Iterable[int] | None = None):
        infos = self.manifest.shards if shards is None else [self.manifest.shards[k] for k in shards]
        requests = [(s.shard, str(self.index_dir / s.path), method, args, kwargs or {}) for s in infos]
        return self._backend.run(requests, self._options(), self.timeout)

    def _frequencies(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        if self._collection is not None:
            return self._collection.frequencies(keys)
        total = dict.fromkeys(keys, 0)
        for part in self._round("frequencies", (keys,)):
            if not isinstance(part, _Failed):
                for k, v in part.items():
                    total[k] += v
        return total

    def _lexicon(self, field_name: str) -> list[str]:
        if self._collection is not None:
            return self._collection.lexicon(field_name)
        lex = self._lexicons.get(field_name)
        if lex is None:
            parts = [p for p in self._round("lexicon", (field_name,)) if not isinstance(p, _Failed)]
            lex = sorted(set().union(*parts)) if parts else []
            self._lexicons[field_name] = lex
        return lex

    def _pinyin_index(self):
        from zhsearch.search.pinyin import PinyinIndex

        if self._pinyin is None:
            self._pinyin = PinyinIndex.build(_CombinedView(self, {}))  # type: ignore[arg-type]
        return self._pinyin

    def _pinyin_read(self, query: str):  # -> search.pinyin.Reading | None
        """A pinyin query read against every shard's words, as one index
        reads it: the candidate words' frequencies are fetched in one round."""
        from zhsearch.search.pinyin import read

        index = self._pinyin_index()
        asked: list[tuple[str, str]] = []

        class _Recorder:
            def doc_frequency(self, field_name: str, text: str) -> int:
                asked.append((field_name, text))
                return 0

        read(query, index, _Recorder())  # type: ignore[arg-type]
        known = self._frequencies(list(dict.fromkeys(asked))) if asked else {}
        return read(query, index, _CombinedView(self, known))  # type: ignore[arg-type]

    def _probes(self, query: str) -> list[tuple[str, str]]:
        """The terms did-you-mean asks about first: the query's bigrams and words."""
        from zhsearch.search.pinyin import _HAN_WORD

        folded = fold(query)
        keys: dict[tuple[str, str], None] = {}
        for m in _HAN_WORD.finditer(folded):
            run = m.group()
            keys.update(dict.fromkeys((GRAM_FIELD, run[i : i + 2]) for i in range(len(run) - 1)))
        for word, _, _ in word_spans(folded, self.settings):
            keys.update(dict.fromkeys((f, word) for f in TEXT_FIELDS))
        return list(keys)

    # -- queries
    def search(
        self,
        query: str,
        limit: int = 10,
        page: int = 1,
        *,
        snippets: bool = True,
        category: str | Iterable[str] | None = None,
        author: str | Iterable[str] | None = None,
        tag: str | Iterable[str] | None = None,
        since: str | date | None = None,
        until: str | date | None = None,
        source: str | Iterable[str] | None = None,
        facets: Iterable[str] = (),
        sort: str = "score",
        correct: bool = True,
        prior: Any = None,
    ) -> ClusterResults:
        """Like :meth:`Searcher.search`, over every shard; see the module
        docstring for how, and ``ClusterResults.missing``."""
        started = time.perf_counter()
        if not isinstance(query, str):
            raise ZhsearchError("query must be a string")
        limit = max(1, int(limit))
        page = max(1, int(page))
        options: dict[str, Any] = dict(
            category=category, author=author, tag=tag, since=since, until=until, source=source
        )
        Filters.make(**options)  # a bad date fails here, not on every shard
        facet_names = check_facets(facets)
        sort = check_sort(sort)
        self._refresh()
        from zhsearch.search import pinyin

        spelled = bool(pinyin.query_parts(query))
        reading = self._pinyin_read(query) if spelled else None
        failed: dict[int, str] = {}
        stats: CollectionStats | None
        if self._collection is not None:
            # The statistics come from the shards' parts: no round for them.
            self._first.synonyms = self.synonyms
            stats = self._first.statistics(query, self._collection)
            if reading is not None:
                more = self._collection.frequencies((t.field, t.text) for t in reading.scoring())
                stats = replace(stats, doc_frequencies={**more, **stats.doc_frequencies})
        else:
            probes = self._probes(query) if query.strip() else []
            if reading is not None:
                probes += [(t.field, t.text) for t in reading.scoring()]
            parts = []
            for part in self._round("statistics", (query, probes)):
                if isinstance(part, _Failed):
                    failed[part.shard] = part.reason
                else:
                    parts.append(part)
            stats = CollectionStats.merged(parts) if parts else None
        asked = [s.shard for s in self.manifest.shards if s.shard not in failed]
        given = None
        if spelled:
            pieces = []
            for shard, piece in zip(asked, self._round("pinyin", (query, reading, stats), shards=asked), strict=True):
                if isinstance(piece, _Failed):
                    failed[shard] = piece.reason
                else:
                    pieces.append(piece)
            given = pinyin.shared(reading, pieces)
            asked = [k for k in asked if k not in failed]
        kwargs = dict(
            options,
            snippets=snippets,
            facets=facet_names,
            sort=sort,
            stats=stats,
            suggestions=False,
            pinyin_shared=given,
            prior=prior,
            limit=page * limit,
            page=1,
        )
        answers: list[tuple[int, Results]] = []
        for shard, part in zip(asked, self._round("search", (query,), kwargs, asked), strict=True):
            if isinstance(part, _Failed):
                failed[shard] = part.reason
            else:
                answers.append((shard, part))
        results = _merge(query, answers, page, limit, sort)
        suggestion = None
        if stats is not None and query.strip():
            from zhsearch.search.suggest import suggest

            # As on one index: no suggestion when the query was read as pinyin.
            if given is None or not (given.words_matched or given.titles):
                suggestion = suggest(query, _CombinedView(self, stats.doc_frequencies), self.settings, results.total)  # type: ignore[arg-type]
        missing = tuple(shard_name(k) for k in sorted(failed))
        notices = [*results.notices, *_missing_notices(failed)]
        out = ClusterResults(
            query,
            results.total,
            page,
            limit,
            results.hits,
            tuple(notices),
            results.terms,
            time.perf_counter() - started,
            _merge_facets([r.facets for _, r in answers]) if facet_names else {},
            suggestion,
            scores=results.scores,
            total_exact=results.total_exact,
            missing=missing,
            shards=len(self.manifest.shards),
        )
        if correct and suggestion:
            # As one index does: the correction's results instead, when it
            # finds clearly more articles with all its words.
            from zhsearch.search.searcher import CLEARLY_MORE

            better = self.search(
                suggestion, limit, page, snippets=snippets, facets=facet_names, sort=sort, correct=False,
                prior=prior, **options,
            )  # fmt: skip
            typed = fixed = 0
            for part in self._round("complete", (results.terms, better.terms, options)):
                if not isinstance(part, _Failed):
                    typed, fixed = typed + part[0], fixed + part[1]
            if fixed > typed and fixed >= CLEARLY_MORE * typed:
                return replace(  # type: ignore[call-arg]  # mypy misses the fields a frozen subclass inherits
                    better,
                    query=query,
                    corrected=suggestion,
                    notices=tuple(dict.fromkeys((*out.notices, *better.notices))),
                    seconds=time.perf_counter() - started,
                )
        return out

    def related(self, article_id: str, limit: int = 10, *, snippets: bool = True) -> ClusterResults:
        """Like :meth:`Searcher.related`, over every shard: the article is
        read from its shard, its key terms weighted with the collection's
        statistics here, and every shard scores its articles against them."""
        from zhsearch.search import related as related_terms

        started = time.perf_counter()
        limit = max(1, int(limit))
        article = self.article(article_id)  # reads the manifest's generation
        counts = related_terms.term_counts(article, self.settings)
        stats = self._statistics([(f, w) for w in counts for f in TEXT_FIELDS])
        terms = related_terms.key_terms(article, _Idf(stats), self.settings)
        failed: dict[int, str] = {}
        answers: list[tuple[int, Results]] = []
        kwargs = {"snippets": snippets, "terms": terms, "stats": stats}
        for info, part in zip(self.manifest.shards, self._round("related", (article_id, limit), kwargs), strict=True):
            if isinstance(part, _Failed):
                failed[info.shard] = part.reason
            else:
                answers.append((info.shard, part))
        merged = _merge(article_id, answers, 1, limit, "score")
        notices = [*merged.notices, *_missing_notices(failed)]
        return ClusterResults(
            article_id,
            merged.total,
            1,
            limit,
            merged.hits,
            tuple(notices),
            tuple(t for t, _ in terms),
            time.perf_counter() - started,
            scores=merged.scores,
            missing=tuple(shard_name(k) for k in sorted(failed)),
            shards=len(self.manifest.shards),
        )

    def parse(self, query: str):  # -> search.query.ParsedQuery
        """How ``query`` is understood (as every shard understands it)."""
        return self._first.parse(query)

    def generation(self) -> int:
        """The manifest's generation: it changes with every update."""
        self._refresh()
        return self.manifest.generation

    def complete(self, prefix: str, limit: int = 8) -> tuple[Completion, ...]:
        """Like :meth:`Searcher.complete`, over every shard: words ranked by
        their document frequency in the whole collection, titles that start
        with the prefix before those that contain it."""
        self._refresh()
        limit = max(1, int(limit))
        folded = fold(prefix.strip())[:MAX_PREFIX_CHARS]
        found = [
            c for part in self._round("completions", (prefix, limit)) if not isinstance(part, _Failed) for c in part
        ]

        def words(pinyin: bool, seen: set[str]) -> list[Completion]:
            texts = list(dict.fromkeys(c.text for c in found if c.kind == "word" and c.pinyin == pinyin))
            df = self._frequencies([(f, w) for w in texts for f in ("body", "title")])
            texts.sort(key=lambda w: (-(df[("body", w)] + df[("title", w)]), len(w), w))
            return [Completion(w, "word", pinyin=pinyin) for w in texts if w not in seen][:limit]

        def titles(pinyin: bool, shown: set[str]) -> list[Completion]:
            chosen = [c for c in found if c.kind == "title" and c.pinyin == pinyin and c.id not in shown]
            if not pinyin:
                chosen.sort(key=lambda c: not fold(c.text).startswith(folded))  # stable: shard order otherwise
            return chosen[:limit]

        out = words(False, set()) + titles(False, set())
        if any(c.pinyin for c in found) and len(out) < 2 * limit:
            out += words(True, {c.text for c in out}) + titles(True, {c.id for c in out if c.id})
        return tuple(out)

    def _statistics(self, terms: list[tuple[str, str]]) -> CollectionStats:
        """The collection's statistics with these terms' document
        frequencies: from the shards' parts, else in a round."""
        if self._collection is not None:
            return self._collection.stats(terms)
        parts = [p for p in self._round("statistics", ("", terms)) if not isinstance(p, _Failed)]
        if not parts:
            raise ZhsearchError("no shard of the index could be read")
        return CollectionStats.merged(parts)

    def article(self, article_id: str) -> Article:
        """The indexed article with this id, from the shard that holds it
        (the shard its id hashes to first; the others, since an article that
        is part of a work lives with its work)."""
        self._refresh()
        n = len(self.manifest.shards)
        home = shard_of(article_id, n)
        failed: list[str] = []
        for shards in ([home], [k for k in range(n) if k != home]):
            for answer in self._round("article", (article_id,), shards=shards) if shards else ():
                if not isinstance(answer, _Failed):
                    return answer
                if "ArticleNotFoundError" not in answer.reason:
                    failed.append(answer.reason)
        if failed:
            raise ZhsearchError(f"article {article_id!r} was not found and a shard could not be read ({failed[0]})")
        raise ArticleNotFoundError(f"no article with id {article_id!r} in the index; search for it to see ids")

    def stats(self) -> IndexStats:
        """Counts and size of all shards together."""
        self._refresh()
        parts = self._round("stats")
        bad = [p for p in parts if isinstance(p, _Failed)]
        if bad:
            raise ZhsearchError(f"{shard_name(bad[0].shard)} could not be read ({bad[0].reason})")
        size = sum(p.stat().st_size for d in self.manifest.shard_dirs(self.index_dir) for p in Path(d).iterdir())
        first = parts[0]
        return IndexStats(
            index_dir=str(self.index_dir),
            articles=sum(p.articles for p in parts),
            sections=sum(p.sections for p in parts),
            terms=len(self._lexicon("body")),
            size_bytes=size,
            schema_version=first.schema_version,
            analyzer=dict(first.analyzer),
            updated=self.manifest.updated,
        )


def _missing_notices(failed: dict[int, str]) -> list[str]:
    return [
        f"{shard_name(k)} could not be searched ({failed[k]}); its articles are missing from these results"
        for k in sorted(failed)
    ]


class _Idf:
    """BM25 rarity over the collection ``stats`` describe (for key terms)."""

    def __init__(self, stats: CollectionStats) -> None:
        self.stats = stats

    def idf(self, field: str, text: str) -> float:
        df = self.stats.doc_frequencies.get((field, text), 0)
        return bm25_idf(self.stats.sections, df) if df else 0.0


def _merge(query: str, answers: list[tuple[int, Results]], page: int, limit: int, sort: str) -> Results:
    """One page of the shards' answers merged: by score, or by date,
    newest first; ties go to the article id, as on one index."""
    ranked = []
    for shard, res in answers:
        scores = res.scores or tuple(h.score for h in res.hits)
        for i, (hit, score) in enumerate(zip(res.hits, scores, strict=True)):
            key: tuple = (-score, hit.id, shard, i)
            if sort == "date":
                key = (-date_number(hit.meta.get("date")), *key)
            ranked.append((key, hit, score))
    ranked.sort(key=lambda r: r[0])
    chosen = ranked[(page - 1) * limit : page * limit]
    hits = tuple(replace(hit, rank=rank) for rank, (_, hit, _) in enumerate(chosen, (page - 1) * limit + 1))
    # Notices every shard gives hold for the whole index ("no article in
    # the index has category X" must hold for every shard).
    notices: list[str] = []
    if answers:
        common = set(answers[0][1].notices).intersection(*(r.notices for _, r in answers[1:]))
        notices = [n for n in answers[0][1].notices if n in common]
    terms = answers[0][1].terms if answers else ()
    total = sum(r.total for _, r in answers)
    exact = all(r.total_exact for _, r in answers)
    return Results(
        query, total, page, limit, hits, tuple(notices), terms, scores=tuple(s for _, _, s in chosen), total_exact=exact
    )


def _merge_facets(parts: list[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    """Facet counts added up over shards, by folded value, most frequent first."""
    from zhsearch.search.filters import _key

    out: dict[str, dict[str, int]] = {}
    for name in dict.fromkeys(n for p in parts for n in p):
        counts: dict[str, int] = {}
        shown: dict[str, str] = {}
        for p in parts:
            for value, n in p.get(name, {}).items():
                k = _key(value)
                counts[k] = counts.get(k, 0) + n
                if k not in shown or value == k:
                    shown[k] = value
        order = sorted(counts, key=lambda k: (-counts[k], shown[k]))
        out[name] = {shown[k]: counts[k] for k in order}
    return out


def cluster(workers: int = 2, *, host: str = "127.0.0.1", port: int = 8786, threads: int = 1):
    """Start a local Dask cluster of ``workers`` worker processes (each
    ``threads`` threads) with its scheduler on ``host:port``; returns the
    ``distributed.LocalCluster`` (close it to stop)."""
    try:
        from distributed import LocalCluster as DaskLocalCluster
    except ImportError:
        raise ZhsearchError("a cluster needs dask and distributed: pip install 'zhsearch[cluster]'") from None
    if workers < 1:
        raise ZhsearchError(f"a cluster needs at least 1 worker, not {workers}")
    try:
        return DaskLocalCluster(
            n_workers=workers,
            threads_per_worker=threads,
            processes=True,
            host=host,
            scheduler_port=port,
            dashboard_address=None,
        )
    except OSError as exc:
        raise ZhsearchError(f"cannot start a scheduler on {host}:{port} ({exc})") from None
