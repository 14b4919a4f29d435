"""Building and updating an index from article files.

``build_index`` walks the given paths, reads every supported file, and turns
each article section into one document.  Updates are incremental: a file
whose content hash is already in the index is skipped, a changed file has its
old documents replaced, and a file that disappeared from an indexed directory
has its documents removed.  Nothing is visible to searchers until the single
commit at the end, so an interrupted run leaves the previous index intact;
``rebuild=True`` builds a fresh index beside the old one and swaps it in.
"""

from __future__ import annotations

import errno
import hashlib
import math
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from zhsearch.corpus.errors import (
    DirectoryInUseError,
    DiskWriteError,
    IndexDamagedError,
    ReadError,
    WorkerDiedError,
    ZhsearchError,
)
from zhsearch.corpus.model import Article
from zhsearch.corpus.readers import (
    JSONL_SUFFIXES,
    check_suffix,
    discover,
    hash_file,
    no_articles_reason,
    path_problem,
    read_bytes,
    read_file,
    stream_jsonl,
)
from zhsearch.indexer.analysis import Settings, UserDict, default_settings, load_user_dict
from zhsearch.indexer.codec import PACKED, ZhCodec, pack_stored_runs
from zhsearch.indexer.merge import merge_for_commit
from zhsearch.indexer.postings import SUFFIX as POSTINGS_SUFFIX
from zhsearch.indexer.postings import FieldPostings, SectionTerms, analyze_sections, write_segment
from zhsearch.indexer.schema import GRAM_FIELD, TEXT_FIELDS, recorded_user_dict, user_dict_mismatch
from zhsearch.indexer.storage import (
    WriteLock,
    check_compatible,
    create_index,
    damage,
    file_mode_of,
    index_exists,
    keep_previous_generation,
    looks_like_index,
    open_index,
    record_generation,
    repair,
    resolve_index_dir,
    segment_files,
    served_notice,
    swap_in,
    write_meta,
)

# In the sample index's directory (gone when a rebuild replaces it).
SAMPLE_MARKER = ".zhsearch-sample"


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Progress:
    """Where an index build is, for progress bars."""

    files_done: int
    files_total: int
    sections: int
    bytes_done: int
    path: str


@dataclass(frozen=True)
class IndexReport:
    """What an index run did."""

    index_dir: str
    files: int
    files_indexed: int
    files_unchanged: int
    files_removed: int
    articles: int
    sections: int
    bytes: int
    seconds: float
    skipped: tuple[Skipped, ...] = ()
    warnings: tuple[str, ...] = ()
    # Bytes of the files read and indexed (``bytes`` counts unchanged ones too).
    bytes_indexed: int = 0
    # The index replaced was the sample one (see ``build_sample_index``).
    replaced_sample: bool = False

    @property
    def mb_per_s(self) -> float:
        """Indexing speed over the files actually read (0 when none were)."""
        return self.bytes_indexed / 1e6 / self.seconds if self.seconds > 0 else 0.0


class ArticleFilter(Protocol):
    """Which articles an index takes (a shard of a sharded index takes
    those whose id hashes to it); must pickle, for worker processes."""

    def __call__(self, article_id: str, title: str = "") -> bool: ...

    def wants_file(self, root: Path, file: Path) -> bool:
        """False when no article of ``file`` can be taken (decided without reading it)."""
        ...


def build_index(
    paths: Iterable[str | os.PathLike[str]],
    index_dir: str | os.PathLike[str] | None = None,
    *,
    rebuild: bool = False,
    wait: bool = False,
    jobs: int = 0,
    progress: Callable[[Progress], None] | None = None,
    user_dict: str | os.PathLike[str] | UserDict | None = None,
    article_filter: ArticleFilter | None = None,
    shards: int = 0,
    cluster: Any = None,
) -> IndexReport:
    """Create or update the index at ``index_dir`` from files under ``paths``.

    ``article_filter`` keeps only the articles it accepts (the files it
    rejects whole are not read).  ``shards`` or ``cluster`` (a Dask
    scheduler address), or a sharded index at ``index_dir``, make it a
    sharded build: see ``indexer.shards.build_shards``.

    ``user_dict`` (a jieba user dictionary file) segments a new or rebuilt
    index and is recorded in it; updates keep the recorded one, and refuse
    a different one (rebuild to change it).

    Re-indexing unchanged files is a no-op; changed files replace their old
    documents, so running it twice never creates duplicates.  ``jobs`` > 1
    analyses and writes documents in that many worker processes (``0``: one
    per core).
    """
    from zhsearch.indexer.shards import build_shards, is_sharded

    target = resolve_index_dir(index_dir)
    if shards or cluster is not None or is_sharded(target):
        return build_shards(
            paths, target, shards=shards, cluster=cluster, rebuild=rebuild, wait=wait, user_dict=user_dict
        )
    started = time.perf_counter()
    path_list = [Path(p) for p in paths]
    check_paths(path_list)
    if user_dict is not None and not isinstance(user_dict, UserDict):
        user_dict = load_user_dict(user_dict)
    # Bytes of the files to (re)index, for the message when the disk fills.
    needed = [0]
    try:
        with WriteLock(target, wait=wait):
            repair(target)
            # The sample index never takes a user's articles: the first index
            # into its place replaces it.
            replaced_sample = (target / SAMPLE_MARKER).is_file()
            fresh = rebuild or replaced_sample or not index_exists(target, recover=False)
            if fresh and not looks_like_index(target):
                raise DirectoryInUseError(
                    f"{target} exists and is not a zhsearch index (zhsearch never replaces a directory it did not create)",
                    path=str(target),
                )
            workdir = target.parent / f".{target.name}.new-{os.getpid()}" if fresh else target
            if fresh:
                shutil.rmtree(workdir, ignore_errors=True)
                dir_mode, file_mode = _modes_of(target)
                ix = create_index(
                    workdir, replace(default_settings(), user_dict=user_dict), dir_mode=dir_mode, file_mode=file_mode
                )
            else:
                meta = check_compatible(target)
                ix = open_index(target)
                problems = damage(target, ix)
                if problems:
                    raise IndexDamagedError(
                        f"the index at {target} is damaged ({problems[0]})",
                        index_dir=str(target),
                        file=problems[0].partition(":")[0],
                        reason=problems[0],
                    )
                recorded = recorded_user_dict(ix.schema)
                problem = user_dict_mismatch(target, recorded, user_dict)
                if problem:
                    raise problem
                # What a failed update must remove: anything not there now.
                entries_before = set(os.listdir(target))
                generation_before = ix.latest_generation()
            try:
                report = _update(ix, path_list, workdir, progress, started, jobs, target, needed, article_filter)
                if fresh:
                    record_generation(workdir, ix.latest_generation())
            except BaseException:
                if fresh:
                    shutil.rmtree(workdir, ignore_errors=True)
                elif ix.latest_generation() == generation_before:
                    _remove_new(target, entries_before)
                raise
            if fresh:
                _keep_config(target, workdir)
                _swap_in(workdir, target)
            else:
                write_meta(
                    target,
                    replace(meta.settings(), user_dict=recorded),
                    created=meta.created,
                    generation=ix.latest_generation(),
                )
    except OSError as exc:
        if exc.errno in _DISK_ERRNOS:
            raise _disk_error(exc, target, needed[0]) from None
        raise
    seconds = time.perf_counter() - started
    return replace(report, index_dir=str(target), seconds=seconds, replaced_sample=replaced_sample)


index = build_index


@dataclass(frozen=True)
class CheckReport:
    """How an index differs from the files it is built from.

    ``missing``, ``changed`` and ``removed`` are what the next
    ``build_index`` over the same paths would change; ``unindexable`` lists
    files it would skip again, with the reason (they are not differences).
    """

    index_dir: str
    files: int
    missing: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unindexable: tuple[Skipped, ...] = ()
    damage: tuple[str, ...] = ()  # damaged or missing index files, checksum mismatches

    @property
    def ok(self) -> bool:
        """True when the index is undamaged and matches the files."""
        return not (self.missing or self.changed or self.removed or self.damage)


def check_index(
    paths: Iterable[str | os.PathLike[str]], index_dir: str | os.PathLike[str] | None = None
) -> CheckReport:
    """Compare the index at ``index_dir`` with the files under ``paths``.

    Read-only: no lock is taken, so it runs beside searches and updates.  A
    file is ``changed`` when its content hash differs from the one indexed;
    a file not in the index is ``missing`` if it would yield articles, else
    ``unindexable``; an indexed file under an indexed directory (or given by
    name) that is gone is ``removed``.
    """
    from zhsearch.indexer.shards import check_shards, is_sharded

    target = resolve_index_dir(index_dir)
    path_list = [Path(p) for p in paths]
    check_paths(path_list)
    if is_sharded(target):
        return check_shards(path_list, target)
    ix = open_index(target)
    # Every file and checksum first: a damaged index is reported as such
    # even where its file list still matches.
    problems = damage(target, ix, full=True)
    served = served_notice(target, check_compatible(target), ix)
    if served:
        problems.append(served)
    unindexable: list[Skipped] = []
    files = collect_files(path_list, target, unindexable)
    if problems and not (served and len(problems) == 1):
        # Damaged files: the comparison with PATHS cannot be trusted (and
        # may not be possible); the remedy is a rebuild either way.
        return CheckReport(index_dir=str(target), files=len(files), damage=tuple(problems))
    with ix.reader() as reader:
        known = known_files(reader)
    return compare_files(target, path_list, files, known, unindexable, problems)


def compare_files(
    target: Path,
    path_list: list[Path],
    files: list[tuple[Path, Path]],
    known: dict[str, str],
    unindexable: list[Skipped],
    problems: list[str],
) -> CheckReport:
    """How the files under ``path_list`` differ from the ``known`` ones (an
    index's sources and content hashes): :func:`check_index`'s comparison."""
    missing: list[str] = []
    changed: list[str] = []
    for root, file in files:
        source = str(file)
        try:
            check_suffix(file)
        except ReadError:
            continue  # never indexed, and not worth a line
        try:
            if _streamed(file):
                data = b""
                hexdigest = hash_file(file)[1]
            else:
                data = read_bytes(file)
                hexdigest = hashlib.sha1(data).hexdigest()
        except ReadError as exc:
            if source in known:
                changed.append(source)
            else:
                unindexable.append(Skipped(source, exc.reason))
            continue
        if source in known:
            if known[source] != hexdigest:
                changed.append(source)
            continue
        try:
            if _streamed(file):
                first = next((a for a, _ in stream_jsonl(file) if a is not None), None)
                if first is None:
                    raise ReadError(source, "no articles in it")
                articles = [first]
            else:
                articles = list(read_file(file, root, data=data).articles)
        except ReadError as exc:
            unindexable.append(Skipped(source, exc.reason))
            continue
        if articles:
            missing.append(source)
        else:
            unindexable.append(Skipped(source, "no articles in it"))
    removed = removed_sources(known, {str(f) for _, f in files}, path_list)
    return CheckReport(
        index_dir=str(target),
        files=len(files),
        missing=tuple(missing),
        changed=tuple(changed),
        removed=tuple(removed),
        unindexable=tuple(unindexable),
        damage=tuple(problems),
    )


def check_paths(paths: list[Path]) -> None:
    """Refuse a run with no paths, or with none that can be read (why, per path)."""
    if not paths:
        raise ZhsearchError("nothing to index: give at least one file or directory")
    problems = [(str(p), path_problem(p)) for p in paths]
    if all(problem for _, problem in problems):
        raise ZhsearchError("nothing to index: " + "; ".join(f"{p}: {problem}" for p, problem in problems))


def build_sample_index(index_dir: str | os.PathLike[str] | None = None, *, wait: bool = True) -> IndexReport:
    """Index the sample articles bundled with zhsearch (the demo corpus),
    marked as the sample so that the first :func:`build_index` of a user's
    own articles into the same place replaces it instead of adding to it."""
    from importlib import resources

    with resources.as_file(resources.files("zhsearch.corpus") / "articles") as articles:
        report = build_index([articles], index_dir, wait=wait)
    (Path(report.index_dir) / SAMPLE_MARKER).write_text("the bundled sample articles\n", encoding="utf-8")
    return report


def collect_files(paths: list[Path], target: Path | None, skipped: list[Skipped]) -> list[tuple[Path, Path]]:
    """The files to index, in walk order; what can't be walked goes to ``skipped``."""
    files: list[tuple[Path, Path]] = []
    # The index's own files when it sits inside an indexed directory.
    own = (str(target.resolve()) + os.sep, str(target.resolve()) + ".lock") if target is not None else ()
    for p in paths:
        try:
            found = discover([p], on_error=lambda exc: skipped.append(Skipped(exc.path, exc.reason)))
            files.extend((root, f) for root, f in found if not str(f).startswith(own))
        except ReadError as exc:
            skipped.append(Skipped(exc.path, exc.reason))
    return files


@dataclass(frozen=True)
class _FileOutcome:
    """What became of one file in a worker; small, it crosses processes.

    ``articles`` are ``(article id, segment, first document, documents)``:
    where the worker put each article, in ``part``'s new segments.
    """

    order: int
    source: str
    part: int = 0
    nbytes: int = 0
    digest: str = ""
    unchanged: bool = False
    unreadable: str = ""  # why the file could not be read (it may be gone)
    skip: str = ""  # why the file, read, yields nothing to index
    warnings: tuple[str, ...] = ()
    articles: tuple[tuple[str, int, int, int], ...] = ()
    # Documents a streamed file wrote and then gave up (a later duplicate
    # id, or the file failed midway): ``(segment, first document, documents)``.
    dropped: tuple[tuple[int, int, int], ...] = ()


_Analysed = list[tuple[str, list[dict[str, Any]], SectionTerms]]
# A file to index: (walk order, root it was found under, path, content hash
# it was indexed at, if it was).
_Task = tuple[int, Path, Path, str | None]


def _analyse_file(
    order: int,
    root: Path,
    file: Path,
    known_digest: str | None,
    settings: Settings,
    lexicon: dict[str, set[str]],
    keep: ArticleFilter | None = None,
) -> tuple[_FileOutcome, _Analysed]:
    """Read, parse and analyse one file; never raises (the reason goes in)."""
    source = str(file)
    try:
        check_suffix(file)
        data = read_bytes(file)
    except ReadError as exc:
        return _FileOutcome(order, source, unreadable=exc.reason), []
    outcome = _FileOutcome(order, source, nbytes=len(data), digest=hashlib.sha1(data).hexdigest())
    if known_digest == outcome.digest:
        return replace(outcome, unchanged=True), []
    warnings: list[str] = []
    analysed: _Analysed = []
    words: dict[str, set[str]] = {}
    try:
        result = read_file(file, root, data=data)
        warnings.extend(result.warnings)
        # A file of one article goes where its id does (``wants_file`` decides
        # that unread); the articles of a JSON-lines file by their titles too.
        several = file.suffix.lower() in JSONL_SUFFIXES
        for article in _last_wins(result.articles, source, warnings):
            if keep is not None and not keep(article.id, article.title if several else ""):
                continue
            docs, texts = _documents(article, source, outcome.digest)
            analysed.append((article.id, docs, analyze_sections(article.title, texts, settings, words, article.meta)))
    except ReadError as exc:
        return replace(outcome, skip=exc.reason), []
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop a long run
        reason = f"unexpected {type(exc).__name__} while reading ({exc}); please report it"
        return replace(outcome, skip=reason), []
    for name, found in words.items():
        lexicon.setdefault(name, set()).update(found)
    return replace(outcome, warnings=tuple(warnings)), analysed


# Postings a worker holds in memory before it writes them as a segment
# (about 20 bytes each while building, up to 50 while writing): bounds
# memory on any corpus size.
SEGMENT_POSTINGS = 4_000_000


class _PartWriter:
    """Writes the documents of a share of the files as new segments: Whoosh
    documents and, beside each segment, its text postings.  The segments are
    not committed here; the main process adds them to the index."""

    def __init__(self, ix, part: int) -> None:
        self.ix = ix
        self.part = part
        self.segments: list[Any] = []
        self._start()

    def _start(self) -> None:
        from whoosh.writing import SegmentWriter

        # Plain segment files, not one compound file: Whoosh copies a
        # compound file's parts into memory when it opens them, which a
        # cold query would pay for on every run.
        self.writer = SegmentWriter(self.ix, _lk=False, limitmb=64, codec=ZhCodec(), compound=False)
        self.fields = {name: FieldPostings() for name in (*TEXT_FIELDS, GRAM_FIELD)}
        self.n_docs = 0
        self.n_postings = 0
        self.articles: list[str] = []
        self.works: list[str] = []
        self.standings: list[str] = []
        self.doc_article: list[np.ndarray] = []

    def add(self, article_id: str, docs: list[dict[str, Any]], terms: SectionTerms) -> tuple[int, int]:
        """Add an article's documents; returns ``(segment, first document)``."""
        first = self.n_docs
        self.doc_article.append(np.full(len(docs), len(self.articles), dtype=np.int32))
        self.articles.append(article_id)
        self.works.append(terms.work)
        self.standings.append(terms.standing)
        _add_documents(self.writer, docs)
        for name, (t, d, c) in terms.pairs.items():
            fp = self.fields[name]
            fp.terms.append(t)
            fp.docs.append((d + first).astype(np.uint32))
            fp.tfs.append(c)
            fp.lengths.append(terms.lengths[name])
            self.n_postings += len(t)
        self.n_docs += terms.n_docs
        return len(self.segments), first

    def add_words(self, lexicon: dict[str, set[str]]) -> None:
        for name, words in lexicon.items():
            self.fields[name].words.update(words)

    def maybe_flush(self) -> None:
        if self.n_postings >= SEGMENT_POSTINGS:
            self.flush()
            self._start()

    def flush(self) -> None:
        writer = self.writer
        if self.n_docs:
            segment = writer._finalize_segment()
            # Written before the commit that makes the segment visible; a
            # run killed in between leaves files the next commit removes.
            folder = Path(writer.storage.folder)
            path = folder / f"{segment.segment_id()}{POSTINGS_SUFFIX}"
            files = segment_files(folder, segment.segment_id(), path.name)
            write_segment(
                path,
                self.n_docs,
                self.fields,
                self.articles,
                np.concatenate(self.doc_article),
                files,
                getattr(writer.storage, "file_mode", None),
                self.works,
                self.standings,
            )
            self.segments.append(segment)
        else:
            writer._close_segment()
        # Not writer._finish(): that removes the temporary folder, which all
        # writers of this run share; the main process's writer removes it.
        writer.is_closed = True

    def cancel(self) -> None:
        # Files written so far belong to no segment of the index; the next
        # commit (or the removal of a fresh build's folder) deletes them.
        self.writer.is_closed = True


def _add_documents(writer: Any, docs: list[dict[str, Any]]) -> None:
    """Whoosh's ``SegmentWriter.add_document`` for each of ``docs`` (one
    article's sections: the same article and file keys, their own packed
    stored fields), with each key's postings made once, not per section
    (Whoosh's field analysis was a fifth of a worker's time).  The same
    documents, postings and per-document records as ``add_document``."""
    schema = writer.schema
    perdoc = writer.perdocwriter
    add_post = writer.pool.add
    made: dict[tuple[str, str], list[tuple[bytes, float, bytes | None]]] = {}
    for doc in docs:
        names = sorted(doc)
        if names != ["article", "filekey", PACKED]:
            writer.add_document(**doc)  # not a section of ours: Whoosh's own way
            continue
        writer._check_state()
        docnum = writer.docnum
        perdoc.start_doc(docnum)
        for name in names:
            field = schema[name]
            if field.indexed:
                key = (name, doc[name])
                items = made.get(key)
                if items is None:
                    items = made[key] = [(t, weight, v) for t, _, weight, v in field.index(doc[name])]
                for tbytes, weight, vbytes in items:
                    add_post((name, tbytes, docnum, weight, vbytes))
            perdoc.add_field(name, field, doc[name] if field.stored else None, 0)
        perdoc.finish_doc()
        writer._added = True
        writer.docnum += 1


# JSON-lines files from this size on are read a line at a time and their
# articles written as they come (segments flushed midway), so memory stays
# bounded on a file of any size; smaller ones are read whole, which lets the
# encoding be detected from all of it.
STREAM_BYTES = 16_000_000


def _streamed(file: Path) -> bool:
    if file.suffix.lower() not in JSONL_SUFFIXES:
        return False
    try:
        return file.stat().st_size >= STREAM_BYTES
    except OSError:
        return False


def _stream_file(
    order: int,
    file: Path,
    known_digest: str | None,
    settings: Settings,
    out: _PartWriter,
    keep: ArticleFilter | None = None,
) -> _FileOutcome:
    """Index a large JSON-lines file as it is read (see ``STREAM_BYTES``);
    never raises (the reason goes in the outcome)."""
    source = str(file)
    try:
        nbytes, hexdigest = hash_file(file)
    except ReadError as exc:
        return _FileOutcome(order, source, unreadable=exc.reason)
    if known_digest == hexdigest:
        return _FileOutcome(order, source, nbytes=nbytes, digest=hexdigest, unchanged=True)
    digest = hashlib.sha1()
    placed: dict[str, tuple[str, int, int, int]] = {}
    dropped: list[tuple[int, int, int]] = []
    warnings: list[str] = []
    lines = valid = 0
    try:
        for article, notes in stream_jsonl(file, digest):
            lines += 1 if article is not None or notes else 0
            warnings.extend(notes)
            if article is None:
                continue
            valid += 1
            if keep is not None and not keep(article.id, article.title):
                continue
            earlier = placed.pop(article.id, None)
            if earlier is not None:
                warnings.append(f"{source}: duplicate article id {article.id!r}; the later one wins")
                dropped.append(earlier[1:])
            words: dict[str, set[str]] = {}
            docs, texts = _documents(article, source, hexdigest)
            terms = analyze_sections(article.title, texts, settings, words, article.meta)
            placed[article.id] = (article.id, *out.add(article.id, docs, terms), len(docs))
            out.add_words(words)
            out.maybe_flush()
        if digest.hexdigest() != hexdigest:
            raise ReadError(source, "file changed while it was being read; run the command again")
    except ReadError as exc:
        dropped.extend(p[1:] for p in placed.values())
        return _FileOutcome(order, source, unreadable=exc.reason, dropped=tuple(dropped))
    outcome = _FileOutcome(order, source, nbytes=nbytes, digest=hexdigest, dropped=tuple(dropped))
    if not valid:
        return replace(outcome, skip=no_articles_reason(lines, warnings))
    return replace(outcome, warnings=tuple(warnings), articles=tuple(placed.values()))


def _run_part(part: int, tasks: list[_Task], settings: Settings, ix, emit, keep: ArticleFilter | None = None) -> None:
    """Index a share of the files, reporting each file and then the new
    segments through ``emit``."""
    out = _PartWriter(ix, part)
    try:
        for order, root, file, known_digest in tasks:
            if _streamed(file):
                outcome = _stream_file(order, file, known_digest, settings, out, keep)
                emit(("file", part, replace(outcome, part=part)))
                continue
            lexicon: dict[str, set[str]] = {}
            outcome, analysed = _analyse_file(order, root, file, known_digest, settings, lexicon, keep)
            placed = tuple(
                (article_id, *out.add(article_id, docs, terms), len(docs)) for article_id, docs, terms in analysed
            )
            out.add_words(lexicon)
            emit(("file", part, replace(outcome, part=part, articles=placed)))
            out.maybe_flush()
        out.flush()
    except BaseException:
        out.cancel()
        raise
    emit(("done", part, out.segments))


def _part_process(part: int, tasks, settings: Settings, ix, queue, parent: int, keep=None) -> None:
    def emit(message: tuple[str, int, Any]) -> None:
        if os.getppid() != parent:
            # The main process is gone (killed): nobody will commit this
            # work, so stop rather than run on as an orphan.
            os._exit(1)
        queue.put(message)

    try:
        _run_part(part, tasks, settings, ix, emit, keep)
    except BaseException as exc:  # noqa: BLE001 - reported to the main process
        text = f"{type(exc).__name__}: {exc}"
        queue.put(("error", part, text, getattr(exc, "errno", None), getattr(exc, "filename", None)))


def _split(tasks: list[_Task], jobs: int) -> list[list[_Task]]:
    """``tasks`` in at most ``jobs`` runs of consecutive files with about
    the same number of bytes each (work is proportional to text)."""
    sizes = []
    for task in tasks:
        try:
            sizes.append(max(task[2].stat().st_size, 1))
        except OSError:
            sizes.append(1)
    total = sum(sizes)
    if jobs <= 1 or len(tasks) < 2 or total < PARALLEL_BYTES:
        return [tasks]
    parts: list[list[_Task]] = [[]]
    acc = 0
    for task, size in zip(tasks, sizes, strict=True):
        if acc >= total * len(parts) / jobs and len(parts) < jobs:
            parts.append([])
        parts[-1].append(task)
        acc += size
    return [p for p in parts if p]


# Below this many bytes to read, starting worker processes costs more than it saves.
PARALLEL_BYTES = 2_000_000


def _run_parts(parts, settings: Settings, ix, handle, keep: ArticleFilter | None = None) -> None:
    """Run the parts, in worker processes when there are several."""
    if len(parts) == 1:
        _run_part(0, parts[0], settings, ix, handle, keep)
        return
    import multiprocessing
    import queue as queues

    methods = multiprocessing.get_all_start_methods()
    ctx: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    messages = ctx.Queue()
    procs = [
        ctx.Process(target=_part_process, args=(i, part, settings, ix, messages, os.getpid(), keep), daemon=True)
        for i, part in enumerate(parts)
    ]
    for proc in procs:
        proc.start()
    done: set[int] = set()
    idle = 0
    try:
        while len(done) < len(procs):
            try:
                message = messages.get(timeout=0.5)
            except queues.Empty:
                finished = [i for i, p in enumerate(procs) if i not in done and not p.is_alive()]
                idle = idle + 1 if finished else 0
                if finished and (idle > 4 or any(procs[i].exitcode for i in finished)):
                    codes = ", ".join(str(procs[i].exitcode) for i in finished)
                    raise WorkerDiedError(
                        f"an indexing worker process died (exit code {codes}); the index is unchanged",
                        exit_codes=tuple(procs[i].exitcode or 0 for i in finished),
                    ) from None
                continue
            if message[0] == "done":
                done.add(message[1])
            elif message[0] == "error":
                if len(message) > 3 and message[3] in _DISK_ERRNOS:
                    raise OSError(message[3], os.strerror(message[3]), message[4])
                raise ZhsearchError(
                    f"an indexing worker failed ({message[2]}); the index is unchanged; please report it"
                )
            handle(message)
    finally:
        for proc in procs:
            if proc.is_alive() and len(done) < len(procs):
                proc.terminate()
            proc.join(timeout=5)


def _update(
    ix,
    paths: list[Path],
    workdir: Path,
    progress,
    started: float,
    jobs: int = 1,
    target: Path | None = None,
    needed: list[int] | None = None,
    keep: ArticleFilter | None = None,
) -> IndexReport:
    skipped: list[Skipped] = []
    warnings: list[str] = []
    files = collect_files(paths, target, skipped)
    if keep is not None:
        files = [(root, f) for root, f in files if keep.wants_file(root, f)]
    order = {str(f): i for i, (_, f) in enumerate(files)}
    # Open for the whole run: it answers which file holds an article id.
    reader = ix.reader()
    known = known_files(reader)
    settings = replace(default_settings(), user_dict=recorded_user_dict(ix.schema))
    jobs = (os.cpu_count() or 1) if jobs <= 0 else jobs
    # This writer only deletes from the existing segments and commits; the
    # new documents are written by _run_part, in worker processes.
    writer = ix.writer(codec=ZhCodec(), compound=False)
    outcomes: list[_FileOutcome | None] = [None] * len(files)
    new_segments: dict[int, list[Any]] = {}
    counts = {"files": 0, "sections": 0, "bytes": 0, "indexed": 0}

    def handle(message: tuple[str, int, Any]) -> None:
        kind, part, payload = message
        if kind == "done":
            new_segments[part] = payload
            return
        outcomes[payload.order] = payload
        counts["files"] += 1
        counts["bytes"] += payload.nbytes
        counts["indexed"] += 0 if payload.unchanged else payload.nbytes
        counts["sections"] += sum(a[3] for a in payload.articles)
        if progress is not None:
            progress(Progress(counts["files"], len(files), counts["sections"], counts["bytes"], payload.source))

    rewritten: set[str] = set()

    def forget(source: str) -> None:
        writer.delete_by_term("filekey", _filekey(source, known[source]))
        rewritten.add(source)

    try:
        tasks = []
        for i, (root, file) in enumerate(files):
            digest = known.get(str(file))
            if digest is not None and (nbytes := _unchanged_size(file, digest)) is not None:
                # Settled here: no worker is started for an unchanged corpus.
                handle(("file", 0, _FileOutcome(i, str(file), nbytes=nbytes, digest=digest, unchanged=True)))
            else:
                tasks.append((i, root, file, digest))
        if needed is not None:
            needed[0] = sum(_size(task[2]) for task in tasks)
        if tasks:
            _run_parts(_split(tasks, jobs), settings, ix, handle, keep)
        # Decide in walk order what stays, as if the files had been read one
        # after another.
        seen: set[str] = set()
        ids_this_run: dict[str, str] = {}
        n_indexed = n_unchanged = n_articles = n_sections = 0
        for item in outcomes:
            assert item is not None
            source = item.source
            seen.add(source)
            for segment, first_doc, count in item.dropped:
                seg = new_segments[item.part][segment]
                for docnum in range(first_doc, first_doc + count):
                    seg.delete_document(docnum)
            if item.unreadable or item.skip:
                # Gone, unreadable or unparsable now: its old articles go
                # too, so the index matches what can be read (and --check
                # agrees).
                skipped.append(Skipped(source, item.unreadable or item.skip))
                if source in known:
                    forget(source)
                continue
            if item.unchanged:
                n_unchanged += 1
                continue
            warnings.extend(item.warnings)
            if source in known:
                forget(source)
            for article_id, segment, first_doc, count in item.articles:
                # Across files the first in walk order keeps an id, also when
                # that file is unchanged and not read again: the outcome
                # never depends on which files changed.
                first = ids_this_run.get(article_id)
                if first is None:
                    holder = _holder(reader, article_id)
                    if holder is not None and holder not in rewritten and order.get(holder, len(files)) < order[source]:
                        first = holder
                if first is not None:
                    warnings.append(f"{source}: article id {article_id!r} is also in {first}; kept the first")
                    seg = new_segments[item.part][segment]
                    for docnum in range(first_doc, first_doc + count):
                        seg.delete_document(docnum)
                    continue
                ids_this_run[article_id] = source
                writer.delete_by_term("article", article_id)
                n_sections += count
                n_articles += 1
            n_indexed += 1
        removed = removed_sources(known, seen, paths)
        for source in removed:
            writer.delete_by_term("filekey", _filekey(source, known[source]))
    except BaseException:
        writer.cancel()
        raise
    finally:
        reader.close()
    _commit(writer, ix, [seg for part in sorted(new_segments) for seg in new_segments[part]], jobs)
    return IndexReport(
        index_dir=str(workdir),
        files=len(files),
        files_indexed=n_indexed,
        files_unchanged=n_unchanged,
        files_removed=len(removed),
        articles=n_articles,
        sections=n_sections,
        bytes=counts["bytes"],
        seconds=time.perf_counter() - started,
        skipped=tuple(skipped),
        warnings=tuple(warnings),
        bytes_indexed=counts["indexed"],
    )


def _commit(writer, ix, new_segments: list[Any], jobs: int = 1) -> int:
    """Commit ``writer``'s deletions and the ``new_segments`` the workers
    wrote, as one new generation, merging segments as ``indexer.merge``
    decides (``jobs`` merges at a time); returns the number of segments."""
    keep_previous_generation(writer, ix)
    # Not Whoosh's merging: it would renumber documents without our
    # postings; indexer.merge merges both.
    existing = list(writer._merge_segments(None, False, False))
    final = existing + list(new_segments)
    try:
        final = merge_for_commit(ix, final, jobs, fresh=not existing)
        writer._close_segment()
        writer._commit_toc(final)
    finally:
        writer._finish()  # also after a failed write: its temporary files go
    return len(final)


@dataclass(frozen=True)
class RemoveReport:
    """What :func:`remove` dropped from an index."""

    index_dir: str
    files_removed: int
    articles: int
    sections: int
    seconds: float
    files: tuple[str, ...] = ()


def remove(
    paths: Iterable[str | os.PathLike[str]], index_dir: str | os.PathLike[str] | None = None, *, wait: bool = False
) -> RemoveReport:
    """Drop from the index at ``index_dir`` the articles read from ``paths``:
    a file, or every indexed file under a directory (whether or not the
    files still exist).  One commit, like :func:`build_index`; the files are
    not touched, so indexing them again brings the articles back."""
    started = time.perf_counter()
    target = resolve_index_dir(index_dir)
    wanted = [str(_resolve(Path(p))) for p in paths]
    if not wanted:
        raise ZhsearchError("nothing to remove: give at least one file or directory")
    prefixes = tuple(w.rstrip(os.sep) + os.sep for w in wanted)
    with WriteLock(target, wait=wait):
        repair(target)
        meta = check_compatible(target)
        ix = open_index(target)
        with ix.reader() as reader:
            known = known_files(reader)
            sources = sorted(s for s in known if s in wanted or s.startswith(prefixes))
            docs = [d for s in sources for d in reader.postings("filekey", _filekey(s, known[s])).all_ids()]
            articles = {reader.stored_fields(d).get("article") for d in docs}
        if sources:
            writer = ix.writer(codec=ZhCodec(), compound=False)
            try:
                for source in sources:
                    writer.delete_by_term("filekey", _filekey(source, known[source]))
            except BaseException:
                writer.cancel()
                raise
            try:
                _commit(writer, ix, [])
                settings = replace(meta.settings(), user_dict=recorded_user_dict(ix.schema))
                write_meta(target, settings, created=meta.created, generation=ix.latest_generation())
            except OSError as exc:
                if exc.errno in _DISK_ERRNOS:
                    raise _disk_error(exc, target, 0) from None
                raise
    seconds = time.perf_counter() - started
    return RemoveReport(str(target), len(sources), len(articles), len(docs), seconds, tuple(sources))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _unchanged_size(file: Path, digest: str) -> int | None:
    """The size of ``file`` if its content hash is still ``digest``."""
    try:
        size, found = hash_file(file)
    except ReadError:
        return None  # the worker reports why
    return size if found == digest else None


def _filekey(source: str, digest: str) -> str:
    return f"{source}\x00{digest}"


def known_files(reader: Any) -> dict[str, str]:
    """Map each indexed source file to the content hash it was indexed at."""
    known: dict[str, str] = {}
    # Deleted documents keep their terms in the lexicon until Whoosh merges
    # their segment away: a replaced or removed file's old key must not count.
    deletions = reader.has_deletions()
    for term in reader.lexicon("filekey"):
        if deletions and next(iter(reader.postings("filekey", term).all_ids()), None) is None:
            continue
        text = term.decode("utf-8") if isinstance(term, bytes) else term
        source, _, digest = text.rpartition("\x00")
        known[source] = digest
    return known


def _holder(reader, article_id: str) -> str | None:
    """The source file of the indexed article ``article_id``, if any."""
    from whoosh.reading import TermNotFound

    try:
        for docnum in reader.postings("article", article_id).all_ids():
            return reader.stored_fields(docnum).get("source")
    except TermNotFound:
        return None
    return None


def removed_sources(known: dict[str, str], seen: set[str], paths: list[Path]) -> list[str]:
    """Indexed files under an indexed directory that are no longer there."""
    dirs = [str(_resolve(p)) + os.sep for p in paths if p.is_dir()]
    files = {str(_resolve(p)) for p in paths if not p.exists() or p.is_file()}
    return sorted(s for s in known if s not in seen and (s in files or any(s.startswith(d) for d in dirs)))


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return path.absolute()


def _last_wins(articles: Iterable[Article], source: str, warnings: list[str]) -> list[Article]:
    by_id: dict[str, Article] = {}
    for article in articles:
        if article.id in by_id:
            warnings.append(f"{source}: duplicate article id {article.id!r}; the later one wins")
            del by_id[article.id]
        by_id[article.id] = article
    return list(by_id.values())


def _documents(article: Article, source: str, digest: str) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The Whoosh documents of an article's sections, and each one's
    ``(heading path, body)`` for the text postings."""
    meta = dict(article.meta)
    common = {"article": article.id, "filekey": _filekey(source, digest)}
    records: list[dict[str, Any]] = []
    texts: list[tuple[str, str]] = []
    has_text = any(s.text.strip() for s in article.sections)
    for section in article.sections:
        # A heading with no text of its own (一、 directly followed by 1.1)
        # would win heading matches with an empty snippet; its words are in
        # its children's heading paths, so it is not indexed on its own.
        if has_text and not section.text.strip():
            continue
        heading = " / ".join(section.path)
        stored = {
            "article": article.id,
            "section": section.index,
            "title": article.title,
            "body": section.text,
            "source": source,
            "data": {
                "level": section.level,
                "heading": section.heading,
                "path": list(section.path),
                "meta": meta,
                "count": len(article.sections),
            },
        }
        records.append(stored)
        texts.append((heading, section.text))
    return [{PACKED: packed, **common} for packed in pack_stored_runs(records)], texts


_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EFBIG})


def _disk_error(exc: OSError, target: Path, needed: int) -> DiskWriteError:
    """The one-line error for a write the disk refused."""
    where = f" ({exc.filename})" if exc.filename else ""
    tail = "what this run wrote was removed; the last good index is unchanged"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        mb = max(1, math.ceil(needed * 1.2 / 1e6))
        what = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}.get(
            exc.errno or 0, "file too large for the file system or its limits"
        )
        message = f"{what} (needed about {mb} MB) writing the index at {target}; {tail}; free some space and retry"
    elif exc.errno == errno.EROFS:
        message = f"read-only file system: cannot write the index at {target}{where}; {tail}"
    else:
        message = f"permission denied writing the index at {target}{where}; {tail}; check the directory's permissions"
    return DiskWriteError(message, errno=exc.errno or 0, path=str(exc.filename or target))


def _remove_new(target: Path, before: set[str]) -> None:
    """Remove what a failed update added to the index directory."""
    try:
        names = os.listdir(target)
    except OSError:
        return
    for name in names:
        if name in before:
            continue
        path = target / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                path.unlink()
            except OSError:
                pass


def _modes_of(target: Path) -> tuple[int | None, int | None]:
    """The permissions of the index ``target`` (directory, files) that a
    rebuild replaces, for the new one; ``None`` where there is none."""
    try:
        dir_mode = os.stat(target, follow_symlinks=False).st_mode & 0o7777
    except OSError:
        return None, None
    return dir_mode, file_mode_of(target)


# A config file kept in the index directory (see ``search.config``).
INDEX_CONFIG = "zhsearch.toml"


def _keep_config(old: Path, new: Path) -> None:
    """Carry the index's own config file over to the index replacing it."""
    if (old / INDEX_CONFIG).is_file() and not (old / SAMPLE_MARKER).exists():
        shutil.copy2(old / INDEX_CONFIG, new / INDEX_CONFIG)


def _swap_in(new: Path, target: Path) -> None:
    """Replace ``target`` by ``new``; see :func:`indexer.storage.swap_in`."""
    swap_in(new, target)
