"""The document-level prior: a national law before the local rules and
interpretations that repeat its wording.

Every article's standing (level, legal form, the places its title opens
with) is stored with the postings at build (``indexer.authority``).  At
query time a :class:`Prior` turns it into a factor ≤ 1 on the article's
score: a local regulation's (local legislation: 条例, 办法, 规定 …) by
``local``, a judicial interpretation's by ``judicial``; every other article (a national law, an administrative
regulation, anything that is not a legal document) keeps 1.  A factor ≤ 1
only scales scores down, so the upper bounds dynamic pruning proves its
page with (``search.pruning``) still hold, and it is the same for an
article in whichever shard it lives (a sharded index ranks as one).

The question overrides the prior: one naming the place a local document's
title opens with (北京 for 北京市…条例) leaves that document at 1, and one
asking for an interpretation (司法解释, 解释, 最高人民法院 …) or for local
rules (地方性法规 …) leaves those at 1.  The factors were chosen on half of
the STARD dev questions mapped onto the laws and checked on the other half
and on our own clause questions (``bench/clauses.py``, README "Documents").
"""

from __future__ import annotations

from dataclasses import dataclass

from zhsearch.corpus.errors import ZhsearchError
from zhsearch.indexer.analysis import fold
from zhsearch.indexer.authority import Standing

# Chosen on half A of the STARD dev questions mapped onto the laws, the best
# MRR@10 of a 5 × 5 grid (bench/clauses.py --grid; local 0.35 and 0.5 are
# level there, a plateau); held-out half B: Section@1 0.301 -> 0.332.
LOCAL_FACTOR = 0.35
JUDICIAL_FACTOR = 0.8
# The forms of local legislation (what repeats a national law's clauses); a
# local notice, opinion or reply is not scaled: in a collection of web
# pages it is often the only official document on its subject.
LOCAL_FORMS = ("法", "条例", "规定", "办法", "细则", "规则")
# Whether a search applies the prior unless told otherwise.
ON_BY_DEFAULT = True
# Words of a question that ask for a kind of document, and the levels or
# forms they leave undemoted.
JUDICIAL_WORDS = ("司法解释", "解释", "最高人民法院", "最高人民检察院", "最高法", "最高检", "批复")
LOCAL_WORDS = ("地方性法规", "地方法规", "地方政府规章", "地方规定", "本省", "本市")


@dataclass(frozen=True)
class Prior:
    """Factors on the score of a local regulation (``local``) and of a
    judicial interpretation (``judicial``), each in (0, 1]."""

    local: float = LOCAL_FACTOR
    judicial: float = JUDICIAL_FACTOR

    def __post_init__(self) -> None:
        for name in ("local", "judicial"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 < value <= 1.0:
                raise ZhsearchError(f"the prior's {name} factor must be a number above 0 and at most 1, not {value!r}")

    def factor(self, standing: Standing, question: str) -> float:
        """The factor on the score of an article of ``standing`` for
        ``question`` (folded, see :func:`asked`)."""
        f = 1.0
        local = standing.level == "local" and standing.kind in LOCAL_FORMS
        if local and not any(p in question for p in standing.places):
            if not any(w in question for w in LOCAL_WORDS):
                f *= self.local
        if standing.kind == "司法解释" and not any(w in question for w in JUDICIAL_WORDS):
            f *= self.judicial
        return f

    @property
    def neutral(self) -> bool:
        """Whether every factor is 1 (the prior changes nothing)."""
        return self.local == 1.0 and self.judicial == 1.0


def resolve(prior: bool | Prior | None) -> Prior | None:
    """The prior a search applies: ``None`` means the default
    (``ON_BY_DEFAULT``), ``True`` the default factors, ``False`` none."""
    if prior is None:
        prior = ON_BY_DEFAULT
    if isinstance(prior, Prior):
        return None if prior.neutral else prior
    if not isinstance(prior, bool):
        raise ZhsearchError(f"prior must be true, false or a Prior, not {prior!r}")
    return Prior() if prior else None


def asked(question: str) -> str:
    """The question as the overrides look at it (folded: 廣東 is 广东)."""
    return fold(question)
