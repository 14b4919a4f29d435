"""Query parsing: what a user typed -> terms to score and sections required, leniently.

Free text is the common case: a question typed in plain Chinese.  It is
analysed exactly like article text, question words and particles are dropped
(see ``indexer/stopwords.txt``), and the remaining terms are OR-ed across
title, heading and body, so sections matching more of them rank higher.

Syntax for those who want it:

* ``"exact phrase"`` (ASCII quotes) — the characters in this order;
  matched on character bigrams, so segmentation can't break it; required.
* “…”, 「…」, 『…』 (typographic quotes) mark a term the way people quote for
  emphasis (劳动法上的“三期”): it counts more (``EMPHASIS_WEIGHT``) and is
  highlighted whole, but is not required.

When the required parts (phrases, ``AND``) match nothing, the searcher runs
the relaxed query (see :func:`relaxed`) and says so in a notice; words the
question cut into something the index never saw (醉|驾会) are re-cut into
words it holds (see :func:`repair_cuts`).
* ``-word`` / ``-"phrase"`` / ``NOT word`` — articles containing it are left out.
* ``a AND b`` — both required; ``a OR b`` — either (the default anyway).
* ``title:词``, ``heading:词``, ``body:词`` — look in one field only.

Nothing here raises on bad syntax: an unbalanced quote, a dangling operator
or an unknown field falls back to plain terms and adds a notice saying so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from zhsearch.indexer.analysis import (
    CJK_CLASS,
    Settings,
    alternative_words,
    fold,
    gram_runs,
    gram_spans,
    is_cjk,
    stopwords,
    word_spans,
)
from zhsearch.indexer.schema import FIELD_WEIGHTS, GRAM_FIELD, TEXT_FIELDS
from zhsearch.search.ranking import ScoreTerm
from zhsearch.search.synonyms import SYNONYM_WEIGHT, Synonyms

MAX_QUERY_CHARS = 1000
FIELD_NAMES = frozenset(TEXT_FIELDS)
# Weight of the bigram field next to the word fields for free text: a
# fallback for terms the question segments differently from the article.
GRAM_WEIGHT = 1.0
# Weight of a quoted phrase's bigrams (the phrase is also required).
PHRASE_GRAM_WEIGHT = 1.0
# A word of one ideograph (税, 房, 有, 会) counts this much of a longer word.
SINGLE_CHAR_WEIGHT = 0.5
# How much more a term in typographic quotes counts than plain text.
EMPHASIS_WEIGHT = 1.5
# Longest word looked for when re-cutting a word the index doesn't hold.
REPAIR_MAX_CHARS = 4

_QUOTES = {'"': '"', "“": "”", "「": "」", "『": "』", "”": "”"}
_LEX = re.compile(
    r"""
    (?P<field>[A-Za-z_]+):(?=\S)          # field prefix, value follows
  | (?P<neg>[-－](?=["“「『\w]))          # minus glued to a word or quote
  | (?P<quote>["“「『”」』])
  | (?P<op>(?<!\S)(?:AND|OR|NOT|&&|\|\|)(?!\S))
  | (?P<space>\s+)
  | (?P<word>[^\s"“「『”」』]+)
    """,
    re.X,
)


@dataclass(frozen=True)
class Clause:
    """One unit of a query: free-text words or a quoted phrase."""

    text: str
    phrase: bool = False
    field: str | None = None
    required: bool = False
    excluded: bool = False
    emphasis: bool = False
    # The terms to search free text for, when re-cut (None: its own cut).
    words: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ParsedQuery:
    """A query as understood: clauses, notices, and the terms and phrases
    to highlight."""

    raw: str
    clauses: tuple[Clause, ...]
    notices: tuple[str, ...] = ()
    terms: tuple[str, ...] = field(default=())
    phrases: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not any(not c.excluded for c in self.clauses) or not (self.terms or self.phrases)


def parse(text: str, settings: Settings | None = None) -> ParsedQuery:
    """Understand ``text``; never raises on syntax, lists what it skipped."""
    notices: list[str] = []
    if len(text) > MAX_QUERY_CHARS:
        notices.append(f"query shortened to its first {MAX_QUERY_CHARS} characters")
        text = text[:MAX_QUERY_CHARS]
    clauses = _clauses(text, notices)
    terms: list[str] = []
    phrases: list[str] = []
    for c in clauses:
        if c.excluded:
            continue
        if c.phrase:
            phrases.append(c.text)
        else:
            if c.emphasis:
                phrases.append(c.text)
            for t in free_terms(c.text, settings):
                if t not in terms:
                    terms.append(t)
            # Also mark the dictionary words hidden in a mis-cut question
            # (上门 in 会上|门): the bigram field scores them, so show them.
            stop = stopwords()
            for w in alternative_words(fold(c.text), settings):
                if w not in terms and w not in stop:
                    terms.append(w)
    return ParsedQuery(text, tuple(clauses), tuple(notices), tuple(terms), tuple(phrases))


def free_terms(text: str, settings: Settings | None = None) -> list[str]:
    """Terms of free text, without stop words unless nothing else is left."""
    words = [w for w, _, _ in word_spans(fold(text), settings)]
    stop = stopwords()
    kept = [w for w in words if w not in stop]
    return kept or words


def _clauses(text: str, notices: list[str]) -> list[Clause]:
    clauses: list[Clause] = []
    pending_field: str | None = None
    negate = False
    join: str | None = None  # operator waiting for its right-hand clause
    pos = 0
    n = len(text)

    def add(clause_text: str, phrase: bool) -> None:
        nonlocal pending_field, negate, join
        if not clause_text.strip():
            pending_field, negate = None, False
            return
        fld = pending_field
        if fld is not None and fld not in FIELD_NAMES:
            notices.append(f"unknown field {fld!r} searched as text (fields: {', '.join(sorted(FIELD_NAMES))})")
            clause_text = f"{fld} {clause_text}"
            fld = None
        required = False
        if join == "AND" and clauses:
            prev = clauses[-1]
            if not prev.excluded:
                clauses[-1] = Clause(prev.text, prev.phrase, prev.field, True, False)
            required = True
        elif join == "NOT":
            negate = True
        clauses.append(Clause(clause_text, phrase, fld, required and not negate, negate))
        pending_field, negate, join = None, False, None

    while pos < n:
        m = _LEX.match(text, pos)
        if m is None:  # cannot happen with the catch-all, but never loop forever
            pos += 1
            continue
        kind = m.lastgroup
        pos = m.end()
        if kind == "space":
            continue
        if kind == "field":
            pending_field = m.group("field").lower()
        elif kind == "neg":
            negate = True
        elif kind == "op":
            op = {"&&": "AND", "||": "OR"}.get(m.group("op"), m.group("op"))
            if op == "NOT":
                negate = True
            elif not clauses or join:
                notices.append(f"ignored {op!r} with nothing on its left")
            else:
                join = op
        elif kind == "quote":
            opener = m.group("quote")
            close = _QUOTES.get(opener)
            end = text.find(close, pos) if close and opener not in "”」』" else -1
            if end < 0:
                notices.append("unbalanced quote ignored; searched the words as plain text")
                continue
            if opener == '"' or negate or pending_field or join == "AND":
                add(text[pos:end], phrase=True)
            elif text[pos:end].strip():
                # Typographic quotes in a question are emphasis, not a filter.
                clauses.append(Clause(text[pos:end], emphasis=True))
            pos = end + 1
        else:
            add(m.group("word"), phrase=False)
    if join:
        notices.append(f"ignored {join!r} with nothing on its right")
    if negate or pending_field:
        notices.append("ignored a trailing '-' or field name with nothing after it")
    return clauses


# --------------------------------------------------------------------------
# Whoosh queries


def _fields(field_name: str | None) -> tuple[str, ...]:
    return (field_name,) if field_name else TEXT_FIELDS


@dataclass(frozen=True)
class Requirement:
    """Sections must contain one of ``any_of`` (field, term), or ``phrase``.

    A phrase is the characters of ``phrase`` in order (punctuation and
    spacing aside): without ``field`` in the section's heading path or body,
    or in its article's title; with one, in that field.  Found by its
    bigrams (``grams``) or words (``words``), confirmed on the text.
    """

    any_of: tuple[tuple[str, str], ...] = ()
    phrase: str = ""
    field: str | None = None
    grams: tuple[str, ...] = ()
    words: tuple[str, ...] = ()


_SEP = r"[\W_]"


def phrase_pattern(folded: str) -> re.Pattern[str]:
    """A regular expression for folded phrase ``folded`` in text: its runs
    of letters, digits and ideographs in order, with punctuation or spacing
    where the phrase has some (or where a Latin word meets an ideograph),
    never inside a Latin word."""
    runs = [m.group() for m in gram_runs().finditer(folded)]
    if not runs:
        return re.compile(r"(?!)")
    parts = [re.escape(runs[0])]
    for prev, run in zip(runs, runs[1:], strict=False):
        both_cjk = is_cjk(prev[-1]) and is_cjk(run[0])
        both_latin = not is_cjk(prev[-1]) and not is_cjk(run[0])
        parts.append(f"{_SEP}+" if both_cjk or both_latin else f"{_SEP}*")
        parts.append(re.escape(run))
    head = "" if is_cjk(runs[0][0]) else f"(?<![^\\W_{CJK_CLASS}])"
    tail = "" if is_cjk(runs[-1][-1]) else f"(?![^\\W_{CJK_CLASS}])"
    return re.compile(head + "".join(parts) + tail)


def phrase_requirement(
    text: str, field_name: str | None = None, settings: Settings | None = None
) -> Requirement | None:
    """The requirement that sections hold ``text`` as a phrase (``None``
    when it has nothing to search for).

    Without a field, matched on bigrams, so jieba cutting 会上|门 in the
    article can't hide 上门走访; within one field, on its words.
    """
    folded = fold(text)
    words = tuple(w for w, _, _ in word_spans(folded, settings))
    if field_name:
        return Requirement(phrase=folded, field=field_name, words=words) if words else None
    grams = tuple(g for g, _, _ in gram_spans(folded))
    if not grams:
        return None
    return Requirement(phrase=folded, grams=grams, words=words)


@dataclass(frozen=True)
class Plan:
    """What the ranker does for a query: terms to score, sections required,
    articles excluded.

    ``masks`` are the phrases that ``ScoreTerm.within`` refers to (several-word
    synonyms), ``also`` the synonyms to highlight.
    """

    scoring: tuple[ScoreTerm, ...]
    required: tuple[Requirement, ...]
    excluded: tuple[Requirement, ...]
    masks: tuple[Requirement, ...] = ()
    also: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.scoring and not self.required


def _term_scores(term: str, field_name: str | None, group: int, boost: float = 1.0) -> list[ScoreTerm]:
    if len(term) == 1 and is_cjk(term):
        boost *= SINGLE_CHAR_WEIGHT
    return [ScoreTerm(f, term, FIELD_WEIGHTS[f] * boost, group) for f in _fields(field_name)]


def query_grams(parsed: ParsedQuery) -> list[str]:
    """The distinct CJK bigrams of the query's free text and phrases."""
    texts = [c.text for c in parsed.clauses if not c.excluded]
    return list(dict.fromkeys(g for t in texts for g, _, _ in gram_spans(fold(t)) if len(g) == 2 and is_cjk(g)))


def _gram_scores(text: str, weight: float) -> list[ScoreTerm]:
    if weight <= 0:
        return []
    grams = dict.fromkeys(g for g, _, _ in gram_spans(fold(text)) if len(g) == 2 and is_cjk(g))
    return [ScoreTerm(GRAM_FIELD, g, weight) for g in grams]


def plan(parsed: ParsedQuery, settings: Settings | None = None, synonyms: Synonyms | None = None) -> Plan:
    """Turn a parsed query into scoring terms, requirements and exclusions;
    with ``synonyms``, free text also looks for the synonyms of its words."""
    scoring: list[ScoreTerm] = []
    required: list[Requirement] = []
    excluded: list[Requirement] = []
    masks: list[Requirement] = []
    also: list[str] = []
    group = 0
    for clause in parsed.clauses:
        if clause.excluded:
            req = phrase_requirement(clause.text, clause.field, settings)
            if req is not None:
                excluded.append(req)
            continue
        if clause.phrase:
            req = phrase_requirement(clause.text, clause.field, settings)
            if req is None:
                continue
            required.append(req)
            for w, _, _ in word_spans(fold(clause.text), settings):
                scoring.extend(_term_scores(w, clause.field, group))
                group += 1
            if clause.field is None:
                scoring.extend(_gram_scores(clause.text, PHRASE_GRAM_WEIGHT))
            continue
        terms = list(clause.words) if clause.words is not None else free_terms(clause.text, settings)
        first_group = group
        boost = EMPHASIS_WEIGHT if clause.emphasis else 1.0
        for t in terms:
            scoring.extend(_term_scores(t, clause.field, group, boost))
            group += 1
            if clause.required:
                required.append(Requirement(any_of=tuple((f, t) for f in _fields(clause.field))))
        if clause.field is None and terms:
            scoring.extend(_gram_scores(clause.text, GRAM_WEIGHT * boost))
        if synonyms is not None:
            for _, _, entry in synonyms.matches(fold(clause.text)):
                # The synonym stands for the first query word inside the entry.
                i = next((i for i, t in enumerate(terms) if t in entry), None)
                if i is None:
                    continue
                for alt in synonyms.alternatives(entry):
                    scoring.extend(_synonym_scores(alt, terms[i], clause.field, first_group + i, masks, settings))
                    also.append(alt)
    return Plan(tuple(scoring), tuple(required), tuple(excluded), tuple(masks), tuple(dict.fromkeys(also)))


def _synonym_scores(
    alt: str, like: str, field_name: str | None, group: int, masks: list[Requirement], settings: Settings | None
) -> list[ScoreTerm]:
    words = [w for w, _, _ in word_spans(alt, settings)]
    if not words:
        return []
    within = -1
    if len(words) > 1:
        req = phrase_requirement(alt, field_name, settings)
        if req is None:
            return []
        within = len(masks)
        masks.append(req)
    weight = SYNONYM_WEIGHT / len(words)
    return [ScoreTerm(f, w, FIELD_WEIGHTS[f] * weight, group, like, within) for w in words for f in _fields(field_name)]


# --------------------------------------------------------------------------
# Second chances


def relaxed(parsed: ParsedQuery) -> ParsedQuery | None:
    """The query with nothing required: phrases become emphasised terms and
    ``AND`` becomes ``OR`` (exclusions and fields stay); ``None`` if nothing
    was required."""
    if not any(c.required or (c.phrase and not c.excluded) for c in parsed.clauses):
        return None
    clauses = tuple(
        c
        if c.excluded
        else Clause(c.text, False, c.field, False, False, emphasis=c.emphasis or c.phrase, words=c.words)
        for c in parsed.clauses
    )
    return replace(parsed, clauses=clauses)


def repair_cuts(
    parsed: ParsedQuery, known: Callable[[str], bool], settings: Settings | None = None
) -> tuple[ParsedQuery, tuple[str, ...]]:
    """Re-cut free-text words the index doesn't hold into words it holds.

    jieba may cut a question 醉|驾会|坐牢 where the articles say 醉驾: a word
    ``known`` rejects is replaced by the known words (two to
    ``REPAIR_MAX_CHARS`` characters, longest first, not overlapping) that
    overlap it in the question's text.  Returns the repaired query and the
    free-text words of two or more characters that match nothing even so
    (for a notice).
    """
    stop = stopwords()
    unmatched: list[str] = []
    clauses = list(parsed.clauses)
    added: list[str] = []
    changed = False
    for i, c in enumerate(clauses):
        if c.excluded or c.phrase or c.field is not None or c.words is not None:
            continue
        folded = fold(c.text)
        spans = [(w, a, b) for w, a, b in word_spans(folded, settings) if w not in stop] or list(
            word_spans(folded, settings)
        )
        words: list[str] = []
        for w, a, b in spans:
            if known(w):
                words.append(w)
                continue
            found = _known_around(folded, a, b, known, stop)
            if found:
                changed = True
                words.extend(x for x in found if x not in words)
                added.extend(found)
            else:
                words.append(w)
                if len(w) > 1 and is_cjk(w):  # a lone character is no news; pinyin has its own
                    unmatched.append(w)
        if changed:
            clauses[i] = replace(c, words=tuple(dict.fromkeys(words)))
    if not changed:
        return parsed, tuple(dict.fromkeys(unmatched))
    terms = tuple(dict.fromkeys((*parsed.terms, *added)))
    return replace(parsed, clauses=tuple(clauses), terms=terms), tuple(dict.fromkeys(unmatched))


def _known_around(folded: str, start: int, end: int, known: Callable[[str], bool], stop: frozenset[str]) -> list[str]:
    """Known words of the text overlapping ``[start, end)``, longest first,
    not overlapping each other, within its run of ideographs."""
    lo, hi = start, end
    while lo > 0 and is_cjk(folded[lo - 1]) and start - lo < REPAIR_MAX_CHARS - 1:
        lo -= 1
    while hi < len(folded) and is_cjk(folded[hi]) and hi - end < REPAIR_MAX_CHARS - 1:
        hi += 1
    cands = [
        (a, b)
        for n in range(REPAIR_MAX_CHARS, 1, -1)
        for a in range(lo, hi - n + 1)
        if a < end and a + n > start
        for b in (a + n,)
        if is_cjk(folded[a:b]) and all(is_cjk(ch) for ch in folded[a:b])
    ]
    taken: list[tuple[int, int]] = []
    for a, b in cands:
        if any(a < y and x < b for x, y in taken):
            continue
        w = folded[a:b]
        if w not in stop and known(w):
            taken.append((a, b))
    return [folded[a:b] for a, b in sorted(taken)]
