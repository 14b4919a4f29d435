"""Readers: one per input format, each turning a file into :class:`Article` s.

The format is chosen by file extension:

* ``.txt`` — pages scraped from Chinese article sites: a title line, a glued
  author/date/category/views line, numbered Chinese headings (一、, （一）,
  1.1, 第X章 ...), and a trailing 相关文章 block of other articles' teasers,
  which is kept as metadata and never as searchable text.  Plain text without
  that structure is one section titled by its first line.
* ``.md`` — ATX headings, YAML front matter, HTML comments dropped.
* ``.jsonl`` — one article per line, ids kept exactly as given.

Directories are walked recursively, hidden entries skipped.  A file that can't
be read raises :class:`ReadError`; problems inside a file that still yields
articles (a malformed JSON line) are returned as warnings so the rest of the
file is indexed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from zhsearch.corpus.clauses import CLAUSE_LABEL, article_work, clause_start, has_clauses, legal_meta
from zhsearch.corpus.decoding import decode_bytes
from zhsearch.corpus.errors import ReadError
from zhsearch.corpus.model import Article, Section

TEXT_SUFFIXES = frozenset({".txt", ".text"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
# Documents with markup, each read by its own module (imported on first use:
# their libraries are not needed to search).
DOCUMENT_READERS = {
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".docx": "docx",
    ".pdf": "pdf",
    ".epub": "epub",
}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | JSONL_SUFFIXES | frozenset(DOCUMENT_READERS)
# A first line longer than this is text, not a title (a one-line file).
MAX_TITLE_CHARS = 200
# Longer sections are cut into parts at paragraph or sentence ends: a
# 20 MB one-line file would otherwise be one document whose every match
# lands in the same snippet window search.
MAX_SECTION_CHARS = 50_000


@dataclass(frozen=True)
class FileRead:
    """What one file yielded: its articles and non-fatal problems."""

    path: Path
    articles: tuple[Article, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------
# Walking


def discover(
    paths: Iterable[str | os.PathLike[str]],
    on_error: Callable[[ReadError], None] | None = None,
) -> Iterator[tuple[Path, Path]]:
    """Yield ``(root, file)`` for every file under ``paths``.

    ``root`` is the directory article ids are relative to: the path itself
    when it is a directory, its parent when it is a file.  Hidden files and
    folders are skipped; symlinked directories are not followed, so a link
    loop can't make the walk endless.  A path that does not exist raises;
    a directory inside it that can't be listed is passed to ``on_error``
    (and otherwise ignored).
    """
    for raw in paths:
        path = Path(raw)
        problem = path_problem(path)
        if problem:
            raise ReadError(str(raw), problem)
        if not path.is_dir():
            yield path.parent.resolve(), path.resolve()
            continue
        root = path.resolve()

        def walk_error(exc: OSError, root: Path = root) -> None:
            if on_error is not None:
                on_error(ReadError(str(exc.filename or root), _os_reason(exc)))

        for dirpath, dirnames, filenames in os.walk(root, onerror=walk_error):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if not name.startswith("."):
                    yield root, Path(dirpath) / name


def path_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` can't be indexed at all (``None`` if it can be walked)."""
    try:
        os.stat(path)
    except OSError as exc:
        return _os_reason(exc, path)
    return None


def _os_reason(exc: OSError, path: str | os.PathLike[str] | None = None) -> str:
    if exc.errno == errno.ENOENT:
        if path is not None and os.path.islink(path):
            return "broken symbolic link (its target does not exist)"
        return "no such file or directory"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or str(exc)


@contextlib.contextmanager
def _regular_file(path: str | os.PathLike[str]) -> Iterator[int]:
    """An open descriptor of a regular file; :class:`ReadError` for anything
    else, and for any OS error while the caller reads it.

    The file is opened without blocking and checked after opening, so a FIFO
    or a device named ``*.txt`` (``/dev/zero``) is refused instead of hanging
    or filling memory.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if os.path.islink(path):
            raise ReadError(str(path), "broken symbolic link (its target does not exist)") from None
        raise ReadError(str(path), "file disappeared before it could be read") from None
    except OSError as exc:
        raise ReadError(str(path), _os_reason(exc, path)) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ReadError(str(path), "is a directory")
        if not stat.S_ISREG(mode):
            raise ReadError(str(path), "not a regular file (a FIFO, socket or device)")
        yield fd
    except OSError as exc:
        raise ReadError(str(path), _os_reason(exc, path)) from None
    finally:
        os.close(fd)


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The content of a regular file; :class:`ReadError` for anything else
    (see :func:`_regular_file`)."""
    with _regular_file(path) as fd, os.fdopen(fd, "rb", closefd=False) as f:
        return f.read()


def hash_file(path: str | os.PathLike[str]) -> tuple[int, str]:
    """``(size, SHA-1 hex digest)`` of a regular file, read in chunks (a
    file of any size costs a megabyte of memory); :class:`ReadError` like
    :func:`read_bytes`."""
    import hashlib

    with _regular_file(path) as fd:
        digest = hashlib.sha1()
        size = 0
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
            size += len(chunk)
        return size, digest.hexdigest()


def check_suffix(path: str | os.PathLike[str]) -> None:
    """Raise :class:`ReadError` unless ``path`` has a supported extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ReadError(
            str(path),
            f"unsupported file type {suffix or '(no extension)'!r}; use .txt, .md, .jsonl, .html, .docx, .pdf or .epub",
        )


def article_id_for(root: Path, file: Path) -> str:
    """The id of a file's article: its path relative to the indexed root."""
    return file.relative_to(root).as_posix()


def read_file(
    file: str | os.PathLike[str],
    root: str | os.PathLike[str] | None = None,
    data: bytes | None = None,
) -> FileRead:
    """Read one file into articles; raise :class:`ReadError` if it can't be.

    ``data`` is the file's content when the caller has read it already.
    """
    path = Path(file)
    root_path = Path(root) if root is not None else path.parent
    suffix = path.suffix.lower()
    check_suffix(path)
    if data is None:
        data = read_bytes(path)
    source = str(path)
    if suffix in DOCUMENT_READERS:
        article = _read_document(suffix, data, _article_id(root_path, path), source)
        return FileRead(path, (_with_legal_meta(article),), ())
    text = decode_bytes(data, str(path))
    if suffix in JSONL_SUFFIXES:
        articles, warnings = parse_jsonl(text, source)
        if not articles:
            lines = sum(1 for line in text.splitlines() if line.strip())
            raise ReadError(str(path), no_articles_reason(lines, warnings))
        return FileRead(path, tuple(articles), tuple(warnings))
    art_id = _article_id(root_path, path)
    parse = parse_markdown if suffix in MARKDOWN_SUFFIXES else parse_text
    parsed = parse(text, art_id, source)
    if parsed is None:
        raise ReadError(str(path), "empty file: no title and no text")
    return FileRead(path, (_with_legal_meta(parsed),), ())


def _with_legal_meta(article: Article) -> Article:
    """A document made of 第X条 clauses gets its legal form and level from
    its title (``meta.doc_kind``, ``meta.level``; see ``corpus.clauses``)."""
    if "doc_kind" in article.meta or sum(1 for s in article.sections if CLAUSE_LABEL.match(s.heading)) < 2:
        return article
    found = legal_meta(article.title)
    return replace(article, meta={**article.meta, **found}) if found else article


def _article_id(root: Path, path: Path) -> str:
    try:
        return article_id_for(root.resolve(), path.resolve())
    except ValueError:
        return path.name


def _read_document(suffix: str, data: bytes, art_id: str, source: str) -> Article:
    """An HTML, Word, PDF or EPUB file as one article (``corpus/<format>.py``)."""
    import importlib

    module = importlib.import_module(f"zhsearch.corpus.{DOCUMENT_READERS[suffix]}")
    if not data.strip():
        raise ReadError(source, "empty file: no title and no text")
    article: Article | None = module.read_document(data, art_id, source)
    if article is None:
        raise ReadError(source, "empty file: no title and no text")
    return article


def read_path(path: str | os.PathLike[str]) -> Iterator[Article]:
    """Yield every article in a file or directory tree (raises on a bad file)."""
    for root, file in discover([path]):
        yield from read_file(file, root).articles


# --------------------------------------------------------------------------
# Cleaning

# Terminal escape sequences and C0/C1 control characters other than tab and
# line breaks: they mean nothing in an article, and a snippet printed to a
# terminal must not carry an escape sequence.  Vertical tab, form feed and
# NEL end lines, so they become newlines.
_CONTROLS = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]?|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_CONTROLS = frozenset("\x0b\x0c\x85")
_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` without control characters or unpaired surrogates (from JSON
    ``\\ud800`` escapes, which can't be stored as UTF-8)."""
    text = _CONTROLS.sub(lambda m: "\n" if m.group() in _LINE_CONTROLS else "", text)
    return _SURROGATES.sub("\ufffd", text)


def _one_line(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    return " ".join(text.split())[:limit]


_SPLIT_AT = ("。", "！", "？", "；", ". ", "! ", "? ", "…", " ")


def _split_long(text: str, limit: int = MAX_SECTION_CHARS) -> list[str]:
    """``text`` cut into parts of at most ``limit`` characters, at a paragraph
    end when there is one in the last quarter of a part, else at a sentence
    end, else anywhere."""
    parts: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        floor = limit * 3 // 4
        cut = window.rfind("\n", floor) + 1
        if not cut:
            cut = max(window.rfind(ch, floor) for ch in _SPLIT_AT) + 1
        if not cut:
            cut = limit
        part, text = text[:cut].strip(), text[cut:].lstrip()
        if part:
            parts.append(part)
    if text or not parts:
        parts.append(text)
    return parts


# --------------------------------------------------------------------------
# Headings

_CN_NUM = "一二三四五六七八九十百千零〇两"
# (style name, pattern); a line must also be short and not end like a sentence.
_HEADING_STYLES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("part", re.compile(rf"^第[{_CN_NUM}\d]+编")),
    ("chapter", re.compile(rf"^第[{_CN_NUM}\d]+章")),
    ("section", re.compile(rf"^第[{_CN_NUM}\d]+节")),
    ("cn", re.compile(rf"^[{_CN_NUM}]+\s*[、．.]\s*\S")),
    ("cn-paren", re.compile(rf"^[（(]\s*[{_CN_NUM}]+\s*[）)]\s*\S")),
    ("num3", re.compile(r"^\d+[.．]\d+[.．]\d+(?![\d.．])\s*\S")),
    ("num2", re.compile(r"^\d+[.．]\d+(?![\d.．])\s*\S")),
    ("num", re.compile(r"^\d+\s*(?:[.．、](?!\d)|[.．、]\s+)\s*\S")),
    ("num-paren", re.compile(r"^[（(]\s*\d+\s*[）)]\s*\S")),
)
_SENTENCE_END = tuple("。；;，,！!：:")
MAX_HEADING_CHARS = 60


def heading_style(line: str) -> str | None:
    """The numbering style of ``line`` if it looks like a Chinese heading."""
    if len(line) > MAX_HEADING_CHARS or line.endswith(_SENTENCE_END):
        return None
    for name, pattern in _HEADING_STYLES:
        if pattern.match(line):
            return name
    return None


class _SectionBuilder:
    """Accumulates headings and paragraphs into numbered sections with paths.

    With ``clauses`` on, a paragraph opening a clause (``第X条 …``) starts a
    section one level below the heading above it (see ``corpus.clauses``).
    """

    def __init__(self, clauses: bool = False) -> None:
        self.sections: list[Section] = []
        self._stack: list[tuple[int, str]] = []
        self._heading = ""
        self._level = 0
        self._lines: list[str] = []
        self._started = False
        self._clauses = clauses
        self._in_clause = False

    def heading(self, level: int, text: str) -> None:
        self._flush()
        if self._in_clause:
            self._stack.pop()
            self._in_clause = False
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text))
        self._heading, self._level, self._started = text, level, True

    def line(self, text: str, clauses: bool = True) -> None:
        if self._clauses and clauses and (start := clause_start(text)):
            self._flush()
            if self._in_clause:
                self._stack.pop()
            level = (self._stack[-1][0] if self._stack else 0) + 1
            self._stack.append((level, start.heading))
            self._heading, self._level, self._started, self._in_clause = start.heading, level, True, True
            text = start.text
            if not text:
                return
        self._lines.append(text)

    def _flush(self) -> None:
        body = "\n".join(self._lines).strip()
        self._lines = []
        if not self._started and not body:
            return
        path = tuple(h for _, h in self._stack) if self._started else ()
        for part in _split_long(body):
            self.sections.append(Section(len(self.sections), self._level, self._heading, path, part))

    def finish(self) -> tuple[Section, ...]:
        self._flush()
        return tuple(self.sections)


# --------------------------------------------------------------------------
# Plain text (scraped pages)

_META_LINE = re.compile(
    r"^(?P<author>[^\d\s]{0,20}?)\s*(?P<date>(?:19|20)\d{2}-\d{1,2}-\d{1,2})\s*"
    r"(?P<category>[^\d]{0,20}?)\s*(?P<views>\d{1,9})?$"
)
_RELATED_MARKERS = frozenset(
    {
        "相关文章",
        "相关阅读",
        "相关推荐",
        "推荐阅读",
        "猜你喜欢",
        "延伸阅读",
        "热门文章",
        "相關文章",
        "相關閱讀",
        "相關推薦",
        "推薦閱讀",
        "延伸閱讀",
        "熱門文章",
    }
)
_PUNCT_RE = re.compile(r"[\W_]+", re.UNICODE)


def _squash(text: str) -> str:
    return _PUNCT_RE.sub("", text)


def parse_meta_line(line: str) -> dict[str, Any] | None:
    """Split a glued ``author + date + category + views`` line, if it is one."""
    if len(line) > 80:
        return None
    m = _META_LINE.match(line.strip())
    if not m:
        return None
    year, month, day = (int(p) for p in m["date"].split("-"))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    meta: dict[str, Any] = {"date": f"{year:04d}-{month:02d}-{day:02d}"}
    if m["author"]:
        meta["author"] = m["author"].strip()
    if m["category"] and m["category"].strip():
        meta["category"] = m["category"].strip()
    if m["views"]:
        meta["views"] = int(m["views"])
    return meta


def parse_text(text: str, article_id: str, source: str | None = None) -> Article | None:
    """Parse a scraped plain-text page (or any plain text) into an article."""
    lines = [ln.strip() for ln in clean_text(text).splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines:
        return None
    title = lines[0]
    meta: dict[str, Any] = {}
    if source is not None:
        meta["source"] = source
    rest = lines[1:]
    if len(title) > MAX_TITLE_CHARS:
        # A one-line file, or one with a paragraph first: it is all text.
        title, rest = _one_line(title, 60), lines
    # The header: a meta line and repeats of the title (with or without
    # punctuation) come before the body; drop them.
    squashed_title = _squash(title)
    body_start = 0
    for i, line in enumerate(rest[:6]):
        if not meta.get("date") and (found := parse_meta_line(line)):
            meta.update(found)
            body_start = i + 1
        elif squashed_title and _squash(line) == squashed_title:
            body_start = i + 1
        elif heading_style(line):
            break
    rest = rest[body_start:]
    # The related-articles block: other articles' teasers, metadata only.
    for i, line in enumerate(rest):
        if _squash(line) in _RELATED_MARKERS:
            related = _teaser_titles(rest[i + 1 :])
            if related:
                meta["related"] = related
            rest = rest[:i]
            break
    builder = _SectionBuilder(clauses=has_clauses(rest))
    style_rank: dict[str, int] = {}
    for line in rest:
        style = heading_style(line)
        if style is None:
            builder.line(line)
            continue
        # Levels follow the order styles first appear in, the way outline
        # tools infer them: in 一、/1.1 pages 一、 is 1 and 1.1 is 2.
        level = style_rank.setdefault(style, len(style_rank) + 1)
        builder.heading(level, line)
    sections = builder.finish()
    if not sections:
        sections = (Section(0, 0, "", (), ""),)
    return Article(article_id, title, sections, meta)


def _teaser_titles(lines: list[str]) -> list[str]:
    titles: list[str] = []
    for line in lines:
        if line.endswith(("...", "…", "……")) or len(line) > 60:
            continue
        if line not in titles:
            titles.append(line)
    return titles


# --------------------------------------------------------------------------
# Markdown

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_META_KEYS = ("title", "author", "date", "category", "tags", "url")


def parse_front_matter(block: str) -> dict[str, Any]:
    """Parse YAML front matter into metadata; non-mapping YAML gives ``{}``."""
    import yaml

    try:
        # BaseLoader keeps every scalar a string: no surprises from dates like
        # 2024-02-30 or from numbers that look like versions.
        data = yaml.load(block, Loader=yaml.BaseLoader)
    except (yaml.YAMLError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    meta: dict[str, Any] = {}
    for key, value in data.items():
        key = str(key)
        if key == "tags":
            if isinstance(value, str):
                value = [t for t in re.split(r"[,，、\s]+", value) if t]
            elif isinstance(value, list):
                value = [str(t) for t in value if t is not None]
            else:
                value = [str(value)]
        elif key == "date" and value is not None:
            value = str(value)[:10]
        elif not isinstance(value, (str, int, float, bool, list)) and value is not None:
            value = str(value)
        meta[key] = value
    return meta


def parse_markdown(text: str, article_id: str, source: str | None = None) -> Article | None:
    """Parse Markdown with optional YAML front matter into an article."""
    text = clean_text(text)
    meta: dict[str, Any] = {}
    m = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if m:
        meta = parse_front_matter(m.group(1))
        text = text.lstrip("\ufeff")[m.end() :]
    text = _HTML_COMMENT.sub("", text)
    title = _one_line(str(meta.pop("title", "") or ""))
    if source is not None:
        meta["source"] = source
    builder = _SectionBuilder(clauses=has_clauses(text.splitlines()))
    in_fence = False
    for raw in text.splitlines():
        if _FENCE.match(raw):
            in_fence = not in_fence
            builder.line(raw.strip())
            continue
        h = None if in_fence else _ATX.match(raw)
        if h:
            level, heading = len(h.group(1)), (h.group(2) or "").strip()
            if (
                not title
                and level == 1
                and not builder.sections
                and not builder._started
                and len(heading) <= MAX_TITLE_CHARS
            ):
                title = heading
                continue
            builder.heading(level, heading)
        else:
            builder.line(raw.rstrip(), clauses=not in_fence)
    sections = builder.finish()
    sections = tuple(Section(s.index, s.level, s.heading, s.path, re.sub(r"\n{3,}", "\n\n", s.text)) for s in sections)
    if not title:
        first = next((ln.strip() for s in sections for ln in (s.heading, *s.text.splitlines()) if ln.strip()), "")
        title = _one_line(first, 60)
    if not title and not sections:
        return None
    if not sections:
        sections = (Section(0, 0, "", (), ""),)
    return Article(article_id, title, sections, meta)


# --------------------------------------------------------------------------
# JSON lines


def parse_jsonl(text: str, source: str | None = None) -> tuple[list[Article], list[str]]:
    """Parse JSON lines; bad lines become warnings ("file:line: reason")."""
    articles: list[Article] = []
    warnings: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        article, notes = _jsonl_line(line, source, lineno)
        warnings.extend(notes)
        if article is not None:
            articles.append(article)
    return articles, warnings


def stream_jsonl(path: str | os.PathLike[str], digest: Any = None) -> Iterator[tuple[Article | None, list[str]]]:
    """Read a large JSON-lines file one line at a time: ``(article or None,
    warnings)`` per line, holding one line in memory, never the file.
    ``digest`` (a ``hashlib`` object) is updated with every byte read.

    The whole-file checks of :func:`read_file` (encoding detection, binary
    content) need the whole file, so a streamed file must be UTF-8, as JSON
    text is by definition; a line that is not is skipped with a warning.
    Raises :class:`ReadError` if the file cannot be opened or read."""
    where = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ReadError(where, _os_reason(exc, path)) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ReadError(where, "not a regular file (a FIFO, socket or device)")
        with os.fdopen(fd, "rb", buffering=1 << 20, closefd=False) as f:
            for lineno, raw in enumerate(f, 1):
                if digest is not None:
                    digest.update(raw)
                if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield None, [f"{where}:{lineno}: not UTF-8 ({exc.reason} at byte {exc.start}); line skipped"]
                    continue
                yield _jsonl_line(line, where, lineno)
    except OSError as exc:
        raise ReadError(where, _os_reason(exc, path)) from None
    finally:
        os.close(fd)


def no_articles_reason(lines: int, warnings: list[str]) -> str:
    """Why a JSON-lines file yields nothing to index (its skip reason)."""
    if not lines:
        return "empty file: no JSON lines"
    if not warnings:
        return "no articles in it"
    return f"no valid article in its {lines} non-blank lines (first problem: {warnings[0]})"


def _jsonl_line(line: str, source: str | None, lineno: int) -> tuple[Article | None, list[str]]:
    """One JSON line as an article (``None`` if it is blank or bad) and its warnings."""
    where = source or "<jsonl>"
    if not line.strip():
        return None, []
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, [f"{where}:{lineno}: malformed JSON ({exc.msg}); line skipped"]
    except ValueError as exc:  # an integer of more than 4300 digits
        return None, [f"{where}:{lineno}: unreadable JSON ({exc}); line skipped"]
    except RecursionError:
        return None, [f"{where}:{lineno}: JSON nested too deeply; line skipped"]
    try:
        article, note = _record_article(record, source, lineno)
    except ValueError as exc:
        return None, [f"{where}:{lineno}: {exc}; line skipped"]
    return article, [f"{where}:{lineno}: {note}"] if note else []


def _record_article(record: Any, source: str | None, lineno: int) -> tuple[Article, str | None]:
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    note = None
    raw_id = record.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or str(raw_id) == "":
        raise ValueError('missing or invalid "id" (a string or number)')
    art_id = str(raw_id)
    if _SURROGATES.search(art_id):
        raise ValueError('"id" contains an unpaired surrogate escape (\\ud800-\\udfff)')
    sections: list[Section] = []
    if "sections" in record:
        raw_sections = record["sections"]
        if not isinstance(raw_sections, list):
            raise ValueError('"sections" must be a list of {"heading", "text"} objects')
        for i, s in enumerate(raw_sections):
            if isinstance(s, str):
                s = {"heading": "", "text": s}
            if not isinstance(s, dict):
                raise ValueError(f'section {i} must be an object with "heading" and "text"')
            heading = _one_line(_as_text(s.get("heading"), f"section {i} heading"), MAX_SECTION_CHARS)
            body = _as_text(s.get("text"), f"section {i} text")
            level = s.get("level") if isinstance(s.get("level"), int) and not isinstance(s.get("level"), bool) else None
            for part in _split_long(body):
                path = (heading,) if heading else ()
                sections.append(
                    Section(len(sections), level if level is not None else (1 if heading else 0), heading, path, part)
                )
    else:
        key = "body" if "body" in record else "text"
        for part in _split_long(_as_text(record.get(key, ""), key)):
            sections.append(Section(len(sections), 0, "", (), part))
    title = _one_line(_as_text(record.get("title"), "title"))
    if not title:
        title = _one_line(next((ln for s in sections for ln in s.text.splitlines() if ln.strip()), art_id), 60)
        note = 'no "title"; used the start of the text'
    meta = {
        clean_text(str(k)): _clean_json(v)
        for k, v in record.items()
        if k not in {"id", "title", "sections", "body", "text"}
    }
    if source is not None:
        meta["source"] = source
    meta["line"] = lineno
    if "doc_kind" not in meta and "level" not in meta and (work := article_work(title)):
        # A record that is one numbered article of a law (``民法典 第十条``):
        # the law's form and level, as a document of clauses gets them.
        meta.update(legal_meta(work))
    return Article(art_id, title, tuple(sections), meta), note


def _as_text(value: Any, what: str = "text") -> str:
    """A JSON value as text: strings as they are, a list as its items one a
    line, numbers and booleans written out; an object is refused."""
    if value is None:
        return ""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return "\n".join(_as_text(v, what) for v in value)
    if isinstance(value, dict):
        raise ValueError(f'"{what}" must be a string or a list of strings, not an object')
    return str(value)


def _clean_json(value: Any) -> Any:
    """Metadata with unpaired surrogates replaced, so it can be stored."""
    if isinstance(value, str):
        return _SURROGATES.sub("\ufffd", value)
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    if isinstance(value, dict):
        return {_SURROGATES.sub("\ufffd", str(k)): _clean_json(v) for k, v in value.items()}
    return value
