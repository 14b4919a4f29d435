"""Snippets: the part of a section worth showing, with every match marked.

1. **Matches** — each query term and phrase is found in the folded section
   text (folding keeps length, so offsets are offsets into the original and
   a Simplified query marks Traditional characters).  Chinese words match as
   substrings, so 上门 is marked even where jieba cut 会上|门; single
   characters, Latin words and numbers only as whole tokens, so 门 does not
   light up inside every 上门; phrases match ignoring the punctuation between
   their characters.
2. **Window** — about ``width`` characters around the densest cluster of
   matches: the window whose distinct terms weigh most wins (weights are the
   terms' rarity when the searcher passes them, so 上门 beats 网贷 in a
   collection about 网贷), then the most matches, then the earliest.
3. **Boundaries** — the window is moved to start after a sentence end
   (。！？；) and to stop at one when that costs little; otherwise it is cut
   and an ellipsis marks the cut.

A :class:`Snippet` keeps the text and the highlighted spans apart, so callers
render them however they like (terminal colours, HTML, brackets).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from zhsearch.indexer.analysis import Settings, fold, is_cjk, word_spans

DEFAULT_WIDTH = 120
ELLIPSIS = "…"
_SENTENCE_END = "。！？；!?;\n"


@dataclass(frozen=True)
class Snippet:
    """A piece of text and the ``(start, end)`` spans in it that matched."""

    text: str
    highlights: tuple[tuple[int, int], ...] = ()

    def render(self, markers: tuple[str, str] = ("[", "]")) -> str:
        """The text with each highlight wrapped in ``markers``."""
        out: list[str] = []
        last = 0
        for start, end in self.highlights:
            out.append(self.text[last:start])
            out.append(markers[0] + self.text[start:end] + markers[1])
            last = end
        out.append(self.text[last:])
        return "".join(out)

    @property
    def matched(self) -> list[str]:
        return [self.text[s:e] for s, e in self.highlights]


def find_matches(
    text: str, terms: Iterable[str], phrases: Iterable[str] = (), settings: Settings | None = None
) -> list[tuple[int, int, str]]:
    """``(start, end, key)`` of every match in ``text``; ``key`` names the
    term or phrase matched, so callers can count distinct ones."""
    folded = fold(text)
    found: list[tuple[int, int, str]] = []
    single: set[str] = set()
    for term in terms:
        if not term:
            continue
        if is_cjk(term):
            if len(term) > 1:
                found.extend((m.start(), m.end(), term) for m in re.finditer(re.escape(term), folded))
            else:
                single.add(term)
        else:
            found.extend((m.start(), m.end(), term) for m in _latin_pattern(term).finditer(folded))
    if single:
        # A lone ideograph counts only where jieba made it a word of its
        # own; segmenting is the costly part, so long texts are segmented
        # only around the character's occurrences.
        found.extend(_single_char_matches(folded, single, settings))
    for phrase in phrases:
        chars = [ch for ch in fold(phrase) if ch.isalnum()]
        if not chars:
            continue
        pattern = r"[\W_]*".join(re.escape(ch) for ch in chars)
        found.extend((m.start(), m.end(), phrase) for m in re.finditer(pattern, folded))
    found.sort()
    return found


def _latin_pattern(term: str) -> re.Pattern[str]:
    """A Latin word or number as a whole token: letters not touching other
    letters, digits not touching other digits (the analyzer's pieces)."""
    cls = "0-9" if term[:1].isdigit() else "a-z"
    return re.compile(rf"(?<![{cls}]){re.escape(term)}(?![{cls}])")


_CONTEXT = 12


def _single_char_matches(folded: str, chars: set[str], settings: Settings | None) -> list[tuple[int, int, str]]:
    if len(folded) <= 2000:
        return [(s, e, w) for w, s, e in word_spans(folded, settings) if w in chars]
    out: list[tuple[int, int, str]] = []
    for ch in chars:
        for m in re.finditer(re.escape(ch), folded):
            lo = max(m.start() - _CONTEXT, 0)
            piece = folded[lo : m.end() + _CONTEXT]
            if any(w == ch and lo + s == m.start() for w, s, _ in word_spans(piece, settings)):
                out.append((m.start(), m.end(), ch))
    return out


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping spans covering the same characters."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def make_snippet(
    text: str,
    terms: Iterable[str],
    phrases: Iterable[str] = (),
    width: int = DEFAULT_WIDTH,
    settings: Settings | None = None,
    weights: dict[str, float] | None = None,
) -> Snippet:
    """The best window of ``text`` for these terms, with highlights.

    ``weights`` rates terms (phrases and unlisted terms weigh 1).
    """
    width = max(width, 10)
    matches = find_matches(text, terms, phrases, settings)
    if len(text) <= width:
        start, end = 0, len(text)
    elif not matches:
        start, end = 0, _cut_end(text, 0, width)
    else:
        start, end = _best_window(text, matches, width, weights or {})
    return _build(text, start, end, matches)


def _best_window(
    text: str, matches: list[tuple[int, int, str]], width: int, weights: dict[str, float]
) -> tuple[int, int]:
    best: tuple[float, int, int] | None = None
    best_start = best_end = 0
    # Two pointers over the sorted matches: the window starts at match i and
    # holds every match ending within ``width`` of it.
    counts: dict[str, int] = {}
    weight = 0.0
    j = 0
    for i, (m_start, _, _) in enumerate(matches):
        if j < i:  # match i alone is wider than the window: start afresh
            j, weight = i, 0.0
            counts.clear()
        while j < len(matches) and matches[j][1] - m_start <= width:
            key = matches[j][2]
            if not counts.get(key):
                weight += weights.get(key, 1.0)
            counts[key] = counts.get(key, 0) + 1
            j += 1
        if j > i:
            score = (weight, j - i, -m_start)
            if best is None or score > best:
                best, best_start, best_end = score, m_start, max(e for _, e, _ in matches[i:j])
            key = matches[i][2]
            counts[key] -= 1
            if not counts[key]:
                weight -= weights.get(key, 1.0)
    # Lead in with some context: back to the sentence start when it is near,
    # otherwise a few characters; never so far that the window's last match
    # falls off its end.
    lead_limit = max(min(width // 4, width - (best_end - best_start)), 0)
    start = max(best_start - min(lead_limit, 10), 0)
    for j in range(best_start - 1, max(best_start - lead_limit, 0) - 1, -1):
        if text[j] in _SENTENCE_END:
            start = j + 1
            break
    if best_start <= lead_limit:
        start = 0
    if len(text) - start < width:
        start = max(len(text) - width, 0)
    end = _cut_end(text, start, width, best_end)
    return start, end


def _cut_end(text: str, start: int, width: int, keep: int = 0) -> int:
    """End of a window starting at ``start``: at a sentence end when one lies
    in the last third of the window (and after ``keep``), else at ``width``."""
    limit = min(start + width, len(text))
    if limit == len(text):
        return limit
    for j in range(limit - 1, max(start + (width * 2) // 3, keep) - 1, -1):
        if text[j] in _SENTENCE_END:
            return j + 1
    return limit


def _build(text: str, start: int, end: int, matches: list[tuple[int, int, str]]) -> Snippet:
    body = text[start:end].replace("\n", " ").replace("\r", " ")
    stripped = body.lstrip()
    lead_ws = len(body) - len(stripped)
    body = stripped.rstrip()
    start += lead_ws
    end = start + len(body)
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(text.rstrip()) else ""
    shift = len(prefix) - start
    spans = merge_spans((max(s, start) + shift, min(e, end) + shift) for s, e, _ in matches if s < end and e > start)
    return Snippet(prefix + body + suffix, tuple(spans))
