"""Ranking: how sections are scored and how an article's best section is chosen.

Whoosh stores the documents and ``indexer.postings`` the text postings;
scoring happens here, term at a time, on numpy arrays: each posting list is
read once as arrays and scored with vector arithmetic, a few milliseconds for
a long question over a large collection.

The score of a section is BM25F-style: for every query term and every text
field, a BM25 term weight (with its own length normalisation per field),
multiplied by the field's weight, summed.  The character-bigram field adds
the same for the query's bigrams, which rescues terms the question segments
differently from the article.  A coordination factor then favours sections
matching more of the question's distinct words.

Articles are ranked by their best section.  The section shown is chosen among
the article's best few by score plus *proximity*: how many of the question's
words and bigrams one short stretch of its text holds.  Constants here were
chosen by measurement on the zhwiki-qa dev questions (bench/relevance.py).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from zhsearch.indexer.arrays import unique_first, unique_inverse
from zhsearch.indexer.schema import FIELD_WEIGHTS
from zhsearch.indexer.snapshot import Snapshot
from zhsearch.indexer.works import work_key

if TYPE_CHECKING:
    from zhsearch.indexer.authority import Standing
    from zhsearch.search.authority import Prior
    from zhsearch.search.filters import ArticleColumns
    from zhsearch.search.pinyin import PinyinIndex

K1 = 1.2
B = 0.75
FIELD_B = {"title": 0.3, "heading": 0.3, "body": 0.75, "grams": 0.75}
# How much an article's other sections add to its best section's score.
ARTICLE_SPREAD = 0.0
# Exponent of the share of distinct query words a section matches.
COORD_POWER = 0.5
# Words count toward the coordination share by their rarity, not one each.
COORD_IDF = True
# Evidence from an article's work (the law it is an article of, see
# Ranker.article_groups): weight of the mean of its best GROUP_BEST scores.
GROUP_WEIGHT = 0.7
GROUP_BEST = 3
# Score share of a section that only single-character query words matched.
SINGLE_ONLY_WEIGHT = 0.5
# Share of the title weight left to a title that several articles share.
SHARED_TITLE_WEIGHT = 0.1

# Section choice: weight of the proximity of the question's bigrams in a
# section (0 turns it off) and the window it is measured in, in characters.
PROXIMITY_WEIGHT = 2.0
PROXIMITY_WINDOW = 50
# How many of an article's best-scoring sections compete on proximity.
SECTION_CANDIDATES = 5
# Terms whose weights (``Ranker.term_weights``) a ranker remembers.
WEIGHTS_CACHE = 4096


@dataclass(frozen=True)
class ScoreTerm:
    """One (field, term) pair to score, with its weight and its word group.

    ``group`` ties together the fields and bigrams of one query word, so the
    coordination factor counts words, not fields.  A stand-in for another
    word (a synonym) names it in ``like`` — its rarity is capped at that
    word's — and may count only ``within`` the sections of one of the
    masks passed to :meth:`Ranker.score`.
    """

    field: str
    text: str
    boost: float = 1.0
    group: int = -1
    like: str = ""
    within: int = -1


@dataclass(frozen=True)
class CollectionStats:
    """The collection-wide statistics a score depends on: the number of live
    sections, the sum of their lengths per field, and the document frequency
    (live sections) of each (field, term) a query scores.

    One index computes them itself (:meth:`Ranker.stats`); a shard of a
    larger collection is given the sums over all shards, so its scores equal
    those of one index over every article (Elasticsearch's
    ``dfs_query_then_fetch``).  Lengths are whole numbers, so the sums are
    exact and the scores come out the same to the last bit.
    """

    sections: int
    length_sums: dict[str, float]
    doc_frequencies: dict[tuple[str, str], int]

    @classmethod
    def merged(cls, parts: list[CollectionStats]) -> CollectionStats:
        """The statistics of a collection made of these parts (shards)."""
        sums: dict[str, float] = {}
        dfs: dict[tuple[str, str], int] = {}
        for part in parts:
            for f, v in part.length_sums.items():
                sums[f] = sums.get(f, 0.0) + v
            for k, v in part.doc_frequencies.items():
                dfs[k] = dfs.get(k, 0) + v
        return cls(sum(p.sections for p in parts), sums, dfs)

    def avg_length(self, field: str) -> float:
        return max(self.length_sums.get(field, 0.0) / self.sections, 1.0) if self.sections else 1.0


def bm25_idf(n: int, df: int) -> float:
    """BM25 inverse document frequency of a term in ``df`` of ``n`` sections."""
    n = max(n, 1)
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


class Ranker(Snapshot):
    """Scores the sections of one index snapshot (``indexer.snapshot``) with
    numpy: BM25F term weights, coordination, top articles.  Everything it
    reads (postings, lengths, live sections, article numbers) comes from
    the snapshot; nothing here knows Whoosh or the file formats."""

    @cached_property
    def columns(self) -> ArticleColumns:
        """Per-article metadata (dates, sources, facet values), read the
        first time a query filters, counts facets or sorts by date."""
        from zhsearch.search.filters import ArticleColumns

        return ArticleColumns.read(self)

    @cached_property
    def article_groups(self) -> np.ndarray:
        """A group number per article: articles whose titles differ only in
        a trailing part number (``… 第十二条``, ``… Article 3``) belong to one
        work; every other article is a group of its own.  From the work
        keys stored with the postings when every segment has them (no
        stored fields read), else from the titles."""
        works = self.article_works()
        return work_groups(works) if works is not None else group_keys(self.columns.title)

    @cached_property
    def group_sizes(self) -> np.ndarray:
        """How many articles each work (see :attr:`article_groups`) has."""
        return np.bincount(self.article_groups, minlength=1)

    def article_sample(self, size: int) -> tuple[np.ndarray, np.ndarray, int, int]:
        """A fixed random sample of ``size`` live articles (the same for the
        life of the snapshot): their live sections (increasing), each one's
        sample article, the sample's size and the number of live articles."""
        cached = self._samples.get(size)
        if cached is None:
            if self.n_alive == self.n_docs:
                live = np.arange(len(self.articles))  # nothing deleted: every article is live
            else:
                seen = np.zeros(len(self.articles), dtype=bool)
                seen[self.doc_article[self.alive]] = True
                live = np.flatnonzero(seen)
            rng = np.random.default_rng(len(live))
            picked = rng.choice(live, size=min(size, len(live)), replace=False) if len(live) else live
            docs = np.sort(np.concatenate([self.sections_of(int(a)) for a in picked])) if len(picked) else live
            cached = (docs, self.doc_article[docs], len(picked), len(live))
            self._samples[size] = cached
        return cached

    @cached_property
    def _samples(self) -> dict[int, tuple[np.ndarray, np.ndarray, int, int]]:
        return {}

    @cached_property
    def has_groups(self) -> bool:
        """Whether some articles share a work (see :attr:`article_groups`)."""
        return len(self.articles) > 0 and int(np.bincount(self.article_groups).max()) > 1

    @cached_property
    def title_weights(self) -> np.ndarray:
        """Per article, how much its title counts: ``SHARED_TITLE_WEIGHT``
        where the article's title (its part number aside) is shared with
        other articles, 1 elsewhere.  A shared title names the work, not the
        article: its words are evidence for the group, which
        :func:`group_evidence` counts once for all its articles."""
        groups = self.article_groups
        return np.where(self.group_sizes[groups] > 1, np.float32(SHARED_TITLE_WEIGHT), np.float32(1.0))

    @cached_property
    def _standings(self) -> tuple[list[Standing], np.ndarray]:
        """The distinct standings (``indexer.authority``, their places
        folded as questions are) stored with the postings, and each
        article's number among them."""
        from zhsearch.indexer.analysis import fold
        from zhsearch.indexer.authority import Standing

        keys, codes = self.article_standings()
        parsed = (Standing.parse(k) for k in keys)
        return [Standing(st.level, st.kind, tuple(fold(p) for p in st.places)) for st in parsed], codes

    @cached_property
    def _factor_cache(self) -> dict[tuple[float, ...], np.ndarray | None]:
        return {}

    def authority(self, prior: Prior | None, question: str) -> np.ndarray | None:
        """Each article's factor (≤ 1) under the document-level ``prior``
        for ``question`` (``search.authority``); ``None`` when every article
        keeps 1 (nothing to scale)."""
        if prior is None:
            return None
        from zhsearch.search.authority import asked

        distinct, codes = self._standings
        if len(distinct) < 2 or not len(codes):
            return None  # no article has a standing
        q = asked(question)
        per = tuple(prior.factor(standing, q) for standing in distinct)
        cache = self._factor_cache
        if per not in cache:
            if len(cache) >= 64:
                cache.clear()
            cache[per] = None if all(f == 1.0 for f in per) else np.asarray(per, dtype=np.float32)[codes]
        return cache[per]

    @cached_property
    def pinyin(self) -> PinyinIndex:
        """The index's Chinese words by pinyin, built for the first pinyin query."""
        from zhsearch.search.pinyin import PinyinIndex

        return PinyinIndex.build(self)

    def stats(self, terms: Iterable[tuple[str, str]] = ()) -> CollectionStats:
        """This snapshot's statistics, with the document frequencies of ``terms``."""
        dfs = {(f, t): self.doc_frequency(f, t) for f, t in terms}
        return CollectionStats(self.n_alive, dict(self.length_sums), dfs)

    def _df(self, field: str, text: str, stats: CollectionStats | None) -> int:
        if stats is not None:
            df = stats.doc_frequencies.get((field, text))
            if df is not None:
                return df
        return len(self.postings(field, text)[0])

    def idf(self, field: str, text: str, stats: CollectionStats | None = None) -> float:
        """BM25 inverse document frequency of a term (0 if absent), over
        this snapshot or over the collection ``stats`` describe."""
        df = self._df(field, text, stats)
        if not df:
            return 0.0
        return bm25_idf(self.n_alive if stats is None else stats.sections, df)

    def docs_with(self, terms: list[tuple[str, str]]) -> np.ndarray:
        """Boolean mask of sections containing any of these (field, term)."""
        mask = np.zeros(self.n_docs, dtype=bool)
        for field, text in terms:
            ids, _ = self.postings(field, text)
            mask[ids] = True
        return mask

    def docs_with_all(self, terms: list[tuple[str, str]]) -> np.ndarray:
        """Boolean mask of sections containing every one of these (field, term)."""
        mask = np.zeros(self.n_docs, dtype=bool)
        if not terms:
            return mask
        # Rarest first: the intersection is as small as it gets at once.
        lists = sorted((self.postings(f, t)[0] for f, t in dict.fromkeys(terms)), key=len)
        mask[lists[0]] = True
        for ids in lists[1:]:
            keep = np.zeros(self.n_docs, dtype=bool)
            keep[ids] = True
            mask &= keep
        return mask

    # -- scoring
    def score(
        self,
        terms: list[ScoreTerm],
        masks: list[np.ndarray] | None = None,
        stats: CollectionStats | None = None,
        docs: np.ndarray | None = None,
        factors: np.ndarray | None = None,
    ) -> np.ndarray:
        """Per-section scores (0 where nothing matched); ``masks`` are the
        section masks ``ScoreTerm.within`` refers to.  ``stats`` (default:
        this snapshot's) are the collection statistics to score with; every
        collection-wide number a score uses comes from them.  ``factors``
        (one per article, each in (0, 1]: the document-level prior, see
        :meth:`authority`) scale each section's score last.

        With ``docs`` (increasing section numbers), only those sections'
        scores, in that order: the same numbers, bit for bit, as the full
        array holds for them (the same arithmetic on fewer elements), at a
        cost that grows with ``len(docs)``, not with the posting lists
        (dynamic pruning, ``search.pruning``, scores its candidates so)."""
        size = self.n_docs if docs is None else len(docs)
        scores = np.zeros(size, dtype=np.float32)
        slot_of: np.ndarray | None = None
        groups = {t.group for t in terms if t.group >= 0}
        # Coordination: how many groups matched each section, counted once
        # per group (``last`` is the group that counted a section last).
        coord = bool(COORD_POWER) and len(groups) > 1
        group_row = {g: i for i, g in enumerate(sorted(groups))}
        n = self.n_alive if stats is None else stats.sections
        single = any(len(t.text) == 1 and _is_cjk_char(t.text) for t in terms)
        content = np.zeros(size, dtype=bool) if single and SINGLE_ONLY_WEIGHT != 1.0 else None
        if coord:
            matched = np.zeros(size, dtype=np.float32)
            last = np.full(size, -1, dtype=np.int32)
            weights = self._coordination_weights(terms, group_row, n, stats)
        for t in terms:
            avg = self.avg_length[t.field] if stats is None else stats.avg_length(t.field)
            ids, w = self.term_weights(t.field, t.text, avg)
            if not len(ids):
                continue
            idf = self.term_idf(t, n, stats)
            if t.within >= 0 and masks is not None:
                keep = masks[t.within][ids]
                ids, w = ids[keep], w[keep]
                if not len(ids):
                    continue
            if docs is None:
                slots = ids
            elif 16 * len(docs) < len(ids):
                # Few candidates, a long list: look each one up in it.
                at = np.minimum(np.searchsorted(ids, docs), len(ids) - 1)
                slots = np.flatnonzero(ids[at] == docs)
                ids, w = docs[slots], w[at[slots]]
                if not len(ids):
                    continue
            else:
                # Otherwise one pass over the list through a docnum -> slot map.
                if slot_of is None:
                    slot_of = np.zeros(self.n_docs, dtype=np.int32)
                    slot_of[docs] = np.arange(1, len(docs) + 1, dtype=np.int32)
                at = slot_of[ids]
                has = at > 0
                slots = at[has].astype(np.int64) - 1
                ids, w = ids[has], w[has]
                if not len(ids):
                    continue
            scores[slots] += np.float32(t.boost * idf) * w
            if content is not None and (len(t.text) > 1 or not _is_cjk_char(t.text)):
                content[slots] = True
            if coord and t.group in group_row:
                row = group_row[t.group]
                new = slots[last[slots] != row]
                matched[new] += weights[row]
                last[new] = row
        if content is not None:
            # Sections that only single characters matched (年, 有) rank
            # below those matching a word or bigram of the question.
            # Whether a longer word matched anywhere is decided on the
            # collection's statistics, so shards agree.
            longer = any(self._df(t.field, t.text, stats) for t in terms if len(t.text) > 1 or not _is_cjk_char(t.text))
            if longer:
                scores[~content & (scores > 0)] *= np.float32(SINGLE_ONLY_WEIGHT)
        if coord:
            # Every scored section, also one only ungrouped terms matched
            # (its share is 0).  With COORD_IDF, words found nowhere (weight
            # 0) don't count.
            hit = np.flatnonzero(scores)
            total = float(weights.sum()) or 1.0
            share = matched[hit] / np.float32(total)
            scores[hit] *= share**COORD_POWER
        if factors is not None:
            hit = np.flatnonzero(scores)
            scores[hit] *= factors[self.doc_article[hit if docs is None else docs[hit]]]
        return scores

    def term_weights(self, field: str, text: str, avg: float) -> tuple[np.ndarray, np.ndarray]:
        """The live sections holding ``text`` in ``field`` (increasing) and
        the term's BM25 weight in each before its idf and boost — frequency
        saturated, length normalised against the average length ``avg``, a
        shared title's share applied — computed once a term and remembered
        with its postings: a query multiplies them by one number instead of
        redoing the arithmetic on every posting it reads."""
        key = (field, text, avg)
        hit = self._weights.get(key)
        if hit is not None:
            self._weights.move_to_end(key)
            return hit
        ids, tfs = self.postings(field, text)
        b = FIELD_B.get(field, B)
        norm = K1 * (1.0 - b + b * self.lengths[field][ids] / avg)
        w = tfs * np.float32(K1 + 1.0) / (tfs + norm)
        if field == "title" and SHARED_TITLE_WEIGHT != 1.0 and self.has_groups:
            w *= self.title_weights[self.doc_article[ids]]
        self._weights[key] = (ids, w)
        if len(self._weights) > WEIGHTS_CACHE:
            self._weights.popitem(last=False)
        return ids, w

    @cached_property
    def _weights(self) -> OrderedDict[tuple[str, str, float], tuple[np.ndarray, np.ndarray]]:
        return OrderedDict()

    def term_idf(self, t: ScoreTerm, n: int, stats: CollectionStats | None) -> float:
        """The inverse document frequency ``t`` is scored with among ``n``
        sections (a stand-in's capped at its word's; 0 if absent)."""
        df = self._df(t.field, t.text, stats)
        if not df:
            return 0.0
        idf = bm25_idf(n, df)
        if t.like:
            idf = min(idf, self.idf(t.field, t.like, stats) or idf)
        return idf

    def _coordination_weights(
        self, terms: list[ScoreTerm], group_row: dict[int, int], n: int, stats: CollectionStats | None
    ) -> np.ndarray:
        """What each query word counts for in the coordination share: 1, or
        with ``COORD_IDF`` its rarity times its boost in the body (other
        fields only for a word not searched in the body), so matching or
        missing a common single character moves the share little."""
        weights = np.ones(len(group_row), dtype=np.float32)
        if not COORD_IDF:
            return weights
        body_seen = np.zeros(len(group_row), dtype=bool)
        weights[:] = 0.0
        for t in terms:
            row = group_row.get(t.group)
            if row is None:
                continue
            df = self._df(t.field, t.text, stats)
            if not df:
                continue
            idf = bm25_idf(n, df)
            if t.like:
                idf = min(idf, self.idf(t.field, t.like, stats) or idf)
            w = idf * t.boost / FIELD_WEIGHTS.get(t.field, 1.0)
            if t.field == "body":
                weights[row] = max(weights[row] if body_seen[row] else 0.0, w)
                body_seen[row] = True
            elif not body_seen[row]:
                weights[row] = max(weights[row], w)
        return weights

    def matching(self, scores: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
        """Mask of the sections a query matched (live, scored, allowed)."""
        ok = (scores > 0) & self.alive
        if allowed is not None:
            ok &= allowed
        return ok

    def top_articles(
        self,
        scores: np.ndarray,
        allowed: np.ndarray | None,
        start: int,
        stop: int,
        article_key: np.ndarray | None = None,
        spread: float = ARTICLE_SPREAD,
    ) -> tuple[int, list[tuple[int, float]]]:
        """``(total articles, [(best section docnum, article score)])`` for
        ranks ``start`` to ``stop`` (0-based, exclusive).

        Articles are ordered by score; with ``article_key`` (one number per
        article, e.g. its date) by that key, largest first, then by score.
        Remaining ties go to the article id (in code point order), so an
        index updated incrementally ranks like the same index rebuilt.
        ``spread`` is the share of an article's other sections' scores added
        to its best section's.
        """
        cand = np.flatnonzero(self.matching(scores, allowed))
        return self.rank_candidates(cand, scores[cand], start, stop, article_key, spread)

    def rank_candidates(
        self,
        cand: np.ndarray,
        cs: np.ndarray,
        start: int,
        stop: int,
        article_key: np.ndarray | None = None,
        spread: float = ARTICLE_SPREAD,
    ) -> tuple[int, list[tuple[int, float]]]:
        """:meth:`top_articles` from the matching sections ``cand``
        (increasing) and their scores ``cs``: all of them, or the candidates
        dynamic pruning kept (``search.pruning``), ranked the same way."""
        if not len(cand):
            return 0, []
        arts = self.doc_article[cand]
        seen = np.zeros(len(self.articles), dtype=bool)
        seen[arts] = True
        total = int(np.count_nonzero(seen))
        grouped = bool(GROUP_WEIGHT) and self.has_groups
        if article_key is None and not spread and not grouped:
            return total, self._top_by_score(cand, cs, arts, start, stop, self.id_order)
        order = np.argsort(-cs, kind="stable")
        cand, cs, arts = cand[order], cs[order], arts[order]
        _, first = unique_first(arts)
        best_docs, best_scores = cand[first], cs[first]
        if spread:
            totals = np.zeros(len(self.articles), dtype=np.float32)
            np.add.at(totals, arts, cs)
            best_scores = best_scores + spread * (totals[arts[first]] - best_scores)
        if grouped:
            best_scores = best_scores + group_evidence(best_scores, self.article_groups[arts[first]], GROUP_WEIGHT)
        by_id = self.id_order[arts[first]]
        if article_key is None:
            rank = np.lexsort((by_id, -best_scores))
        else:
            rank = np.lexsort((by_id, -best_scores, -article_key[arts[first]].astype(np.int64)))
        page = rank[start:stop]
        return total, [(int(best_docs[i]), float(best_scores[i])) for i in page]

    @staticmethod
    def _top_by_score(
        cand: np.ndarray, cs: np.ndarray, arts: np.ndarray, start: int, stop: int, id_order: np.ndarray
    ) -> list[tuple[int, float]]:
        """Ranks ``start`` to ``stop`` of the articles by best section score,
        from the matching sections ``cand`` (increasing), their scores and
        articles, without sorting all of them: the best ``m`` sections
        (every section tying the ``m``-th included) hold the best section of
        every article ranked among them, so ``m`` grows until they hold
        ``stop`` articles."""
        m = min(len(cand), max(4 * stop, 64))
        while True:
            if m < len(cand):
                cut = cs[np.argpartition(-cs, m - 1)[m - 1]]
                pick = np.flatnonzero(cs >= cut)
            else:
                pick = np.arange(len(cand))
            # By score, then article id, then document number (``cand`` is increasing).
            pick = pick[np.lexsort((pick, id_order[arts[pick]], -cs[pick]))]
            _, first = unique_first(arts[pick])
            if len(first) >= stop or len(pick) == len(cand):
                break
            m = min(len(cand), 4 * m)
        best = np.sort(first)[start:stop]
        return [(int(cand[pick[i]]), float(cs[pick[i]])) for i in best]


def _is_cjk_char(text: str) -> bool:
    return len(text) == 1 and "\u3400" <= text <= "\u9fff"


def group_keys(titles: list[str]) -> np.ndarray:
    """Group numbers for titles: equal once a trailing part number is cut."""
    return work_groups([work_key(t) for t in titles])


def work_groups(works: list[str]) -> np.ndarray:
    """Group numbers for articles' work keys (``indexer.works``): equal for
    equal keys, a group of its own for an empty one."""
    # Numbered in order of first appearance, in C-level passes (a 16x laws
    # index has 55,600 articles and every new process needs their groups);
    # an empty key stands for its own position, which no key equals.
    keys: list[str | int] = [key or i for i, key in enumerate(works)]
    numbers = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    return np.fromiter(map(numbers.__getitem__, keys), dtype=np.int32, count=len(keys))


def group_evidence(scores: np.ndarray, groups: np.ndarray, weight: float, best: int | None = None) -> np.ndarray:
    """What the rest of its work says for each article: ``weight`` times the
    mean of the ``best`` highest scores among the articles of its group
    (itself included, missing ones count 0), so the right article of the
    right law outranks a lone match in an unrelated one.  ``scores`` and
    ``groups`` are per candidate article."""
    if not len(scores):
        return scores
    best = GROUP_BEST if best is None else best
    order = np.lexsort((-scores, groups))
    g = groups[order]
    starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    pos = np.arange(len(g)) - np.repeat(starts, np.diff(np.r_[starts, len(g)]))
    keep = order[pos < best]
    uniq, inverse = unique_inverse(groups)
    sums = np.zeros(len(uniq), dtype=np.float64)
    np.add.at(sums, inverse[keep], scores[keep])
    return (weight * sums[inverse] / best).astype(scores.dtype)


# From this many occurrences on, the best window is found with arrays; below,
# a plain scan is faster.
_ARRAY_PROXIMITY_HITS = 150


def proximity(folded_text: str, keys: list[str], window: int | None = None) -> float:
    """Share of ``keys`` (distinct query bigrams/words) found together in the
    best ``window``-character stretch of the text: an answer tends to say
    the question's words close together."""
    if not keys:
        return 0.0
    window = PROXIMITY_WINDOW if window is None else window
    found: list[list[int]] = []
    for key in keys:
        where: list[int] = []
        start = folded_text.find(key)
        while start >= 0:
            where.append(start)
            start = folded_text.find(key, start + 1)
        found.append(where)
    if sum(map(len, found)) >= _ARRAY_PROXIMITY_HITS:
        return _array_proximity([np.array(w, dtype=np.int64) for w in found if w], len(keys), window)
    hits = sorted((pos, k) for k, where in enumerate(found) for pos in where)
    if not hits:
        return 0.0
    best = 0
    counts: dict[int, int] = {}
    lo = 0
    for pos, k in hits:
        counts[k] = counts.get(k, 0) + 1
        while hits[lo][0] < pos - window:
            kk = hits[lo][1]
            counts[kk] -= 1
            if not counts[kk]:
                del counts[kk]
            lo += 1
        best = max(best, len(counts))
    return best / len(keys)


def _array_proximity(found: list[np.ndarray], n_keys: int, window: int) -> float:
    """:func:`proximity` from each key's sorted occurrences, all windows at once."""
    if not found:
        return 0.0
    # Each occurrence ends a window [end - window, end]; count the keys
    # with an occurrence inside it.
    ends = np.concatenate(found)
    present = np.zeros(len(ends), dtype=np.int32)
    for where in found:
        i = np.searchsorted(where, ends, side="right") - 1
        present += (i >= 0) & (where[np.maximum(i, 0)] >= ends - window)
    return int(present.max()) / n_keys


def choose_section(candidates: list[tuple[int, float, str]], keys: list[str]) -> tuple[int, float]:
    """Pick an article's section to show: its own score, normalised by the
    best one, plus the proximity of the query in its text.

    ``candidates`` are ``(docnum, score, folded text)`` of one article's
    sections; returns the chosen ``(docnum, score)``.
    """
    top = max(score for _, score, _ in candidates) or 1.0
    best = max(
        candidates,
        key=lambda c: (c[1] / top + PROXIMITY_WEIGHT * proximity(c[2], keys), c[1]),
    )
    return best[0], best[1]
