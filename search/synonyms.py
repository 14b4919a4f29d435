"""Synonyms: query-time expansion from a word-list file.

A synonym file holds one group a line — words that mean the same, separated
by spaces or commas::

    # online lending
    网贷 网络贷款 网络借贷

``#`` starts a comment.  Entries are folded like any text (``網貸`` = ``网贷``).

When the free text of a query contains an entry of a group (found in the
folded text, longest entries first, so 网络贷款 is found even where the query
segments it 网络|贷款), the group's other entries are searched too, as part
of the same query word: a section with either counts as matching that word
for the coordination factor.  They are weighted at ``SYNONYM_WEIGHT`` of the
word typed and never above its rarity, so the word typed ranks first.  An
entry of several words (网络|借贷) counts only in sections that contain it
as a phrase.  Quoted phrases and exclusions are not expanded: they are
exact on purpose.  Nothing is stored in the index, so editing the file takes
effect at the next query.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from zhsearch.corpus.errors import WordListError
from zhsearch.indexer.analysis import fold, read_word_file

SYNONYM_WEIGHT = 0.5

_SPLIT = re.compile(r"[\s,，、]+")


@dataclass(frozen=True)
class Synonyms:
    """Groups of equivalent entries, folded."""

    groups: tuple[tuple[str, ...], ...]
    source: str | None = None
    _by_entry: dict[str, tuple[int, ...]] = field(init=False, repr=False, compare=False)
    _longest: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # An entry -> its groups table, so a large thesaurus costs a look-up
        # per query substring rather than a scan of every group.
        by_entry: dict[str, list[int]] = {}
        for n, group in enumerate(self.groups):
            for entry in group:
                by_entry.setdefault(entry, []).append(n)
        object.__setattr__(self, "_by_entry", {e: tuple(g) for e, g in by_entry.items()})
        object.__setattr__(self, "_longest", max((len(e) for e in by_entry), default=0))

    @classmethod
    def from_text(cls, text: str, source: str | None = None) -> Synonyms:
        """Parse a synonym file's text; a line with a single entry is an error."""
        groups: list[tuple[str, ...]] = []
        where = source or "synonyms"
        for n, line in enumerate(text.splitlines(), 1):
            entries = [fold(e) for e in _SPLIT.split(line.split("#", 1)[0]) if e]
            entries = list(dict.fromkeys(entries))
            if not entries:
                continue
            if len(entries) < 2:
                raise WordListError(
                    f"{where} line {n}: {line.strip()!r} has one entry; a group needs two or more, separated by spaces"
                )
            groups.append(tuple(entries))
        return cls(tuple(groups), source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Synonyms:
        """Read a synonym file (UTF-8)."""
        return cls.from_text(read_word_file(path, "synonym file"), str(path))

    def alternatives(self, entry: str) -> tuple[str, ...]:
        """The other entries of every group ``entry`` (folded) belongs to."""
        out: dict[str, None] = {}
        for n in self._by_entry.get(entry, ()):
            out.update((e, None) for e in self.groups[n] if e != entry)
        return tuple(out)

    def matches(self, folded: str) -> list[tuple[int, int, str]]:
        """``(start, end, entry)`` of the entries found in folded text: the
        longest entry wins where entries overlap, leftmost first."""
        present = {
            folded[i : i + n]
            for i in range(len(folded))
            for n in range(1, min(self._longest, len(folded) - i) + 1)
            if folded[i : i + n] in self._by_entry
        }
        entries = sorted(present, key=lambda e: (-len(e), e))
        taken = [False] * len(folded)
        found: list[tuple[int, int, str]] = []
        for entry in entries:
            start = folded.find(entry)
            while start >= 0:
                end = start + len(entry)
                if not any(taken[start:end]):
                    taken[start:end] = [True] * len(entry)
                    found.append((start, end, entry))
                start = folded.find(entry, end)
        found.sort()
        return found
