"""Legal clauses (第X条) as sections.

Laws, regulations, judicial interpretations and most Chinese contracts are
made of numbered clauses: a paragraph opening with ``第X条`` and the
paragraphs (款, 项) after it, grouped under 编/章/节 headings.  A question
about one clause should be answered with that clause, so every reader that
builds sections asks :func:`clause_start` about each paragraph of a document
that :func:`has_clauses`: a clause starts a section one level below the
heading it stands under, ending at the next clause or heading.

Only a paragraph that *opens* with the number followed by a space, a colon
or a bracketed title counts (``第三条 为了……``, ``第三条：``, ``第三条【目的】``);
``第三条规定的……`` is a sentence citing a clause.  A document needs at least
:data:`MIN_CLAUSES` of them, so an article that happens to start one
paragraph with a clause number keeps its own structure.  Contracts numbered
``1.1`` / ``2.3.1`` count the same way: a paragraph opening with such a
number that reads as a sentence (a short line is a heading) is a clause,
when a document has at least :data:`MIN_NUMBERED` of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_NUM = "零〇一二三四五六七八九十百千两"
_CLAUSE = re.compile(
    rf"^\s*(?P<label>第[{_NUM}\d]+条(?:之[{_NUM}\d]+)?)"
    r"(?:(?P<bracket>\s*[【\[［][^】\]］\n]{1,30}[】\]］])|[\s\u3000]*[:：]|[\s\u3000]+|$)"
    r"[\s\u3000]*(?P<rest>.*)$",
    re.S,
)
# Contracts and rules numbered 1.1, 2.3.1 …: a paragraph opening with such a
# number and reading as a sentence (a short line is a heading) is a clause.
_NUMBERED = re.compile(r"^\s*(?P<label>\d{1,2}(?:[.．]\d{1,3}){1,3})(?![\d.．])[\s\u3000]*(?P<rest>\S.*)$", re.S)
MIN_CLAUSES = 2
# A clause section's heading: ``第十九条``, ``第三条之一``, ``第一条 租赁物``.
CLAUSE_LABEL = re.compile(rf"^第[{_NUM}\d]+条(?:之[{_NUM}\d]+)?(?:\s|$|[【\[［])")
MIN_NUMBERED = 3
# A clause line this short without a sentence end is the clause's title
# (``第一条 租赁物``, the contract style), not its text.
_MAX_TITLE = 30
_SENTENCE = re.compile(r"[。；;！!？?：:，,]")


@dataclass(frozen=True)
class ClauseStart:
    """A paragraph that starts a clause: its heading and its own text."""

    heading: str
    text: str


def clause_start(line: str) -> ClauseStart | None:
    """The clause ``line`` opens, or ``None`` when it does not open one."""
    m = _CLAUSE.match(line)
    if not m:
        n = _NUMBERED.match(line)
        if n and _is_sentence(n["rest"]):
            return ClauseStart(n["label"].replace("．", "."), n["rest"].strip())
        return None
    label, rest = m["label"], m["rest"].strip()
    if m["bracket"]:
        return ClauseStart(label + m["bracket"].strip(), rest)
    if rest and len(rest) <= _MAX_TITLE and not _SENTENCE.search(rest):
        return ClauseStart(f"{label} {rest}", "")
    return ClauseStart(label, rest)


def has_clauses(lines: Iterable[str], minimum: int = MIN_CLAUSES) -> bool:
    """Whether enough paragraphs of a document open a clause to make clauses
    its structure."""
    found = numbered = 0
    for line in lines:
        if _CLAUSE.match(line):
            found += 1
            if found >= minimum:
                return True
        elif (n := _NUMBERED.match(line)) and _is_sentence(n["rest"]):
            numbered += 1
            if numbered >= MIN_NUMBERED:
                return True
    return False


def _is_sentence(text: str) -> bool:
    text = text.strip()
    return len(text) > _MAX_TITLE or bool(re.search(r"[。；;！!？?]$", text))


# --------------------------------------------------------------------------
# What kind of legal document, from its title

# Provinces, autonomous regions and municipalities: a title opening with one
# (or with a city, prefecture or county, ``潮州市…条例``) is local legislation.
_PROVINCES = (
    "北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|四川|"
    "贵州|云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|宁夏|新疆|香港|澳门"
)
_LOCAL = re.compile(
    rf"^(?:(?:{_PROVINCES})(?:省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)?"
    # A city's 市 ends a name, not a word (城市市容…, 人力资源市场… are national).
    r"|(?!全国|国家|中华|中国)[\u4e00-\u9fff]{2,6}?(?:(?<!市)市(?!场)|自治州|自治县|州|盟|县|经济特区))"
)
_NATIONAL_ISSUER = re.compile(r"^(?:中华人民共和国|全国人民代表大会|国务院|最高人民法院|最高人民检察院|中共中央)")
_JUDICIAL = re.compile(r"^(?:最高人民法院|最高人民检察院)")
# The document's form: the word its title ends with, before a bracketed
# note such as （试行） or （2019年修正）.
_FORM = re.compile(
    r"(宪法修正案|修正案|宪法|法典|法|条例|规定|办法|细则|规则|解释|批复|决定|决议|意见|通知|答复|纪要|规范|标准)$"
)
_TRAILING_NOTE = re.compile(r"(?:[（(][^（()）]{1,20}[)）]|\s+)+$")


def legal_meta(title: str) -> dict[str, str]:
    """``doc_kind`` and ``level`` of a law, regulation or interpretation
    from its title: ``{"doc_kind": "条例", "level": "local"}`` for
    ``广东省失业保险条例``, ``司法解释`` for the supreme court's and
    procuratorate's documents, ``{}`` when the title names no legal form.

    Recorded for ranking and filtering to use (a national law and a
    provincial regulation that repeats its wording answer one question at
    different levels); the readers add it to documents made of clauses."""
    title = _TRAILING_NOTE.sub("", title.strip())
    form = _FORM.search(title)
    if not form:
        return {}
    kind = form.group(1)
    if kind == "法典":
        kind = "法"
    if _JUDICIAL.match(title) and kind not in ("法",):
        kind = "司法解释"
    level = "national" if _NATIONAL_ISSUER.match(title) or not _LOCAL.match(title) else "local"
    return {"doc_kind": kind, "level": level}


_TRAILING_ARTICLE = re.compile(rf"\s+第[{_NUM}\d]+条(?:之[{_NUM}\d]+)?$")


def article_work(title: str) -> str:
    """The law a title names one numbered article of (``民法典`` for
    ``民法典 第十条``), or ``""`` when it names none."""
    work = _TRAILING_ARTICLE.sub("", title.strip())
    return work if work != title.strip() else ""


_PLACE_SUFFIX = re.compile(
    r"(?:省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区|自治州|自治县|州|盟|县|经济特区)$"
)


def legal_places(title: str) -> tuple[str, ...]:
    """The place a local law's title opens with, as written and without
    its administrative suffix when two characters or more are left:
    ``("温州市", "温州")`` for ``温州市民间融资管理条例``, ``()`` for a
    national one.  The name comes from the title itself (the prefix that
    makes it local, see :func:`legal_meta`), so a question naming the place
    can be told from one that does not.  Only the first place: what follows
    it (``城市市容``, ``技术市场``, ``台湾同胞``) is the subject, not a place."""
    title = title.strip()
    m = _LOCAL.match(title)
    if not m or _NATIONAL_ISSUER.match(title):
        return ()
    name = m.group()
    stem = _PLACE_SUFFIX.sub("", name)
    return (name, stem) if stem != name and len(stem) >= 2 else (name,)
