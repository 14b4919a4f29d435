"""The search engine's public face: ``Searcher``, ``Hit`` and ``Results``.

A :class:`Searcher` opens an index once and answers many queries; each answer
lists articles (each at most once, with its best-matching section) and a
snippet of that section with the matches marked.  No Whoosh object leaves
this module: results are small frozen dataclasses that serialise to JSON.

The module-level :func:`search`, :func:`show` and :func:`stats` are the
library side of the CLI commands of the same names.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from zhsearch.corpus.errors import ArticleNotFoundError, IndexDamagedError, ZhsearchError
from zhsearch.corpus.model import Article, Section
from zhsearch.indexer.analysis import QuickCuts, UserDict, load_user_dict
from zhsearch.indexer.arrays import unique
from zhsearch.indexer.schema import GRAM_FIELD, TEXT_FIELDS, recorded_user_dict, user_dict_changed, user_dict_mismatch
from zhsearch.indexer.storage import (
    check_compatible,
    damage,
    index_exists,
    open_index,
    resolve_index_dir,
    served_notice,
)
from zhsearch.search import authority, execute, pinyin, ranking
from zhsearch.search import related as related_terms
from zhsearch.search.authority import Prior
from zhsearch.search.complete import Completer, Completion
from zhsearch.search.filters import Filters, check_facets, check_sort
from zhsearch.search.pruning import PrunedTop
from zhsearch.search.query import (
    ParsedQuery,
    Plan,
    parse,
    plan,
    query_grams,
    relaxed,
    repair_cuts,
)
from zhsearch.search.ranking import Ranker
from zhsearch.search.snippets import DEFAULT_WIDTH, Snippet, make_snippet
from zhsearch.search.suggest import suggest
from zhsearch.search.synonyms import Synonyms

_T = TypeVar("_T")

RANKED_FIELDS = (*TEXT_FIELDS, GRAM_FIELD)
# A did-you-mean correction replaces the query when at least this many times
# as many articles hold all of its words as hold all of the typed query's
# (and more than none): the typed query's hits only match its other words.
CLEARLY_MORE = 2


@dataclass(frozen=True)
class SectionRef:
    """Which section of an article a hit shows."""

    index: int
    heading: str
    path: tuple[str, ...]


@dataclass(frozen=True)
class Hit:
    """One article in a result list, shown by its best-matching section."""

    rank: int
    id: str
    title: str
    score: float
    section: SectionRef
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    meta: dict[str, Any] = field(compare=False)
    source: str | None = None

    def render(self, markers: tuple[str, str] = ("[", "]")) -> str:
        """The snippet with highlights wrapped in ``markers``."""
        return Snippet(self.snippet, self.highlights).render(markers)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["section"]["path"] = list(self.section.path)
        d["highlights"] = [list(h) for h in self.highlights]
        return d


@dataclass(frozen=True)
class Results:
    """One page of results, the total number of matching articles, and any
    notices about how the query was understood."""

    query: str
    total: int
    page: int
    limit: int
    hits: tuple[Hit, ...]
    notices: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    seconds: float = 0.0
    # {facet: {value: matching articles}}, most frequent first; only the
    # facets asked for.
    facets: dict[str, dict[str, int]] = field(default_factory=dict, compare=False)
    # A corrected query when part of this one matches nothing (did you mean).
    suggestion: str | None = None
    # The corrected query whose results these are, when it found clearly more
    # than the query as typed (``query``); then ``suggestion`` is None.
    corrected: str | None = None
    # The hits' scores before rounding: results of shards merge by them.
    scores: tuple[float, ...] = field(default=(), compare=False, repr=False)
    # False when ``total`` is an estimate: dynamic pruning ranked the page
    # without reading every matching section (``search.pruning``).
    total_exact: bool = True
    # The directory where this search first built an index of the bundled
    # sample articles (no index was there yet); None otherwise.
    sample_built: str | None = None

    def __len__(self) -> int:
        return len(self.hits)

    def __iter__(self):
        return iter(self.hits)

    @property
    def pages(self) -> int:
        return (self.total + self.limit - 1) // self.limit if self.limit else 0


@dataclass(frozen=True)
class IndexStats:
    """What an index holds and how it was built."""

    index_dir: str
    articles: int
    sections: int
    terms: int
    size_bytes: int
    schema_version: int
    analyzer: dict[str, Any]
    updated: float


def _named_damage(method: Callable[..., _T]) -> Callable[..., _T]:
    """Whatever a damaged file makes the readers raise becomes an
    :class:`IndexDamagedError` naming the file (found by checking the
    index's checksums); an error with no damage behind it is re-raised."""

    @functools.wraps(method)
    def checked(self: Searcher, *args: Any, **kwargs: Any) -> _T:
        try:
            return method(self, *args, **kwargs)
        except ZhsearchError:
            raise
        except Exception as exc:
            from zhsearch.indexer.binfile import FormatError
            from zhsearch.indexer.codec import StoredFieldsError

            known = isinstance(exc, (FormatError, StoredFieldsError))
            try:
                problems = damage(self.index_dir, self._ix, full=True)
            except Exception:  # noqa: BLE001 - the check itself hit the damage
                problems = []
            if not (problems or known):
                raise
            reason = str(exc) if known else problems[0]
            raise IndexDamagedError(
                f"the index at {self.index_dir} is damaged ({reason})",
                index_dir=str(self.index_dir),
                file=reason.partition(":")[0].rpartition("/")[2],
                reason=reason,
            ) from None

    return checked


class Searcher:
    """Searches one index; open it once, query it many times.

    Safe to keep open while another process updates the index: each query
    first picks up the latest committed version.
    """

    def __new__(cls, index_dir: str | os.PathLike[str] | None = None, *, cluster: Any = None, **options: Any):
        """A sharded index (or ``cluster``, a Dask scheduler address) gets a
        :class:`zhsearch.search.cluster.ClusterSearcher`, with the same methods."""
        from zhsearch.indexer.shards import is_sharded

        if cls is Searcher and (cluster is not None or is_sharded(resolve_index_dir(index_dir))):
            from zhsearch.search.cluster import ClusterSearcher

            return ClusterSearcher(index_dir, cluster=cluster, **options)
        return super().__new__(cls)

    def __init__(
        self,
        index_dir: str | os.PathLike[str] | None = None,
        *,
        snippet_chars: int = DEFAULT_WIDTH,
        synonyms: Synonyms | str | os.PathLike[str] | None = None,
        user_dict: UserDict | str | os.PathLike[str] | None = None,
        cluster: Any = None,
    ) -> None:
        """Open the index at ``index_dir``.  ``synonyms`` (a :class:`Synonyms`
        or the path of a synonym file) expands every query's words.

        Queries are segmented with the user dictionary recorded in the
        index; ``user_dict`` (a jieba user dictionary file) checks that it is
        that one, and raises :class:`IndexMismatchError` if not.  If the file
        the index's dictionary came from has changed since, every result
        carries a notice saying so.
        """
        if synonyms is not None and not isinstance(synonyms, Synonyms):
            synonyms = Synonyms.load(synonyms)
        if user_dict is not None and not isinstance(user_dict, UserDict):
            user_dict = load_user_dict(user_dict)
        self.synonyms: Synonyms | None = synonyms
        self.index_dir = resolve_index_dir(index_dir)
        self.meta = check_compatible(self.index_dir)
        self.snippet_chars = snippet_chars
        self._ix = open_index(self.index_dir)
        recorded = recorded_user_dict(self._ix.schema)
        problem = user_dict_mismatch(self.index_dir, recorded, user_dict)
        if problem:
            raise problem
        self.settings = replace(self.meta.settings(), user_dict=recorded)
        if self.settings.engine == "rjieba" and recorded is None:
            self.settings = replace(self.settings, quick=_index_quick_cuts(self.index_dir))
        self.notices: tuple[str, ...] = ()
        if user_dict_changed(recorded):
            assert recorded is not None
            self.notices = (
                f"the user dictionary {recorded.path} has changed since the index was built; searching with the "
                f"words recorded in the index (rebuild the index with it to use the new ones)",
            )
        served = served_notice(self.index_dir, self.meta, self._ix)
        if served:
            self.notices = (*self.notices, served)
        self._reader = None
        self._ranker: Ranker | None = None
        self._completer: Completer | None = None

    # -- lifecycle
    def close(self) -> None:
        if self._ranker is not None:
            self._ranker.close()
        if self._reader is not None:
            self._reader.close()

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _current(self) -> tuple[Any, Ranker]:
        """The latest committed snapshot of the index (a Whoosh reader, for
        stored fields) and its ranker."""
        reader = self._reader
        if reader is None or self._ranker is None or reader.generation() != self._ix.latest_generation():
            fresh = self._ix.reader()
            ranker = Ranker(fresh, RANKED_FIELDS)
            if self._ranker is not None:
                self._ranker.close()
            if reader is not None:
                reader.close()
            self._reader, self._ranker = fresh, ranker
            self._memo = execute.Memo()
        return self._reader, self._ranker

    # -- queries
    def parse(self, query: str) -> ParsedQuery:
        """How ``query`` is understood (terms, phrases, notices)."""
        return parse(query, self.settings)

    @_named_damage
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
        stats: ranking.CollectionStats | None = None,
        suggestions: bool = True,
        pinyin_shared: pinyin.PinyinShared | None = None,
        correct: bool = True,
        prior: bool | Prior | None = None,
    ) -> Results:
        """Articles matching ``query``, best first, ``limit`` per ``page``.

        ``category``, ``author``, ``tag`` (a value or a list of alternatives),
        ``since`` and ``until`` (``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``,
        inclusive) and ``source`` (a glob on the file path, or on the file
        name when it has no ``/``) restrict the articles.  ``facets``
        (``category``, ``author``, ``tag``, ``year``) are counted over all
        matching articles.  ``sort="date"`` puts the newest first.
        ``snippets=False`` skips making snippets (hits then carry an empty
        one), for callers that only need the ranking.  When part of the
        query matches nothing and its correction (did you mean) finds clearly
        more, the results are the correction's, with ``corrected`` set;
        ``correct=False`` keeps the query as typed.

        ``prior`` is the document-level prior (``search.authority``): local
        regulations and judicial interpretations rank below the national law
        whose wording they repeat, unless the question names their place or
        kind.  ``None``: as ``authority.ON_BY_DEFAULT`` says; ``False``: off;
        a :class:`Prior`: its factors.

        ``stats`` are the collection statistics to score with (default: this
        index's own): a shard of a sharded index is given the sums over all
        shards (see :meth:`statistics`), and for a pinyin query
        ``pinyin_shared``.  ``suggestions=False`` skips the did-you-mean check.

        When the required parts (ASCII-quoted phrases, ``AND``) match no
        article at all, the relaxed query runs instead (``query.relaxed``) and
        a notice says so; not with ``stats``, where only the caller knows
        whether some other shard has them.
        """
        started = time.perf_counter()
        if not isinstance(query, str):
            raise ZhsearchError("query must be a string")
        limit = max(1, int(limit))
        page = max(1, int(page))
        filters = Filters.make(category=category, author=author, tag=tag, since=since, until=until, source=source)
        facet_names = check_facets(facets)
        sort = check_sort(sort)
        parsed = self.parse(query)
        # Every later stage (pinyin, suggestions) sees the query as cut.
        query = parsed.raw
        notices = [*self.notices, *parsed.notices]
        qplan = plan(parsed, self.settings, self.synonyms)
        unmatched: tuple[str, ...] = ()
        if not qplan.empty:
            _, ranker = self._current()
            parsed, unmatched = self._repaired(ranker, parsed, stats)
            qplan = plan(parsed, self.settings, self.synonyms)
        if qplan.empty:
            notices.append(_nothing_to_search(parsed, query))
            return Results(query, 0, page, limit, (), tuple(notices), parsed.terms, time.perf_counter() - started)
        wanted = filters.article_mask(ranker.columns, notices) if filters.active else None
        spelled_parts = pinyin.query_parts(query)
        # Pruning ranks by score alone and gives up the exact total: not
        # when facets count every match or pinyin adds its own scores.
        prune = None if facet_names or sort != "score" or spelled_parts else ((page - 1) * limit, page * limit)
        factors = ranker.authority(authority.resolve(prior), query)
        parsed, qplan, allowed, scores, pruned = self._run(
            ranker, parsed, qplan, wanted, stats, notices, prune, factors
        )
        reading = None
        spelled = pinyin.search(query, ranker, stats, pinyin_shared) if spelled_parts else None
        if spelled is not None:
            # Anything matched as typed outranks anything matched through pinyin.
            scores = np.where(scores > 0, scores + np.float32(spelled.top), spelled.scores)
            reading = spelled.reading
            notices.append(f"read {query.strip()!r} as pinyin: {spelled.text}")
        elif unmatched:
            notices.append(f"no article contains {', '.join(unmatched)}")
        key = ranker.columns.date if sort == "date" else None
        if pruned is not None:
            total, top = pruned.total, pruned.top
        else:
            total, top = ranker.top_articles(scores, allowed, (page - 1) * limit, page * limit, key)
        keys = list(dict.fromkeys((*parsed.terms, *query_grams(parsed))))
        if reading is not None:
            keys.extend(w for piece in reading.pieces for w, _ in piece)
        if ranking.PROXIMITY_WEIGHT > 0:
            top = [self._rechoose(ranker, scores, allowed, docnum, score, keys) for docnum, score in top]
        weights = {t: ranker.idf("body", t, stats) or 1.0 for t in parsed.terms} if snippets else {}
        # Synonyms are highlighted as phrases: a several-word one is marked whole.
        shown = replace(parsed, phrases=parsed.phrases + qplan.also) if qplan.also else parsed
        hits = [
            self._hit(
                i,
                ranker.stored_fields(docnum),
                score,
                self._marks(ranker, shown, reading, docnum, snippets),
                snippets,
                weights,
            )
            for i, (docnum, score) in enumerate(top, (page - 1) * limit + 1)
        ]
        suggestion = suggest(query, ranker, self.settings, total) if spelled is None and suggestions else None
        counts = execute.facet_counts(ranker, scores, allowed, facet_names)
        results = Results(
            query,
            total,
            page,
            limit,
            tuple(hits),
            tuple(notices),
            parsed.terms,
            time.perf_counter() - started,
            counts,
            suggestion,
            scores=tuple(score for _, score in top),
            total_exact=pruned is None or pruned.exact,
        )
        if correct and suggestion:
            options = {"category": category, "author": author, "tag": tag, "since": since, "until": until}
            better = self.search(
                suggestion, limit, page, snippets=snippets, source=source, facets=facet_names, sort=sort,
                stats=stats, correct=False, prior=prior, **options,
            )  # fmt: skip
            typed = _complete_matches(ranker, parsed.terms, wanted)
            fixed = _complete_matches(ranker, better.terms, wanted)
            if fixed > typed and fixed >= CLEARLY_MORE * typed:
                return replace(
                    better,
                    query=query,
                    corrected=suggestion,
                    notices=tuple(dict.fromkeys((*notices, *better.notices))),
                    seconds=time.perf_counter() - started,
                )
        return results

    def statistics(self, query: str, collection: Any = None) -> ranking.CollectionStats:
        """This index's collection statistics for the terms ``query`` is
        scored with: one shard's part of the statistics that
        ``search(..., stats=...)`` takes (summed with
        :meth:`CollectionStats.merged`).  With ``collection`` (an object
        with ``doc_frequency(field, text)`` and ``stats(terms)``, such as a
        sharded index's summed statistics parts) they are that collection's
        instead, and this index is not read."""
        ranker = self._current()[1] if collection is None else collection
        parsed = self.parse(query)
        # Every word a shard's re-cut could ask about (any free-text word
        # and the words around it), so all shards re-cut alike.
        asked: dict[str, None] = {}
        repair_cuts(parsed, lambda w: bool(asked.setdefault(w, None)), self.settings)
        parsed, _ = self._repaired(ranker, parsed)
        qplan = plan(parsed, self.settings, self.synonyms)
        loose = relaxed(parsed)
        scoring = qplan.scoring + (plan(loose, self.settings, self.synonyms).scoring if loose is not None else ())
        terms: dict[tuple[str, str], None] = {}
        for t in scoring:
            terms[(t.field, t.text)] = None
            if t.like:
                terms[(t.field, t.like)] = None
        terms.update(dict.fromkeys(("body", t) for t in parsed.terms))
        terms.update(dict.fromkeys((f, w) for w in asked for f in TEXT_FIELDS))
        return ranker.stats(terms)

    def _repaired(
        self, ranker: Ranker, parsed: ParsedQuery, stats: ranking.CollectionStats | None = None
    ) -> tuple[ParsedQuery, tuple[str, ...]]:
        """``parsed`` with mis-cut words re-cut into words the index (or the
        collection ``stats`` describe) holds, and the free-text words that
        match nothing anyway."""
        dfs = stats.doc_frequencies if stats is not None else {}

        def known(word: str) -> bool:
            return any(dfs.get((f, word), ranker.doc_frequency(f, word)) for f in TEXT_FIELDS)

        return repair_cuts(parsed, known, self.settings)

    def _run(
        self,
        ranker: Ranker,
        parsed: ParsedQuery,
        qplan: Plan,
        wanted: np.ndarray | None,
        stats: ranking.CollectionStats | None,
        notices: list[str],
        prune: tuple[int, int] | None = None,
        factors: np.ndarray | None = None,
    ) -> tuple[ParsedQuery, Plan, np.ndarray | None, np.ndarray, PrunedTop | None]:
        """Run ``qplan`` (see ``search.execute``): the query and plan that
        ran, the sections allowed, their scores, and the page dynamic
        pruning found (with ``prune``, see ``execute.scored``).  When the
        required parts match no article, the relaxed query runs instead,
        with a notice."""
        unfiltered, allowed, scores, pruned = execute.scored(ranker, qplan, wanted, stats, self._memo, prune, factors)
        # A shard (``stats`` given) can't tell whether another shard has the
        # required parts: there the caller decides on the relaxed query.
        nothing = stats is None and qplan.required and not ranker.matching(scores, unfiltered).any()
        loose = relaxed(parsed) if nothing else None
        if loose is None:
            return parsed, qplan, allowed, scores, pruned
        # Nothing in the index has every required part: rather than no
        # results, the articles with some of the words, and a notice.
        loose_plan = plan(loose, self.settings, self.synonyms)
        _, loose_allowed, loose_scores, _ = execute.scored(
            ranker, loose_plan, wanted, stats, self._memo, factors=factors
        )
        if not ranker.matching(loose_scores, loose_allowed).any():
            return parsed, qplan, allowed, scores, pruned
        required = [c.text for c in parsed.clauses if (c.required or c.phrase) and not c.excluded]
        notices.append(f"no article has all of {' + '.join(required)}; showing articles with some of the words")
        return loose, loose_plan, loose_allowed, loose_scores, None

    def _marks(self, ranker: Ranker, shown: ParsedQuery, reading: Any, docnum: int, snippets: bool) -> ParsedQuery:
        """What a hit's snippet highlights: the query's words, and for a
        pinyin query the words of its reading the section holds."""
        if reading is None or not snippets:
            return shown
        found = reading.words_in(execute.folded_body(ranker, self._memo, docnum))
        return replace(shown, terms=tuple(dict.fromkeys((*shown.terms, *found))))

    def _rechoose(self, ranker: Ranker, scores, allowed, docnum: int, score: float, keys: list[str]):
        """Re-pick the section shown for one article by score and proximity."""
        docs = ranker.sections_of(int(ranker.doc_article[docnum]))
        ok = scores[docs] > 0
        if allowed is not None:
            ok &= allowed[docs]
        docs = docs[ok]
        if len(docs) < 2:
            return docnum, score
        if len(docs) > ranking.SECTION_CANDIDATES:
            docs = docs[np.argsort(-scores[docs], kind="stable")[: ranking.SECTION_CANDIDATES]]
        cands = [(int(d), float(scores[d]), execute.folded_body(ranker, self._memo, int(d))) for d in docs]
        chosen, chosen_score = ranking.choose_section(cands, keys)
        return chosen, score

    def _hit(
        self,
        rank: int,
        stored: dict[str, Any],
        score: float,
        parsed: ParsedQuery,
        snippets: bool,
        weights: dict[str, float] | None = None,
        width: int | None = None,
    ) -> Hit:
        data = stored.get("data", {})
        if snippets:
            snippet = make_snippet(
                stored.get("body", ""),
                parsed.terms,
                parsed.phrases,
                width or self.snippet_chars,
                self.settings,
                weights,
            )
        else:
            snippet = Snippet("")
        return Hit(
            rank=rank,
            id=stored["article"],
            title=stored.get("title", ""),
            score=round(float(score), 4),
            section=SectionRef(int(stored.get("section", 0)), data.get("heading", ""), tuple(data.get("path", ()))),
            snippet=snippet.text,
            highlights=snippet.highlights,
            meta={k: v for k, v in data.get("meta", {}).items() if k != "source"},
            source=stored.get("source"),
        )

    @_named_damage
    def related(
        self,
        article_id: str,
        limit: int = 10,
        *,
        snippets: bool = True,
        terms: list[tuple[str, float]] | None = None,
        stats: ranking.CollectionStats | None = None,
    ) -> Results:
        """Articles most like ``article_id`` (it is left out), most similar
        first, each shown by its closest section with a one-line snippet.

        ``Results.terms`` are the key terms compared (see ``search.related``).
        A shard of a sharded index is given the key ``terms`` (the article
        may live in another shard) and the collection ``stats``.
        """
        started = time.perf_counter()
        limit = max(1, int(limit))
        article = self.article(article_id) if terms is None else None
        _, ranker = self._current()
        if article is not None:
            terms = related_terms.key_terms(article, ranker, self.settings)
        assert terms is not None
        words = tuple(t for t, _ in terms)
        if not terms:
            notice = f"article {article_id!r} has no words to compare with other articles"
            return Results(article_id, 0, 1, limit, (), (notice,), words, time.perf_counter() - started)
        scores = ranker.score(related_terms.scoring(terms), None, stats)
        allowed = ranker.doc_article != ranker.article_number(article_id)
        total, top = ranker.top_articles(scores, allowed, 0, limit, spread=related_terms.SPREAD)
        parsed = ParsedQuery(article_id, (), terms=words)
        weights = dict(terms)
        hits = [
            self._hit(i, ranker.stored_fields(docnum), score, parsed, snippets, weights, related_terms.SNIPPET_CHARS)
            for i, (docnum, score) in enumerate(top, 1)
        ]
        return Results(
            article_id, total, 1, limit, tuple(hits), (), words, time.perf_counter() - started,
            scores=tuple(score for _, score in top),
        )  # fmt: skip

    def complete(self, prefix: str, limit: int = 8) -> tuple[Completion, ...]:
        """Index words and article titles that finish ``prefix`` (also read
        as pinyin: ``wangd`` -> 网贷), for completion as you type."""
        _, ranker = self._current()
        completer = self._completer
        if completer is None or completer.ranker is not ranker:
            completer = self._completer = Completer(ranker)
        return completer.complete(prefix, max(1, int(limit)))

    # -- articles
    @_named_damage
    def article(self, article_id: str) -> Article:
        """The indexed article with this id (its searchable sections)."""
        _, ranker = self._current()
        number = ranker.article_number(article_id)
        docnums = ranker.sections_of(number).tolist()
        if not docnums:
            raise ArticleNotFoundError(f"no article with id {article_id!r} in the index; search for it to see ids")
        docs = sorted((ranker.stored_fields(d) for d in docnums), key=lambda f: int(f.get("section", 0)))
        first = docs[0]
        meta = dict(first.get("data", {}).get("meta", {}))
        sections = tuple(
            Section(
                int(f.get("section", 0)),
                int(f.get("data", {}).get("level", 0)),
                f.get("data", {}).get("heading", ""),
                tuple(f.get("data", {}).get("path", ())),
                f.get("body", ""),
            )
            for f in docs
        )
        return Article(article_id, first.get("title", ""), sections, meta)

    def generation(self) -> int:
        """The number of the index's latest commit: it changes with every
        update, so answers may be remembered per generation."""
        return int(self._ix.latest_generation())

    @_named_damage
    def stats(self) -> IndexStats:
        """Counts, size and build settings of the index."""
        reader, ranker = self._current()
        articles = len(unique(ranker.doc_article[ranker.alive]))
        terms = ranker.live_term_count("body")
        size = sum(p.stat().st_size for p in Path(self.index_dir).iterdir() if p.is_file())
        return IndexStats(
            index_dir=str(self.index_dir),
            articles=articles,
            sections=reader.doc_count(),
            terms=terms,
            size_bytes=size,
            schema_version=self.meta.schema_version,
            analyzer=dict(self.meta.analyzer),
            updated=self.meta.updated,
        )


def _nothing_to_search(parsed: ParsedQuery, query: str) -> str:
    """The notice for a query that leaves nothing to search for."""
    if any(c.excluded for c in parsed.clauses):
        return "the query only excludes words; add a word to search for"
    if query.strip():
        return "nothing to search for: the query has no words left after removing punctuation"
    return "empty query: type some words to search for"


def _complete_matches(ranker: Ranker, terms: Iterable[str], wanted: np.ndarray | None) -> int:
    """How many live articles (among ``wanted`` ones) contain every term."""
    articles: np.ndarray | None = None
    for term in dict.fromkeys(terms):
        docs = ranker.docs_with([(f, term) for f in TEXT_FIELDS]) & ranker.alive
        found = unique(ranker.doc_article[docs])
        articles = found if articles is None else np.intersect1d(articles, found, assume_unique=True)
        if not len(articles):
            return 0
    if articles is None:
        return 0
    return int(wanted[articles].sum()) if wanted is not None else len(articles)


def _index_quick_cuts(index_dir: Path) -> QuickCuts | None:
    """Queries cut with the dictionary stored in the index, if it has one
    (see ``indexer.dictionary``): no dictionary load on start-up."""
    from zhsearch.indexer.dictionary import DICTIONARY_FILE, QueryDictionary

    try:
        return QuickCuts(QueryDictionary(index_dir / DICTIONARY_FILE))
    except (OSError, ValueError):
        return None  # no file (an older index): the full dictionary loads when needed


def search(
    query: str,
    index_dir: str | os.PathLike[str] | None = None,
    limit: int = 10,
    page: int = 1,
    snippet_chars: int = DEFAULT_WIDTH,
    synonyms: Synonyms | str | os.PathLike[str] | None = None,
    user_dict: UserDict | str | os.PathLike[str] | None = None,
    cluster: Any = None,
    **options: Any,
) -> Results:
    """Run one query against the index at ``index_dir`` (on the Dask
    cluster ``cluster`` for a sharded index, see ``search.cluster``).

    ``synonyms`` is a synonym file (see ``search.synonyms``), ``user_dict``
    the user dictionary the index must have been built with; ``options`` are
    :meth:`Searcher.search`'s keyword arguments (filters, ``facets``,
    ``sort``).  With ``index_dir`` left out (the default location) and nothing
    there yet, an index is first built from the bundled sample articles, and
    a notice in the results says so; a given ``index_dir`` must hold an index.
    """
    if synonyms is not None and not isinstance(synonyms, Synonyms):
        synonyms = Synonyms.load(synonyms)  # a bad file fails before any index is built
    notices: tuple[str, ...] = ()
    built: str | None = None
    target = resolve_index_dir(index_dir)
    if index_dir is None and not index_exists(target) and _nothing_at(target) and cluster is None:
        from zhsearch.indexer.build import build_sample_index

        report = build_sample_index(target)
        notices = (
            f"no index at {target} yet: built one from the {report.articles} bundled sample articles "
            f"(index your own articles to search them instead)",
        )
        built = str(target)
    with Searcher(target, snippet_chars=snippet_chars, synonyms=synonyms, user_dict=user_dict, cluster=cluster) as s:
        results = s.search(query, limit=limit, page=page, **options)
    return replace(results, notices=notices + results.notices, sample_built=built) if notices else results


def _nothing_at(path: Path) -> bool:
    """No file or directory at ``path``, or an empty directory: the only
    place a sample index may be built (anything else may be a damaged index)."""
    try:
        return not any(path.iterdir())
    except FileNotFoundError:
        return True
    except OSError:
        return False


def related(
    article_id: str, index_dir: str | os.PathLike[str] | None = None, limit: int = 10, cluster: Any = None
) -> Results:
    """Articles most like ``article_id`` in the index at ``index_dir`` (on
    the Dask cluster ``cluster`` for a sharded index)."""
    with Searcher(index_dir, cluster=cluster) as s:
        return s.related(article_id, limit=limit)


def show(article_id: str, index_dir: str | os.PathLike[str] | None = None, section: int | None = None) -> Article:
    """An article from the index; with ``section``, only that section."""
    with Searcher(index_dir) as s:
        article = s.article(article_id)
    if section is None:
        return article
    chosen = tuple(x for x in article.sections if x.index == section)
    if not chosen:
        have = ", ".join(str(x.index) for x in article.sections)
        raise ArticleNotFoundError(f"article {article_id!r} has no section {section}; its sections are {have}")
    return Article(article.id, article.title, chosen, article.meta)


def complete(prefix: str, index_dir: str | os.PathLike[str] | None = None, limit: int = 8) -> tuple[Completion, ...]:
    """Completions of ``prefix`` from the index at ``index_dir``."""
    with Searcher(index_dir) as s:
        return s.complete(prefix, limit)


def stats(index_dir: str | os.PathLike[str] | None = None) -> IndexStats:
    """Statistics of the index at ``index_dir``."""
    with Searcher(index_dir) as s:
        return s.stats()
