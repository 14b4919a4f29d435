"""Dynamic pruning: a query's top articles without scoring every section a
common term holds.

MaxScore (Turtle and Flood, 1995), term at a time over numpy arrays.  Every
posting list records, per term, its largest frequency and its smallest
``length / frequency`` (``indexer.postings.impact_bounds``), which bound the
term's BM25 weight in any section.  Sorted by that bound, the weakest terms
whose bounds sum to less than the score the k-th article already reached
are *non-essential*: a section holding only them cannot reach the page.  So
only the sections of the essential (rare, heavy) terms are candidates; they
are scored exactly, with every term, by looking them up in the other posting
lists (``Ranker.score(..., docs=...)``: the same arithmetic on fewer
elements, so the same numbers bit for bit).

The final score is not a plain sum — coordination, single-character
matches, shared titles and the document-level prior (``search.authority``)
only scale it down (factors ≤ 1), so the bounds still hold; but an article
also gets evidence from the best articles of its work (``ranking.
group_evidence``), which depends on other articles.  So the pruned ranking is
accepted only with a certificate: every article on the page has an exact
score (its best section scored, its work's best articles known: their
sections are added and scored when needed), and every other article — a
candidate or not — has an upper bound below the page's last score.  When the
certificate fails, or pruning would save nothing, the caller scores
exhaustively; pruned and exhaustive pages are equal (tests/test_pruning.py).

What pruning gives up is the exact number of matching articles: the total
becomes an estimate (``Results.total_exact`` is false; the CLI says
"about N").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from zhsearch.indexer.arrays import union, unique, unique_first
from zhsearch.search.ranking import (
    FIELD_B,
    GROUP_BEST,
    GROUP_WEIGHT,
    K1,
    B,
    CollectionStats,
    Ranker,
    ScoreTerm,
    group_evidence,
)

# Bounds are computed in float64 from float32 inputs; this margin covers
# the float32 rounding of the scores they bound.
SAFETY = 1.0 + 1e-4
# The first candidates: at most this share of the sections.
SEED_SHARE = 0.005
SEED_MIN = 1000
# Of the first candidates, this many (those with the highest weights) are scored.
SEED_BEST = 1024
# Pruning is given up when the terms weighed section by section hold more
# than this share of the query's postings (it then saves little).
MAX_WORK = 0.6
# The terms weighed section by section: all but the weakest, whose bounds'
# sum stays below this share of the page's last score.
FILTER_SHARE = 0.5
# Articles sampled to estimate how many match.
SAMPLE_ARTICLES = 256
# Below this many live sections every query is scored exhaustively: it
# takes a few milliseconds, and totals stay exact.
MIN_SECTIONS = 200_000
# Relative slack between a float64 bound and float32 arithmetic.
ROUNDING = 1.0 + 1e-6
# Pages this deep are ranked exhaustively (pruning pays for the first pages).
MAX_DEPTH = 100
# Candidates beyond this share of the live sections: no gain, score them all.
MAX_SHARE = 0.5
# Queries whose terms hold at most this many postings per live section are
# ranked exhaustively over their postings alone (``sparse_articles``).
SPARSE_SHARE = 0.03


@dataclass(frozen=True)
class PrunedTop:
    """A page ranked with pruning: the estimated number of matching
    articles (at least ``found``, the matching articles among the
    candidates), the page ``[(section, article score)]``, the sections
    scored exactly (increasing) with their scores, and whether ``total``
    is exact (a query with required parts counts the articles that have them)."""

    total: int
    found: int
    top: list[tuple[int, float]]
    docs: np.ndarray
    scores: np.ndarray
    exact: bool = False


def term_bounds(ranker: Ranker, terms: list[ScoreTerm], stats: CollectionStats | None) -> np.ndarray | None:
    """An upper bound of each term's contribution to any section's score
    (``None``: some segment records no bounds, or a boost is negative)."""
    n = ranker.n_alive if stats is None else stats.sections
    out = np.zeros(len(terms), dtype=np.float64)
    for i, t in enumerate(terms):
        if t.boost < 0:
            return None
        bound = ranker.term_bound(t.field, t.text)
        if bound is None:
            return None
        top, low = bound
        if not top:
            continue
        idf = ranker.term_idf(t, n, stats)
        b = FIELD_B.get(t.field, B)
        avg = ranker.avg_length[t.field] if stats is None else stats.avg_length(t.field)
        weight = (K1 + 1.0) / (1.0 + K1 * (1.0 - b) / top + K1 * b * low / avg)
        out[i] = t.boost * idf * weight * SAFETY
    return out


def _partial(
    ranker: Ranker, terms: list[ScoreTerm], chosen: list[int], stats: CollectionStats | None
) -> tuple[np.ndarray, np.ndarray]:
    """The sections holding one of the ``chosen`` terms (increasing), and an
    upper bound of those terms' part of each one's score: their BM25
    weights summed as :meth:`Ranker.score` sums them, before the factors
    that only scale a score down (coordination, single characters, shared
    titles, a stand-in's mask, the prior).  One pass over their postings,
    no look-ups.  (Bounding the coordination factor too, from the words
    each section holds, left half as many candidates but cost as much as
    it saved on the 16x laws.)"""
    n = ranker.n_alive if stats is None else stats.sections
    acc = np.zeros(ranker.n_docs, dtype=np.float32)
    held = np.zeros(ranker.n_docs, dtype=bool)
    for i in chosen:
        t = terms[i]
        avg = ranker.avg_length[t.field] if stats is None else stats.avg_length(t.field)
        ids, w = ranker.term_weights(t.field, t.text, avg)
        if not len(ids):
            continue
        acc[ids] += np.float32(t.boost * ranker.term_idf(t, n, stats)) * w
        held[ids] = True
    docs = np.flatnonzero(held)
    # Summed in float32 like the scores: the margin covers the rounding.
    return docs, acc[docs].astype(np.float64) * SAFETY


def _union(parts: list[np.ndarray], n_docs: int) -> np.ndarray:
    parts = [p for p in parts if len(p)]
    if not parts:
        return np.zeros(0, dtype=np.int64)
    if len(parts) == 1:
        return parts[0]
    if sum(map(len, parts)) * 64 < n_docs:
        return unique(np.concatenate(parts))
    # Many: a mask over all sections is quicker than sorting them.
    mask = np.zeros(n_docs, dtype=bool)
    for p in parts:
        mask[p] = True
    return np.flatnonzero(mask)


def _matched(ranker: Ranker, docs: np.ndarray, scores: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
    """Which of the scored sections ``docs`` the query matched (scored,
    live, allowed): ``Ranker.matching`` for a few sections."""
    ok = (scores > 0) & ranker.alive[docs]
    if allowed is not None:
        ok &= allowed[docs]
    return ok


class _Candidates:
    """The sections scored so far (increasing) and their exact scores; a
    section's score does not depend on the others, so new ones are scored
    alone and merged in."""

    def __init__(
        self,
        ranker: Ranker,
        terms: list[ScoreTerm],
        masks,
        stats: CollectionStats | None,
        factors: np.ndarray | None = None,
    ) -> None:
        self.ranker, self.terms, self.masks, self.stats, self.factors = ranker, terms, masks, stats, factors
        self.docs = np.zeros(0, dtype=np.int64)
        self.scores = np.zeros(0, dtype=np.float32)

    def add(self, parts: list[np.ndarray]) -> None:
        new = _union(parts, self.ranker.n_docs)
        if len(self.docs) and len(new):
            at = np.minimum(np.searchsorted(self.docs, new), len(self.docs) - 1)
            new = new[self.docs[at] != new]
        if not len(new):
            return
        scores = self.ranker.score(self.terms, self.masks, self.stats, new, self.factors)
        if not len(self.docs):
            self.docs, self.scores = new, scores
            return
        docs = np.concatenate([self.docs, new])
        order = np.argsort(docs, kind="stable")
        self.docs, self.scores = docs[order], np.concatenate([self.scores, scores])[order]


class _Round:
    """The candidates' exact scores and what they say about articles."""

    def __init__(self, ranker: Ranker, docs: np.ndarray, scores: np.ndarray, allowed: np.ndarray | None) -> None:
        self.docs, self.scores = docs, scores
        ok = _matched(ranker, docs, scores, allowed)
        self.cand, self.cs = docs[ok], scores[ok]
        arts = ranker.doc_article[self.cand]
        order = np.lexsort((self.cand, -self.cs))
        self.articles, first = unique_first(arts[order])
        self.best = self.cs[order][first]
        self.grouped = bool(GROUP_WEIGHT) and ranker.has_groups
        if self.grouped:
            self.groups = ranker.article_groups[self.articles]
            self.final = self.best + group_evidence(self.best, self.groups, GROUP_WEIGHT)
        else:
            self.final = self.best
        self.by_id = ranker.id_order[self.articles]

    def page(self, stop: int) -> np.ndarray:
        """Positions (in ``articles``) of the best ``stop`` articles."""
        rank = np.lexsort((self.by_id, -self.final))
        return rank[:stop]

    def threshold(self, stop: int) -> float:
        """The ``stop``-th best article score among the candidates (0: fewer)."""
        if len(self.final) < stop:
            return 0.0
        return float(np.partition(self.final, len(self.final) - stop)[len(self.final) - stop])


def _bounds(ranker: Ranker, r: _Round, ceiling: float, complete: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """For the candidate articles of ``r``: an upper bound of each one's
    article score, and whether its score is exact; and a bound for every
    article that is not a candidate.  ``ceiling`` bounds the score of any
    section that is not a candidate; ``complete`` marks the articles all of
    whose sections are candidates."""
    done = complete[r.articles]
    exact = done | (r.best > ceiling)
    upper = np.where(done, r.best.astype(np.float64), np.maximum(r.best, ceiling))
    if not r.grouped:
        return upper, exact, ceiling
    g = r.groups
    sizes = ranker.group_sizes
    # A work's members that are not candidates may each hold up to
    # ``ceiling``: they fill the best-of places its candidates leave empty
    # (not in a work whose every member is complete: those are known).
    settled = np.bincount(ranker.article_groups, weights=complete, minlength=len(sizes)) >= sizes
    in_cand = np.bincount(g, minlength=len(sizes))
    open_ = np.where(settled, 0, sizes - in_cand)
    fill = np.minimum(np.maximum(GROUP_BEST - in_cand[g], 0), open_[g])
    loose = np.maximum(r.best, ceiling).astype(np.float64)
    evidence = group_evidence(loose, g, GROUP_WEIGHT) + GROUP_WEIGHT * ceiling * fill / GROUP_BEST
    # Settled works: the evidence as computed from the candidates is exact.
    known = settled[g]
    evidence = np.where(known, (r.final - r.best).astype(np.float64), evidence)
    # A work's evidence is exact when its best few candidates are exact and
    # beat anything unknown: at least GROUP_BEST of them, each above the ceiling.
    order = np.lexsort((-r.best, g))
    gs = g[order]
    starts = np.r_[0, np.flatnonzero(gs[1:] != gs[:-1]) + 1]
    pos = np.arange(len(gs)) - np.repeat(starts, np.diff(np.r_[starts, len(gs)]))
    head = pos < GROUP_BEST
    strong = np.bincount(gs[head], weights=(r.best[order][head] > ceiling), minlength=len(sizes))
    sure = known | (ceiling == 0) | (strong[g] >= GROUP_BEST)
    outside = ceiling * (1.0 + GROUP_WEIGHT * min(GROUP_BEST, int(sizes.max(initial=1))) / GROUP_BEST)
    member = (open_[g] > 0) & ~known
    if member.any():
        # A member of a work with candidates, itself not one.
        outside = max(outside, float(ceiling + evidence[member].max()))
    return upper + evidence, exact & sure, outside


def _certain(r: _Round, page: np.ndarray, upper: np.ndarray, exact: np.ndarray, outside: float, ceiling: float) -> bool:
    """Whether no article off the page can outrank the page's last one:
    exact candidates by score then id (as the ranking orders them),
    bounded ones by their bound, non-candidates by ``outside``."""
    last = page[-1]
    theta, last_id = r.final[last], r.by_id[last]
    rest = np.ones(len(r.articles), dtype=bool)
    rest[page] = False
    known = rest & exact
    after = (r.final[known] < theta) | ((r.final[known] == theta) & (r.by_id[known] > last_id))
    if not after.all():
        return False
    bounded = rest & ~exact
    theta64 = float(theta)
    # Bounds are float64, scores float32 sums: leave a few float32 steps.
    high = upper[bounded] * ROUNDING
    after = (high < theta64) | ((high <= theta64) & (r.by_id[bounded] > last_id))
    return bool(after.all()) and (ceiling == 0 or outside * ROUNDING < theta64)


@dataclass(frozen=True)
class _Plan:
    """A query's terms ordered by their bounds (weakest first), the running
    sum of those bounds, each term's number of postings, and the most a
    work's evidence may add to an article (a share of a score)."""

    order: np.ndarray
    prefix: np.ndarray
    sizes: np.ndarray
    group_weight: float


def _seed(
    ranker: Ranker, terms: list[ScoreTerm], plan: _Plan, cands: _Candidates, stats: CollectionStats | None
) -> None:
    """The first candidates: of the sections of the terms with the highest
    bounds (as long as they are few), those their weights say are best —
    a first threshold at the cost of a few exact scores."""
    budget = max(SEED_SHARE * ranker.n_alive, SEED_MIN)
    essential: list[int] = []
    held = 0
    for i in plan.order[::-1].tolist():
        if essential and held + plan.sizes[i] > budget:
            continue
        essential.append(i)
        held += plan.sizes[i]
    docs, partial = _partial(ranker, terms, sorted(essential), stats)
    if len(docs) > SEED_BEST:
        docs = np.sort(docs[np.argpartition(-partial, SEED_BEST - 1)[:SEED_BEST]])
    cands.add([docs])


def _filter(
    ranker: Ranker,
    terms: list[ScoreTerm],
    plan: _Plan,
    cands: _Candidates,
    stats: CollectionStats | None,
    allowed: np.ndarray | None,
    stop: int,
    factors: np.ndarray | None,
) -> tuple[_Round, float] | None:
    """MaxScore rounds: the terms weighed section by section are those whose
    bounds the page's last score does not leave out; of their sections,
    those that may still reach the page become candidates.  Repeated while
    a higher threshold leaves out more terms.  The candidates' round and
    the ceiling every other section's score stays below; ``None``: pruning
    would save nothing."""
    prefix, order, sizes, w = plan.prefix, plan.order, plan.sizes, plan.group_weight
    filtered: set[int] | None = None
    ceiling = float(prefix[-2])
    for _ in range(4):
        r = _Round(ranker, cands.docs, cands.scores, allowed)
        theta = r.threshold(stop)
        top_best = float(r.best.max(initial=0.0))
        # The weakest terms a section may hold alone and still be left out:
        # their bounds' sum, plus the most its work could add, stays below
        # the page's last score.
        room = prefix + w * np.maximum(top_best, prefix)
        # The terms weighed exactly section by section: the essential ones
        # and more, so the rest's bounds leave room to rule sections out.
        kf = int(np.searchsorted(room, FILTER_SHARE * theta, side="left"))
        chosen = {int(i) for i in order[kf:]}
        if sizes[sorted(chosen)].sum() > MAX_WORK * sizes.sum():
            return None  # the weighed terms hold most postings: no gain
        if filtered is not None and chosen <= filtered:
            return r, ceiling
        # Not every section of a weighed term is a candidate: those whose
        # weighed terms' weights, plus every other term's bound, cannot
        # lift their article onto the page are left out (block-max
        # MaxScore's test, per section); the best of them bounds them all.
        rest = float(prefix[kf - 1]) if kf else 0.0
        docs, partial = _partial(ranker, terms, sorted(chosen), stats)
        bound = partial + rest
        if factors is not None:
            # The prior scales every section of an article (a factor ≤ 1).
            bound = bound * factors[ranker.doc_article[docs]].astype(np.float64)
        keep = (bound + w * np.maximum(top_best, bound)) * ROUNDING >= theta
        ceiling = max(rest, float(bound[~keep].max(initial=0.0)))
        filtered = chosen
        cands.add([docs[keep]])
        if len(cands.docs) > MAX_SHARE * ranker.n_alive:
            return None
    return None


def _certify(
    ranker: Ranker, r: _Round, cands: _Candidates, allowed: np.ndarray | None, stop: int, ceiling: float
) -> _Round | None:
    """Make the page exact and prove it: the page's articles (and, when
    their work's evidence is not exact, their works' articles) get every
    section scored, until no article off the page can outrank its last one.
    The final round; ``None``: not proven."""
    complete = np.zeros(len(ranker.articles), dtype=bool)
    for _ in range(3):
        upper, exact, outside = _bounds(ranker, r, ceiling, complete)
        page = r.page(stop)
        if len(page) < stop and ceiling > 0:
            return None
        unknown = page[~exact[page] | ~complete[r.articles[page]]]
        if not len(unknown):
            if len(page) and not _certain(r, page, upper, exact, outside, ceiling):
                return None
            return r
        arts = r.articles[unknown]
        if r.grouped:
            unsure = unknown[~exact[unknown]]
            if len(unsure):
                arts = union([arts, np.flatnonzero(np.isin(ranker.article_groups, r.groups[unsure]))])
        complete[arts] = True
        cands.add([ranker.sections_of(int(a)) for a in arts])
        if len(cands.docs) > MAX_SHARE * ranker.n_alive:
            return None
        r = _Round(ranker, cands.docs, cands.scores, allowed)
    return None


def top_articles(
    ranker: Ranker,
    terms: list[ScoreTerm],
    masks: list[np.ndarray] | None,
    stats: CollectionStats | None,
    allowed: np.ndarray | None,
    start: int,
    stop: int,
    factors: np.ndarray | None = None,
    floor: float = 0.0,
) -> PrunedTop | None:
    """Ranks ``start`` to ``stop`` of the articles for ``terms``, as
    ``Ranker.top_articles`` on ``Ranker.score`` (with the articles' prior
    ``factors``) gives them, found with pruning; ``None`` when pruning
    cannot prove its page or saves nothing (then score exhaustively).
    ``floor``: the score every ``allowed`` section no term matched gets (a
    query's required parts, see ``search.execute``): such sections are
    bounded by it, and every allowed article counts in the total."""
    if stop > MAX_DEPTH or len(terms) < 2 or not ranker.n_alive:
        return None
    bounds = term_bounds(ranker, terms, stats)
    if bounds is None:
        return None
    order = np.argsort(bounds, kind="stable")
    plan = _Plan(
        order=order,
        prefix=np.cumsum(bounds[order]),
        sizes=np.array([ranker.doc_frequency(t.field, t.text) for t in terms]),
        group_weight=GROUP_WEIGHT if (GROUP_WEIGHT and ranker.has_groups) else 0.0,
    )
    cands = _Candidates(ranker, terms, masks, stats, factors)
    _seed(ranker, terms, plan, cands, stats)
    filtered = _filter(ranker, terms, plan, cands, stats, allowed, stop, factors)
    if filtered is None:
        return None
    r, ceiling = filtered
    final = _certify(ranker, r, cands, allowed, stop, max(ceiling, floor))
    if final is None:
        return None
    found, top = ranker.rank_candidates(final.cand, final.cs, start, stop)
    if floor and allowed is not None:
        seen = np.zeros(len(ranker.articles), dtype=bool)
        seen[ranker.doc_article[np.flatnonzero(allowed & ranker.alive)]] = True
        return PrunedTop(int(np.count_nonzero(seen)), found, top, final.docs, final.scores, exact=True)
    total = max(found, estimate_total(ranker, terms, masks, stats, allowed))
    return PrunedTop(total, found, top, final.docs, final.scores)


def sparse_articles(
    ranker: Ranker,
    terms: list[ScoreTerm],
    masks: list[np.ndarray] | None,
    stats: CollectionStats | None,
    allowed: np.ndarray | None,
    start: int,
    stop: int,
    factors: np.ndarray | None = None,
    floor: float = 0.0,
) -> PrunedTop | None:
    """Ranks ``start`` to ``stop`` exhaustively, as :func:`top_articles`
    promises, when the terms' postings are few (at most ``SPARSE_SHARE`` of
    the live sections): every section they hold is scored, and only those —
    no array over every section of the index, whose passes cost more than
    the postings on a large one.  The total is exact.  ``None``: too many."""
    if sum(ranker.doc_frequency(t.field, t.text) for t in terms) > SPARSE_SHARE * ranker.n_alive:
        return None
    parts = [ranker.postings(t.field, t.text)[0] for t in terms]
    required = allowed if floor else None
    if required is not None:
        parts.append(np.flatnonzero(required))
    docs = _union(parts, ranker.n_docs)
    scores = ranker.score(terms, masks, stats, docs, factors)
    if required is not None:
        # Sections with the required parts that no scored term reaches.
        scores = np.where(required[docs] & (scores <= 0), np.float32(floor), scores)
    ok = _matched(ranker, docs, scores, allowed)
    found, top = ranker.rank_candidates(docs[ok], scores[ok], start, stop)
    return PrunedTop(found, found, top, docs, scores, exact=True)


def estimate_total(
    ranker: Ranker,
    terms: list[ScoreTerm],
    masks: list[np.ndarray] | None,
    stats: CollectionStats | None,
    allowed: np.ndarray | None,
) -> int:
    """How many articles match, estimated on a fixed random sample of the
    articles (``SAMPLE_ARTICLES``, every section of each scored exactly):
    the share of them that match, times the live articles.  Its cost does
    not grow with the collection; its error is a few per cent of the
    articles."""
    docs, owner, n_sampled, n_live = ranker.article_sample(SAMPLE_ARTICLES)
    if not n_sampled:
        return 0
    scores = ranker.score(terms, masks, stats, docs)
    ok = scores > 0
    if allowed is not None:
        ok &= allowed[docs]
    hit = len(unique(owner[ok]))
    return int(round(hit / n_sampled * n_live))
