"""Sections from a document's blocks, for the formats that have markup.

HTML, Word, PDF and EPUB readers turn a document into a flat list of
:class:`Block` s — headings (with a style key such as ``"h2"`` or
``"docx-1"``) and paragraphs — and :func:`sections_from_blocks` builds the
sections the way the ``.txt`` reader does: a paragraph that looks like a
numbered Chinese heading (一、, 1.1, 第X章 …) is a heading too, levels follow
the order heading styles first appear in, and in a document made of clauses
(``第X条``) each clause is a section under its 编/章/节 heading.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from zhsearch.corpus.clauses import has_clauses
from zhsearch.corpus.model import Section

# The section builder and heading rules are the plain-text reader's, so every
# format nests 一、/1.1/第X章 the same way.
from zhsearch.corpus.readers import MAX_HEADING_CHARS, _SectionBuilder, heading_style


@dataclass(frozen=True)
class Block:
    """A paragraph (``style`` is ``None``) or a heading of style ``style``."""

    text: str
    style: str | None = None


def sections_from_blocks(blocks: Iterable[Block], numbered_headings: bool = True) -> tuple[Section, ...]:
    """Sections of a document given as blocks in reading order."""
    blocks = [b for b in blocks if b.text.strip()]
    builder = _SectionBuilder(clauses=has_clauses(b.text for b in blocks if b.style is None))
    rank: dict[str, int] = {}
    for block in blocks:
        text = block.text.strip()
        style = block.style
        if style is None and numbered_headings and "\n" not in text:
            style = heading_style(text)
        if style is None or len(text) > MAX_HEADING_CHARS * 4:
            for line in text.splitlines():
                if line.strip():
                    builder.line(line.strip())
            continue
        level = rank.setdefault(style, len(rank) + 1)
        builder.heading(level, " ".join(text.split()))
    sections = builder.finish()
    return sections or (Section(0, 0, "", (), ""),)


def join_lines(lines: Sequence[str]) -> str:
    """Lines of one paragraph joined: no space between Chinese characters,
    one space between Latin words."""
    out = ""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if out and out[-1].isascii() and out[-1].isalnum() and line[0].isascii() and line[0].isalnum():
            out += " "
        out += line
    return out
