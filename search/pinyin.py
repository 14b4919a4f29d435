"""Pinyin queries: Chinese words typed as Latin letters.

A query qualifies when it is nothing but Latin letters, spaces and
apostrophes, and each of its words is either **full pinyin** — it splits
into syllables (``wangdai yuqi``, ``wangdaiyuqi``) — or **initials**, the
first letters of syllables (``wdyq``: no i, u or v, which start no syllable).

It is read against the index's own vocabulary.  Every Chinese word in the
title and body lexicons is keyed by its toneless pinyin (网贷 -> ``wangdai``)
and, from two characters up, its initials (``wd``), taken from pypinyin's
dictionaries: a word's own reading where pypinyin knows the word or its
parts (银行 is ``yinhang``), otherwise its characters' most common readings.
The query's letters are then tiled with such keys — as few pieces as
possible, a single character counting as two words, since a tiling made of
single characters is usually a misreading — and each piece stands for the
words that share its key, weighted by how common each is in the index (for
``yq`` in a collection about debts: 逾期 before 一起).

:class:`Reading` turns that into score terms, one query word per piece, and
``Searcher`` keeps only articles that contain a word for at least
``MIN_PIECES_SHARE`` of the pieces (so a random string of initials finds
nothing), and ranks every article the query matches *as typed* above every
article found through pinyin.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
from zhsearch.indexer.arrays import unique
from zhsearch.indexer.schema import FIELD_WEIGHTS, TEXT_FIELDS
from zhsearch.search.ranking import ScoreTerm

if TYPE_CHECKING:
    from zhsearch.search.ranking import Ranker

# Candidate words per piece, most common first.
MAX_CANDIDATES = 6
# Share of the pieces an article must have a word for (rounded up): initials
# are far more ambiguous than full pinyin.
MIN_PIECES_SHARE = {"full": 0.5, "initials": 0.75}
# Score weight of pinyin candidates (exact matches rank above them anyway).
PINYIN_WEIGHT = 1.0
# Queries this short are not matched against titles (too many spell them).
MIN_TITLE_LETTERS = 3
# A homophone is highlighted if it is at least this common next to the likeliest.
HIGHLIGHT_SHARE = 0.25

_QUERY = re.compile(r"[A-Za-z' ]+")
_HAN_WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_NO_INITIAL = frozenset("iuv")


# --------------------------------------------------------------------------
# Readings of Chinese text


def _toneless(syllable: str) -> str:
    decomposed = unicodedata.normalize("NFD", syllable.lower()).replace("u\u0308", "v")
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=1)
def _dicts() -> tuple[dict[int, str], dict[str, list[list[str]]]]:
    from pypinyin.constants import PHRASES_DICT
    from pypinyin.pinyin_dict import pinyin_dict

    return pinyin_dict, PHRASES_DICT


@lru_cache(maxsize=1)
def syllables() -> frozenset[str]:
    """Every toneless pinyin syllable (``v`` for ü); interjections without
    a vowel (hm, ng) left out."""
    chars, _ = _dicts()
    out = {_toneless(r) for readings in chars.values() for r in readings.split(",")}
    return frozenset(s for s in out if s.isalpha() and re.search("[aeiouv]", s))


@lru_cache(maxsize=65536)
def _char_reading(ch: str) -> str:
    chars, _ = _dicts()
    readings = chars.get(ord(ch))
    return _toneless(readings.split(",", 1)[0]) if readings else ""


def reading(word: str) -> list[str]:
    """Toneless syllables of a Chinese word: the longest dictionary phrases
    first (so 银行卡 reads yin hang ka), single characters otherwise; empty
    when a character has no reading."""
    return list(_reading(word))


# Every snapshot of an index (each commit) builds its PinyinIndex from the
# whole lexicon anew; remembering the readings makes that a matter of lookups.
@lru_cache(maxsize=1 << 19)
def _reading(word: str) -> tuple[str, ...]:
    _, phrases = _dicts()
    out: list[str] = []
    i = 0
    n = len(word)
    while i < n:
        for j in range(min(n, i + 6), i + 1, -1):
            hit = phrases.get(word[i:j])
            if hit:
                out.extend(_toneless(p[0]) for p in hit)
                i = j
                break
        else:
            r = _char_reading(word[i])
            if not r:
                return ()
            out.append(r)
            i += 1
    return tuple(out)


# --------------------------------------------------------------------------
# The index vocabulary by pinyin


class PinyinIndex:
    """The index's Chinese words by full pinyin and by initials, and every
    article title spelled out (syllable by syllable; read when first asked
    for: re-spelling a mistyped word needs only the words, and reading one
    title per article grows with the collection)."""

    def __init__(
        self, full: dict[str, list[str]], initials: dict[str, list[str]], titles: Callable[[], list[str]]
    ) -> None:
        self.full = full
        self.initials = initials
        self._titles = titles

    @cached_property
    def titles(self) -> list[list[str]]:
        """Each article's title as syllables, indexed like ``Ranker.articles``."""
        return [spelled(t) for t in self._titles()]

    @classmethod
    def build(cls, ranker: Ranker) -> PinyinIndex:
        full: dict[str, list[str]] = {}
        initials: dict[str, list[str]] = {}
        words: set[str] = set()
        for field in ("title", "body"):
            for word in ranker.lexicon(field):
                if _HAN_WORD.fullmatch(word):
                    words.add(word)
        for word in sorted(words):
            syl = reading(word)
            if len(syl) != len(word):
                continue
            full.setdefault("".join(syl), []).append(word)
            if len(word) > 1:
                initials.setdefault("".join(s[0] for s in syl), []).append(word)
        return cls(full, initials, lambda: ranker.columns.title)

    def titles_matching(self, parts: list[tuple[str, str]]) -> list[int]:
        """Articles (indexes into ``Ranker.articles``) whose title spells
        the query: full pinyin as whole syllables, initials as one letter a
        syllable, in order and without gaps."""
        if len(parts) == 1 and parts[0][0] == "initials":
            q = parts[0][1]
            return [a for a, syl in enumerate(self.titles) if q in "".join(s[0] for s in syl)]
        return [a for a, syl in enumerate(self.titles) if any(_spells(syl, i, parts) for i in range(len(syl)))]


def spelled(text: str) -> list[str]:
    """The syllables of the Chinese in ``text`` (Latin letters, digits and
    punctuation are left out: typed as they are, they match as they are)."""
    from zhsearch.indexer.analysis import fold

    return [syl for run in _HAN_WORD.findall(fold(text)) for syl in reading(run)]


def _spells(syl: list[str], i: int, parts: list[tuple[str, str]]) -> bool:
    """Whether the syllables from ``i`` on begin with the query's letters."""
    letters = [(mode, ch) for mode, text in parts for ch in ([text] if mode == "full" else text)]
    for mode, text in letters:
        if mode == "initials":
            if i >= len(syl) or syl[i][0] != text:
                return False
            i += 1
            continue
        pos = 0
        while pos < len(text):
            if i >= len(syl) or not text.startswith(syl[i], pos):
                return False
            pos += len(syl[i])
            i += 1
    return True


# --------------------------------------------------------------------------
# Queries


def _splits_into_syllables(letters: str) -> bool:
    syl = syllables()
    ok = [True] + [False] * len(letters)
    for i in range(1, len(letters) + 1):
        ok[i] = any(ok[j] and letters[j:i] in syl for j in range(max(0, i - 6), i))
    return ok[-1]


def query_parts(query: str) -> list[tuple[str, str]] | None:
    """``[(mode, letters)]`` for a query that looks like pinyin — ``mode``
    ``"full"`` or ``"initials"``, consecutive words of one mode joined — or
    ``None`` when it does not."""
    if not _QUERY.fullmatch(query) or not query.strip():
        return None
    parts: list[tuple[str, str]] = []
    for word in query.lower().replace("'", " ").split():
        if _splits_into_syllables(word):
            mode = "full"
        elif not (set(word) & _NO_INITIAL):
            mode = "initials"
        else:
            return None
        if parts and parts[-1][0] == mode:
            parts[-1] = (mode, parts[-1][1] + word)
        else:
            parts.append((mode, word))
    return parts


@dataclass(frozen=True)
class Reading:
    """A pinyin query read as Chinese: per piece, candidate words and their
    weights, best first."""

    pieces: tuple[tuple[tuple[str, float], ...], ...]

    @property
    def text(self) -> str:
        """The likeliest words, e.g. ``网贷 逾期``."""
        return " ".join(p[0][0] for p in self.pieces)

    def scoring(self, first_group: int = 1000) -> list[ScoreTerm]:
        return [
            ScoreTerm(f, word, FIELD_WEIGHTS[f] * PINYIN_WEIGHT * weight, first_group + g)
            for g, piece in enumerate(self.pieces)
            for word, weight in piece
            for f in TEXT_FIELDS
        ]

    def words_in(self, folded: str) -> list[str]:
        """For highlighting: per piece, its likeliest word found in the text
        (a far less common homophone is not marked)."""
        found = (
            next((w for w, weight in piece if w in folded and weight >= HIGHLIGHT_SHARE), None) for piece in self.pieces
        )
        return [w for w in found if w]


def _tile(letters: str, keys: dict[str, list[str]], single_ok: bool) -> list[str] | None:
    """Cheapest split of ``letters`` into keys (a key of one-character words
    costs 2, others 1; fewer pieces break ties)."""
    n = len(letters)
    longest = max((len(k) for k in keys), default=0)
    best: list[tuple[int, int, int] | None] = [None] * (n + 1)  # (cost, pieces, previous cut)
    best[0] = (0, 0, -1)
    for i in range(1, n + 1):
        for j in range(max(0, i - longest), i):
            prev = best[j]
            words = keys.get(letters[j:i])
            if prev is None or not words:
                continue
            multi = any(len(w) > 1 for w in words)
            if not multi and not single_ok:
                continue
            cand = (prev[0] + (1 if multi else 2), prev[1] + 1, j)
            here = best[i]
            if here is None or cand[:2] < here[:2]:
                best[i] = cand
    if best[n] is None:
        return None
    cuts = [n]
    while cuts[-1] > 0:
        step = best[cuts[-1]]
        assert step is not None  # every place on the best path was reached
        cuts.append(step[2])
    cuts.reverse()
    return [letters[a:b] for a, b in pairwise(cuts)]


def read(query: str, index: PinyinIndex, ranker: Ranker) -> Reading | None:
    """The query as Chinese words of the index, or ``None`` when it does not
    look like pinyin or no tiling of its letters exists."""
    parts = query_parts(query)
    if not parts:
        return None
    pieces: list[tuple[tuple[str, float], ...]] = []
    for mode, letters in parts:
        keys = index.full if mode == "full" else index.initials
        tiles = _tile(letters, keys, single_ok=mode == "full")
        if tiles is None:
            return None
        for key in tiles:
            words = keys[key]
            if any(len(w) > 1 for w in words):
                words = [w for w in words if len(w) > 1]
            df = {w: ranker.doc_frequency("body", w) + ranker.doc_frequency("title", w) for w in words}
            ranked = sorted(words, key=lambda w: (-df[w], w))[:MAX_CANDIDATES]
            top = max(df[ranked[0]], 1)
            pieces.append(tuple((w, max(df[w], 1) / top) for w in ranked))
    return Reading(tuple(pieces))


def spell(text: str, settings=None) -> dict[str, str]:
    """What a user might type for the Chinese in ``text``: its words in full
    pinyin with spaces between words (``words``), all joined (``joined``),
    and initials (``initials``); other characters are left out.  The
    measuring stick of ``bench/pinyin.py`` and the tests."""
    from zhsearch.indexer.analysis import fold, word_spans

    words = [reading(w) for run in _HAN_WORD.findall(fold(text)) for w, _, _ in word_spans(run, settings)]
    words = [w for w in words if w]
    return {
        "words": " ".join("".join(w) for w in words),
        "joined": "".join("".join(w) for w in words),
        "initials": "".join(s[0] for w in words for s in w),
    }


@dataclass(frozen=True)
class PinyinMatch:
    """What a pinyin query found: per-section scores (0: no match), the
    words it was read as, whether titles spelled it, and the best score
    over the whole collection (what matches as typed is lifted above)."""

    scores: np.ndarray
    reading: Reading | None
    titles: int
    top: float = -1.0

    def __post_init__(self) -> None:
        if self.top < 0:
            object.__setattr__(self, "top", float(self.scores.max()) if len(self.scores) else 0.0)

    @property
    def text(self) -> str:
        """How the query was read, for a notice."""
        if self.reading is not None:
            return self.reading.text
        return f"spelled by {self.titles} title{'s' if self.titles != 1 else ''}"


@dataclass(frozen=True)
class PinyinShared:
    """What a pinyin query's scores depend on beyond one shard of an index:
    the reading (from every shard's words), whether the words matched
    anywhere, the best word score before titles lift theirs, how many titles
    spell it, and the best score in the end.  A shard given these scores
    like one index over every article (see ``search.cluster``)."""

    reading: Reading | None
    words_matched: bool
    found_max: float
    titles: int
    top: float


@dataclass(frozen=True)
class PinyinPart:
    """One shard's share of :class:`PinyinShared`."""

    words_matched: bool
    found_max: float
    titled_max: float | None  # best word score among sections of titled articles
    titles: int


def _found(query: str, ranker: Ranker, words: Reading | None, stats) -> tuple[np.ndarray, bool]:
    """Scores of sections with words for most of the reading's pieces."""
    parts = query_parts(query)
    found = np.zeros(ranker.n_docs, dtype=np.float32)
    if words is None or not parts:
        return found, False
    found = ranker.score(words.scoring(), stats=stats)
    have = np.zeros(len(ranker.articles), dtype=np.int32)
    for piece in words.pieces:
        docs = ranker.docs_with([(f, w) for w, _ in piece for f in TEXT_FIELDS]) & ranker.alive
        have[unique(ranker.doc_article[docs])] += 1
    share = max(MIN_PIECES_SHARE[mode] for mode, _ in parts)
    need = math.ceil(share * len(words.pieces))
    found = np.where(have[ranker.doc_article] >= need, found, np.float32(0))
    return found, bool((found > 0).any())


def _titled(query: str, ranker: Ranker) -> list[int]:
    parts = query_parts(query)
    if not parts or sum(len(text) for _, text in parts) < MIN_TITLE_LETTERS:
        return []
    return ranker.pinyin.titles_matching(parts)


def part(query: str, ranker: Ranker, words: Reading | None, stats=None) -> PinyinPart:
    """This shard's share of what a pinyin query's scores depend on."""
    found, matched = _found(query, ranker, words, stats)
    titled = _titled(query, ranker)
    in_title = np.isin(ranker.doc_article, titled) if titled else None
    titled_max = float(found[in_title].max()) if in_title is not None and in_title.any() else None
    return PinyinPart(matched, float(found.max()) if len(found) else 0.0, titled_max, len(titled))


def shared(words: Reading | None, parts: list[PinyinPart]) -> PinyinShared:
    """The collection's :class:`PinyinShared` from its shards' parts."""
    matched = any(p.words_matched for p in parts)
    found_max = np.float32(max((p.found_max for p in parts), default=0.0)) if matched else np.float32(0)
    lift = np.float32(found_max + 1.0)
    titled = [np.float32(p.titled_max if matched else 0.0) for p in parts if p.titled_max is not None]
    titles = sum(p.titles for p in parts)
    top = float(max(titled) + lift) if titled else float(found_max)
    return PinyinShared(words if matched else None, matched, float(found_max), titles, top)


def search(query: str, ranker: Ranker, stats=None, given: PinyinShared | None = None) -> PinyinMatch | None:
    """Score a pinyin query: sections of articles whose title spells it
    first, then sections with words for most of its pieces; ``None`` when
    the query does not look like pinyin or nothing matches.  ``stats`` and
    ``given`` are the collection's, for a shard of a larger index."""
    parts = query_parts(query)
    if not parts:
        return None
    if given is None:
        words = read(query, ranker.pinyin, ranker)
        found, matched = _found(query, ranker, words, stats)
        if not matched:
            words = None
        lift = found.max() + 1.0
    else:
        words = given.reading
        found, _ = _found(query, ranker, words, stats)
        lift = np.float32(given.found_max) + 1.0
    titled = _titled(query, ranker)
    if titled:
        in_title = np.isin(ranker.doc_article, titled)
        found = np.where(in_title, found + np.float32(lift), found)
    if given is None:
        if not (found > 0).any():
            return None
        return PinyinMatch(found, words, len(titled))
    if not given.words_matched and not given.titles:
        return None
    return PinyinMatch(found, words, given.titles, given.top)
