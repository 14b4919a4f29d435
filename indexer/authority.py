"""Authority: what standing a document has among the laws that answer a question.

A provincial regulation or a judicial interpretation often repeats a
national law's wording, and a question about the rule then finds both; the
law itself should usually come first.  The readers record a legal
document's form and level from its title (``meta.doc_kind``,
``meta.level``, see ``corpus.clauses``); when an article is indexed its
*standing* — level, form and the places its title names — is computed once
and stored beside the postings (``indexer.postings``, like the works of
``indexer.works``), so ranking knows every article's standing without
reading stored fields.  What a standing is worth is decided at query time
(``search.authority``): the factors can change, or be switched off, without
a rebuild.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_SEP = "|"


@dataclass(frozen=True)
class Standing:
    """An article's ``level`` (``national``, ``local`` or ``""``: not a
    legal document), its form (``doc_kind``: 法, 条例, 司法解释 …) and the
    places its title opens with (see ``corpus.clauses.legal_places``)."""

    level: str = ""
    kind: str = ""
    places: tuple[str, ...] = ()

    def key(self) -> str:
        """The standing as stored: ``""`` for none."""
        if not (self.level or self.kind):
            return ""
        return _SEP.join((self.level, self.kind, *self.places))

    @classmethod
    def parse(cls, key: str) -> Standing:
        if not key:
            return cls()
        level, kind, *places = key.split(_SEP)
        return cls(level, kind, tuple(places))


def standing_key(title: str, meta: Mapping[str, Any]) -> str:
    """The standing of an article titled ``title`` with metadata ``meta``,
    as stored with the postings (``""``: no legal level or form recorded)."""
    level, kind = meta.get("level"), meta.get("doc_kind")
    level = level if isinstance(level, str) else ""
    kind = kind if isinstance(kind, str) else ""
    if not (level or kind):
        return ""
    # Imported here: a search parses standings and never needs the clause rules.
    from zhsearch.corpus.clauses import legal_places

    places = legal_places(title) if level == "local" else ()
    level, kind, *rest = (p.replace(_SEP, "") for p in (level, kind, *places))
    return Standing(level, kind, tuple(rest)).key()
