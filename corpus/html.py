"""Saved web pages (``.html``/``.htm``): the article's main text, not the page.

The pipeline:

1. **Decode** by the charset the page declares (``<meta charset>`` or the
   ``http-equiv`` Content-Type, GB2312/GBK read as their superset GB18030);
   an undeclared or wrongly declared page is detected like a ``.txt`` file
   (``corpus.decoding``).
2. **Metadata** from the whole page before anything is removed: the title
   from ``og:title`` / ``<title>`` / ``<h1>`` without the site-name suffix
   (``… - 某某网``), author, date and category from meta tags and JSON-LD,
   and the teaser titles of 相关文章 / 推荐阅读 / 热门文章 blocks
   (``meta.related``, as for ``.txt``).
3. **Main text** by trafilatura, which drops navigation, footers, share bars,
   comments and scripts; dates come from htmldate through it.  On a forum
   thread only the first post is the article (replies are comments); on a
   Q&A page the question and the accepted (else the first) answer; lists of
   posts, comments and signatures are removed first (``corpus.threads``).
4. **Cleaning** what extraction lets through: byline lines (作者：… 来源：…
   发布时间：…), which become metadata when the page has none, the repeated
   title, and everything from a 相关文章 marker on.
5. **Sections** from ``<h1>``–``<h6>``, numbered Chinese headings and
   ``第X条`` clauses (``corpus.blocks``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from typing import Any

from zhsearch.corpus.blocks import Block, sections_from_blocks
from zhsearch.corpus.boxes import drop_forms, drop_side_boxes
from zhsearch.corpus.decoding import decode_bytes
from zhsearch.corpus.errors import ReadError
from zhsearch.corpus.model import Article
from zhsearch.corpus.readers import _RELATED_MARKERS, MAX_TITLE_CHARS, _squash, clean_text
from zhsearch.corpus.threads import drop_signatures, prune_posts


def _xpath(expression: str) -> Any:
    from lxml import etree

    return etree.XPath(expression)


HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})

# Blocks of other pages' teasers; a superset of the .txt markers, since pages
# label them more ways.
RELATED_MARKERS = _RELATED_MARKERS | frozenset(
    {
        "相关新闻",
        "相关问题",
        "相关帖子",
        "相关话题",
        "相关链接",
        "热门推荐",
        "热点推荐",
        "热门阅读",
        "热门新闻",
        "热门帖子",
        "精彩推荐",
        "为你推荐",
        "猜你想看",
        "更多阅读",
        "相關新聞",
        "相關問題",
        "熱門推薦",
    }
)
# Where the article stops and the page's reactions begin.
_END_MARKERS = frozenset(
    {
        "网友评论",
        "网友回复",
        "全部评论",
        "最新评论",
        "热门评论",
        "发表评论",
        "我要评论",
        "评论列表",
        "评论",
        "评论区",
        "留言",
        "評論",
        "留言板",
        "其他回答",
        "全部回答",
        "全部回复",
        "網友評論",
        "發表評論",
    }
)

# A line that ends the article: what follows is the page's.
_END_LINE = re.compile(
    r"^[\s\-—–_=~·.]*(?:END|The End|完|全文完|本文完)[\s\-—–_=~·.]*$|^[（(【\[]\s*(?:完|全文完|END)\s*[）)】\]]$", re.I
)
# Lines that are the page talking, not the article.
_BOILERPLATE_LINE = re.compile(
    r"^(?:(?:免责)?声明[:：]|版权声明|(?:长按|扫描|扫码|识别)[^。]{0,12}(?:二维码|关注)|点击(?:上方|下方|关注|阅读原文)|"
    r"(?:关注|订阅)(?:我们|公众号)|阅读原文$|分享到[:：]?|转载请注明)"
)
_FOOTER_LINE = re.compile(r"版权所有|Copyright|All Rights Reserved|ICP备|ICP证|©", re.I)
# A profile's or a post's counters: 访问量：56,204 / 粉丝：1,027 / 阅读(2306) | 评论(14).
_COUNTER_LINE = re.compile(
    r"^[\u4e00-\u9fff]{1,6}\s*[:：]\s*[\d,.]+\s*[万千kKwW+]?$|^(?:[\u4e00-\u9fff]{1,4}\s*[（(]\s*[\d,.]+[万kKwW+]?\s*[)）]\s*[|｜·/]?\s*){2,}$"
    # 查看: 5620 | 回复: 3 / 帖子 216 · 积分 1088 / 浏览 3418 次 回复 5
    r"|^(?:[\u4e00-\u9fff]{1,4}\s*[:：]?\s*[\d,.]+\s*[万千kKwW+]?\s*[次人篇条个]?\s*[|｜·/,，、]?\s*){2,}$"
)
# A lone thread-type or section tag above the article (``[经验分享]``, ``【求助】``).
_TAG_LINE = re.compile(r"^[\[【〔［][^\]】〕］]{1,8}[\]】〕］]$")
# Text at least this long before a related-articles marker makes the marker
# the end of the article; earlier markers head a sidebar.
_MIN_BODY_BEFORE_MARKER = 80

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_ENCODING_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "cp936": "gb18030",
    "big5": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "cp950": "big5hkscs",
}


def decode_html(data: bytes, name: str) -> str:
    """The page's text: by its declared charset, else detected."""
    if b"\x00" not in data[:4096] and (m := _CHARSET.search(data[:4096])):
        declared = m.group(1).decode("ascii").lower()
        encoding = _ENCODING_ALIASES.get(declared, declared)
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            pass  # an unknown or wrong declaration: detect instead
    return decode_bytes(data, name)


# --------------------------------------------------------------------------
# Metadata

_TITLE_SEPARATORS = re.compile(r"\s*(?:_|\||｜|–|—|-{1,2}|·)\s*")
_SITE_LIKE = re.compile(
    r"(?:网|站|论坛|社区|博客|频道|官网|平台|门户|在线|新闻|日报|晚报|时报|周刊|吧|问答|百科|知道|"
    r"记账本|Powered by.*|Discuz!?|[A-Za-z0-9.-]+\.(?:com|cn|net|org))$",
    re.I,
)
_BYLINE = re.compile(
    r"^(?:(?:来源|出处|作者|文|撰文|记者|编辑|责任编辑|责编|审核|校对|发布者|发布人|发布时间|发表时间|发表于|发布于|"
    r"更新时间|时间|日期|发布日期|浏览|浏览次数|阅读|阅读量|点击|点击数|字号|分类|栏目|提问者|回答者|楼主|"
    r"本文来源|文章来源|稿件来源|原文链接|原标题|本文作者|文章作者|博主)"
    r"\s*[:：]?\s*|\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2})"
)
# A date line with only an edit/publish word around it (``已于 2024-01-15 修改``,
# ``编辑于 2024-01-15 09:12・IP 属地浙江``).
_DATE_LINE = re.compile(
    r"^[(（\[【]?\s*(?:已于|编辑于|发布于|发表于|更新于|修改于|创建于|首发于|写于|最后(?:编辑|更新|修改)于?)?\s*"
    r"(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}日?[\s\d:：]*"
    r"(?:修改|编辑|发布|发表|更新|首发)?(?:\s*[・·|｜]?\s*IP\s*属地\s*\S{1,10})?\s*[)）\]】]?$",
    re.I,
)
# Author boxes above or below an article: a name, a badge, a follow button.
_AUTHOR_BOX = re.compile(
    r"^(?:author|authorinfo|author-info|author_info|byline|post-author|article-author|user-info|userinfo)$", re.I
)
_AUTHOR_BOX_HINT = re.compile(r"author|byline|user", re.I)
_AUTHOR_BOX_CHARS = 40
_BYLINE_FIELDS = re.compile(
    r"(?P<key>作者|记者|撰文|发布者|发布人|提问者|回答者|博主|分类|栏目)\s*[:：]\s*(?P<value>[^\s|｜　:：]{1,20})"
)
_DATE = re.compile(r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_NOT_NAMES = frozenset({"发表于", "楼主", "匿名", "匿名用户", "admin", "作者", "佚名", "本站", "小编"})
_MAX_BYLINE = 100
_MAX_RELATED = 20


def _clean_title(raw: str, site_name: str | None, h1: str | None) -> str:
    """``raw`` without the site-name parts (``正文 - 财经频道 - 某某网``) and
    prefixes such as ``(2 条消息)``: the page's ``<h1>`` when ``raw`` holds it."""
    raw = " ".join(raw.split())
    if h1 and h1 in raw and len(h1) >= 4:
        return h1
    parts = _TITLE_SEPARATORS.split(raw)
    while len(parts) > 1:
        last = parts[-1].strip()
        if not last or last == site_name or _SITE_LIKE.search(last) or len(last) <= 6:
            parts.pop()
        else:
            break
    return " - ".join(p for p in parts if p).strip() or raw


def _page_meta(tree: Any, attributed: list[Any]) -> tuple[dict[str, Any], str, list[str]]:
    """Metadata, title and related teasers read from the whole page
    (``attributed``: its elements with a class or id)."""
    metas: dict[str, str] = {}
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        content = (el.get("content") or "").strip()
        if key and content and key not in metas:
            metas[key] = clean_text(content)
    ld: dict[str, Any] = {}
    for el in tree.iter("script"):
        if (el.get("type") or "").lower() == "application/ld+json" and el.text:
            ld = _json_ld(el.text) or ld
            if ld:
                break
    h1s = [" ".join(el.text_content().split()) for el in tree.iter("h1")]
    h1 = next((h for h in h1s if h), None)
    title_el = next(iter(tree.iter("title")), None)
    if h1 is None:
        # Pages without an <h1> head the article with an <h2>/<h3>: the one
        # the <title> starts with (``父亲的存折_某某的日志_某某博客``).
        title_text = " ".join(title_el.text_content().split()) if title_el is not None else ""
        for el in tree.iter("h2", "h3"):
            heading = " ".join(el.text_content().split())
            if len(heading) >= 4 and title_text.startswith(heading):
                h1 = heading
                break
    site = metas.get("og:site_name") or metas.get("sitename")
    raw_title = (
        metas.get("og:title")
        or str(ld.get("headline") or "")
        or metas.get("articletitle")
        or (title_el.text_content() if title_el is not None else "")
        or h1
        or ""
    )
    title = _clean_title(clean_text(raw_title), site, h1)[:MAX_TITLE_CHARS]
    meta: dict[str, Any] = {}
    author = metas.get("author") or metas.get("article:author") or _ld_name(ld.get("author"))
    if author and author.lower() not in _NOT_NAMES:
        meta["author"] = _strip_role(author)
    category = (
        metas.get("article:section")
        or _ld_text(ld.get("articleSection"))
        or metas.get("columnname")
        or _breadcrumb_category(attributed, site)
    )
    if category:
        meta["category"] = category
    for key in ("article:published_time", "pubdate", "publishdate", "datepublished"):
        if date := _iso_date(metas.get(key) or ""):
            meta["date"] = date
            break
    else:
        if date := _iso_date(str(ld.get("datePublished") or "")):
            meta["date"] = date
    keywords = metas.get("keywords") or _ld_text(ld.get("keywords"))
    if keywords:
        tags = [t for t in re.split(r"[,，、;；\s]+", keywords) if t]
        if tags:
            meta["tags"] = tags[:20]
    return meta, title, _related_teasers(tree)


_CRUMB = re.compile(r"crumb|position|location|(?:^|\s)pt(?:\s|$)|path|daohang|weizhi|mianbao", re.I)
_CRUMB_TAGS = frozenset({"div", "nav", "p", "span", "ol", "ul"})
_CRUMB_SEPARATORS = re.compile(r"\s*[>›»/＞→]\s*|\s{2,}")
_NOT_CATEGORIES = frozenset({"首页", "主页", "论坛", "正文", "查看内容", "当前位置", "返回首页"})


def _breadcrumb_category(attributed: list[Any], site: str | None) -> str | None:
    """The last section a breadcrumb (首页 > 财经 > 正文) links to."""
    for el in _crumb_candidates(attributed):
        if el.tag not in _CRUMB_TAGS or not _CRUMB.search(f"{el.get('class') or ''} {el.get('id') or ''}"):
            continue
        text = el.text_content().split("：", 1)[-1].split(":", 1)[-1]
        names = [" ".join(n.split()) for n in _CRUMB_SEPARATORS.split(text)]
        names = [n for n in names if n and n not in _NOT_CATEGORIES and n != site and not _SITE_LIKE.search(n)]
        if names and len(names[-1]) <= 20:
            return clean_text(names[-1])
    return None


def _json_ld(text: str) -> dict[str, Any]:
    """The first article-like object of a JSON-LD block (``{}`` if none)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    stack = [data]
    while stack:
        item = stack.pop(0)
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if "headline" in item or "datePublished" in item:
                return item
            stack.extend(v for k, v in item.items() if k == "@graph")
    return {}


def _ld_name(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name")
    return clean_text(str(value)).strip() if isinstance(value, str) and value.strip() else None


def _ld_text(value: Any) -> str | None:
    if isinstance(value, list):
        value = ",".join(str(v) for v in value if isinstance(v, (str, int)))
    return clean_text(value).strip() if isinstance(value, str) and value.strip() else None


def _strip_role(name: str) -> str:
    return re.sub(r"^(?:记者|作者|文|撰文|编辑)\s*[:：]?\s*", "", name.strip()) or name.strip()


def _iso_date(text: str) -> str | None:
    m = _DATE.search(text)
    if not m:
        return None
    year, month, day = (int(g) for g in m.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


# Elements that may be a 相关文章 label (at most 12 characters of text,
# at most two children).
_LABEL_TAGS = ("h2", "h3", "h4", "h5", "div", "span", "p", "strong", "b", "dt", "li", "em")
_LABEL_CHARS = 12


def _short_labels(tree: Any) -> Iterator[tuple[Any, str]]:
    """``(element, text)`` for the short elements a marker may be.  One walk
    reading each element's own and its children's text: the whole text of
    every element (XPath ``string-length(.)``) is quadratic in the nesting."""
    for el in tree.iter(*_LABEL_TAGS):
        if len(el) > 2:
            continue
        text = el.text or ""
        deeper = False
        for child in el:
            text += (child.text or "") + (child.tail or "")
            deeper = deeper or len(child) > 0
        if len(text) > _LABEL_CHARS:
            continue
        if deeper and len(text := el.text_content()) > _LABEL_CHARS:
            continue
        yield el, text


def _related_teasers(tree: Any) -> list[str]:
    """Link texts of the blocks a related-articles marker heads."""
    titles: list[str] = []
    for el, text in _short_labels(tree):
        if _squash(text) not in RELATED_MARKERS:
            continue
        container = el.getparent()
        after = set(el.xpath("following::a[position() <= 60]"))
        for _ in range(3):
            if container is None:
                break
            links = [" ".join(a.text_content().split()) for a in container.iter("a") if a in after]
            links = [t for t in links if 4 <= len(t) <= 60]
            if links:
                for t in links:
                    if t not in titles:
                        titles.append(clean_text(t))
                break
            container = container.getparent()
        if len(titles) >= _MAX_RELATED:
            break
    return titles[:_MAX_RELATED]


# --------------------------------------------------------------------------
# Main text

# The post bodies of the forum engines Chinese forums run on (Discuz!,
# phpwind, Baidu Tieba, phpBB, vBulletin): the first one is the thread's
# article; the others are replies.
_FORUM_POST = re.compile(r"^(?:postmessage_\d+|read_tpc|post_message_\d+|post_content_\d+)$")
_FORUM_POST_CLASS = re.compile(r"(?:^|\s)(?:d_post_content|t_f|postbody|post_message|j_d_post_content)(?:\s|$)")


# Elements with a class or id: the candidates the regular expressions decide on.
_ATTRIBUTED = _xpath("//*[@class or @id]")


def _crumb_candidates(attributed: list[Any]) -> list[Any]:
    """Elements whose class or id may name a breadcrumb (the XPath with
    translate() this replaces cost more than the rest of the metadata)."""
    return [el for el in attributed if _CRUMB.search(f"{el.get('class') or ''} {el.get('id') or ''}")]


def _first_post(attributed: list[Any]) -> Any | None:
    posts = [
        el
        for el in attributed
        if el.tag in ("div", "td", "article", "section")
        and (_FORUM_POST.match(el.get("id") or "") or _FORUM_POST_CLASS.search(el.get("class") or ""))
    ]
    # An element nested in another post body is the same post.
    inside = set(posts)
    posts = [p for p in posts if not any(a in inside for a in p.iterancestors())]
    return posts[0] if posts else None


def _post_author(post: Any) -> str | None:
    """The poster's name: the first profile link of the post's container."""
    node = post
    for _ in range(8):
        node = node.getparent()
        if node is None:
            return None
        if re.match(r"^(?:post_?\d+|pid\d+)$", node.get("id") or ""):
            break
    for a in node.iter("a"):
        href = a.get("href") or ""
        if re.search(r"uid|space|member|/u/|user|home\.php", href) and (name := a.text_content().strip()):
            return name[:40]
    return None


def _post_blocks(post: Any) -> list[Block]:
    """A forum post's text, one block a paragraph (``<br>`` ends a line)."""
    from lxml import etree

    for br in post.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for junk in post.iter("script", "style"):
        junk.getparent().remove(junk)
    etree.strip_elements(post, etree.Comment, with_tail=False)
    text = clean_text(post.text_content())
    return [Block(p.strip()) for p in re.split(r"\n\s*\n|\n", text) if p.strip()]


# An element whose text is mostly link text is navigation (a menu, a link
# list, 上一篇/下一篇), whatever the page's layout (old pages lay out with
# tables, which trafilatura keeps whole).
_LINK_DENSITY = 0.6
_PRUNE_TAGS = frozenset({"td", "div", "ul", "ol", "table", "tr", "nav", "p", "section", "aside", "dl", "span", "font"})


def _prune_link_lists(tree: Any) -> None:
    """Remove the elements made of links (with at least two).

    One pass, children before parents: every element's text length, link
    text length and link count are summed from its children's (the
    link-density test per element would otherwise read its whole subtree)."""
    from lxml import etree

    order = list(tree.iter(etree.Element))
    stats: dict[Any, tuple[int, int, int]] = {}
    for el in reversed(order):
        text = el.text
        total = _chars(text) if text else 0
        linked = count = 0
        for child in el:
            tail = child.tail
            if tail:
                total += _chars(tail)
            if (sub := stats.get(child)) is not None:
                total += sub[0]
                linked += sub[1]
                count += sub[2]
        if el.tag == "a":
            linked, count = total, count + 1
        stats[el] = (total, linked, count)
    doomed = []
    for el in order:
        total, linked, count = stats[el]
        if count >= 2 and total and el.tag in _PRUNE_TAGS and linked / total >= _LINK_DENSITY:
            doomed.append(el)
    kept: list[Any] = []
    gone: set[Any] = set()
    for el in doomed:  # document order: an ancestor comes before its descendants
        if any(a in gone for a in el.iterancestors()):
            continue
        gone.add(el)
        kept.append(el)
    for el in kept:
        if el.getparent() is not None:
            el.drop_tree()


def _chars(text: str) -> int:
    """Characters other than whitespace (what a reader sees; cheaper than
    :func:`_squash`, which this runs too often for)."""
    return len("".join(text.split()))


def _drop_author_boxes(attributed: list[Any]) -> None:
    """Remove the short author boxes (name, badge, follow button) that
    article pages put beside the text; extraction keeps them as a line.
    Run after :func:`corpus.threads.prune_posts`, which needs a post's
    author to know it is a post."""
    for el in attributed:
        raw = f"{el.get('class') or ''} {el.get('id') or ''}"
        if not _AUTHOR_BOX_HINT.search(raw):
            continue
        if any(_AUTHOR_BOX.match(w) for w in raw.split()) and el.getparent() is not None:
            if len(_squash(el.text_content())) <= _AUTHOR_BOX_CHARS:
                el.drop_tree()


# The first text nodes after an element (position() in the XPath: a slice
# of all the following text would read the rest of the page per heading).
_TEXT_AFTER = _xpath("following::text()[normalize-space()][position() <= 8]")


def _source_headings(tree: Any) -> list[tuple[str, str, str]]:
    """``(tag, heading, the text after it)`` for the page's ``<h2>``–``<h6>``."""
    found = []
    for el in tree.iter("h2", "h3", "h4", "h5", "h6"):
        heading = " ".join(el.text_content().split())
        if not heading or len(heading) > MAX_TITLE_CHARS:
            continue
        after = ""
        for piece in _TEXT_AFTER(el):
            after += _squash(str(piece))
            if len(after) >= 16:
                break
        if len(after) >= 8:
            found.append((el.tag, heading, after[:16]))
    return found


def _restore_headings(blocks: list[Block], headings: list[tuple[str, str, str]]) -> list[Block]:
    """Put back headings extraction dropped (trafilatura drops some, e.g. in
    WeChat articles) before the paragraph that follows them on the page."""
    present = {_squash(b.text) for b in blocks}
    starts = {_squash(b.text)[:16]: i for i, b in reversed(list(enumerate(blocks))) if b.style is None}
    inserts: dict[int, list[Block]] = {}
    for tag, heading, after in headings:
        if _squash(heading) in present or (i := starts.get(after)) is None:
            continue
        inserts.setdefault(i, []).append(Block(heading, tag))
    if not inserts:
        return blocks
    out: list[Block] = []
    for i, block in enumerate(blocks):
        out.extend(inserts.get(i, ()))
        out.append(block)
    return out


def _find_date(page: str) -> str | None:
    """The page's publication date by htmldate, when neither its meta tags
    nor a byline gave one (htmldate reads URLs, time elements, text).

    Not its extensive search: that hands free text to dateparser, whose
    first calls in a process compile its locale patterns for seconds (most
    of the CPU an indexing run of a thousand light pages spent), and on our
    pages it found no date the plain search and the bylines missed."""
    from htmldate import find_date

    try:
        found = find_date(page, original_date=True, extensive_search=False, outputformat="%Y-%m-%d")
    except (ValueError, TypeError):  # htmldate rejects some malformed pages
        return None
    return _iso_date(found) if found else None


def _trafilatura_blocks(tree: Any) -> list[Block]:
    """The main text's blocks."""
    import trafilatura

    _drop_inert(tree)
    question = prune_posts(tree)
    attributed = _ATTRIBUTED(tree)
    _drop_author_boxes(attributed)
    drop_side_boxes(tree, attributed)
    drop_forms(tree)
    _prune_link_lists(tree)
    headings = _source_headings(tree)
    doc = trafilatura.bare_extraction(tree, options=_extractor())
    if doc is None or isinstance(doc, dict) or doc.body is None:
        return []  # (a dict only with as_dict=True, which is not asked for)
    blocks: list[Block] = []
    for el in doc.body:
        blocks.extend(_element_blocks(el))
    extracted = "".join(_squash(b.text) for b in blocks)
    # The question above a Q&A page's answer, which extraction tends to drop.
    missing = [Block(line) for line in question if _squash(line) not in extracted]
    return _restore_headings(missing + blocks, headings)


# Elements with nothing to read, which every later step (and trafilatura's
# copies of the tree) would otherwise walk: real pages carry tens of KB of
# inline script and style.  JSON-LD stays: trafilatura reads it to tell a
# forum thread.
_INERT = ("style", "noscript", "template", "svg", "link", "meta", "iframe", "object", "embed")


def _drop_inert(tree: Any) -> None:
    from lxml import etree

    for script in list(tree.iter("script")):
        if (script.get("type") or "").lower() != "application/ld+json":
            script.drop_tree()
    etree.strip_elements(tree, *_INERT, with_tail=False)


@functools.cache
def _extractor() -> Any:
    """trafilatura's options, made once (building them costs as much as a
    tenth of extracting a light page; trafilatura copies them before any
    change, so one instance serves every call)."""
    from trafilatura.settings import Extractor

    return Extractor(
        output_format="python",
        fast=FAST,
        precision=PRECISION,
        comments=False,
        tables=True,
        images=False,
        links=False,
        dedup=False,
        with_metadata=False,
    )


def _element_blocks(el: Any) -> list[Block]:
    tag = el.tag
    if tag == "head":
        rend = (el.get("rend") or "h2").lower()
        return [Block(" ".join(el.xpath("string()").split()), rend if rend in _H_TAGS else "h2")]
    if tag == "list":
        return [Block(_text(item)) for item in el.iter("item")]
    if tag == "table":
        if info := _info_table(el):
            return [Block(json.dumps(info, ensure_ascii=False), _INFO_STYLE)]
        rows: list[Block] = []
        for row in el.iter("row"):
            cells = list(row.iter("cell"))
            if any(child.tag in _CONTAINERS for cell in cells for child in cell):
                # A layout table (old sites): its cells hold the paragraphs.
                for cell in cells:
                    if cell.text and cell.text.strip():
                        rows.append(Block(cell.text.strip()))
                    for child in cell:
                        rows.extend(_element_blocks(child))
                        if child.tail and child.tail.strip():
                            rows.append(Block(child.tail.strip()))
                continue
            texts = [_text(c) for c in cells]
            if any(texts):
                rows.append(Block(" ".join(t for t in texts if t)))
        return rows
    if tag in ("graphic", "ref"):
        return []
    text = el.xpath("string()")
    return [Block(line) for line in text.split("\n") if line.strip()]


_H_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
FAST = True
PRECISION = False
_CONTAINERS = frozenset({"p", "head", "list", "table", "quote"})
# The 政府信息公开 table above a government notice: labels and values, which
# are the notice's metadata (文号 becomes ``meta["doc_number"]``).
_INFO_LABELS = {
    "索引号": "index_number",
    "文号": "doc_number",
    "发文字号": "doc_number",
    "发布机构": "publisher",
    "发文机关": "publisher",
    "发布日期": "date",
    "成文日期": "written",
    "主题分类": "topic",
    "公开方式": None,
    "名称": None,
    "标题": None,
}
_INFO_STYLE = "info-table"


def _info_table(el: Any) -> dict[str, str] | None:
    cells = [_text(c) for c in el.iter("cell")]
    pairs: dict[str, str] = {}
    for label, value in zip(cells, cells[1:], strict=False):
        key = _squash(label)
        if key in _INFO_LABELS and value and _squash(value) not in _INFO_LABELS:
            if (name := _INFO_LABELS[key]) is not None:
                pairs.setdefault(name, value)
    return pairs if len(pairs) >= 2 else None


def _text(el: Any) -> str:
    return " ".join(str(el.xpath("string()")).split())


# --------------------------------------------------------------------------


@functools.cache
def _parser() -> Any:
    """lxml.html's parser with one element class for every tag, looked up in
    C: lxml.html's own lookup (forms, inputs, labels get their own classes)
    is a Python call for every element object created — a twentieth of the
    reader's time, for classes nothing here uses."""
    import lxml.html
    from lxml import etree

    parser = lxml.html.HTMLParser()
    parser.set_element_class_lookup(
        etree.ElementDefaultClassLookup(
            element=lxml.html.HtmlElement,
            comment=lxml.html.HtmlComment,
            pi=lxml.html.HtmlProcessingInstruction,
            entity=lxml.html.HtmlEntity,
        )
    )
    return parser


def parse_html(data: bytes, article_id: str, source: str | None = None) -> Article | None:
    """Parse a saved web page into an article (``None`` when it has no text)."""
    import lxml.html
    from lxml import etree

    name = source or article_id
    text = decode_html(data, name)
    if not text.strip():
        return None
    try:
        # The parser sees text, so a charset declaration can't re-decode it.
        tree = lxml.html.document_fromstring(re.sub(r"^\s*<\?xml[^>]*>", "", clean_text(text)), parser=_parser())
    except (etree.ParserError, ValueError) as exc:
        raise ReadError(name, f"not an HTML page ({exc})") from None
    # One scan for the elements with a class or id, which the metadata,
    # signature and forum-post rules all look through (signatures only
    # remove themselves, so the list stays good for the forum posts).
    attributed = _ATTRIBUTED(tree)
    meta, title, related = _page_meta(tree, attributed)
    drop_signatures(tree, attributed)
    post = _first_post(attributed)
    if post is not None:
        blocks = _post_blocks(post)
        if (poster := _post_author(post)) and "author" not in meta:
            meta["author"] = poster
    else:
        blocks = _trafilatura_blocks(tree)
    blocks = _clean_blocks(blocks, title, meta)
    if "date" not in meta and (date := _find_date(text)):
        meta["date"] = date
    if related:
        meta["related"] = related
    if source is not None:
        meta["source"] = source
    if not title:
        title = next((b.text[:60] for b in blocks), "")
    if not title and not blocks:
        return None
    return Article(article_id, title, sections_from_blocks(blocks), meta)


def _clean_blocks(blocks: list[Block], title: str, meta: dict[str, Any]) -> list[Block]:
    """Drop bylines (keeping what they say as metadata), the repeated title
    and everything from a related-articles or comments marker on."""
    squashed_title = _squash(title)
    out: list[Block] = []
    body = 0
    in_sidebar = False
    for block in blocks:
        text = clean_text(block.text).strip()
        squashed = _squash(text)
        if not squashed:
            continue
        marker = squashed in RELATED_MARKERS or squashed in _END_MARKERS or _squash(text.split("（")[0]) in _END_MARKERS
        if marker or (_END_LINE.match(text) and body):
            if body >= _MIN_BODY_BEFORE_MARKER or not marker:
                break
            in_sidebar = True  # a teaser list above the article: skip its titles
            continue
        if in_sidebar:
            if len(text) <= 40 and not _ends_sentence(text):
                continue
            in_sidebar = False
        if block.style == _INFO_STYLE:
            info = json.loads(text)
            if date := _iso_date(info.get("date", "")):
                meta.setdefault("date", date)
            if info.get("publisher"):
                meta.setdefault("author", info["publisher"])
            if info.get("doc_number"):
                meta.setdefault("doc_number", info["doc_number"])
            continue
        if len(text) <= _MAX_BYLINE and (
            _BOILERPLATE_LINE.match(text) or _FOOTER_LINE.search(text) or _COUNTER_LINE.match(text)
        ):
            continue
        if body == 0 and (squashed == squashed_title or _TAG_LINE.match(text)):
            continue  # the title repeated, or a thread-type tag, above the text
        if len(text) <= _MAX_BYLINE and (_BYLINE.match(text) or _DATE_LINE.match(text)) and not _ends_sentence(text):
            _byline_meta(text, meta)
            continue
        if squashed in ("最佳答案", "楼主", "沙发", "板凳", "正文"):
            continue
        out.append(Block(text, block.style))
        body += len(squashed)
    return out


def _ends_sentence(text: str) -> bool:
    return text.endswith(("。", "！", "？", "…", "”"))


def _byline_meta(text: str, meta: dict[str, Any]) -> None:
    for m in _BYLINE_FIELDS.finditer(text):
        key, value = m["key"], m["value"]
        if value in _NOT_NAMES:
            continue
        if key in ("分类", "栏目"):
            meta.setdefault("category", value)
        elif key != "回答者":
            meta.setdefault("author", value)
    if date := _iso_date(text):
        meta.setdefault("date", date)


def read_document(data: bytes, article_id: str, source: str | None = None) -> Article | None:
    """The reader entry point ``corpus.readers`` dispatches ``.html`` files to."""
    return parse_html(data, article_id, source)
