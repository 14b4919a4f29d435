"""Ranking: how sections are scored and how an article's best section is chosen.

Scores are BM25F over the title, the heading path and the body of each
section (field weights live in ``indexer.schema.FIELD_WEIGHTS``), with a
lower length normalisation for the short title and heading fields so a long
title is not punished for being long.  Results are collapsed on the article
id: an article appears once, represented by its highest-scoring section.
"""

from __future__ import annotations

from whoosh import scoring, sorting

K1 = 1.2
B = 0.75
TITLE_B = 0.3
HEADING_B = 0.3


def weighting() -> scoring.WeightingModel:
    """The scoring model searches use."""
    return scoring.BM25F(B=B, K1=K1, title_B=TITLE_B, heading_B=HEADING_B)


def collapse_facet() -> sorting.FieldFacet:
    """Group section documents by article so each article shows once."""
    return sorting.FieldFacet("article")
