"""The article model every reader produces and the indexer consumes.

An :class:`Article` is an ordered list of :class:`Section` objects.  Sections
are the unit of search: each one is indexed as its own document so a query can
answer with the part of an article that matches, not just the article.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Section:
    """One heading and the text under it.

    ``path`` is the breadcrumb of headings from the top level down to and
    including this section's own heading; text before the first heading is
    section 0 with an empty heading and an empty path.
    """

    index: int
    level: int
    heading: str
    path: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Article:
    """A titled document made of sections, with free-form metadata.

    ``meta`` holds what readers find: ``author``, ``date`` (YYYY-MM-DD),
    ``category``, ``tags`` (list), ``url``, ``views``, ``related`` (teaser
    titles of other articles), ``source`` (the file it came from) and any
    extra keys of JSON-lines records.
    """

    id: str
    title: str
    sections: tuple[Section, ...]
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def text(self) -> str:
        """All searchable section text, in order."""
        return "\n\n".join(s.text for s in self.sections)

    @property
    def source(self) -> str | None:
        return self.meta.get("source")
