"""Segment merging: an update that leaves too many segments merges the small ones.

Every build adds segments — each worker writes its own as it goes, and an
update writes new ones for the files that changed — and every search visits
each segment.  As in Lucene's tiered merge policy, segments are counted in
tiers of size (each ``MERGE_AT_ONCE`` times the one below, from
``FLOOR_POSTINGS``); a tier may hold ``SEGMENTS_PER_TIER``, and while there
are more segments than the tiers allow, the smallest ``MERGE_AT_ONCE`` of
those under ``MAX_MERGED_POSTINGS`` are merged into one.  Sizes count live
postings, so a segment that lost most of its documents to updates looks
small and is merged (and its deleted documents purged) early.

A fresh build is different: it has no earlier segments, and its workers'
segments are merged in one round into at most ``FRESH_SEGMENTS`` (each
posting rewritten once, the two merges at once on two cores), whatever the
collection's size.

A merge writes one new segment: Whoosh's documents (stored fields, article
and file keys) through Whoosh's own ``add_reader``, which skips the deleted
ones and numbers the rest in order; and our postings (``indexer.postings``)
streamed: the merged term keys first, then a run of terms at a time
(``CHUNK_POSTINGS`` postings) decoded from every source, renumbered the same
way, placed at their term's position with no sort, and written to the file
at once, so a merge's memory does not grow with its postings.  Merging happens
before the commit that adds the update's segments, in the same commit: a
process killed while merging leaves the previous index as it was, and the
files it wrote belong to no segment, so the next commit removes them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from zhsearch.indexer.arrays import unique
from zhsearch.indexer.postings import (
    GRAM_FIELD,
    SUFFIX,
    TERMS_PER_BLOCK,
    WORD_FIELDS,
    Chunk,
    SegmentPostings,
    StreamedField,
    word_key,
    write_sorted_segment,
)

# One segment a tier: every segment costs each query a look-up of its
# terms, and a fresh build's two large segments are out of an update's
# reach, so the small ones are kept to a segment per size tier
# (bench/scale.py --updates 30 at 4x: 3 segments afterwards, against 12
# with four a tier, which made warm p95 1.41-2.4x a fresh build's).
SEGMENTS_PER_TIER = 1
MERGE_AT_ONCE = 6
# Segments below this many postings count as this big (tiny ones merge first).
FLOOR_POSTINGS = 500_000
# An update's merges never produce a segment above this: it bounds an
# update's time (a fresh build's merges have no bound, see FRESH_SEGMENTS).
MAX_MERGED_POSTINGS = 40_000_000
# A fresh build ends with at most this many segments: its workers' segments
# merged in one round of streamed merges (each posting rewritten once),
# which run at once on two cores.
FRESH_SEGMENTS = 2
MERGE_POOL_MB = 32
# Memory a streamed merge takes at its peak (see merge_memory; measured
# with bench/memory.py), and what the merges running at once may take
# together: a merge that would go over waits for the running ones.
MERGE_BASE_BYTES = 150_000_000
MERGE_BYTES_PER_SECTION = 100
MERGE_MEMORY = 700_000_000
# Postings merged at once (a run of terms' worth): a merge's memory beyond
# its per-section and per-term arrays.
CHUNK_POSTINGS = 2_000_000
_SENTINEL = np.uint32(0xFFFFFFFF)


@dataclass(frozen=True)
class SegmentSize:
    """A segment as the merge policy sees it."""

    segment: Any  # whoosh.codec.base.Segment
    postings: int  # live postings (all fields), estimated from the live share


def postings_path(folder: str | Path, segment: Any) -> Path:
    """The postings file beside a Whoosh segment."""
    return Path(str(folder)) / f"{segment.segment_id()}{SUFFIX}"


def segment_sizes(folder: str | Path, segments: list[Any]) -> list[SegmentSize]:
    sizes = []
    for seg in segments:
        store = SegmentPostings(postings_path(folder, seg))
        try:
            total = store.n_postings()
        finally:
            store.close()
        n = seg.doc_count_all()
        live = seg.doc_count() / n if n else 0.0
        sizes.append(SegmentSize(seg, int(total * live)))
    return sizes


def allowed_segments(sizes: list[int]) -> int:
    """How many segments the tiers allow for segments of these sizes."""
    if not sizes:
        return 0
    level = max(min(sizes), FLOOR_POSTINGS)
    remaining = float(sum(sizes))
    allowed = 0
    while True:
        count = remaining / level
        if count < SEGMENTS_PER_TIER:
            return allowed + max(math.ceil(count), 1)
        allowed += SEGMENTS_PER_TIER
        remaining -= SEGMENTS_PER_TIER * level
        level *= MERGE_AT_ONCE


def choose_merges(sizes: list[SegmentSize]) -> list[list[SegmentSize]]:
    """The runs of adjacent segments to merge (each into one), until the
    tiers allow the segments that remain.

    Each time the run that removes segments most cheaply — fewest postings
    rewritten per segment removed — is chosen.  Runs are adjacent so that
    documents keep the order a fresh build gives them (ties rank by it).
    """
    # ``None``: a merged segment, not merged again in the same round (its
    # files are not written yet).
    pool: list[SegmentSize | None] = list(sizes)
    size = [s.postings for s in sizes]
    merges: list[list[SegmentSize]] = []
    while len(pool) > allowed_segments(size):
        best: tuple[float, int, int] | None = None
        for i in range(len(pool)):
            total = 0
            for j in range(i, min(i + MERGE_AT_ONCE, len(pool))):
                if pool[j] is None or total + size[j] > MAX_MERGED_POSTINGS:
                    break
                total += size[j]
                if j > i and (best is None or total / (j - i) < best[0]):
                    best = (total / (j - i), i, j + 1)
        if best is None:
            return merges
        _, i, j = best
        run = pool[i:j]
        merges.append([s for s in run if s is not None])
        pool[i:j] = [None]
        size[i:j] = [sum(size[i:j])]
    return merges


def merge_segments(ix: Any, group: list[Any]) -> Any:
    """Write one new segment holding the live documents of ``group`` (Whoosh
    segments, in this order) and their postings; returns the Whoosh segment,
    not committed."""
    from whoosh.reading import SegmentReader
    from whoosh.writing import SegmentWriter
    from zhsearch.indexer.codec import DocumentsCodec, ZhCodec

    # Whoosh buffers this many MB of postings (the article and file keys
    # only: the text postings are ours) before it sorts them to disk.
    writer = SegmentWriter(ix, _lk=False, limitmb=MERGE_POOL_MB, codec=ZhCodec(), compound=False)
    try:
        for seg in group:
            # Whoosh's own terms only: the text postings are merged below.
            reader = SegmentReader(ix.storage, ix.schema, seg, codec=DocumentsCodec())
            try:
                _copy_documents(writer, reader, seg)
            finally:
                reader.close()
        segment = writer._finalize_segment()
    finally:
        # Not writer._finish(): that removes the temporary folder the
        # update's own writer shares; that writer removes it.
        writer.is_closed = True
    from zhsearch.indexer.storage import segment_files

    folder = ix.storage.folder
    path = postings_path(folder, segment)
    files = segment_files(Path(folder), segment.segment_id(), path.name)
    stores = [SegmentPostings(postings_path(folder, seg)) for seg in group]
    try:
        lives = [_live_mask(seg, store.n_docs) for seg, store in zip(group, stores, strict=True)]
        merge_postings(path, stores, lives, files, getattr(ix.storage, "file_mode", None))
    finally:
        for store in stores:
            store.close()
    if segment.doc_count_all() != sum(int(m.sum()) for m in lives):
        raise RuntimeError("merged Whoosh documents and postings disagree on the number of sections")
    return segment


def _copy_documents(writer: Any, reader: Any, segment: Any) -> None:
    """Whoosh's ``SegmentWriter.add_reader``, with stored fields copied as
    they are (compressed; Whoosh would unpack and pack each again) and the
    value of an inlined posting (``''``, which its posting pool refuses)
    passed as none."""
    from zhsearch.indexer.codec import PACKED, ZhCodec, stored_column

    schema = writer.schema
    perdoc = ZhCodec().per_document_reader(reader.storage(), segment)
    try:
        stored = stored_column(perdoc)
        article = schema["article"]
        # Indexes built before the column was dropped still carry it.
        has_ids = article.column_type is not None and perdoc.has_column("article")
        ids = perdoc.column_reader("article", article.column_type) if has_ids else None
        pdw = writer.perdocwriter
        docmap: dict[int, int] = {}
        for docnum in range(segment.doc_count_all()):
            if segment.is_deleted(docnum):
                continue
            docmap[docnum] = writer.docnum
            pdw.start_doc(writer.docnum)
            if stored is not None:
                pdw.add_field(PACKED, schema[PACKED], stored[docnum], 0)
            if ids is not None:
                pdw.add_column_value("article", article.column_type, ids[docnum])
            pdw.finish_doc()
            writer.docnum += 1
    finally:
        perdoc.close()
    add = writer.pool.add
    for fieldname, btext, docnum, weight, value in reader.iter_postings():
        if fieldname in schema:
            add((fieldname, btext, docmap[docnum], weight, value if isinstance(value, bytes) else None))


def _live_mask(segment: Any, n_docs: int) -> np.ndarray:
    live = np.ones(n_docs, dtype=bool)
    if segment.has_deletions():
        dead = np.fromiter(segment.deleted_docs(), dtype=np.int64)
        live[dead[dead < n_docs]] = False
    return live


def merge_postings(
    path: Path,
    stores: list[SegmentPostings],
    lives: list[np.ndarray],
    files: dict[str, tuple[int, int]] | None = None,
    mode: int | None = None,
) -> None:
    """Write the postings of the live sections of ``stores`` (in order,
    renumbered from 0 without the dead ones) as one segment file, recording
    the Whoosh segment's ``files`` (see :func:`write_segment`)."""
    renumber = []
    offset = 0
    for live in lives:
        renumber.append(np.cumsum(live, dtype=np.int64) - 1 + offset)
        offset += int(live.sum())
    n_docs = offset
    articles: dict[str, int] = {}
    work_of: dict[int, str] = {}
    standing_of: dict[int, str] = {}
    doc_article = np.zeros(n_docs, dtype=np.int32)
    all_works = True
    for store, live, new in zip(stores, lives, renumber, strict=True):
        ids, local = store.articles()
        number = np.fromiter((articles.setdefault(a, len(articles)) for a in ids), np.int32, len(ids))
        doc_article[new[live]] = number[np.asarray(local)[live]]
        works = store.works()
        if works is None:
            all_works = False
        else:
            work_of.update(zip(number.tolist(), works, strict=True))
        standings = store.standings()
        if standings is not None:
            keys, codes = standings
            standing_of.update(zip(number.tolist(), (keys[c] for c in codes.tolist()), strict=True))
        else:  # none in this segment: its articles (an update of one too) have none
            standing_of.update(dict.fromkeys(number.tolist(), ""))
    # Articles only deleted sections held are dropped (renumbered densely).
    used = np.zeros(len(articles), dtype=bool)
    used[doc_article] = True
    keep_ids = [a for a, i in articles.items() if used[i]]
    keep_works = [work_of.get(i, "") for a, i in articles.items() if used[i]] if all_works else None
    keep_standings = [standing_of.get(i, "") for a, i in articles.items() if used[i]]
    dense = np.cumsum(used, dtype=np.int64) - 1
    doc_article = dense[doc_article].astype(np.int32)
    names = [n for n in (*WORD_FIELDS, GRAM_FIELD) if any(s.has_field(n) for s in stores)]

    def fields():
        for name in names:
            yield name, _merge_field(name, stores, lives, renumber)

    write_sorted_segment(
        path, n_docs, fields(), keep_ids, doc_article, files, mode, keep_works, keep_standings, streamed=True
    )


def _merge_field(
    name: str, stores: list[SegmentPostings], lives: list[np.ndarray], renumber: list[np.ndarray]
) -> StreamedField:
    """Field ``name`` of the merged segment, streamed: the merged term keys
    and their postings counts first (a few bytes a term), then the postings
    a run of about ``CHUNK_POSTINGS`` at a time, so a merge's memory does not
    grow with the postings it writes."""
    present = [i for i, s in enumerate(stores) if s.has_field(name)]
    keys = np.zeros(0, dtype=np.uint64)
    for a in range(0, len(present), 8):  # the union a few segments at a time
        keys = unique(np.concatenate([keys, *(stores[i].term_keys(name) for i in present[a : a + 8])]))
    # Postings per merged term, dead ones included (dropped run by run).
    total_df = np.zeros(len(keys), dtype=np.int64)
    for i in present:
        total_df[np.searchsorted(keys, stores[i].term_keys(name))] += stores[i].doc_frequencies(name)
    lengths = (
        np.concatenate([np.asarray(s.lengths(name))[live] for s, live in zip(stores, lives, strict=True)])
        if stores
        else np.zeros(0, dtype=np.uint32)
    )
    kept: list[np.ndarray] = []
    word_field = name in WORD_FIELDS

    def chunks() -> Iterator[Chunk]:
        for t0, t1 in _runs(total_df):
            chunk = _merge_run(name, stores, present, lives, renumber, keys[t0:t1], total_df[t0:t1])
            if word_field:
                kept.append(chunk[0])
            yield chunk
            for store in stores:
                store.release_pages()

    def words() -> list[str]:
        # Words whose sections are all gone go with them.
        candidates = sorted(set().union(*(s.lexicon(name) for s in stores)))
        wkeys = np.fromiter((word_key(w) for w in candidates), dtype=np.uint64, count=len(candidates))
        live = np.isin(wkeys, np.concatenate(kept)) if kept else np.zeros(len(candidates), dtype=bool)
        return [w for w, ok in zip(candidates, live.tolist(), strict=True) if ok]

    return StreamedField(chunks(), lengths, words if word_field else [])


def _runs(total_df: np.ndarray) -> Iterator[tuple[int, int]]:
    """Runs ``[t0, t1)`` of whole blocks of terms holding about
    ``CHUNK_POSTINGS`` postings each (one block at least)."""
    n = len(total_df)
    if not n:
        return
    per_block = np.add.reduceat(total_df, np.arange(0, n, TERMS_PER_BLOCK))
    cum = np.cumsum(per_block)
    b = 0
    while b < len(per_block):
        before = int(cum[b - 1]) if b else 0
        e = max(b + 1, int(np.searchsorted(cum, before + CHUNK_POSTINGS, side="right")))
        yield b * TERMS_PER_BLOCK, min(e * TERMS_PER_BLOCK, n)
        b = e


def _merge_run(
    name: str,
    stores: list[SegmentPostings],
    present: list[int],
    lives: list[np.ndarray],
    renumber: list[np.ndarray],
    keys: np.ndarray,
    total_df: np.ndarray,
) -> Chunk:
    """The merged postings of the terms ``keys`` (sorted, consecutive in the
    merged term list): each source's postings of them, renumbered, placed at
    their term's position in order of the sources, dead sections dropped."""
    start = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum(total_df, out=start[1:])
    docs = np.full(int(start[-1]), _SENTINEL, dtype=np.uint32)
    tfs = np.zeros(int(start[-1]), dtype=np.uint16)
    filled = start[:-1].copy()  # next free place per merged term
    lo, hi = keys[0], keys[-1]
    for i in present:
        store = stores[i]
        live, new = lives[i], renumber[i]
        source_keys = store.term_keys(name)
        a = int(np.searchsorted(source_keys, lo, side="left"))
        z = int(np.searchsorted(source_keys, hi, side="right"))
        if a >= z:
            continue
        b0 = store.block_of(name, a)
        k, df, d, tf = store.field_postings(name, b0, store.block_of(name, z - 1) + 1)
        skip = a - int(store.block_terms(name)[b0])
        p0 = int(df[:skip].sum(dtype=np.int64))
        k, df = k[skip : skip + z - a], df[skip : skip + z - a]
        p1 = p0 + int(df.sum(dtype=np.int64))
        d, tf = d[p0:p1], tf[p0:p1]
        m = np.searchsorted(keys, k)
        term_start = np.zeros(len(df), dtype=np.int64)
        if len(df) > 1:
            np.cumsum(df[:-1], out=term_start[1:])
        rank = np.arange(len(d), dtype=np.int64) - np.repeat(term_start, df)
        pos = np.repeat(filled[m], df) + rank
        filled[m] += df
        ok = live[d]
        docs[pos[ok]] = new[d[ok]]
        tfs[pos] = tf
        del k, df, d, tf, m, rank, pos, ok
    if all(lives[i].all() for i in present):
        # Nothing deleted (a fresh build): every place is filled.
        return keys, total_df.astype(np.uint32), docs, tfs
    keep = docs != _SENTINEL
    counts = np.add.reduceat(keep, start[:-1], dtype=np.int64)
    has = counts > 0
    return keys[has], counts[has].astype(np.uint32), docs[keep], tfs[keep]


def final_merges(sizes: list[SegmentSize], target: int) -> list[list[SegmentSize]]:
    """A fresh build's merges: its segments as at most ``target`` runs of
    adjacent segments with about the same postings each (runs of one
    segment are left as they are)."""
    if len(sizes) <= target:
        return []
    total = sum(s.postings for s in sizes)
    runs: list[list[SegmentSize]] = [[]]
    acc = 0
    for s in sizes:
        if runs[-1] and acc >= total * len(runs) / target and len(runs) < target:
            runs.append([])
        runs[-1].append(s)
        acc += s.postings
    return [r for r in runs if len(r) > 1]


def merge_memory(group: list[SegmentSize]) -> int:
    """About the most memory a streamed merge of ``group`` takes at once:
    its interpreter and a run of postings (``MERGE_BASE_BYTES``), and
    per-section arrays (``MERGE_BYTES_PER_SECTION``; the per-term arrays
    grow with the vocabulary, which grows far slower than the postings)."""
    sections = sum(s.segment.doc_count_all() for s in group)
    return MERGE_BASE_BYTES + MERGE_BYTES_PER_SECTION * sections


def merge_for_commit(ix: Any, segments: list[Any], jobs: int = 1, *, fresh: bool = False) -> list[Any]:
    """The segments to commit instead of ``segments``: empty ones dropped,
    and the merges the policy chooses done, ``jobs`` at a time in worker
    processes (each merged segment takes the place of its first member, so
    documents keep their order).  A ``fresh`` build (no earlier segments)
    is merged into at most ``FRESH_SEGMENTS``, whatever its size."""
    segments = [seg for seg in segments if seg.doc_count()]
    if len(segments) < 2:
        return segments
    sizes = segment_sizes(ix.storage.folder, segments)
    groups = final_merges(sizes, FRESH_SEGMENTS) if fresh else choose_merges(sizes)
    if groups:
        release_memory()
    position = {id(seg): i for i, seg in enumerate(segments)}
    ordered = [[s.segment for s in g] for g in groups]
    need = [merge_memory(g) for g in groups]
    merged = _run_merges(ix, ordered, jobs, need)
    result: list[Any | None] = list(segments)
    for members, new in zip(ordered, merged, strict=True):
        result[position[id(members[0])]] = new
        for seg in members[1:]:
            result[position[id(seg)]] = None
    return [seg for seg in result if seg is not None]


def release_memory() -> None:
    """Give the memory freed since the build began back to the system
    (glibc keeps freed heap for reuse; the merges that follow would add
    their own on top)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _run_merges(ix: Any, groups: list[list[Any]], jobs: int, need: list[int] | None = None) -> list[Any]:
    """Do the merges, ``jobs`` at a time (fewer when their memory ``need``
    together would pass ``MERGE_MEMORY``), each in a new Python process.

    New interpreters, not forks: a fork of the process that has just built
    a large index starts with all its memory resident (shared, but counted
    in each process), and the merges come at the build's memory peak.  Not
    ``multiprocessing``'s spawn either, which would run the caller's main
    script again in each child.
    """
    if jobs <= 1 or len(groups) < 2:
        return [merge_segments(ix, g) for g in groups]
    import pickle
    import subprocess
    import sys
    import time

    path = [p or os.getcwd() for p in sys.path]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    command = [
        sys.executable,
        "-c",
        "from zhsearch.indexer.merge import _merge_child; _merge_child()",
        str(os.getpid()),
    ]
    results: list[Any] = [None] * len(groups)
    pending = list(range(len(groups)))
    running: dict[int, subprocess.Popen[bytes]] = {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                if running and need and sum(need[j] for j in running) + need[pending[0]] > MERGE_MEMORY:
                    break
                i = pending.pop(0)
                proc = subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
                )
                running[i] = proc
                assert proc.stdin is not None
                # Our own objects to our own child: the segments to merge.
                proc.stdin.write(pickle.dumps((ix, groups[i])))
                proc.stdin.close()
            finished = [i for i, proc in running.items() if proc.poll() is not None]
            if not finished:
                time.sleep(0.05)
                continue
            for i in finished:
                proc = running.pop(i)
                out = proc.stdout.read() if proc.stdout is not None else b""
                if proc.returncode != 0 or not out:
                    raise RuntimeError(f"a merging process died (exit code {proc.returncode})")
                kind, payload = pickle.loads(out)  # written by _merge_child
                if kind == "oserror":
                    raise OSError(*payload)  # e.g. no space left: the caller says so
                if kind == "error":
                    raise RuntimeError(f"merging segments failed: {payload}")
                results[i] = payload
    finally:
        for proc in running.values():
            proc.kill()
            proc.wait()
    return results


def _merge_child() -> None:
    """A merging process (see :func:`_run_merges`): reads ``(index,
    segments)`` from standard input, writes the outcome to standard output."""
    import pickle
    import sys

    parent = int(sys.argv[1])
    try:  # Linux: die with the parent (a killed build leaves no merger behind)
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)
    ix, group = pickle.load(sys.stdin.buffer)
    try:
        outcome: tuple[str, Any] = ("merged", merge_segments(ix, group))
    except OSError as exc:
        outcome = ("oserror", (exc.errno, exc.strerror or str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported to the main process
        outcome = ("error", f"{type(exc).__name__}: {exc}")
    sys.stdout.buffer.write(pickle.dumps(outcome))
    sys.stdout.buffer.flush()
