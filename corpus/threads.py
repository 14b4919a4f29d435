"""Pages whose main part is a list of posts: Q&A answers, forum replies, comments.

A Q&A page, a forum thread or a blog's comment list repeats one block per
post — sibling-like elements with the same tag and class (``answer-item``,
``replyItem``, ``post``), each written by someone else.  Text extraction
sees one long run of similar paragraphs and keeps them all, so the other
answers and the replies end up in the article.  What the article is, here:

- **Q&A page**: the question's description and *one* answer — the accepted
  one (``itemprop="acceptedAnswer"``, a ``best``/``accepted``/``adopted``
  class, a 最佳答案 / 已采纳 / 提问者采纳 badge) when the page marks one, else
  the first.  The other answers are replies.
- **Forum thread** (an engine :mod:`corpus.html` does not know by name): the
  first post.
- **Comment lists**: none of it.

Structural, not per site: the post blocks are found by their class/id words
(answer, reply, post, floor, comment …) and by repetition (at least two
peers: same tag, same first class word or numbered id), so a lone
``post-content`` wrapper or a ``post-meta`` line is never mistaken for a list.
Forum signatures (``sign``, ``signature``) are dropped everywhere.
"""

from __future__ import annotations

import re
from typing import Any

# Class/id words of one post in a list.
_POST_WORD = re.compile(
    r"answer|reply|replies|huida|huifu|^ans(?:$|[-_])|[-_]ans$|^post(?:$|[-_]\D)|[-_]post$|floor|comment|feedback|discuss|"
    r"^cmt|[-_]cmt|msg|message|tiezi",
    re.I,
)
# Of those, the ones that make a Q&A page (a question and its answers).
_ANSWER_WORD = re.compile(r"answer|huida|^ans(?:$|[-_])|[-_]ans$|reply|replies", re.I)
# Posts nobody counts as the article.
_COMMENT_WORD = re.compile(r"comment|feedback|discuss|^cmt|[-_]cmt|pinglun", re.I)
# An answer the asker or the site picked.
_ACCEPTED_WORD = re.compile(r"accept|adopt|caina|best|good[-_]?answer|satisf", re.I)
_ACCEPTED_BADGES = frozenset(
    {"最佳答案", "已采纳", "采纳答案", "提问者采纳", "最佳回答", "满意答案", "已采纳的回答", "推荐答案"}
)
_QUESTION_WORD = re.compile(r"question|^q[-_]|[-_]q$|^ask|[-_]ask|wenti|tiwen", re.I)
_SIGNATURE_WORD = re.compile(r"(?:^|[-_])(?:sign|signature|signatures|sig|qianming)(?:$|[-_])", re.I)
_POST_TAGS = frozenset({"div", "li", "article", "section", "table", "tr", "td", "dl", "dd"})
_NOT_TEXT_TAGS = ("button", "input", "textarea", "select", "form", "script", "style", "h1")
_NUMBER = re.compile(r"\d+")


def _xpath(expression: str) -> Any:
    from lxml import etree

    return etree.XPath(expression)


# Prefilters on the raw attributes (one regular expression per element); the
# word patterns then decide.
_ATTRIBUTED = _xpath("//*[@class or @id or @itemprop]")
_CANDIDATE_HINT = re.compile(
    r"answer|repl|post|floor|comment|feedback|discuss|cmt|huida|huifu|ans|best|accept|adopt|caina|msg|message|tiezi",
    re.I,
)
_SIGNATURE_HINT = re.compile(r"sig|qianming", re.I)
_QUESTION_HINT = re.compile(r"question|q[-_]|ask|wenti|tiwen", re.I)


def _hinted(
    tree: Any, hint: re.Pattern[str], tags: frozenset[str] | None = None, attributed: list[Any] | None = None
) -> list[Any]:
    return [
        el
        for el in (_ATTRIBUTED(tree) if attributed is None else attributed)
        if (tags is None or el.tag in tags)
        and hint.search(f"{el.get('class') or ''} {el.get('id') or ''} {el.get('itemprop') or ''}")
    ]


def _words(el: Any) -> list[str]:
    return f"{el.get('class') or ''} {el.get('id') or ''}".split()


def _matches(el: Any, pattern: re.Pattern[str]) -> bool:
    return any(pattern.search(w) for w in _words(el))


def _key(el: Any) -> tuple[str, str]:
    """What peers share: the tag and the first class word, or the id with
    its numbers taken out (``reply_5091`` and ``reply_5102``)."""
    classes = (el.get("class") or "").split()
    if classes:
        return el.tag, _NUMBER.sub("#", classes[0])
    return el.tag, "#" + _NUMBER.sub("#", el.get("id") or "")


def _accepted(el: Any) -> bool:
    if (el.get("itemprop") or "").lower() == "acceptedanswer" or _matches(el, _ACCEPTED_WORD):
        return True
    for node in el.iter():
        if node is el or not isinstance(node.tag, str):
            continue
        if (node.get("itemprop") or "").lower() == "acceptedanswer":
            return True
        text = (node.text or "").strip()
        if text in _ACCEPTED_BADGES and len(node) == 0:
            return True
    return False


def drop_signatures(tree: Any, attributed: list[Any] | None = None) -> None:
    """Remove forum signatures (the poster's motto under every post);
    ``attributed``: the page's elements with a class or id, if known."""
    for el in _hinted(tree, _SIGNATURE_HINT, None, attributed):
        if _matches(el, _SIGNATURE_WORD) and el.getparent() is not None and el.tag != "body":
            el.drop_tree()


_AUTHOR_WORD = re.compile(r"author|user|nick|name|poster|^fn$|member|lawyer|expert|answerer", re.I)
_AUTHOR_HREF = re.compile(r"user|/u/|people|member|space|uid|profile|home\.php|/lawyer/|/expert/", re.I)


def _signed(el: Any) -> bool:
    """Whether a block names who wrote it (a profile link or an author element)."""
    for node in el.iter("a", "span", "div", "b", "em", "strong", "cite", "p"):
        if node.tag == "a" and _AUTHOR_HREF.search(node.get("href") or ""):
            return True
        if node is not el and _matches(node, _AUTHOR_WORD) and node.text_content().strip():
            return True
    return False


def prune_posts(tree: Any) -> list[str]:
    """Remove the posts that are not the article; return the question's
    description lines when the page is a Q&A page (extraction, which keeps
    the long answer, tends to drop the short question above it)."""
    attributed = _ATTRIBUTED(tree)
    candidates = [el for el in _hinted(tree, _CANDIDATE_HINT, _POST_TAGS, attributed) if el.text_content().strip()]
    posts = [el for el in candidates if _matches(el, _POST_WORD) or "answer" in (el.get("itemprop") or "").lower()]
    groups: dict[tuple[str, str], list[Any]] = {}
    for el in posts:
        groups.setdefault(_key(el), []).append(el)
    lists = [members for members in groups.values() if len(members) >= 2 and sum(map(_signed, members)) >= 2]
    lists.extend(_floor_lists(attributed, {el for members in lists for el in members}))
    if not lists:
        return []
    threads = []
    for members in lists:
        if all(_matches(m, _COMMENT_WORD) for m in members):
            for m in members:  # a comment list goes whole
                if m.getparent() is not None:
                    m.drop_tree()
        else:
            threads.append(members)
    # A list inside another list's posts (each post's author line, body …) is not the thread.
    inner = {el for members in threads for el in members}
    threads = [ms for ms in threads if not all(any(a in inner for a in m.iterancestors()) for m in ms)]
    if not threads:
        return []
    members = max(threads, key=len)
    answers = all(_matches(m, _ANSWER_WORD) or "answer" in (m.get("itemprop") or "").lower() for m in members)
    accepted = [m for m in members if _accepted(m)]
    elsewhere = [
        el
        for el in candidates
        if el not in members
        and _matches(el, _ACCEPTED_WORD)
        and len(el.text_content().strip()) >= 20
        and not any(m in el.iterancestors() or el in m.iterancestors() for m in members)
    ]
    keep = accepted[0] if accepted else (None if elsewhere and answers else members[0])
    question = _question_lines(tree, keep if keep is not None else elsewhere[0], attributed) if answers else []
    for m in members:
        if m is not keep and m.getparent() is not None:
            m.drop_tree()
    return question


# A post's floor: 楼主 (the first post), 沙发 / 板凳 / 地板 (the 2nd–4th), 2楼,
# #3, 第5楼 — the numbering forum engines print on every post.
_FLOOR_MARK = re.compile(
    r"^(?:楼主|沙发|板凳|地板|地下室|(?:第\s*)?\d{1,5}\s*(?:楼|樓|F|#)|#\s*\d{1,5}|No\.\s*\d{1,5})$", re.I
)
_FLOOR_MARK_CHARS = 12
_FLOOR_TAGS = frozenset({"li", "div", "article", "section", "table", "tr", "dl"})


def _floored(el: Any) -> bool:
    """Whether a block prints a floor mark (a short element reading 楼主,
    沙发, 3楼 …) or carries a floor attribute (``data-floor``)."""
    if el.get("data-floor") is not None:
        return True
    for node in el.iter():
        if node is el or not isinstance(node.tag, str) or len(node) > 2:
            continue
        text = node.text_content()
        if len(text) <= _FLOOR_MARK_CHARS * 2:
            for part in re.split(r"[\s·|｜]+", text.strip()):
                if part and len(part) <= _FLOOR_MARK_CHARS and _FLOOR_MARK.match(part):
                    return True
    return False


def _floor_lists(attributed: list[Any], known: set[Any]) -> list[list[Any]]:
    """Lists of posts whatever their class says (``list-item``, ``topic-item``,
    ``cell``): sibling blocks (``attributed``: the page's elements with a
    class or id) with the same tag and first class word, at least two
    signed (a profile link, an author element) and two showing a floor
    mark — a thread, not a list of teasers or comments."""
    peers: dict[tuple[Any, str, str], list[Any]] = {}
    for el in attributed:
        # Classed blocks only: numbered ids (post_5091) are the word rules' case.
        if el.tag in _FLOOR_TAGS and (classes := el.get("class")) and classes.strip() and el not in known:
            peers.setdefault((el.getparent(), el.tag, classes.split(None, 1)[0]), []).append(el)
    return [
        members
        for members in peers.values()
        if len(members) >= 2 and _at_least_two(_signed, members) and _at_least_two(_floored, members)
    ]


def _at_least_two(test: Any, members: list[Any]) -> bool:
    found = 0
    for m in members:
        if test(m):
            found += 1
            if found == 2:
                return True
    return False


def _question_lines(tree: Any, answer: Any, attributed: list[Any]) -> list[str]:
    """The question's own text: the first question element before the
    answer, its title, buttons and short meta lines left out."""
    order = {el: i for i, el in enumerate(tree.iter())}
    ancestors = set(answer.iterancestors())
    for el in _hinted(tree, _QUESTION_HINT, None, attributed):
        if el in ancestors or order.get(el, 1 << 30) > order.get(answer, 0) or not _matches(el, _QUESTION_WORD):
            continue
        if el.tag not in _POST_TAGS and el.tag not in ("main", "header", "span", "p"):
            continue
        if lines := _element_lines(el):
            return lines
    return []


def _element_lines(el: Any) -> list[str]:
    """Lines of text of ``el`` that read as sentences (the question's
    description, not its tags, counters and buttons)."""
    from copy import deepcopy

    el = deepcopy(el)
    for junk in list(el.iter(*_NOT_TEXT_TAGS)):
        if junk.getparent() is not None:
            junk.drop_tree()
    for junk in [node for node in el.iterdescendants() if isinstance(node.tag, str) and _matches(node, _META_WORD)]:
        if junk.getparent() is not None:
            junk.drop_tree()
    for br in el.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for block in el.iter("p", "div", "pre", "li", "h2", "h3", "h4", "span"):
        block.tail = "\n" + (block.tail or "")
        block.text = "\n" + (block.text or "")
    lines = [" ".join(line.split()) for line in el.text_content().split("\n")]
    return [
        line for line in lines if len(line) >= 12 and _SENTENCE.search(line) and re.search(r"[\u4e00-\u9fff]", line)
    ]


# The question's counters, tags, dates, buttons and asker.
_META_WORD = re.compile(
    r"info|meta|time|date|stat|tag|topic|foot|action|tool|btn|button|user|author|count|vote|follow|share", re.I
)
_SENTENCE = re.compile(r"[，。？！；,?!;]")
