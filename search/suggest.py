"""Did you mean: a corrected query when a query finds nothing or very little.

A typo shows as a part of the query the index has never seen.  A suggestion
is made when the query finds fewer than ``FEW_RESULTS`` articles, or when
such unseen parts are at least ``UNSEEN_SHARE`` of it (a quarter of its
characters and words, question words and particles not counted): then it
finds only what its other words match.  Only the unseen parts are
corrected; the rest of the query is kept as typed, and a query whose every
part occurs somewhere gets no suggestion.

* **Chinese homophone typos** (网代逾期 for 网贷逾期).  A character is
  *suspect* when every character bigram of the query it belongs to is absent
  from the index (网代 and 代逾 are, 逾期 is not: 网 and 代 are suspect).  A
  window over each run of suspect characters — the run itself or the run
  with a neighbour on either side — is read as pinyin, and re-spelled with a
  word of the index that reads the same and keeps the window's unsuspected
  characters (``wangdai`` -> 网贷).  The widest window with such a word wins,
  then the word keeping most characters, then the commonest.  Readings are
  toneless, so 网代 (wǎng dài) and 网贷 (wǎng dài) meet, and so do words that
  differ only in tone.
* **Latin typos** (``chargbak``).  A word of three or more letters no
  section contains is replaced by the closest term of the index that Whoosh's
  corrector finds (edit distance 1, or 2 from six letters on), the commonest
  on a tie.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from zhsearch.indexer.analysis import fold, is_cjk, stopwords, word_spans
from zhsearch.indexer.schema import GRAM_FIELD, TEXT_FIELDS

if TYPE_CHECKING:
    from zhsearch.indexer.analysis import Settings
    from zhsearch.search.ranking import Ranker

FEW_RESULTS = 3
UNSEEN_SHARE = 0.25
# How far a window around suspect characters may reach into their neighbours.
_WIDEN = 1


def _known_gram(ranker: Ranker, gram: str) -> bool:
    return ranker.doc_frequency(GRAM_FIELD, gram) > 0


def _known_word(ranker: Ranker, word: str) -> bool:
    return any(ranker.doc_frequency(f, word) for f in TEXT_FIELDS)


def suspect_spans(folded: str, ranker: Ranker, settings: Settings | None = None) -> list[tuple[int, int]]:
    """Runs of characters none of whose bigrams the index has (characters
    of question words and particles excepted: an index of statements need
    not have 哪儿 for a question to be right)."""
    from zhsearch.search.pinyin import _HAN_WORD

    stop = stopwords()
    spared = {i for w, a, b in word_spans(folded, settings) if w in stop for i in range(a, b)}
    spans: list[tuple[int, int]] = []
    for m in _HAN_WORD.finditer(folded):
        run, base = m.group(), m.start()
        if len(run) < 2:
            continue
        known = [_known_gram(ranker, run[i : i + 2]) for i in range(len(run) - 1)]
        suspect = [
            base + i not in spared and not (i > 0 and known[i - 1]) and not (i < len(known) and known[i])
            for i in range(len(run))
        ]
        i = 0
        while i < len(run):
            if suspect[i]:
                j = i
                while j < len(run) and suspect[j]:
                    j += 1
                spans.append((base + i, base + j))
                i = j
            else:
                i += 1
    return spans


def _respell(folded: str, start: int, end: int, ranker: Ranker) -> tuple[int, int, str] | None:
    """The best re-spelling of a suspect run: ``(window start, window end, word)``."""
    from zhsearch.search.pinyin import _HAN_WORD, reading

    if _known_word(ranker, folded[start:end]):
        return None  # a rare word the index has (蓍 in 蓍的别名), typed right
    index = ranker.pinyin
    best: tuple[tuple[int, int, int], tuple[int, int, str]] | None = None
    for a in range(start, max(start - _WIDEN, 0) - 1, -1):
        for b in range(end, min(end + _WIDEN, len(folded)) + 1):
            window = folded[a:b]
            if len(window) < 2 or not _HAN_WORD.fullmatch(window) or _known_word(ranker, window):
                continue
            syl = reading(window)
            if len(syl) != len(window):
                continue
            for word in index.full.get("".join(syl), ()):
                if len(word) != len(window) or word == window:
                    continue
                # Only suspect characters may change.
                if any(word[k] != window[k] for k in range(len(window)) if not start <= a + k < end):
                    continue
                kept = sum(word[k] == window[k] for k in range(len(window)))
                df = ranker.doc_frequency("body", word) + ranker.doc_frequency("title", word)
                key = (len(window), kept, df)
                if best is None or key > best[0]:
                    best = (key, (a, b, word))
    return best[1] if best else None


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def correct_latin(word: str, ranker: Ranker) -> str | None:
    """The closest index term to an unknown Latin word, or ``None``."""
    maxdist = 2 if len(word) >= 6 else 1
    # Misspellings rarely involve the first letter; requiring it keeps the
    # walk over the lexicon short.
    lexicon = ranker.lexicon("body")
    lo = bisect.bisect_left(lexicon, word[0])
    hi = bisect.bisect_left(lexicon, chr(ord(word[0]) + 1))
    cands = [
        c
        for c in lexicon[lo:hi]
        if c.isascii()
        and c.isalpha()
        and abs(len(c) - len(word)) <= maxdist
        and c != word
        and _levenshtein(word, c) <= maxdist
    ]
    if not cands:
        return None
    return min(cands, key=lambda c: (_levenshtein(word, c), -ranker.doc_frequency("body", c), c))


def suggest(query: str, ranker: Ranker, settings: Settings | None = None, found: int = 0) -> str | None:
    """A corrected ``query``, or ``None`` when nothing in it looks mistyped
    or it found enough (``found`` articles) despite its unseen parts.

    Corrections are made on the folded query and copied into the query as
    typed (folding keeps offsets), so the rest keeps its own script and case.
    """
    folded = fold(query)
    stop = stopwords()
    words = [(w, a, b) for w, a, b in word_spans(folded, settings) if w not in stop]
    suspects = suspect_spans(folded, ranker, settings)
    latin = [
        (w, a, b)
        for w, a, b in words
        if len(w) >= 3 and w.isascii() and w.isalpha() and not is_cjk(w) and not _known_word(ranker, w)
    ]
    if not suspects and not latin:
        return None
    units = sum(len(w) if is_cjk(w) else 1 for w, _, _ in words)
    unseen = sum(b - a for a, b in suspects) + len(latin)
    if found >= FEW_RESULTS and unseen < UNSEEN_SHARE * max(units, 1):
        return None
    edits: list[tuple[int, int, str]] = []
    for start, end in suspects:
        fix = _respell(folded, start, end, ranker)
        if fix is not None:
            edits.append(fix)
    for word, start, end in latin:
        spelled = correct_latin(word, ranker)
        if spelled is not None:
            edits.append((start, end, spelled))
    if not edits:
        return None
    out = query
    last = len(query) + 1
    for a, b, word in sorted(edits, reverse=True):
        if b > last:  # overlapping windows: keep the first applied
            continue
        out = out[:a] + word + out[b:]
        last = a
    return out if out != query else None
