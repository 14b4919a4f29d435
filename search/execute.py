"""Query execution: a query plan, run over one index snapshot.

A plan (``search.query``) says which terms score, which requirements must
hold (quoted phrases, ``AND``, words in a field) and which articles a
``-word`` excludes.  Running it is arithmetic over the snapshot's postings
(``search.ranking``), plus one look at the text for phrases: the postings
have no positions, so a phrase's bigrams find the candidate sections and
their stored text confirms it.  The functions here are pure but for the
:class:`Memo` they are handed, one per snapshot, which remembers what
paging through the same results would otherwise compute again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from zhsearch.indexer.analysis import fold, is_cjk
from zhsearch.indexer.arrays import unique_first
from zhsearch.indexer.schema import GRAM_FIELD, TEXT_FIELDS
from zhsearch.search import pruning
from zhsearch.search.query import Plan, Requirement, phrase_pattern
from zhsearch.search.ranking import CollectionStats, Ranker

_FOLDED = 4096
# The score of a section a required clause allows but no scored term matched.
REQUIRED_FLOOR = 1e-6
_REQUIREMENTS = 256


@dataclass
class Memo:
    """What running queries on one snapshot remembers: sections' folded
    bodies and the sections each requirement holds in (bounded; cleared
    when full)."""

    folded: dict[int, str] = field(default_factory=dict)
    requirements: dict[tuple[Requirement, bool], np.ndarray] = field(default_factory=dict)


def folded_body(ranker: Ranker, memo: Memo, docnum: int) -> str:
    """A section's body text, folded."""
    text = memo.folded.get(docnum)
    if text is None:
        text = fold(ranker.stored_fields(docnum).get("body", ""))
        if len(memo.folded) >= _FOLDED:
            memo.folded.clear()
        memo.folded[docnum] = text
    return text


def scored(
    ranker: Ranker,
    qplan: Plan,
    wanted: np.ndarray | None,
    stats: CollectionStats | None,
    memo: Memo,
    prune: tuple[int, int] | None = None,
    factors: np.ndarray | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray, pruning.PrunedTop | None]:
    """The sections a plan allows (``None``: all), before and after the
    article filter ``wanted``, and their scores; with ``prune`` (ranks
    start, stop) on a large index, the page dynamic pruning found when it
    can prove it (``search.pruning``), and then only the scores it computed.
    ``factors`` are the articles' document-level prior (``Ranker.authority``)."""
    allowed = unfiltered = allowed_sections(ranker, qplan, memo)
    if wanted is not None:
        allowed = wanted[ranker.doc_article] if allowed is None else (allowed & wanted[ranker.doc_article])
    masks = [requirement_docs(ranker, m, memo) for m in qplan.masks]
    if prune is not None and ranker.n_alive >= pruning.MIN_SECTIONS:
        floor = REQUIRED_FLOOR if qplan.required and allowed is not None else 0.0
        terms = list(qplan.scoring)
        found = pruning.sparse_articles(ranker, terms, masks, stats, allowed, *prune, factors=factors, floor=floor)
        if found is None:
            found = pruning.top_articles(ranker, terms, masks, stats, allowed, *prune, factors=factors, floor=floor)
        if found is not None:
            scores = np.zeros(ranker.n_docs, dtype=np.float32)
            scores[found.docs] = found.scores
            return unfiltered, allowed, scores, found
    scores = ranker.score(list(qplan.scoring), masks, stats, factors=factors)
    if qplan.required and allowed is not None:
        # Required clauses (phrases, AND) may match sections no scored
        # term reaches; give them a floor so they still rank.
        scores = np.where(allowed & (scores <= 0), np.float32(REQUIRED_FLOOR), scores)
    return unfiltered, allowed, scores, None


def allowed_sections(ranker: Ranker, qplan: Plan, memo: Memo) -> np.ndarray | None:
    """Mask of sections that satisfy every requirement and belong to no
    excluded article (``None``: no constraint)."""
    mask: np.ndarray | None = None
    # Requirements hold per article: "a" "b" finds an article with
    # phrase a in one section and phrase b in another.
    for req in qplan.required:
        docs = requirement_docs(ranker, req, memo, per_article=True) & ranker.alive
        in_articles = _of_articles(ranker, docs)
        mask = in_articles if mask is None else (mask & in_articles)
    if qplan.excluded:
        hit = np.zeros(ranker.n_docs, dtype=bool)
        for req in qplan.excluded:
            hit |= requirement_docs(ranker, req, memo, per_article=True)
        keep = ~_of_articles(ranker, hit & ranker.alive)
        mask = keep if mask is None else (mask & keep)
    return mask


def _of_articles(ranker: Ranker, docs: np.ndarray) -> np.ndarray:
    """Mask of every section of the articles some section in ``docs`` (a
    mask) belongs to: one gather, not a sort of every section's article."""
    articles = np.zeros(len(ranker.articles), dtype=bool)
    articles[ranker.doc_article[docs]] = True
    return articles[ranker.doc_article]


def requirement_docs(ranker: Ranker, req: Requirement, memo: Memo, per_article: bool = False) -> np.ndarray:
    """Mask of the sections that satisfy one requirement; with
    ``per_article``, at least one such section of every article that has
    one (enough to say which articles do, and quicker)."""
    key = (req, per_article)
    found = memo.requirements.get(key)
    if found is None:
        found = np.flatnonzero(requirement_mask(ranker, req, per_article))
        if len(memo.requirements) >= _REQUIREMENTS:
            memo.requirements.clear()
        memo.requirements[key] = found
    docs = np.zeros(ranker.n_docs, dtype=bool)
    docs[found] = True
    return docs


def requirement_mask(ranker: Ranker, req: Requirement, per_article: bool) -> np.ndarray:
    """:func:`requirement_docs`, computed."""
    if not req.phrase:
        return ranker.docs_with(list(req.any_of))
    if req.field:
        single = len(req.words) == 1 and req.words[0] == req.phrase
        return confirmed(ranker, [(req.field, w) for w in req.words], req, req.field, single, per_article)
    grams = req.grams
    if len(grams) == 1 and len(grams[0]) == 1 and is_cjk(grams[0]):
        # A lone ideograph is not a bigram: match it as a word, alone,
        # or as the first character of a bigram.
        g = grams[0]
        docs = ranker.docs_with([*((f, g) for f in TEXT_FIELDS), (GRAM_FIELD, g)])
        docs[ranker.gram_prefix_docs(GRAM_FIELD, g)] = True
        return docs
    docs = confirmed(ranker, [(GRAM_FIELD, g) for g in grams], req, None, len(grams) == 1, per_article)
    if req.words:
        among = ~np.isin(ranker.doc_article, ranker.doc_article[docs]) if per_article else ~docs
        docs |= confirmed(ranker, [("title", w) for w in req.words], req, "title", False, False, among)
    return docs


def confirmed(
    ranker: Ranker,
    terms: list[tuple[str, str]],
    req: Requirement,
    field: str | None,
    exact: bool,
    per_article: bool = False,
    among: np.ndarray | None = None,
) -> np.ndarray:
    """Sections holding all ``terms`` whose text (``field``'s; heading
    path and body for ``None``) has the phrase, unless one term is
    already ``exact``; ``per_article``: the first such section of each
    article is enough."""
    docs = ranker.docs_with_all(terms)
    if among is not None:
        docs &= among
    if exact:
        return docs
    pattern = phrase_pattern(req.phrase)
    cands = np.flatnonzero(docs)
    if field == "title":
        # One title per article: check it once.
        arts, first = unique_first(ranker.doc_article[cands])
        ok = [
            a
            for a, d in zip(arts.tolist(), cands[first].tolist(), strict=True)
            if has_phrase(ranker, d, field, pattern)
        ]
        return docs & np.isin(ranker.doc_article, ok)
    docs[:] = False
    done: set[int] = set()
    for d, article in zip(cands.tolist(), ranker.doc_article[cands].tolist(), strict=True):
        if per_article and article in done:
            continue
        if has_phrase(ranker, d, field, pattern):
            docs[d] = True
            done.add(article)
    return docs


def has_phrase(ranker: Ranker, docnum: int, field: str | None, pattern: re.Pattern[str]) -> bool:
    """Whether a section's text (``field``'s, or heading path and body) matches ``pattern``."""
    stored = ranker.stored_fields(docnum)
    if field == "title":
        text = stored.get("title", "")
    else:
        path = " / ".join(stored.get("data", {}).get("path", ()))
        body = stored.get("body", "")
        text = body if field == "body" else path if field == "heading" else f"{path}\n{body}"
    # Folding never changes a character that is already folded, so a
    # match in the text as stored is a match; only a miss is re-checked.
    return pattern.search(text) is not None or pattern.search(fold(text)) is not None


def facet_counts(
    ranker: Ranker, scores: np.ndarray, allowed: np.ndarray | None, names: tuple[str, ...]
) -> dict[str, dict[str, int]]:
    """Facet value counts over the articles the query matched."""
    if not names:
        return {}
    matched = np.zeros(len(ranker.articles), dtype=bool)
    matched[ranker.doc_article[ranker.matching(scores, allowed)]] = True
    return {name: ranker.columns.facets[name].counts(matched) for name in names}
