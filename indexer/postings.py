"""Text postings: which sections hold which terms, and how often.

Whoosh keeps the documents (stored fields, ids, metadata); the postings of
the text fields live here, one file per Whoosh segment
(``sections_<segment id>.zpost``, so Whoosh's own commit, clean-up and
generation handling cover it).  Why not in Whoosh: it encodes every posting
of every term in Python, one at a time, and a Chinese collection has millions
of distinct character bigrams.  Profiling the laws corpus showed over 90 % of
build time and a 6x-the-source index there.  Here a whole file's terms are
counted with numpy and a segment's postings are sorted and compressed in a
few array operations.

What is stored per field: term -> (section numbers, term frequencies), and
each section's field length — all that BM25F scoring reads.  No positions:
phrases are found by their bigrams and confirmed on the section's text
(``search.searcher``), which keeps the index small.

Layout of a file: ``MAGIC``, an 8-byte header length, a JSON header, then
the data.  Per field, the sorted term keys, document frequencies, block
offsets and section lengths are plain arrays, memory-mapped, so opening an
index costs nothing; the postings are zlib-compressed, byte-shuffled blocks
of ``TERMS_PER_BLOCK`` terms (section numbers delta-coded), so a query term
costs one small decompression.  Terms are found by a 64-bit key: a hash of a
word, the packed code points of a bigram.  Word fields also keep their
words as sorted text (the lexicon, for pinyin and spelling suggestions).

Checksums: the header has its own CRC-32 (``indexer.binfile``); every array
and compressed part records the CRC-32 of its bytes, and each field an array
of its blocks' CRCs.  A block's is checked whenever it is read (a query pays
one CRC per block it decompresses, the arrays are checked by
:meth:`SegmentPostings.verify`, i.e. ``index --check``).  The header also
records the size and CRC of each of the Whoosh segment's own files, which
are written once, before this file: ``--check`` verifies them too.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import re
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from itertools import compress, count
from pathlib import Path
from typing import Any

import numpy as np
from zhsearch.indexer.analysis import (
    CJK_CLASS,
    CJK_RANGES,
    TEXT_SEPARATOR,
    Settings,
    cut_many,
    fold,
    fold_many,
    is_cjk_code,
    joined_texts,
    word_counts,
    word_terms,
)
from zhsearch.indexer.arrays import unique_counts
from zhsearch.indexer.authority import standing_key
from zhsearch.indexer.binfile import FormatError, StreamedFile, crc, head, open_mapped, write_file
from zhsearch.indexer.works import work_key

GRAM_FIELD = "grams"
WORD_FIELDS = ("title", "heading", "body")

MAGIC = b"ZHPOST2\n"
SUFFIX = ".zpost"
# Small blocks: a query term costs the decompression of its block, which
# holds its neighbours' postings too (with 128 terms a block, 16x laws
# decompressed over a hundred times what a cold query needed: most of its
# time); files written with another size still read (the header says).
TERMS_PER_BLOCK = 32
# A term with this many postings or more is a block of its own: its
# neighbours' queries do not decompress it, nor its queries theirs (at 16x
# laws a first query decompressed 3.7 times the postings it needed).
BIG_TERM = 2048
_LEVEL = 6
_BLOCK_CACHE = 4096
_BOUND_CHUNK = 1 << 20

_HASHED = 1 << 63


def _hash_key(term: str) -> int:
    digest = hashlib.blake2b(term.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little") | _HASHED


@cache
def _non_cjk_words() -> re.Pattern[str]:
    return re.compile(f"[^\\W_{CJK_CLASS}]+")


def gram_key(gram: str) -> int:
    """The number a bigram-field term is stored under: two CJK characters
    packed into 42 bits, one CJK character as its code point, anything else
    (a Latin word, a number) a 64-bit hash with the top bit set."""
    if 1 <= len(gram) <= 2 and all(is_cjk_code(ord(c)) for c in gram):
        return (ord(gram[0]) << 21) | ord(gram[1]) if len(gram) == 2 else ord(gram)
    return _hash_key(gram)


def gram_prefix_range(char: str) -> tuple[int, int]:
    """Key range ``[lo, hi)`` of the bigrams that start with CJK ``char``."""
    code = ord(char)
    return code << 21, (code + 1) << 21


def _cjk_mask(codes: np.ndarray) -> np.ndarray:
    mask = np.zeros(len(codes), dtype=bool)
    for lo, hi in CJK_RANGES:
        mask |= (codes >= lo) & (codes <= hi)
    return mask


def gram_terms(folded: str, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, text index)`` of every bigram-field term of ``folded``, a
    concatenation of texts beginning at ``starts`` (separated by a non-word
    character, so no term spans two texts); the same terms as
    ``indexer.analysis.gram_spans``, as keys."""
    codes = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.uint64)
    cjk = _cjk_mask(codes)
    pair = cjk[:-1] & cjk[1:]
    pos_pairs = np.flatnonzero(pair)
    keys_pairs = (codes[pos_pairs] << np.uint64(21)) | codes[pos_pairs + 1]
    prev = np.zeros(len(codes), dtype=bool)
    prev[1:] = cjk[:-1]
    nxt = np.zeros(len(codes), dtype=bool)
    nxt[:-1] = cjk[1:]
    pos_single = np.flatnonzero(cjk & ~prev & ~nxt)
    keys_single = codes[pos_single]
    cache: dict[str, int] = {}
    other = [
        (m.start(), cache.get(m.group()) or cache.setdefault(m.group(), _hash_key(m.group())))
        for m in _non_cjk_words().finditer(folded)
    ]
    pos_other = np.fromiter((p for p, _ in other), dtype=np.int64, count=len(other))
    keys_other = np.fromiter((k for _, k in other), dtype=np.uint64, count=len(other))
    keys = np.concatenate([keys_pairs, keys_single, keys_other])
    pos = np.concatenate([pos_pairs, pos_single, pos_other])
    return keys, np.searchsorted(starts, pos, side="right") - 1


def count_pairs(terms: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct ``(term, doc)`` pairs sorted by term then doc, with counts."""
    if not len(terms):
        return terms, docs.astype(np.int64), np.zeros(0, dtype=np.uint32)
    order = np.lexsort((docs, terms))
    t, d = terms[order], docs[order]
    new = np.ones(len(t), dtype=bool)
    new[1:] = (t[1:] != t[:-1]) | (d[1:] != d[:-1])
    idx = np.flatnonzero(new)
    counts = np.diff(np.append(idx, len(t))).astype(np.uint32)
    return t[idx], d[idx].astype(np.int64), counts


# --------------------------------------------------------------------------
# Analysis of sections into field terms


@dataclass
class SectionTerms:
    """The counted terms of consecutive sections (numbered from 0) per field:
    ``(term key, section, count)`` arrays and each section's length."""

    n_docs: int
    pairs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    lengths: dict[str, np.ndarray]
    # The article's work (``indexer.works``), stored with the postings.
    work: str = ""
    # The article's standing (``indexer.authority``), stored with the postings.
    standing: str = ""


# Word -> key, kept for the life of the process (a worker sees the same
# words in file after file).
_WORD_KEYS: dict[str, int] = {}


def word_key(word: str) -> int:
    """The number a word-field term is stored under (a 64-bit hash)."""
    key = _WORD_KEYS.get(word)
    if key is None:
        key = _WORD_KEYS[word] = _hash_key(word)
    return key


def _key_array(words: list[str]) -> np.ndarray:
    """The keys of ``words`` (see :func:`word_key`), looked up in C."""
    for word in set(words).difference(_WORD_KEYS):
        word_key(word)
    return np.fromiter(map(_WORD_KEYS.__getitem__, words), dtype=np.uint64, count=len(words))


def _keys(counts: dict[str, int]) -> list[int]:
    cache = _WORD_KEYS
    return [cache[w] if w in cache else word_key(w) for w in counts]


def analyze_sections(
    title: str,
    texts: list[tuple[str, str]],
    settings: Settings,
    lexicon: dict[str, set[str]],
    meta: Mapping[str, Any] | None = None,
) -> SectionTerms:
    """Count the terms of an article's sections, given as ``(heading path,
    body)``: title words (the article's, in every section), heading words,
    body words, and the bigrams of heading and body (see ``indexer.schema``).
    Words are added to ``lexicon`` (field -> words); the article's
    ``meta`` gives its standing (``indexer.authority``).

    The sections are folded, cut and counted together, not one at a time:
    a call per section into the folder and the segmenter, and a count per
    section in Python, were most of an article's analysis."""
    n = len(texts)
    pairs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    lengths: dict[str, np.ndarray] = {}
    counts = word_counts(fold(title), settings)
    lexicon.setdefault("title", set()).update(counts)
    t = np.asarray(_keys(counts), dtype=np.uint64)
    c = np.fromiter(counts.values(), dtype=np.uint32, count=len(counts))
    pairs["title"] = (np.tile(t, n), np.repeat(np.arange(n, dtype=np.int64), len(t)), np.tile(c, n))
    lengths["title"] = np.full(n, int(c.sum()), dtype=np.uint32)
    folded = fold_many([text for pair in texts for text in pair])
    headings, bodies = folded[0::2], folded[1::2]
    for name, field_texts in (("heading", headings), ("body", bodies)):
        keys, docs, tfs, lens = _word_pairs(field_texts, settings, lexicon.setdefault(name, set()))
        pairs[name] = (keys, docs, tfs)
        lengths[name] = lens
    gram_texts = [f"{h}\n{b}" for h, b in zip(headings, bodies, strict=True)]
    starts = np.zeros(n, dtype=np.int64)
    if n > 1:
        np.cumsum([len(g) + 1 for g in gram_texts[:-1]], out=starts[1:])
    keys_arr, docs = gram_terms("\n".join(gram_texts), starts)
    pairs[GRAM_FIELD] = count_pairs(keys_arr, docs)
    lengths[GRAM_FIELD] = np.bincount(docs, minlength=n).astype(np.uint32)
    return SectionTerms(n, pairs, lengths, work_key(title), standing_key(title, meta or {}))


def _word_pairs(
    folded: list[str], settings: Settings, seen: set[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(term keys, section, count)`` of the words of already-folded texts
    (one per section), sorted by term then section, and each section's
    length: :func:`~zhsearch.indexer.analysis.word_counts` of each text, with
    the distinct texts (headings repeat) cut in one call and the tokens
    counted as arrays.  The words are added to ``seen``."""
    n = len(folded)
    distinct = dict(zip(dict.fromkeys(folded), count()))
    tokens = cut_many(list(distinct), settings)
    if tokens is None:  # a text holds the separator: one at a time
        return _word_pairs_each(folded, settings, seen)
    # Raw tokens -> numbers; each raw token -> the terms it gives, as a
    # flat array with offsets.  Most tokens are words or numbers, their own
    # one term (told apart by str methods mapped in C); the rest (spaces,
    # punctuation, mixed tokens) go through word_terms one by one.
    raw = dict(zip(dict.fromkeys(tokens), count()))
    token_ids = np.fromiter(map(raw.__getitem__, tokens), dtype=np.int64, count=len(tokens))
    vocab = list(raw)
    plain = np.fromiter(map(str.isalpha, vocab), dtype=bool, count=len(vocab))
    plain |= np.fromiter(map(str.isdigit, vocab), dtype=bool, count=len(vocab))
    plain_at = np.flatnonzero(plain)
    terms = dict(zip(compress(vocab, plain), range(len(plain_at)), strict=True))
    n_terms = plain.astype(np.int64)
    pieces: list[tuple[int, list[int]]] = []
    for i in np.flatnonzero(~plain).tolist():
        token = vocab[i]
        if token != TEXT_SEPARATOR:
            found = [terms.setdefault(w, len(terms)) for w in word_terms(token)]
            n_terms[i] = len(found)
            pieces.append((i, found))
    first_target = np.cumsum(n_terms) - n_terms
    targets = np.empty(int(n_terms.sum()), dtype=np.int64)
    targets[first_target[plain_at]] = np.arange(len(plain_at))
    for i, found in pieces:
        targets[first_target[i] : first_target[i] + len(found)] = found
    seen.update(terms)
    # The distinct text of each token: separators counted before it.
    sep = raw.get(TEXT_SEPARATOR)
    text_of = np.cumsum(token_ids == sep) if sep is not None else np.zeros(len(tokens), dtype=np.int64)
    # Every (term, distinct text) occurrence.
    per_token = n_terms[token_ids]
    occurrence = np.repeat(np.arange(len(tokens)), per_token)
    within = np.arange(len(occurrence)) - np.repeat(np.cumsum(per_token) - per_token, per_token)
    term_ids = targets[first_target[token_ids[occurrence]] + within]
    texts_of = text_of[occurrence]
    # The occurrences of each section: those of its distinct text.
    section_text = np.fromiter(map(distinct.__getitem__, folded), dtype=np.int64, count=n)
    if len(distinct) < n:
        order = np.argsort(texts_of, kind="stable")
        term_ids, texts_of = term_ids[order], texts_of[order]
        per_text = np.bincount(texts_of, minlength=len(distinct))
        text_start = np.cumsum(per_text) - per_text
        sizes = per_text[section_text]
        pick = np.repeat(text_start[section_text] - (np.cumsum(sizes) - sizes), sizes) + np.arange(int(sizes.sum()))
        term_ids = term_ids[pick]
        sections = np.repeat(np.arange(n, dtype=np.int64), sizes)
    else:
        sections = section_text[texts_of]
    # Term numbers and sections are small: one sort of their combination.
    pairs, tfs = unique_counts(term_ids * n + sections)
    ids, docs = np.divmod(pairs, n)
    lengths = np.bincount(sections, minlength=n).astype(np.uint32)
    return _key_array(list(terms))[ids], docs, tfs.astype(np.uint32), lengths


def _word_pairs_each(
    folded: list[str], settings: Settings, seen: set[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_word_pairs`, a text at a time."""
    n = len(folded)
    keys: list[int] = []
    tfs: list[int] = []
    lens = np.zeros(n, dtype=np.uint32)
    per_doc = np.zeros(n, dtype=np.int64)
    for d, text in enumerate(folded):
        counts = word_counts(text, settings)
        seen.update(counts)
        keys.extend(_keys(counts))
        tfs.extend(counts.values())
        lens[d] = sum(counts.values())
        per_doc[d] = len(counts)
    docs = np.repeat(np.arange(n, dtype=np.int64), per_doc)
    return np.asarray(keys, dtype=np.uint64), docs, np.asarray(tfs, dtype=np.uint32), lens


# --------------------------------------------------------------------------
# Writing


@dataclass
class FieldPostings:
    """One field's postings for a segment, before sorting: term keys,
    section numbers, counts, every section's length in terms, and (word
    fields) the words."""

    terms: list[np.ndarray] = field(default_factory=list)
    docs: list[np.ndarray] = field(default_factory=list)
    tfs: list[np.ndarray] = field(default_factory=list)
    lengths: list[np.ndarray] = field(default_factory=list)
    words: set[str] = field(default_factory=set)


def _shuffle(arr: np.ndarray) -> bytes:
    """Bytes of ``arr`` grouped by significance (all low bytes first): small
    numbers then compress to almost nothing."""
    size = arr.dtype.itemsize
    if size == 1:
        return arr.tobytes()
    return np.ascontiguousarray(arr.view(np.uint8).reshape(-1, size).T).tobytes()


def _unshuffle(raw: bytes | memoryview, dtype: str, count: int) -> np.ndarray:
    dt = np.dtype(dtype)
    flat = np.frombuffer(raw, dtype=np.uint8, count=count * dt.itemsize)
    if dt.itemsize == 1:
        return flat.view(dt)
    # The byte planes put back together with shifts and ors on whole
    # planes: several times quicker than a transposed byte copy.
    planes = flat.reshape(dt.itemsize, count)
    out = planes[0].astype(dt)
    for k in range(1, dt.itemsize):
        out |= planes[k].astype(dt) << (8 * k)
    return out


class _Out:
    """Collects compressed blobs and where they are (or passes each to
    ``sink`` as it comes)."""

    def __init__(self, sink: Callable[[bytes], object] | None = None) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self._sink = sink if sink is not None else self.parts.append

    def add(self, blob: bytes) -> list[int]:
        """Append ``blob``; ``[offset, length, crc32]``."""
        where = [self.size, len(blob), crc(blob)]
        self._sink(blob)
        self.size += len(blob)
        return where

    def array(self, arr: np.ndarray) -> dict[str, object]:
        """Store ``arr`` as it is, 8-byte aligned, to be memory-mapped: the
        arrays a query reads first cost nothing to open."""
        arr = np.ascontiguousarray(arr)
        if self.size % 8:
            self.add(b"\0" * (8 - self.size % 8))
        return {"at": self.add(arr.tobytes()), "dtype": arr.dtype.str, "count": len(arr)}


@dataclass
class SortedField:
    """One field's postings grouped by term: the sorted distinct term keys,
    each one's document frequency, then all postings' section numbers (in
    increasing order within a term) and counts; every section's length; the
    words (word fields)."""

    keys: np.ndarray
    df: np.ndarray
    docs: np.ndarray
    tfs: np.ndarray
    lengths: np.ndarray
    words: list[str]


# A run of terms' postings: (term keys, document frequencies, section
# numbers, counts), grouped by term like a SortedField's.
Chunk = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass
class StreamedField:
    """One field's postings as runs of terms in key order (of any length),
    made while the segment is written;
    every section's length; the words (word fields), or a function giving
    them once the runs are written."""

    chunks: Iterable[Chunk] | Iterator[Chunk]
    lengths: np.ndarray
    words: list[str] | Callable[[], list[str]]

    @classmethod
    def whole(cls, sf: SortedField) -> StreamedField:
        return cls([(sf.keys, sf.df, sf.docs, sf.tfs)], sf.lengths, sf.words)


def _sort_field(fp: FieldPostings) -> SortedField:
    terms = np.concatenate(fp.terms) if fp.terms else np.zeros(0, dtype=np.uint64)
    docs = np.concatenate(fp.docs) if fp.docs else np.zeros(0, dtype=np.int64)
    tfs = np.concatenate(fp.tfs) if fp.tfs else np.zeros(0, dtype=np.uint32)
    lengths = np.concatenate(fp.lengths) if fp.lengths else np.zeros(0, dtype=np.uint32)
    # The pieces are not needed once joined: free them field by field.
    fp.terms.clear()
    fp.docs.clear()
    fp.tfs.clear()
    # Documents were added in increasing order, so a stable sort by term
    # leaves each term's sections in order.
    order = np.argsort(terms, kind="stable")
    terms, docs, tfs = terms[order], docs[order], tfs[order]
    first = np.ones(len(terms), dtype=bool)
    first[1:] = terms[1:] != terms[:-1]
    starts = np.flatnonzero(first)
    df = np.diff(np.append(starts, len(terms))).astype(np.uint32)
    return SortedField(terms[starts], df, docs, tfs, lengths, sorted(fp.words))


def _compress_all(blocks: list[bytes]) -> Iterable[bytes]:
    """The blocks zlib-compressed, by two threads when there are many (zlib
    releases the GIL: a merge in the main process uses both cores)."""
    if len(blocks) < 64:
        return [zlib.compress(b, _LEVEL) for b in blocks]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(os.cpu_count() or 1, 4)) as pool:
        return list(pool.map(lambda b: zlib.compress(b, _LEVEL), blocks, chunksize=32))


def write_segment(
    path: Path,
    n_docs: int,
    fields: dict[str, FieldPostings],
    articles: list[str],
    doc_article: np.ndarray,
    files: dict[str, tuple[int, int]] | None = None,
    mode: int | None = None,
    works: list[str] | None = None,
    standings: list[str] | None = None,
) -> None:
    """Sort, compress and write a segment's postings to ``path`` (atomically
    and durably: a temporary file, fsynced, renamed into place), with the
    article of each section (``doc_article`` indexes ``articles``), each
    article's work key (``indexer.works``) and standing (``indexer.authority``) and the ``(size, crc32)`` of the
    segment's other ``files``.  Empties the ``fields``' lists as it goes, to
    hold less memory at once."""
    sorted_fields = ((name, _sort_field(fp)) for name, fp in fields.items())
    write_sorted_segment(path, n_docs, sorted_fields, articles, doc_article, files, mode, works, standings)


def write_sorted_segment(
    path: Path,
    n_docs: int,
    fields: Iterable[tuple[str, SortedField | StreamedField]],
    articles: list[str],
    doc_article: np.ndarray,
    files: dict[str, tuple[int, int]] | None = None,
    mode: int | None = None,
    works: list[str] | None = None,
    standings: list[str] | None = None,
    *,
    streamed: bool = False,
) -> None:
    """:func:`write_segment` for postings already grouped by term (see
    :class:`SortedField`, :class:`StreamedField`; taken one field at a
    time).  ``streamed`` writes each part to the file as it is made instead
    of the whole file at the end (a merged segment of any size, in bounded
    memory)."""
    if not streamed:
        out = _Out()
        header: dict[str, object] = {}
        _write_parts(out, n_docs, fields, articles, doc_article, works, header, files, standings)
        write_file(path, [head(MAGIC, header), *out.parts], mode, sync_dir=False)
        return
    with StreamedFile(path, mode) as sink:
        out = _Out(sink.write)
        header = {}
        _write_parts(out, n_docs, fields, articles, doc_article, works, header, files, standings)
        sink.finish(MAGIC, header, sync_dir=False)


def block_starts(df: np.ndarray) -> np.ndarray:
    """The first term of each block of a run of terms that starts a block:
    ``TERMS_PER_BLOCK`` terms a block, and every term of ``BIG_TERM``
    postings or more alone in one (a block starts at it and after it)."""
    n = len(df)
    if not n:
        return np.zeros(0, dtype=np.int64)
    big = np.asarray(df) >= BIG_TERM
    index = np.arange(n)
    # A run of small terms (or a big term) starts after each big term and at each one.
    run = big.copy()
    run[0] = True
    run[1:] |= big[:-1]
    first = np.maximum.accumulate(np.where(run, index, 0))
    return np.flatnonzero(run | ((index - first) % TERMS_PER_BLOCK == 0))


def _encode_blocks(
    df: np.ndarray, docs: np.ndarray, tfs: np.ndarray, doc_dtype: type, firsts_of: np.ndarray
) -> list[bytes]:
    """The uncompressed blocks of a run of terms (starting at the terms
    ``firsts_of``, see :func:`block_starts`): section numbers as
    differences, restarting at each term, then the frequencies, each
    byte-shuffled."""
    starts = np.zeros(len(df), dtype=np.int64)
    if len(df) > 1:
        np.cumsum(df[:-1], out=starts[1:])
    term_bounds = np.append(firsts_of, len(df))
    bounds = np.append(starts[firsts_of], len(docs))
    raw: list[bytes] = []
    for b in range(len(bounds) - 1):
        a, z = int(bounds[b]), int(bounds[b + 1])
        d = np.asarray(docs[a:z], dtype=np.int64)
        delta = np.empty_like(d)
        delta[0] = d[0]
        np.subtract(d[1:], d[:-1], out=delta[1:])
        firsts = starts[term_bounds[b] : term_bounds[b + 1]] - a
        delta[firsts] = d[firsts]
        tf16 = np.minimum(tfs[a:z], 0xFFFF).astype(np.uint16)
        raw.append(_shuffle(delta.astype(doc_dtype)) + _shuffle(tf16))
    return raw


def _write_parts(
    out: _Out,
    n_docs: int,
    fields: Iterable[tuple[str, SortedField | StreamedField]],
    articles: list[str],
    doc_article: np.ndarray,
    works: list[str] | None,
    header: dict[str, object],
    files: dict[str, tuple[int, int]] | None = None,
    standings: list[str] | None = None,
) -> None:
    header.update(
        {
            "n_docs": n_docs,
            "terms_per_block": TERMS_PER_BLOCK,
            "files": {name: list(v) for name, v in (files or {}).items()},
            "fields": {},
            "articles": _strings(out, articles),
            "doc_article": out.array(np.asarray(doc_article, dtype=np.int32)),
            "article_runs": _in_runs(np.asarray(doc_article), len(articles)),
        }
    )
    if works is not None:
        if len(works) != len(articles):
            raise ValueError(f"{len(works)} work keys for {len(articles)} articles")
        header["works"] = _strings(out, works)
    if standings is not None and any(standings):
        # Few distinct standings: stored once each, an article's as a number
        # (the first query decodes them; segments with none store nothing).
        if len(standings) != len(articles):
            raise ValueError(f"{len(standings)} standings for {len(articles)} articles")
        keys = sorted(set(standings) | {""})
        number = {k: i for i, k in enumerate(keys)}
        blob = zlib.compress(json.dumps(keys).encode("utf-8", "surrogatepass"), _LEVEL)
        header["standings"] = {"at": out.add(blob)}
        header["standing_codes"] = out.array(np.fromiter((number[k] for k in standings), np.int32, len(standings)))
    doc_dtype = np.uint16 if n_docs <= 1 << 16 else np.uint32
    for name, field_ in fields:
        sf = field_ if isinstance(field_, StreamedField) else StreamedField.whole(field_)
        header["fields"][name] = _write_field(out, name, sf, doc_dtype)  # type: ignore[index]
        del sf, field_


def _strings(out: _Out, items: list[str]) -> dict[str, object]:
    """Store a list of strings (article ids, work keys), joined by NUL and
    uncompressed: opening an index reads those of the whole collection, and
    one split decodes them where a JSON parse of 55,000 paths took tens of
    milliseconds; as zlib-compressed JSON when some string holds a NUL."""
    joined = joined_texts(items)
    if joined is not None:
        return {"at": out.add(joined.encode("utf-8", "surrogatepass")), "joined": len(items)}
    return {"at": out.add(zlib.compress(json.dumps(items).encode("utf-8", "surrogatepass"), _LEVEL))}


def _in_runs(doc_article: np.ndarray, n_articles: int) -> bool:
    """Whether the sections come article by article, in article order (each
    article's sections one run, numbered from 0 without gaps): a snapshot
    then groups sections by article without looking."""
    if not len(doc_article):
        return n_articles == 0
    steps = np.diff(doc_article)
    return bool(doc_article[0] == 0 and doc_article[-1] == n_articles - 1 and ((steps == 0) | (steps == 1)).all())


def _write_field(out: _Out, name: str, sf: StreamedField, doc_dtype: type) -> dict[str, object]:
    """Write one field's blocks and arrays; its header entry."""
    words = name in WORD_FIELDS
    lengths = np.asarray(sf.lengths)
    base = out.size
    offsets = [0]
    firsts: list[np.ndarray] = []
    n_terms = 0
    crcs: list[int] = []
    keys: list[np.ndarray] = []
    dfs: list[np.ndarray] = []
    tops: list[np.ndarray] = []
    lows: list[np.ndarray] = []

    def emit(k: np.ndarray, df: np.ndarray, docs: np.ndarray, tfs: np.ndarray, at: np.ndarray) -> None:
        nonlocal n_terms
        firsts.append(at + n_terms)
        n_terms += len(k)
        for blob in _compress_all(_encode_blocks(df, docs, tfs, doc_dtype, at)):
            crcs.append(out.add(blob)[2])
            offsets.append(out.size - base)
        top, low = impact_bounds(df, docs, tfs, lengths)
        keys.append(np.asarray(k, dtype=np.uint64))
        dfs.append(np.asarray(df, dtype=np.uint32))
        tops.append(top)
        lows.append(low)

    # Runs of any length are cut into whole blocks; the last block of a
    # run waits for the next (it may not be whole).
    pending: Chunk | None = None
    for chunk in sf.chunks:
        if pending is not None:
            chunk = tuple(np.concatenate([a, b]) for a, b in zip(pending, chunk, strict=True))  # type: ignore[assignment]
        k, df, docs, tfs = chunk
        starts = block_starts(df)
        cut = int(starts[-1]) if len(starts) else 0
        at = int(df[:cut].sum(dtype=np.int64))
        pending = (k[cut:], df[cut:], docs[at:], tfs[at:]) if cut < len(k) else None
        if cut:
            emit(k[:cut], df[:cut], docs[:at], tfs[:at], starts[:-1])
        del chunk, k, df, docs, tfs
    if pending is not None:
        emit(*pending, block_starts(pending[1]))
    del pending
    all_keys = np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64)
    info: dict[str, object] = {
        "kind": "words" if words else "grams",
        "n_terms": len(all_keys),
        "doc_dtype": np.dtype(doc_dtype).str,
        "postings_base": base,
        "df": out.array(np.concatenate(dfs) if dfs else np.zeros(0, dtype=np.uint32)),
        "offsets": out.array(np.asarray(offsets, dtype=np.uint64)),
        "block_terms": out.array(np.append(np.concatenate(firsts) if firsts else [], n_terms).astype(np.uint32)),
        "block_crcs": out.array(np.asarray(crcs, dtype=np.uint32)),
        "lengths": out.array(np.asarray(lengths, dtype=np.uint32)),
        # Summed once here: a snapshot's average lengths without a pass over
        # every section.
        "length_sum": int(np.asarray(lengths).sum(dtype=np.int64)),
        "keys": out.array(all_keys),
        "max_tf": out.array(np.concatenate(tops) if tops else np.zeros(0, dtype=np.uint16)),
        "min_ratio": out.array(np.concatenate(lows) if lows else np.zeros(0, dtype=np.float32)),
    }
    if words:
        text = "\n".join(sf.words() if callable(sf.words) else sf.words)
        info["lexicon"] = {"at": out.add(zlib.compress(text.encode("utf-8", "surrogatepass"), _LEVEL))}
    return info


def impact_bounds(
    df: np.ndarray, docs: np.ndarray, tfs: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per term, what bounds its BM25 contribution to any section: the
    largest frequency (as stored, at most 65535) and the smallest
    ``length / frequency`` (rounded down to float32).  BM25's term weight
    ``tf (k1 + 1) / (tf + k1 (1 - b + b len / avg))`` only grows as ``1 / tf``
    and ``len / tf`` shrink, so these two give an upper bound for any ``b``
    and average length: what dynamic pruning (``search.pruning``) needs to
    skip the sections a common term alone cannot lift into the top."""
    n_terms = len(df)
    if not n_terms:
        return np.zeros(0, dtype=np.uint16), np.zeros(0, dtype=np.float32)
    starts = np.zeros(n_terms, dtype=np.int64)
    if n_terms > 1:
        np.cumsum(df[:-1], out=starts[1:])
    top = np.zeros(n_terms, dtype=np.uint16)
    low32 = np.zeros(n_terms, dtype=np.float32)
    lengths = np.asarray(lengths)
    t = 0
    # A run of terms at a time (about _BOUND_CHUNK postings): a merged
    # field holds tens of millions, and float64 copies of all at once
    # would be most of a merge's memory.
    while t < n_terms:
        u = min(max(t + 1, int(np.searchsorted(starts, starts[t] + _BOUND_CHUNK, side="right"))), n_terms)
        a, z = int(starts[t]), int(starts[u]) if u < n_terms else len(docs)
        tf = np.minimum(tfs[a:z], 0xFFFF).astype(np.float64)
        ratio = lengths[docs[a:z]].astype(np.float64) / np.maximum(tf, 1.0)
        local = starts[t:u] - a
        low = np.minimum.reduceat(ratio, local)
        part = low.astype(np.float32)
        # Rounded to float32 upwards sometimes: step down so it stays a bound.
        over = part.astype(np.float64) > low
        part[over] = np.nextafter(part[over], np.float32(0))
        low32[t:u] = part
        top[t:u] = np.maximum.reduceat(tf, local).astype(np.uint16)
        t = u
    return top, low32


# --------------------------------------------------------------------------
# Reading


def _parts(header: dict) -> list[dict]:
    """Every checksummed part a postings header names (arrays and blobs)."""
    parts = [
        header["articles"],
        header["doc_article"],
        *(header[k] for k in ("works", "standings", "standing_codes") if k in header),
    ]
    for info in header["fields"].values():
        parts.extend(
            info[k]
            for k in ("df", "offsets", "block_terms", "block_crcs", "lengths", "keys", "max_tf", "min_ratio")
            if k in info
        )
        if "lexicon" in info:
            parts.append(info["lexicon"])
    return parts


class SegmentPostings:
    """The postings of one segment, read lazily from a memory-mapped file
    (which stays readable after a later commit deletes it)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._map, header, self._data = open_mapped(path, MAGIC, "postings")
        try:
            self.n_docs: int = header["n_docs"]
            self._tpb: int = header["terms_per_block"]
            self._fields: dict[str, dict] = header["fields"]
            self.files: dict[str, list[int]] = header["files"]
            end = max((p["at"][0] + p["at"][1] for p in _parts(header)), default=0)
        except (KeyError, TypeError, IndexError) as exc:
            raise FormatError(f"{path}: the postings file's header is damaged ({exc!r})") from None
        if self._data + end > len(self._map):
            raise FormatError(
                f"{path}: the postings file is truncated ({len(self._map)} bytes, needs {self._data + end})"
            )
        self._header = header
        self._arrays: dict[tuple[str, str], np.ndarray] = {}
        self._lexicons: dict[str, list[str]] = {}
        self._blocks: OrderedDict[tuple[str, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()

    def _checked(self, at: list[int]) -> bytes:
        o = self._data + at[0]
        raw = self._map[o : o + at[1]]
        if crc(raw) != at[2]:
            raise FormatError(f"{self.path}: damaged data at byte {o} (checksum mismatch)")
        return raw

    def _strings(self, spec: dict) -> list[str]:
        """A list stored by :func:`_strings`."""
        if "joined" not in spec:
            return json.loads(self._blob(spec["at"]).decode("utf-8", "surrogatepass"))
        text = self._checked(spec["at"]).decode("utf-8", "surrogatepass")
        items = text.split(TEXT_SEPARATOR) if spec["joined"] else []
        if len(items) != spec["joined"]:
            raise FormatError(f"{self.path}: damaged list ({len(items)} strings, {spec['joined']} were written)")
        return items

    def _blob(self, at: list[int]) -> bytes:
        raw = self._checked(at)
        o = self._data + at[0]
        try:
            return zlib.decompress(raw)
        except zlib.error as exc:
            raise FormatError(f"{self.path}: damaged data at byte {o} ({exc})") from None

    def _raw(self, spec: dict) -> np.ndarray:
        return np.frombuffer(self._map, dtype=spec["dtype"], count=spec["count"], offset=self._data + spec["at"][0])

    def _array(self, name: str, part: str) -> np.ndarray:
        key = (name, part)
        arr = self._arrays.get(key)
        if arr is None:
            arr = self._arrays[key] = self._raw(self._fields[name][part])
        return arr

    def articles(self) -> tuple[list[str], np.ndarray]:
        """The segment's article ids, and each section's index into them."""
        return self._strings(self._header["articles"]), self._raw(self._header["doc_article"])

    def article_runs(self) -> bool:
        """Whether the sections come article by article (see :func:`_in_runs`;
        ``False`` when not recorded)."""
        return bool(self._header.get("article_runs", False))

    def length_sum(self, name: str) -> int | None:
        """The sum of every section's length in field ``name`` (deleted
        ones included; ``None``: not recorded)."""
        info = self._fields.get(name)
        if info is None:
            return 0
        total = info.get("length_sum")
        return int(total) if total is not None else None

    def works(self) -> list[str] | None:
        """Each article's work key (aligned with :meth:`articles`' ids;
        ``None``: written before they were stored)."""
        if "works" not in self._header:
            return None
        return self._strings(self._header["works"])

    def standings(self) -> tuple[list[str], np.ndarray] | None:
        """The distinct standings of the segment's articles (``indexer.
        authority``; ``""`` first) and each article's number among them
        (aligned with :meth:`articles`' ids); ``None``: no article has one
        (or the segment was written before they were stored)."""
        if "standings" not in self._header:
            return None
        keys = json.loads(self._blob(self._header["standings"]["at"]).decode("utf-8", "surrogatepass"))
        if "standing_codes" not in self._header:
            # Written for a few hours as one standing per article.
            distinct = sorted(set(keys) | {""})
            number = {k: i for i, k in enumerate(distinct)}
            return distinct, np.fromiter((number[k] for k in keys), np.int32, len(keys))
        return keys, self._raw(self._header["standing_codes"])

    def has_field(self, name: str) -> bool:
        return name in self._fields

    def lengths(self, name: str) -> np.ndarray:
        """Every section's length in terms in field ``name``."""
        if name not in self._fields:
            return np.zeros(self.n_docs, dtype=np.uint32)
        return self._array(name, "lengths")

    def lexicon(self, name: str) -> list[str]:
        """The sorted distinct terms of word field ``name``."""
        lex = self._lexicons.get(name)
        if lex is None:
            info = self._fields.get(name)
            if info is None or "lexicon" not in info:
                lex = []
            else:
                text = self._blob(info["lexicon"]["at"]).decode("utf-8", "surrogatepass")
                lex = text.split("\n") if text else []
            self._lexicons[name] = lex
        return lex

    def term_index(self, name: str, term: str) -> int:
        """Where ``term`` is in field ``name`` (-1 if absent)."""
        info = self._fields.get(name)
        if info is None or not info["n_terms"]:
            return -1
        keys = self._array(name, "keys")
        k = np.uint64(word_key(term) if info["kind"] == "words" else gram_key(term))
        i = int(np.searchsorted(keys, k))
        return i if i < len(keys) and keys[i] == k else -1

    def key_range(self, name: str, lo: int, hi: int) -> range:
        """Term indexes of the bigram-field keys in ``[lo, hi)``."""
        keys = self._array(name, "keys")
        return range(int(np.searchsorted(keys, np.uint64(lo))), int(np.searchsorted(keys, np.uint64(hi))))

    def block_terms(self, name: str) -> np.ndarray:
        """The first term of each block of field ``name``, then the number
        of terms (files written before blocks had their own sizes: every
        ``terms_per_block`` terms)."""
        key = (name, "block_terms")
        arr = self._arrays.get(key)
        if arr is None:
            info = self._fields[name]
            if "block_terms" in info:
                arr = self._raw(info["block_terms"]).astype(np.int64)
            else:
                arr = np.append(np.arange(0, info["n_terms"], self._tpb), info["n_terms"]).astype(np.int64)
            self._arrays[key] = arr
        return arr

    def block_of(self, name: str, i: int) -> int:
        """The block holding term ``i`` of field ``name``."""
        return int(np.searchsorted(self.block_terms(name), i, side="right")) - 1

    def postings_at(self, name: str, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Section numbers (int64) and frequencies (float32) of term ``i``."""
        b = self.block_of(name, i)
        j = i - int(self.block_terms(name)[b])
        docs, tfs, starts = self._block(name, b)
        a, z = int(starts[j]), int(starts[j + 1])
        return np.cumsum(docs[a:z], dtype=np.int64), tfs[a:z].astype(np.float32)

    def postings(self, name: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        i = self.term_index(name, term)
        if i < 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return self.postings_at(name, i)

    def has_bounds(self, name: str) -> bool:
        """Whether field ``name`` records impact bounds (files written before
        they existed do not: no pruning over them)."""
        info = self._fields.get(name)
        return info is None or "max_tf" in info

    def bounds_at(self, name: str, i: int) -> tuple[int, float]:
        """Term ``i``'s ``(largest frequency, smallest length / frequency)``
        (see :func:`impact_bounds`)."""
        return int(self._array(name, "max_tf")[i]), float(self._array(name, "min_ratio")[i])

    def term_keys(self, name: str) -> np.ndarray:
        """The sorted term keys of field ``name``."""
        return self._array(name, "keys")

    def doc_frequencies(self, name: str) -> np.ndarray:
        """Each term's number of sections (deleted ones included), in key order."""
        return self._array(name, "df")

    def n_postings(self) -> int:
        """Postings of all fields (deleted sections' included)."""
        return sum(int(self._array(name, "df").sum()) for name in self._fields)

    def n_blocks(self, name: str) -> int:
        """How many posting blocks field ``name`` has (0: no such field)."""
        return len(self._array(name, "offsets")) - 1 if name in self._fields else 0

    def field_postings(
        self, name: str, first: int = 0, stop: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Blocks ``first`` to ``stop`` of field ``name`` (default: all):
        ``(term keys, document frequencies, section numbers, counts)``, the
        postings grouped by term (for merging segments; decoded without
        going through the block cache)."""
        info = self._fields[name]
        offsets = self._array(name, "offsets")
        stop = len(offsets) - 1 if stop is None else min(stop, len(offsets) - 1)
        bt = self.block_terms(name)
        keys = self._array(name, "keys")[bt[first] : bt[stop]]
        df = self._array(name, "df")[bt[first] : bt[stop]]
        base = self._data + info["postings_base"]
        dsize = np.dtype(info["doc_dtype"]).itemsize
        all_df = self._array(name, "df")
        crcs = self._array(name, "block_crcs")
        deltas, tfs = [], []
        for b in range(first, stop):
            n = int(all_df[bt[b] : bt[b + 1]].sum())
            blob = self._map[base + int(offsets[b]) : base + int(offsets[b + 1])]
            if crc(blob) != int(crcs[b]):
                # A merge must not carry damage into a new, well-checksummed file.
                raise FormatError(f"{self.path}: damaged postings block {b} of field {name} (checksum mismatch)")
            raw = zlib.decompress(blob)
            deltas.append(_unshuffle(raw[: n * dsize], info["doc_dtype"], n))
            tfs.append(_unshuffle(raw[n * dsize :], "<u2", n))
        delta = np.concatenate(deltas).astype(np.int64) if deltas else np.zeros(0, dtype=np.int64)
        tf = np.concatenate(tfs) if tfs else np.zeros(0, dtype=np.uint16)
        # Section numbers restart at each term: a running sum, less what it
        # had reached before the term's first posting.
        cum = np.cumsum(delta)
        starts = np.zeros(len(df), dtype=np.int64)
        if len(df) > 1:
            np.cumsum(df[:-1], out=starts[1:])
        docs = cum - np.repeat(cum[starts] - delta[starts], df) if len(delta) else delta
        return np.asarray(keys), np.asarray(df), docs, tf

    def _block(self, name: str, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        key = (name, b)
        hit = self._blocks.get(key)
        if hit is not None:
            self._blocks.move_to_end(key)
            return hit
        info = self._fields[name]
        bt = self.block_terms(name)
        df = self._array(name, "df")[bt[b] : bt[b + 1]]
        starts = np.zeros(len(df) + 1, dtype=np.int64)
        np.cumsum(df, out=starts[1:])
        n = int(starts[-1])
        offsets = self._array(name, "offsets")
        o = self._data + info["postings_base"] + int(offsets[b])
        blob = self._map[o : self._data + info["postings_base"] + int(offsets[b + 1])]
        if crc(blob) != int(self._array(name, "block_crcs")[b]):
            raise FormatError(f"{self.path}: damaged postings block {b} of field {name} (checksum mismatch)")
        dsize = np.dtype(info["doc_dtype"]).itemsize
        try:
            raw = zlib.decompress(blob)
            docs = _unshuffle(raw[: n * dsize], info["doc_dtype"], n)
            tfs = _unshuffle(raw[n * dsize :], "<u2", n)
        except (zlib.error, ValueError) as exc:
            raise FormatError(f"{self.path}: damaged postings block {b} of field {name} ({exc})") from None
        block = (docs, tfs, starts)
        self._blocks[key] = block
        if len(self._blocks) > _BLOCK_CACHE:
            self._blocks.popitem(last=False)
        return block

    def live_terms(self, name: str, alive: np.ndarray) -> np.ndarray:
        """The keys of field ``name``'s terms that occur in a section
        ``alive`` (one flag per section of this segment) holds: a deleted
        section's terms stay in the file until the segment is rewritten."""
        info = self._fields.get(name)
        if info is None or not info["n_terms"]:
            return np.zeros(0, dtype=np.uint64)
        keys = self._array(name, "keys")
        if alive.all():
            return keys
        live = np.zeros(len(keys), dtype=bool)
        bt = self.block_terms(name)
        for b in range(len(bt) - 1):
            docs, _, starts = self._block(name, b)
            total = np.cumsum(docs, dtype=np.int64)
            # Section numbers are delta-coded within each term: subtract
            # the running sum up to the term's first posting.
            before = np.concatenate(([0], total))[starts[:-1]]
            absolute = total - np.repeat(before, np.diff(starts))
            hit = alive[absolute].astype(np.int64)
            live[bt[b] : bt[b] + len(starts) - 1] = np.add.reduceat(hit, starts[:-1]) > 0
        return keys[live]

    def verify(self) -> list[str]:
        """Check every array, block and compressed part against its
        checksum; what is damaged (empty: nothing)."""
        problems = []
        for part in _parts(self._header):
            o, n, want = part["at"]
            if crc(self._map[self._data + o : self._data + o + n]) != want:
                problems.append(f"{self.path}: damaged data at byte {self._data + o} (checksum mismatch)")
        if problems:
            return problems
        for name, info in self._fields.items():
            offsets = self._array(name, "offsets")
            crcs = self._array(name, "block_crcs")
            start = self._data + info["postings_base"]
            for b in range(len(crcs)):
                if crc(self._map[start + int(offsets[b]) : start + int(offsets[b + 1])]) != int(crcs[b]):
                    problems.append(f"{self.path}: damaged postings block {b} of field {name} (checksum mismatch)")
        return problems

    def release_pages(self) -> None:
        """Let the pages of the file read so far leave this process's
        resident memory (they stay in the page cache): a merge reads every
        byte of its segments once."""
        madvise = getattr(self._map, "madvise", None)
        if madvise is not None and hasattr(mmap, "MADV_DONTNEED"):
            try:
                madvise(mmap.MADV_DONTNEED)
            except (OSError, ValueError):
                pass

    def close(self) -> None:
        self._arrays.clear()
        self._blocks.clear()
        try:
            if isinstance(self._map, mmap.mmap):
                self._map.close()
        except (BufferError, ValueError):
            pass  # arrays still in use keep the mapping; it goes with them
