"""Page furniture around an article: profile cards, sidebars, forms.

Blogs, forums and professional sites put boxes beside the article — the
blogger's profile (头像, 文章数, 访问量, 积分, 个人分类), a poster's user
column, a lawyer's or doctor's card (执业证号, 咨询电话), a sidebar of
archives and rankings — and a reply or comment form under it.  Extraction
keeps the short lines of such boxes when they sit in the same table or
column as the text (old table layouts, forum posts).  They are recognised by
structure, not by their words:

- **Profile and sidebar boxes**: an element whose class or id words belong
  to the profile family (``profile``, ``userinfo``, ``user-card``,
  ``author-box``, ``avatar`` …) or the sidebar family (``sidebar``,
  ``side``, ``aside``, ``<aside>``) and that holds a small part of the page's
  text (at most half: it cannot be the article's container).
- **Forms**: the block around a ``<textarea>`` (快速回复, 发表评论 and their
  buttons) when it has little text of its own.
"""

from __future__ import annotations

import re
from typing import Any

# Class/id words (split at - and _) of a person's box; a word made of two
# of them (``userinfo``, ``authorbox``) counts too.
_PERSON = r"user|author|blogger|poster|member|lawyer|expert|doctor|writer|owner|uploader|personal|my"
_BOX = r"info|card|box|panel|profile|intro|detail|side|data"
# A post's own person column (``post-author``, ``topic-user``), dropped from
# the post that is kept.
_POST = r"post|topic|thread|reply|floor"
_PROFILE_WORD = re.compile(
    rf"^(?:profile|avatar|vcard|(?:{_PERSON})(?:{_BOX})|(?:{_BOX})(?:{_PERSON})|(?:{_POST})(?:{_PERSON}))$",
    re.I,
)
_SIDE_WORD = re.compile(r"^(?:side|sidebar|sidebox|sidecol|aside|leftbar|rightbar|sider|sidenav)$", re.I)
_SPLIT = re.compile(r"[-_\s]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
# A box holding more than half the page's text may be the article.
_MAX_SHARE = 0.5
_BOX_TAGS = frozenset({"div", "td", "aside", "section", "dl", "ul", "table", "span", "p"})
_FORM_TEXT_CHARS = 40


def _words(el: Any) -> list[str]:
    raw = f"{el.get('class') or ''} {el.get('id') or ''}"
    words = []
    for token in raw.split():
        parts = [p for p in _SPLIT.split(_CAMEL.sub("-", token)) if p]
        words.extend(parts)
        # Adjacent parts read as one word too: ``user-info`` → ``userinfo``.
        words.extend(a + b for a, b in zip(parts, parts[1:], strict=False))
    return words


# One search on the raw attributes first (most elements have none of these).
_HINT = re.compile(rf"side|profile|avatar|vcard|{_PERSON}", re.I)


def _is_box(el: Any) -> bool:
    if el.tag == "aside":
        return True
    if not _HINT.search(f"{el.get('class') or ''} {el.get('id') or ''}"):
        return False
    return any(_PROFILE_WORD.match(w) or _SIDE_WORD.match(w) for w in _words(el))


def drop_side_boxes(tree: Any, attributed: list[Any]) -> None:
    """Remove profile cards and sidebars (``attributed``: the page's elements
    with a class or id, in document order) that hold at most half of the
    page's text."""
    body = next(iter(tree.iter("body")), tree)
    total = len("".join(body.text_content().split()))
    if not total:
        return
    boxes = [el for el in attributed if el.tag in _BOX_TAGS and _is_box(el)]
    boxes.extend(el for el in tree.iter("aside") if el not in boxes)
    gone: set[Any] = set()
    for el in boxes:
        if el.getparent() is None or any(a in gone for a in el.iterancestors()):
            continue
        if len("".join(el.text_content().split())) <= total * _MAX_SHARE:
            gone.add(el)
            el.drop_tree()


def drop_forms(tree: Any) -> None:
    """Remove reply and comment forms: the nearest block around a
    ``<textarea>`` whose own text is a heading and button labels."""
    for area in list(tree.iter("textarea")):
        if area.getparent() is None:
            continue
        node = area
        for _ in range(3):
            parent = node.getparent()
            if parent is None or parent.tag in ("body", "html"):
                break
            text = "".join(parent.text_content().split())
            own = len(text) - len("".join(area.text_content().split()))
            if own > _FORM_TEXT_CHARS:
                break
            node = parent
        if node.getparent() is not None:
            node.drop_tree()
