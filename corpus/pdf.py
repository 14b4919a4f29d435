"""PDF files through pypdf: the text layer, as paragraphs and sections.

A PDF has no paragraphs, only positioned lines, so the reader rebuilds them:

1. each page's text pieces are put into lines by their position;
2. **running headers and footers** — a line among the first or last three of
   a page that recurs on most pages (page numbers folded: ``第 3 页``,
   ``- 3 -``, ``3/10``) — and bare page numbers are dropped;
3. lines are **joined into paragraphs**: a line that ends a sentence, or is
   clearly shorter than the page's full lines, ends its paragraph; a
   paragraph that runs over a page break is healed into one;
4. numbered Chinese headings and ``第X条`` clauses become sections
   (``corpus.blocks``), as in ``.txt``.

A PDF whose pages have no text is a scan: it is refused with "no text
layer (a scanned image?); OCR it first".  An encrypted PDF that opens with
an empty password (only printing or copying restricted) is read; one that
needs a password is refused with its own reason.
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from zhsearch.corpus.blocks import Block, join_lines, sections_from_blocks
from zhsearch.corpus.clauses import clause_start
from zhsearch.corpus.errors import ReadError
from zhsearch.corpus.model import Article
from zhsearch.corpus.packages import check_size
from zhsearch.corpus.readers import MAX_HEADING_CHARS, MAX_TITLE_CHARS, clean_text, heading_style

PDF_SUFFIXES = frozenset({".pdf"})
NO_TEXT = "no text layer (a scanned image?); OCR it first"
# Lines near the top and bottom of a page that may be running headers/footers.
_EDGE_LINES = 3
# A header or footer is on at least this share of the pages (and on 2+).
_RECURRING = 0.6
_PAGE_NUMBER = re.compile(
    r"^(?:[-–—\s]*\d+[-–—\s]*|第\s*\d+\s*页(?:\s*[/，,]?\s*共\s*\d+\s*页)?|\d+\s*/\s*\d+|page\s*\d+(?:\s*of\s*\d+)?|[ivxlc]+)$",
    re.I,
)
_DIGITS = re.compile(r"\d+")
# What PDF writers put in /Title and /Author when nobody filled them in.
_PLACEHOLDERS = frozenset({"untitled", "anonymous", "unknown", "administrator", "admin", "user", "无标题", "未命名"})
# A line shorter than this share of the page's typical line ends a paragraph.
_SHORT_LINE = 0.8


def read_document(data: bytes, article_id: str, source: str | None = None) -> Article | None:
    """The reader entry point ``corpus.readers`` dispatches ``.pdf`` files to."""
    name = source or article_id
    check_size(data, name)
    if not data.lstrip()[:1024].find(b"%PDF-") >= 0:
        raise ReadError(name, "not a PDF file (no %PDF- header)")
    pages, info = _page_texts(data, name)
    if not any(pages):
        raise ReadError(name, NO_TEXT)
    lines_per_page = _drop_running_lines(pages)
    paragraphs = _paragraphs(lines_per_page)
    if not paragraphs:
        raise ReadError(name, NO_TEXT)
    meta: dict[str, Any] = {}
    title = _info_text(info, "/Title")
    if not title or title.lower() in _PLACEHOLDERS or title.lower().endswith((".doc", ".docx", ".pdf", ".wps")):
        title = paragraphs[0]
    if (author := _info_text(info, "/Author")) and author.lower() not in _PLACEHOLDERS:
        meta["author"] = author
    if date := _pdf_date(_info_text(info, "/CreationDate")):
        meta["date"] = date
    if source is not None:
        meta["source"] = source
    title = title[:MAX_TITLE_CHARS] if len(title) <= MAX_TITLE_CHARS else title[:60]
    if paragraphs and paragraphs[0] == title:
        paragraphs = paragraphs[1:]
    return Article(article_id, title, sections_from_blocks(Block(p) for p in paragraphs), meta)


def _page_texts(data: bytes, name: str) -> tuple[list[list[Line]], Any]:
    import pypdf
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    # pypdf reports recoverable damage through logging; the reader's reasons
    # say what matters.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except (NotImplementedError, DependencyError) as exc:
                raise ReadError(name, f"encrypted PDF that can't be opened here ({exc})") from None
            if not opened:
                raise ReadError(name, "password-protected (encrypted) PDF; save a copy without the password")
        pages = []
        for page in reader.pages:
            try:
                pages.append(_page_lines(page))
            except (PdfReadError, KeyError, ValueError, TypeError, AttributeError, IndexError, ZeroDivisionError):
                pages.append([])  # one damaged page; the others are still read
        info = reader.metadata
    except ReadError:
        raise
    except FileNotDecryptedError:
        raise ReadError(name, "password-protected (encrypted) PDF; save a copy without the password") from None
    except RecursionError:
        raise ReadError(name, "damaged PDF (objects nested too deeply)") from None
    except Exception as exc:  # pypdf raises many kinds on damaged files
        raise ReadError(name, f"truncated or damaged PDF ({type(exc).__name__}: {exc})") from None
    if not pages:
        raise ReadError(name, "truncated or damaged PDF (no pages)")
    return pages, info


try:
    from pypdf.errors import DependencyError
except ImportError:  # pragma: no cover - older pypdf

    class DependencyError(Exception):  # type: ignore[no-redef]
        """Stand-in: raised by pypdf when a decryption library is missing."""


def _info_text(info: Any, key: str) -> str:
    try:
        value = info.get(key) if info is not None else None
    except Exception:
        return ""
    return " ".join(clean_text(str(value)).split()) if value else ""


def _pdf_date(value: str) -> str | None:
    m = re.match(r"^(?:D:)?((?:19|20)\d{2})(\d{2})(\d{2})", value)
    if not m:
        return None
    year, month, day = (int(g) for g in m.groups())
    return f"{year:04d}-{month:02d}-{day:02d}" if 1 <= month <= 12 and 1 <= day <= 31 else None


@dataclass(frozen=True)
class Line:
    """A line of a page: its text, where it starts and its font size."""

    text: str
    x: float
    size: float


# Text pieces closer than this (points) vertically are on one line.
_SAME_LINE = 2.0


def _page_lines(page: Any) -> list[Line]:
    """The page's lines top to bottom, from the positions of its text pieces
    (so a first-line indent can start a paragraph)."""
    pieces: list[tuple[float, float, float, str]] = []

    def visit(text: str, cm: Any, tm: Any, font: Any, size: float) -> None:
        text = text.replace("\n", " ")
        if not text.strip():
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        scale = abs(tm[0] * cm[0]) or 1.0
        pieces.append((-y, x, (size or 10) * scale, text))

    page.extract_text(visitor_text=visit)
    pieces.sort()
    lines: list[Line] = []
    row: list[tuple[float, float, float, str]] = []
    for piece in pieces + [(float("inf"), 0.0, 0.0, "")]:
        if row and piece[0] - row[0][0] > _SAME_LINE:
            row.sort(key=lambda p: p[1])
            text = " ".join(clean_text("".join(p[3] for p in row)).split())
            if text:
                lines.append(Line(text, row[0][1], max(p[2] for p in row)))
            row = []
        row.append(piece)
    return lines


def _fold(line: str) -> str:
    return _DIGITS.sub("#", line)


def _drop_running_lines(pages: list[list[Line]]) -> list[list[Line]]:
    """Pages without page numbers and lines repeated at the top or bottom of
    most pages."""
    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({_fold(line.text) for line in lines[:_EDGE_LINES] + lines[-_EDGE_LINES:]})
    threshold = max(2, _RECURRING * len(pages))
    running = {text for text, n in counts.items() if n >= threshold} if len(pages) >= 2 else set()
    out = []
    for lines in pages:
        kept = []
        for i, line in enumerate(lines):
            at_edge = i < _EDGE_LINES or i >= len(lines) - _EDGE_LINES
            if _PAGE_NUMBER.match(line.text) or (at_edge and _fold(line.text) in running):
                continue
            kept.append(line)
        out.append(kept)
    return out


def _paragraphs(pages: list[list[Line]]) -> list[str]:
    """Lines joined into paragraphs across line and page breaks: a heading is
    a paragraph; an indented line or a clause (第X条) starts one; a short
    line ends one."""
    paragraphs: list[str] = []
    current: list[str] = []

    def end() -> None:
        if current:
            paragraphs.append(join_lines(current))
            current.clear()

    for lines in pages:
        if not lines:
            continue
        full = _full_width(lines)
        margin = min(line.x for line in lines)
        for line in lines:
            if _is_heading(line.text):
                end()
                paragraphs.append(line.text)
                continue
            if line.x > margin + line.size * 0.8 or clause_start(line.text):
                end()
            current.append(line.text)
            if len(line.text) < full * _SHORT_LINE:
                end()
        # A paragraph still open at the end of a page continues on the next.
    end()
    return [p for p in paragraphs if p]


def _full_width(lines: list[Line]) -> int:
    """The length of a full line of the page's body text (its longest lines)."""
    lengths = sorted(len(line.text) for line in lines)
    return lengths[int(len(lengths) * 0.9)] if len(lengths) >= 5 else lengths[-1]


def _is_heading(line: str) -> bool:
    return len(line) <= MAX_HEADING_CHARS and heading_style(line) is not None
