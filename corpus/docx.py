"""Word documents (``.docx``) through python-docx.

The body is read in order, paragraphs and tables alike.  A paragraph whose
style is a heading — ``Heading 1`` … ``Heading 9``, Chinese Word's ``标题 1``
…, a style based on one, or any style with an outline level — starts a
section at that level; numbered Chinese headings typed as plain paragraphs
(一、, 1.1 …) and ``第X条`` clauses are recognised as in ``.txt``.  A table is
text, one row a line with its cells in order (a merged cell once).  Page
headers and footers live in their own parts and are never read.  The title
is the document's Title property, else its ``Title``/``标题`` paragraph,
else its first heading or line; author, date and category come from the
core properties.
"""

from __future__ import annotations

import re
from typing import Any

from zhsearch.corpus.blocks import Block, sections_from_blocks
from zhsearch.corpus.errors import ReadError
from zhsearch.corpus.model import Article
from zhsearch.corpus.packages import check_size, open_package
from zhsearch.corpus.readers import MAX_TITLE_CHARS, clean_text

DOCX_SUFFIXES = frozenset({".docx"})
KIND = "Word .docx file"

_HEADING_STYLE = re.compile(r"^(?:heading|标题|標題)\s*(\d)$", re.I)
_TITLE_STYLES = frozenset({"title", "标题", "標題"})
# Titles Word fills in by itself.
_DEFAULT_TITLES = re.compile(r"^(?:Microsoft Word - .*|无标题|未命名|文档\d*|Document\d*)$", re.I)


def read_document(data: bytes, article_id: str, source: str | None = None) -> Article | None:
    """The reader entry point ``corpus.readers`` dispatches ``.docx`` files to."""
    name = source or article_id
    check_size(data, name)
    open_package(data, name, KIND, "word/document.xml").close()
    import io

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise ReadError(name, f"not a Word document ({exc})") from None
    except Exception as exc:  # lxml's XMLSyntaxError and friends: a damaged part
        raise ReadError(name, f"damaged Word document ({type(exc).__name__}: {exc})") from None
    blocks: list[Block] = []
    title_paragraph = ""
    for item in document.iter_inner_content():
        if hasattr(item, "rows"):
            blocks.extend(_table_blocks(item))
            continue
        text = clean_text(item.text).strip()
        if not text:
            continue
        kind = _paragraph_kind(item)
        if kind == "title" and not title_paragraph:
            title_paragraph = text
            continue
        blocks.append(Block(text, kind))
    meta: dict[str, Any] = {}
    props = document.core_properties
    title = _prop(props.title)
    if not title or _DEFAULT_TITLES.match(title):
        title = title_paragraph or next((b.text for b in blocks if b.style), "") or next((b.text for b in blocks), "")
    if author := _prop(props.author):
        meta["author"] = author
    when = props.created or props.modified
    if when is not None and when.year > 1980:
        meta["date"] = when.strftime("%Y-%m-%d")
    if category := _prop(props.category):
        meta["category"] = category
    if keywords := _prop(props.keywords):
        meta["tags"] = [t for t in re.split(r"[,，、;；\s]+", keywords) if t]
    if source is not None:
        meta["source"] = source
    title = " ".join(title.split())[:MAX_TITLE_CHARS]
    if not title and not blocks:
        return None
    if blocks and blocks[0].text == title:
        blocks = blocks[1:]
    return Article(article_id, title, sections_from_blocks(blocks), meta)


def _prop(value: Any) -> str:
    return " ".join(clean_text(value).split()) if isinstance(value, str) else ""


def _paragraph_kind(paragraph: Any) -> str | None:
    """``"title"``, a heading style key (``"docx-1"``), or ``None``."""
    style = paragraph.style
    level = _outline_level(paragraph._p.pPr)
    for _ in range(10):  # the style and the styles it is based on
        if style is None:
            break
        name = (style.name or "").strip()
        if name.lower() in _TITLE_STYLES:
            return "title"
        if m := _HEADING_STYLE.match(name):
            return f"docx-{m.group(1)}"
        if level is None:
            level = _outline_level(style.element.pPr)
        style = style.base_style
    return f"docx-{level + 1}" if level is not None and level < 9 else None


def _outline_level(ppr: Any) -> int | None:
    if ppr is None:
        return None
    from docx.oxml.ns import qn

    el = ppr.find(qn("w:outlineLvl"))
    if el is None:
        return None
    try:
        return int(el.get(qn("w:val")))
    except (TypeError, ValueError):
        return None


def _table_blocks(table: Any) -> list[Block]:
    blocks = []
    for row in table.rows:
        seen: set[int] = set()
        cells = []
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue  # a merged cell is repeated for every grid column
            seen.add(id(cell._tc))
            text = " ".join(clean_text(cell.text).split())
            if text:
                cells.append(text)
        if cells:
            blocks.append(Block(" ".join(cells)))
    return blocks
