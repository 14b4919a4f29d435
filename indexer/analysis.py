"""Text analysis: one pipeline turns both articles and queries into terms.

The pipeline, in order:

1. **Fold** — a length-preserving character map: full-width forms to
   half-width (NFKC, one character at a time), lower case, and Traditional to
   Simplified Chinese (OpenCC ``t2s``, character by character).  Because every
   character maps to exactly one character, an offset into the folded text is
   an offset into the original, so highlights land on the original
   characters, in the article's own script.
2. **Segment** — jieba's dictionary + HMM word segmentation on the folded text
   (Simplified text segments better with jieba's Simplified dictionary).  The
   Rust port ``rjieba`` is used when installed: same dictionary, same
   algorithm, identical tokens, ten times faster; short texts such as
   queries are cut without loading the whole dictionary (``indexer.dictionary``).
   A :class:`UserDict` (jieba's user-dictionary format) adds or re-weights
   words for a field; it is part of the settings and stored in the index.
3. **Filter** — tokens with no letter, digit or ideograph (punctuation,
   spaces, emoji) are dropped; surrounding punctuation is trimmed from the
   rest (``3.5%`` -> ``3.5``).  :func:`word_spans` keeps each term's offsets
   (highlights); :func:`word_counts` only counts them (indexing).

:func:`gram_spans` cuts the same folded text into overlapping character
bigrams.  It backs exact phrase matching (a phrase
matches whatever jieba did with its neighbours) and recall when a query and
an article segment the same words differently.

Stop words (question words, particles) are not removed at index time; the
query side drops them from free text using :func:`stopwords`.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whoosh.analysis import Token, Tokenizer

if TYPE_CHECKING:
    from zhsearch.indexer.dictionary import QueryDictionary

ANALYZER_VERSION = 2

# CJK ideographs (all planes) plus kana: runs of these are cut into bigrams.
_CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
CJK_CLASS = _CJK_CLASS
CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))


@cache
def gram_runs() -> re.Pattern[str]:
    """Runs of CJK characters (group 1) or of other letters and digits
    (group 2).  Compiled when first needed: a CJK character class takes
    milliseconds to compile, which a one-query process would pay."""
    return re.compile(f"([{_CJK_CLASS}]+)|([^\\W_{_CJK_CLASS}]+)")


def is_cjk_code(code: int) -> bool:
    """True if code point ``code`` is a CJK ideograph or kana."""
    return any(lo <= code <= hi for lo, hi in CJK_RANGES)


def is_cjk(text: str) -> bool:
    """True if ``text`` contains a CJK ideograph or kana."""
    return any(is_cjk_code(ord(ch)) for ch in text)


# --------------------------------------------------------------------------
# Folding


class _FoldTable(dict[int, int]):
    """A ``str.translate`` table that fills itself one code point at a time.

    Lazily, so a one-line query pays for its own few characters and not for
    the whole CJK block; OpenCC is asked once per distinct character.
    """

    def __init__(self) -> None:
        super().__init__()
        self._converter: Any = None  # opencc.OpenCC, loaded when first needed

    def _t2s(self, ch: str) -> str:
        if self._converter is None:
            import opencc

            self._converter = opencc.OpenCC("t2s")
        out = self._converter.convert(ch)
        return out if len(out) == 1 else ch

    def __missing__(self, code: int) -> int:
        if 0xD800 <= code <= 0xDFFF:
            # Lone surrogates (undecodable bytes from a command line) can't
            # be encoded for the segmenter; one replacement character each.
            self[code] = 0xFFFD
            return 0xFFFD
        ch = chr(code)
        folded = unicodedata.normalize("NFKC", ch)
        if len(folded) != 1:
            folded = ch
        lowered = folded.lower()
        if len(lowered) == 1:
            folded = lowered
        if is_cjk_code(ord(folded)):
            # Follow t2s chains (薴 -> 苧 -> 苎) to their end so folding is
            # idempotent: text and query meet at the same character.
            for _ in range(4):
                nxt = self._t2s(folded)
                if nxt == folded:
                    break
                folded = nxt
        result = ord(folded)
        self[code] = result
        return result


_fold_lock = threading.Lock()


@lru_cache(maxsize=1)
def _fold_table() -> _FoldTable:
    return _FoldTable()


class _ArrayFold:
    """The fold table as arrays over the Basic Multilingual Plane, for long
    texts: ``str.translate`` with a dict costs a dict lookup per character,
    an array lookup over the whole text costs a few microseconds.  Filled
    from the same :class:`_FoldTable`, so both ways give the same result."""

    def __init__(self, table: _FoldTable) -> None:
        import numpy as np
        from zhsearch.indexer.arrays import unique

        self._np = np
        self._unique = unique
        self.table = table
        self.map = np.arange(0x10000, dtype=np.uint32)
        self.known = np.zeros(0x10000, dtype=bool)

    def __call__(self, text: str) -> str | None:
        np = self._np
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        if int(codes.max()) > 0xFFFF:
            return None  # beyond the BMP: the dict table handles it
        new = codes[~self.known[codes]]
        if len(new):
            for code in self._unique(new).tolist():
                self.map[code] = self.table[code]
                self.known[code] = True
        return self.map[codes].tobytes().decode("utf-32-le")


@lru_cache(maxsize=1)
def _array_fold() -> _ArrayFold:
    return _ArrayFold(_fold_table())


# From this many characters on, folding goes through arrays.
_ARRAY_FOLD_CHARS = 200


def fold(text: str) -> str:
    """Fold width, case and script; the result has the same length as ``text``."""
    table = _fold_table()
    with _fold_lock:  # the tables fill themselves lazily; keep that single-threaded
        if len(text) >= _ARRAY_FOLD_CHARS:
            folded = _array_fold()(text)
            if folded is not None:
                return folded
        return text.translate(table)


# --------------------------------------------------------------------------
# Segmentation


@dataclass(frozen=True)
class UserDict:
    """A jieba user dictionary: ``(word, frequency, tag)`` entries, folded
    like text (the segmenter sees folded text), and a digest of them.

    The whole dictionary travels inside the index's schema (in its word
    tokenizer), so an index always segments queries as it segmented its
    articles; ``path`` only says where it was read from, to notice when
    that file has changed since.
    """

    entries: tuple[tuple[str, int | None, str | None], ...]
    path: str = ""

    @property
    def digest(self) -> str:
        text = "\n".join(f"{w} {'' if f is None else f} {t or ''}" for w, f, t in self.entries)
        return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "digest": self.digest, "words": len(self.entries)}


def read_word_file(path: str | os.PathLike[str], kind: str) -> str:
    """The text of a UTF-8 word list (user dictionary, synonym file), or a
    :class:`WordListError` naming the file and what to do."""
    from zhsearch.corpus.errors import WordListError

    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise WordListError(f"{path}: not UTF-8 text; save the {kind} as UTF-8") from None
    except OSError as exc:
        raise WordListError(f"{path}: cannot read the {kind} ({exc.strerror or exc})") from None


def load_user_dict(path: str | os.PathLike[str]) -> UserDict:
    """Read a user dictionary in jieba's format — ``word [frequency] [tag]``
    a line — plus ``#`` comments.  A word without a frequency gets one just
    high enough to be cut as a word (jieba's ``suggest_freq``); a low one
    (``会上 1``) splits a dictionary word that the field rarely means."""
    from zhsearch.corpus.errors import WordListError

    text = read_word_file(path, "user dictionary")
    entries: dict[str, tuple[str, int | None, str | None]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        parts = re.split(r"\s#", line, maxsplit=1)[0].split()
        if not parts:
            continue
        word, rest = fold(parts[0]), parts[1:]
        freq = int(rest.pop(0)) if rest and rest[0].isdigit() else None
        tag = rest.pop(0) if len(rest) == 1 and not rest[0].isdigit() else None
        if rest:
            raise WordListError(f"{path} line {n}: {line.strip()!r} is not 'word [frequency] [tag]'")
        entries[word] = (word, freq, tag)
    return UserDict(tuple(entries.values()), os.path.abspath(path))


@dataclass(frozen=True)
class Settings:
    """What decides how text becomes terms; stored in the index and checked."""

    version: int = ANALYZER_VERSION
    engine: str = "rjieba"
    hmm: bool = True
    fold: str = "nfkc+lower+t2s"
    grams: int = 2
    user_dict: UserDict | None = None
    # How short texts are cut quickly (not how: the cuts are the same), so
    # not compared nor recorded.
    quick: QuickCuts | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "version": self.version,
            "engine": self.engine,
            "hmm": self.hmm,
            "fold": self.fold,
            "grams": self.grams,
        }
        if self.user_dict is not None:
            d["user_dict"] = self.user_dict.as_dict()
        return d


def available_engine() -> str:
    """The fastest segmenter installed: ``rjieba`` if present, else ``jieba``.
    (Looked up, not imported: importing rjieba loads its dictionary.)"""
    import importlib.util

    return "rjieba" if importlib.util.find_spec("rjieba") is not None else "jieba"


@lru_cache(maxsize=1)
def default_settings() -> Settings:
    """Settings for a new index on this machine."""
    return Settings(engine=available_engine())


@lru_cache(maxsize=8)
def _jieba(engine: str, user_dict: UserDict | None):  # -> rjieba.Jieba | jieba.Tokenizer | module
    """The segmenter object: the shared default one, or a private one with
    the user dictionary's words added."""
    if engine == "rjieba":
        import rjieba

        if user_dict is None:
            return rjieba
        seg = rjieba.Jieba()
        for word, freq, tag in user_dict.entries:
            seg.add_word(word, freq, tag)
        return seg
    if engine == "jieba":
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)
        if user_dict is None:
            return jieba
        seg = jieba.Tokenizer()
        for word, freq, tag in user_dict.entries:
            seg.add_word(word, freq, tag)
        return seg
    raise ValueError(f"unknown segmenter {engine!r}")


# Short texts (queries) can be cut with a segmenter holding only their own
# words (see indexer.dictionary): each costs a fraction of a millisecond, so
# a process that keeps cutting (a server, a script) loads the full
# dictionary after this many, early and once.
_QUICK_CHARS = 64
_QUICK_CALLS = 50


class QuickCuts:
    """An index's stored dictionary, cutting short texts while the full one
    is not loaded (the cuts are the same, only the start-up cost differs),
    and how many it has cut.  One per searcher, carried in its
    :class:`Settings`: two indexes open in one process each cut with their
    own."""

    def __init__(self, dictionary: QueryDictionary) -> None:
        self.dictionary = dictionary
        self.calls = 0

    def segmenter(self, text: str):  # -> rjieba.Jieba | None
        """A segmenter for ``text`` holding just its words, or ``None`` when
        the full dictionary should cut it (long text, already loaded, or
        this process keeps cutting)."""
        if len(text) > _QUICK_CHARS or "rjieba" in sys.modules or self.calls >= _QUICK_CALLS:
            return None
        self.calls += 1
        return self.dictionary.segmenter(text)

    def __reduce__(self):
        # A memory-mapped file does not travel to another process; there
        # the full dictionary cuts (the same cuts).
        return (_no_quick_cuts, ())


def _no_quick_cuts() -> None:
    return None


def _quick(s: Settings, text: str):  # -> rjieba.Jieba | None
    """The quick segmenter for ``text`` under settings ``s``, if any."""
    if s.quick is None or s.user_dict is not None or s.engine != "rjieba":
        return None
    return s.quick.segmenter(text)


@cache
def _segmenter(engine: str, hmm: bool, user_dict: UserDict | None = None):  # -> Callable[[str], list[...]]
    seg = _jieba(engine, user_dict)

    def cut(text: str) -> list[tuple[str, int, int]]:
        if engine == "rjieba":
            return seg.tokenize(text, "default", hmm)
        return list(seg.tokenize(text, mode="default", HMM=hmm))

    return cut


_PIECES = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+")


def word_spans(folded: str, settings: Settings | None = None) -> Iterator[tuple[str, int, int]]:
    """Yield ``(term, start, end)`` for the words of already-folded text."""
    s = settings or default_settings()
    quick = _quick(s, folded)
    tokens = (
        quick.tokenize(folded, "default", s.hmm)
        if quick is not None
        else _segmenter(s.engine, s.hmm, s.user_dict)(folded)
    )
    for word, start, end in tokens:
        if word.isalpha() or word.isdigit():
            yield word, start, end
            continue
        # Mixed tokens are re-cut into letter runs and numbers (decimals
        # kept), dropping punctuation: jieba and rjieba disagree on where
        # 2024.08.17, v1.2.3 or e-mail end, and must give the same terms.
        for m in _PIECES.finditer(word):
            yield m.group(), start + m.start(), start + m.end()


@cache
def _plain_cutter(engine: str, hmm: bool, user_dict: UserDict | None = None):  # -> Callable[[str], list[str]]
    seg = _jieba(engine, user_dict)
    if engine == "rjieba":
        return lambda text: seg.cut(text, hmm)
    return lambda text: seg.lcut(text, HMM=hmm)


def _raw_tokens(folded: str, s: Settings) -> list[str]:
    """The raw jieba tokens of already-folded text (punctuation and spaces
    included), with the segmenter ``s`` names."""
    quick = _quick(s, folded)
    return quick.cut(folded, s.hmm) if quick is not None else _plain_cutter(s.engine, s.hmm, s.user_dict)(folded)


def word_counts(folded: str, settings: Settings | None = None) -> dict[str, int]:
    """How often each term of already-folded text occurs: the terms of
    :func:`word_spans`, counted per distinct token rather than per token
    (indexing's inner loop)."""
    raw = Counter(_raw_tokens(folded, settings or default_settings()))
    counts = {w: n for w, n in raw.items() if w.isalpha() or w.isdigit()}
    if len(counts) < len(raw):
        get = counts.get
        pieces = _PIECES.findall
        for w, n in raw.items():
            if not (w.isalpha() or w.isdigit()):
                for p in pieces(w):
                    counts[p] = get(p, 0) + n
    return counts


def word_terms(token: str) -> list[str]:
    """The terms a raw jieba token gives: itself if it is a word or a number,
    else its letter runs and numbers (none for punctuation and spaces); the
    filter of :func:`word_counts` and :func:`word_spans`."""
    if token.isalpha() or token.isdigit():
        return [token]
    return _PIECES.findall(token)


# Texts folded or cut as one are joined by NUL: folding maps it to itself,
# and jieba and rjieba cut it as a token of its own and never across it (it
# is neither a word character nor a space), so the result is each text's in
# turn.  A text that holds a NUL itself is done on its own.
TEXT_SEPARATOR = "\x00"


def joined_texts(texts: list[str]) -> str | None:
    """``texts`` joined by :data:`TEXT_SEPARATOR`, or ``None`` when one of
    them holds it (the join could not be split back)."""
    joined = TEXT_SEPARATOR.join(texts)
    return joined if joined.count(TEXT_SEPARATOR) == max(len(texts) - 1, 0) else None


def fold_many(texts: list[str]) -> list[str]:
    """:func:`fold` of each of ``texts``, in one call over them all (a call
    a section cost indexing more than the folding itself)."""
    joined = joined_texts(texts) if texts else None
    if joined is None:
        return [fold(t) for t in texts]
    return fold(joined).split(TEXT_SEPARATOR)


def cut_many(folded: list[str], settings: Settings | None = None) -> list[str] | None:
    """The raw jieba tokens of already-folded ``texts`` cut in one call:
    each text's tokens in turn, a :data:`TEXT_SEPARATOR` token between two
    texts (the same tokens as a cut of each); ``None`` when a text holds the
    separator or there are none."""
    joined = joined_texts(folded) if folded else None
    if joined is None:
        return None
    return _raw_tokens(joined, settings or default_settings())


@cache
def _full_cutter(engine: str, user_dict: UserDict | None = None):  # -> Callable[[str], list[str]]
    seg = _jieba(engine, user_dict)
    if engine == "rjieba":
        return lambda text: seg.cut_all(text)
    return lambda text: list(seg.cut(text, cut_all=True))


def alternative_words(folded: str, settings: Settings | None = None) -> list[str]:
    """Every dictionary word of two or more characters inside already-folded
    text (jieba's full mode), e.g. 上门 inside 会上|门: the words a differently
    cut sentence would have produced."""
    s = settings or default_settings()
    quick = _quick(s, folded)
    words = quick.cut_all(folded) if quick is not None else _full_cutter(s.engine, s.user_dict)(folded)
    return list(dict.fromkeys(w for w in words if len(w) > 1 and w.isalnum()))


def gram_spans(folded: str) -> Iterator[tuple[str, int, int]]:
    """Yield overlapping CJK bigrams (a lone ideograph as itself) and whole
    non-CJK words of already-folded text."""
    for m in gram_runs().finditer(folded):
        start, end = m.span()
        if m.group(1) is None:
            yield m.group(2), start, end
        elif end - start == 1:
            yield m.group(1), start, end
        else:
            run = m.group(1)
            for i in range(len(run) - 1):
                yield run[i : i + 2], start + i, start + i + 2


def tokenize(text: str, settings: Settings | None = None) -> list[tuple[str, int, int]]:
    """Terms of ``text`` with character offsets into ``text`` itself."""
    return list(word_spans(fold(text), settings))


def grams(text: str) -> list[tuple[str, int, int]]:
    """Bigram terms of ``text`` with offsets into ``text`` itself."""
    return list(gram_spans(fold(text)))


# --------------------------------------------------------------------------
# Whoosh tokenizers


class _SpanTokenizer(Tokenizer):
    """Adapts a span function to Whoosh's token stream protocol."""

    def _spans(self, folded: str) -> Iterator[tuple[str, int, int]]:
        raise NotImplementedError

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        folded = fold(value)
        if not tokenize:
            t.original = t.text = folded
            t.boost = 1.0
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar, t.endchar = start_char, start_char + len(value)
            yield t
            return
        pos = start_pos
        for term, start, end in self._spans(folded):
            t.text = term
            t.boost = 1.0
            if keeporiginal:
                t.original = value[start:end]
            t.stopped = False
            if positions:
                t.pos = pos
            pos += 1
            if chars:
                t.startchar, t.endchar = start_char + start, start_char + end
            yield t


class WordTokenizer(_SpanTokenizer):
    """jieba words with consecutive positions and exact character offsets.

    Pickled into the index's schema with its user dictionary, if any."""

    user_dict: UserDict | None = None  # indexes built before user dictionaries unpickle without one

    def __init__(self, engine: str = "rjieba", hmm: bool = True, user_dict: UserDict | None = None) -> None:
        self.engine = engine
        self.hmm = hmm
        self.user_dict = user_dict

    def _key(self) -> tuple[object, ...]:
        return (self.engine, self.hmm, self.user_dict)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WordTokenizer) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _spans(self, folded: str) -> Iterator[tuple[str, int, int]]:
        return word_spans(folded, Settings(engine=self.engine, hmm=self.hmm, user_dict=self.user_dict))


class GramTokenizer(_SpanTokenizer):
    """The bigram terms of :func:`gram_spans`, for the schema's ``grams``
    field: a Whoosh query on it cuts its text as the articles were."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GramTokenizer)

    def __hash__(self) -> int:
        return hash(GramTokenizer)

    def _spans(self, folded: str) -> Iterator[tuple[str, int, int]]:
        return gram_spans(folded)


def word_analyzer(settings: Settings | None = None) -> WordTokenizer:
    s = settings or default_settings()
    return WordTokenizer(s.engine, s.hmm, s.user_dict)


# --------------------------------------------------------------------------
# Stop words


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Question words and particles that carry no weight in a free-text query.

    The list is ``indexer/stopwords.txt``: reviewed by hand, one word a line,
    ``#`` comments allowed.  Entries are folded like any other term.
    """
    raw = resources.files("zhsearch.indexer").joinpath("stopwords.txt").read_text(encoding="utf-8")
    words = set()
    for line in raw.splitlines():
        word = line.split("#", 1)[0].strip()
        if word:
            words.add(fold(word))
    return frozenset(words)


def stopwords_digest() -> str:
    """A short hash of the stop-word list, for index settings and caches."""
    return hashlib.sha1("\n".join(sorted(stopwords())).encode()).hexdigest()[:12]
