"""Works: the law (or code, or treaty) an article is a numbered part of.

An article titled ``中华人民共和国民法典 第十二条`` is article 12 of one work;
ranking counts evidence from the best articles of the same work
(``search.ranking.group_evidence``).  The work of an article is its title
with the trailing part number cut; it is computed once, when the article is
indexed, and stored beside the postings (``indexer.postings``), so a query
knows every article's work without reading every article's stored fields.
"""

from __future__ import annotations

import re

PART_NUMBER = re.compile(
    r"\s*(?:第[0-9零〇一二两三四五六七八九十百千]+[条章节款编篇]?(?:之[0-9一二三四五六七八九十]+)?"
    r"|(?:article|art\.|section|§)\s*\d+[a-z]?)\s*$",
    re.I,
)


def work_key(title: str) -> str:
    """The work ``title`` names a part of (the title without its trailing
    part number), or ``""`` when it names no part: an article of its own."""
    stem = PART_NUMBER.sub("", title)
    return stem if stem and stem != title else ""
