"""Completions as you type: index words and article titles by prefix.

The search page asks after each keystroke (and after each finished IME
composition) for ways to finish what is typed.  Two sources answer:

* **words** of the index's title and body lexicons that start with the
  folded prefix (so Traditional ``網`` completes to ``网贷`` as Simplified
  ``网`` does), the commonest first;
* **titles** of articles that start with the prefix, or contain it.

A prefix of Latin letters is also read as **pinyin** (``wangd`` -> 网贷): it
completes to the index's Chinese words whose toneless reading, or whose
initials (``wd``), start with it, and to titles whose syllables do.  The
readings come from :class:`zhsearch.search.pinyin.PinyinIndex`, which the
snapshot builds once.

Everything is computed from one index snapshot; :class:`Completer` holds the
sorted keys for it and is rebuilt when the snapshot changes.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from zhsearch.indexer.analysis import fold

if TYPE_CHECKING:
    from zhsearch.search.ranking import Ranker

# Words sharing a prefix whose frequencies are compared (in length order):
# enough to find the common ones, few enough to answer in a keystroke.
WORD_CANDIDATES = 200
MAX_PREFIX_CHARS = 64
_LATIN = re.compile(r"[a-z']+")


@dataclass(frozen=True)
class Completion:
    """One way to finish the typed prefix: a ``"word"`` of the index or an
    article ``"title"`` (with the article's ``id``); ``pinyin`` when it was
    found through the prefix read as pinyin."""

    text: str
    kind: str
    id: str | None = None
    pinyin: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Completer:
    """Prefix lookups over one index snapshot."""

    def __init__(self, ranker: Ranker) -> None:
        self.ranker = ranker
        words: set[str] = set()
        for field in ("title", "body"):
            words.update(ranker.lexicon(field))
        self._words = sorted(words)
        self._titles = [fold(t) for t in ranker.columns.title]
        self._pinyin: tuple[list[str], list[str], list[tuple[str, int]]] | None = None

    def _pinyin_keys(self) -> tuple[list[str], list[str], list[tuple[str, int]]]:
        if self._pinyin is None:
            index = self.ranker.pinyin
            titles = sorted(("".join(syl), a) for a, syl in enumerate(index.titles) if syl)
            self._pinyin = (sorted(index.full), sorted(index.initials), titles)
        return self._pinyin

    def _frequency(self, word: str) -> int:
        return self.ranker.doc_frequency("body", word) + self.ranker.doc_frequency("title", word)

    def _best_words(self, candidates: list[str], limit: int) -> list[str]:
        candidates = sorted(set(candidates), key=len)[:WORD_CANDIDATES]
        return sorted(candidates, key=lambda w: (-self._frequency(w), len(w), w))[:limit]

    def complete(self, prefix: str, limit: int = 8) -> tuple[Completion, ...]:
        """Up to ``limit`` words and up to ``limit`` titles completing ``prefix``."""
        folded = fold(prefix.strip())[:MAX_PREFIX_CHARS]
        if not folded:
            return ()
        lo = bisect.bisect_left(self._words, folded)
        hi = bisect.bisect_left(self._words, folded + "\U0010ffff")
        words = [w for w in self._words[lo:hi] if w != folded]
        out = [Completion(w, "word") for w in self._best_words(words, limit)]
        titles = self.ranker.columns.title
        ids = self.ranker.articles
        starts = [a for a, t in enumerate(self._titles) if t.startswith(folded)]
        inside = [a for a, t in enumerate(self._titles) if folded in t and not t.startswith(folded)]
        chosen = (starts + inside)[:limit]
        out.extend(Completion(titles[a], "title", ids[a]) for a in chosen)
        letters = folded.replace(" ", "").lower()
        if _LATIN.fullmatch(letters) and len(letters) >= 2 and len(out) < 2 * limit:
            out.extend(self._by_pinyin(letters.replace("'", ""), limit, {c.text for c in out}, set(chosen)))
        return tuple(out)

    def _by_pinyin(self, letters: str, limit: int, seen: set[str], shown: set[int]) -> list[Completion]:
        full, initials, title_keys = self._pinyin_keys()
        index = self.ranker.pinyin
        found: list[str] = []
        for keys, table in ((full, index.full), (initials, index.initials)):
            lo = bisect.bisect_left(keys, letters)
            hi = bisect.bisect_left(keys, letters + "~")
            for key in keys[lo:hi]:
                found.extend(table[key])
        words = [Completion(w, "word", pinyin=True) for w in self._best_words(found, limit) if w not in seen]
        lo = bisect.bisect_left(title_keys, (letters, -1))
        hi = bisect.bisect_left(title_keys, (letters + "~", -1))
        titles = self.ranker.columns.title
        ids = self.ranker.articles
        arts = [a for _, a in title_keys[lo:hi] if a not in shown][:limit]
        return words + [Completion(titles[a], "title", ids[a], pinyin=True) for a in arts]
