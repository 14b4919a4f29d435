"""E-books (``.epub``) through ebooklib: chapters as sections, in reading order.

The spine gives the reading order; each chapter document's ``<h1>``–``<h6>``
become sections (a chapter without a heading is titled from the table of
contents), its paragraphs, list items and table rows their text, and
numbered Chinese headings and ``第X条`` clauses are recognised as in ``.txt``.
Title, author, date and subject come from the Dublin Core metadata.  An
e-book whose chapters are encrypted (DRM; font obfuscation alone is
harmless) is refused with its own reason.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from typing import Any

from zhsearch.corpus.blocks import Block, sections_from_blocks
from zhsearch.corpus.errors import ReadError
from zhsearch.corpus.model import Article
from zhsearch.corpus.packages import check_size, open_package
from zhsearch.corpus.readers import MAX_TITLE_CHARS, clean_text

EPUB_SUFFIXES = frozenset({".epub"})
KIND = "EPUB e-book"
_FONT_OBFUSCATION = ("http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC")
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCK_TAGS = _HEADINGS | frozenset(
    {
        "p",
        "li",
        "blockquote",
        "pre",
        "dd",
        "dt",
        "dl",
        "tr",
        "figcaption",
        "div",
        "section",
        "article",
        "body",
        "ul",
        "ol",
        "table",
        "tbody",
        "thead",
        "figure",
        "aside",
        "nav",
        "header",
        "footer",
        "hr",
    }
)


def read_document(data: bytes, article_id: str, source: str | None = None) -> Article | None:
    """The reader entry point ``corpus.readers`` dispatches ``.epub`` files to."""
    name = source or article_id
    check_size(data, name)
    with open_package(data, name, KIND, "META-INF/container.xml") as package:
        _refuse_drm(package, name)
    from ebooklib import epub

    try:
        book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    except Exception as exc:  # ebooklib raises EpubException, KeyError, lxml errors ...
        raise ReadError(name, f"damaged EPUB e-book ({type(exc).__name__}: {exc})") from None
    toc = _toc_titles(book.toc)
    blocks: list[Block] = []
    for idref, _linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or not isinstance(item, epub.EpubHtml) or isinstance(item, epub.EpubNav):
            continue
        chapter = _chapter_blocks(item.get_content(), name)
        if chapter and chapter[0].style is None and (heading := toc.get(item.get_name())):
            chapter.insert(0, Block(heading, "h1"))
        blocks.extend(chapter)
    meta: dict[str, Any] = {}
    title = _dc(book, "title")
    if author := _dc(book, "creator"):
        meta["author"] = author
    if (date := _dc(book, "date")) and re.match(r"^\d{4}-\d{2}-\d{2}", date):
        meta["date"] = date[:10]
    if subject := _dc(book, "subject"):
        meta["category"] = subject
    if source is not None:
        meta["source"] = source
    if not title:
        title = next((b.text for b in blocks), "")
    if not title and not blocks:
        return None
    return Article(article_id, " ".join(title.split())[:MAX_TITLE_CHARS], sections_from_blocks(blocks), meta)


def _refuse_drm(package: zipfile.ZipFile, name: str) -> None:
    try:
        encryption = package.read("META-INF/encryption.xml")
    except KeyError:
        return
    algorithms = re.findall(rb'Algorithm="([^"]+)"', encryption)
    if any(
        a.decode("ascii", "replace") not in _FONT_OBFUSCATION for a in algorithms if b"EncryptionMethod" in encryption
    ):
        raise ReadError(name, "DRM-protected (encrypted) EPUB e-book; its text can't be read")


def _dc(book: Any, field: str) -> str:
    try:
        values = book.get_metadata("DC", field)
    except Exception:
        return ""
    for value, _attrs in values:
        if isinstance(value, str) and value.strip():
            return " ".join(clean_text(value).split())
    return ""


def _toc_titles(toc: Any) -> dict[str, str]:
    """Chapter file -> its title in the table of contents."""
    titles: dict[str, str] = {}
    stack = list(toc) if isinstance(toc, (list, tuple)) else []
    while stack:
        entry = stack.pop(0)
        if isinstance(entry, (list, tuple)):
            stack[:0] = list(entry)
            continue
        href = getattr(entry, "href", None)
        title = getattr(entry, "title", None)
        if href and title:
            titles.setdefault(posixpath.normpath(href.split("#")[0]), str(title))
    return titles


def _chapter_blocks(content: bytes, name: str) -> list[Block]:
    import lxml.html
    from lxml import etree

    if not content.strip():
        return []
    try:
        root = lxml.html.document_fromstring(content)
    except (etree.ParserError, ValueError):
        return []
    for junk in root.iter("script", "style", "head"):
        junk.drop_tree()
    blocks: list[Block] = []
    _walk(root, blocks)
    return blocks


def _walk(el: Any, blocks: list[Block]) -> None:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in _HEADINGS:
        text = " ".join(clean_text(el.text_content()).split())
        if text:
            blocks.append(Block(text, tag))
        return
    if tag != "html" and not any(isinstance(c.tag, str) and c.tag in _BLOCK_TAGS for c in el):
        # No block inside: the element is one paragraph (<br> ends a line).
        for br in el.iter("br"):
            br.tail = "\n" + (br.tail or "")
        text = clean_text(el.text_content()).strip()
        if text:
            blocks.append(Block(" ".join(text.split()) if tag == "tr" else text))
        return
    # Text directly inside a container beside blocks.
    if el.text and el.text.strip() and tag != "html":
        blocks.append(Block(clean_text(el.text).strip()))
    for child in el:
        _walk(child, blocks)
        if child.tail and child.tail.strip() and tag != "html":
            blocks.append(Block(clean_text(child.tail).strip()))
