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

import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from corpus.errors import IndexMismatchError, ReadError, ZhsearchError
from corpus.model import Article
from corpus.readers import check_suffix, discover, path_problem, read_bytes, read_file
from indexer.analysis import UserDict, default_settings, load_user_dict
from indexer.codec import ZhCodec
from indexer.schema import gram_text, recorded_user_dict, section_key, user_dict_mismatch
from indexer.storage import (
    WriteLock,
    check_compatible,
    create_index,
    index_exists,
    keep_previous_generation,
    looks_like_index,
    open_index,
    repair,
    resolve_index_dir,
    swap_in,
    write_meta,
)


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

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


def build_index(
    paths: Iterable[str | os.PathLike[str]],
    index_dir: str | os.PathLike[str] | None = None,
    *,
    rebuild: bool = False,
    wait: bool = False,
    jobs: int = 1,
    progress: Callable[[Progress], None] | None = None,
    user_dict: str | os.PathLike[str] | UserDict | None = None,
) -> IndexReport:
    """Create or update the index at ``index_dir`` from files under ``paths``.

    ``user_dict`` (a jieba user dictionary file) segments a new or rebuilt
    index and is recorded in it; updates keep the recorded one, and refuse
    a different one (rebuild to change it).

    Re-indexing unchanged files is a no-op; changed files replace their old
    documents, so running it twice never creates duplicates.  ``jobs`` > 1
    analyses and writes documents in that many worker processes (``0``: one
    per core).
    """
    started = time.perf_counter()
    target = resolve_index_dir(index_dir)
    path_list = [Path(p) for p in paths]
    _check_paths(path_list)
    if user_dict is not None and not isinstance(user_dict, UserDict):
        user_dict = load_user_dict(user_dict)
    with WriteLock(target, wait=wait):
        repair(target)
        fresh = rebuild or not index_exists(target, recover=False)
        if fresh and not looks_like_index(target):
            raise ZhsearchError(
                f"{target} exists and is not a zhsearch index; give another --index directory "
                "(zhsearch never replaces a directory it did not create)"
            )
        workdir = target.parent / f".{target.name}.new-{os.getpid()}" if fresh else target
        if fresh:
            shutil.rmtree(workdir, ignore_errors=True)
            ix = create_index(workdir, replace(default_settings(), user_dict=user_dict))
        else:
            meta = check_compatible(target)
            ix = open_index(target)
            recorded = recorded_user_dict(ix.schema)
            problem = user_dict_mismatch(target, recorded, user_dict)
            if problem:
                raise IndexMismatchError(problem)
        try:
            report = _update(ix, path_list, workdir, progress, started, jobs, target)
        except BaseException:
            if fresh:
                shutil.rmtree(workdir, ignore_errors=True)
            raise
        if fresh:
            _swap_in(workdir, target)
        else:
            write_meta(target, replace(meta.settings(), user_dict=recorded), created=meta.created)
    return IndexReport(**{**report.__dict__, "index_dir": str(target), "seconds": time.perf_counter() - started})


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

    @property
    def ok(self) -> bool:
        """True when the index matches the files."""
        return not (self.missing or self.changed or self.removed)


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
    target = resolve_index_dir(index_dir)
    path_list = [Path(p) for p in paths]
    _check_paths(path_list)
    ix = open_index(target)
    unindexable: list[Skipped] = []
    files = _collect(path_list, target, unindexable)
    with ix.reader() as reader:
        known = _known_files(reader)
    missing: list[str] = []
    changed: list[str] = []
    for root, file in files:
        source = str(file)
        try:
            check_suffix(file)
        except ReadError:
            continue  # never indexed, and not worth a line
        try:
            data = read_bytes(file)
        except ReadError as exc:
            if source in known:
                changed.append(source)
            else:
                unindexable.append(Skipped(source, exc.reason))
            continue
        if source in known:
            if known[source] != hashlib.sha1(data).hexdigest():
                changed.append(source)
            continue
        try:
            articles = read_file(file, root, data=data).articles
        except ReadError as exc:
            unindexable.append(Skipped(source, exc.reason))
            continue
        if articles:
            missing.append(source)
        else:
            unindexable.append(Skipped(source, "no articles in it"))
    removed = _removed_sources(known, {str(f) for _, f in files}, path_list)
    return CheckReport(
        index_dir=str(target),
        files=len(files),
        missing=tuple(missing),
        changed=tuple(changed),
        removed=tuple(removed),
        unindexable=tuple(unindexable),
    )


def _check_paths(paths: list[Path]) -> None:
    if not paths:
        raise ZhsearchError("nothing to index: give at least one file or directory")
    problems = [(str(p), path_problem(p)) for p in paths]
    if all(problem for _, problem in problems):
        raise ZhsearchError("nothing to index: " + "; ".join(f"{p}: {problem}" for p, problem in problems))


def build_sample_index(index_dir: str | os.PathLike[str] | None = None, *, wait: bool = True) -> IndexReport:
    """Index the sample articles bundled with zhsearch (the demo corpus)."""
    from importlib import resources

    with resources.as_file(resources.files("corpus") / "articles") as articles:
        return build_index([articles], index_dir, wait=wait)


def _collect(paths: list[Path], target: Path | None, skipped: list[Skipped]) -> list[tuple[Path, Path]]:
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


def _update(
    ix, paths: list[Path], workdir: Path, progress, started: float, jobs: int = 1, target: Path | None = None
) -> IndexReport:
    skipped: list[Skipped] = []
    warnings: list[str] = []
    files = _collect(paths, target, skipped)
    order = {str(f): i for i, (_, f) in enumerate(files)}
    # Open for the whole run: it answers which file holds an article id.
    reader = ix.reader()
    known = _known_files(reader)
    jobs = (os.cpu_count() or 1) if jobs <= 0 else jobs
    if jobs > 1:
        # Whoosh's multi-process writer: each worker analyses and writes its
        # own segment; the parent merges nothing (multisegment) and commits.
        sub = {"codec": ZhCodec(), "compound": False}
        writer = ix.writer(procs=jobs, limitmb=256, multisegment=True, subargs=sub, **sub)
    else:
        # Plain segment files, not one compound file: Whoosh copies a
        # compound file's parts into memory when it opens them, which a cold
        # query would pay for on every run.
        writer = ix.writer(limitmb=256, codec=ZhCodec(), compound=False)
    rewritten: set[str] = set()

    def forget(source: str) -> None:
        writer.delete_by_term("source", source)
        rewritten.add(source)

    try:
        seen: set[str] = set()
        ids_this_run: dict[str, str] = {}
        n_indexed = n_unchanged = n_articles = n_sections = n_bytes = 0
        for done, (root, file) in enumerate(files, 1):
            source = str(file)
            seen.add(source)
            try:
                check_suffix(file)
                data = read_bytes(file)
            except ReadError as exc:
                # Gone or unreadable now: its old articles go too, so the
                # index matches what can be read (and --check agrees).
                skipped.append(Skipped(source, exc.reason))
                if source in known:
                    forget(source)
                continue
            n_bytes += len(data)
            digest = hashlib.sha1(data).hexdigest()
            if known.get(source) == digest:
                n_unchanged += 1
            else:
                try:
                    result = read_file(file, root, data=data)
                except ReadError as exc:
                    skipped.append(Skipped(source, exc.reason))
                    if source in known:
                        forget(source)
                    continue
                except Exception as exc:  # noqa: BLE001 - one bad file must not stop a long run
                    reason = f"unexpected {type(exc).__name__} while reading ({exc}); please report it"
                    skipped.append(Skipped(source, reason))
                    if source in known:
                        forget(source)
                    continue
                warnings.extend(result.warnings)
                if source in known:
                    forget(source)
                for article in _last_wins(result.articles, source, warnings):
                    # Across files the first in walk order keeps an id, also
                    # when that file is unchanged and not read again: the
                    # outcome never depends on which files changed.
                    first = ids_this_run.get(article.id)
                    if first is None:
                        holder = _holder(reader, article.id)
                        if holder not in rewritten and order.get(holder, len(files)) < order[source]:
                            first = holder
                    if first is not None:
                        warnings.append(f"{source}: article id {article.id!r} is also in {first}; kept the first")
                        continue
                    ids_this_run[article.id] = source
                    writer.delete_by_term("article", article.id)
                    n_sections += _add_article(writer, article, source, digest)
                    n_articles += 1
                n_indexed += 1
            if progress is not None:
                progress(Progress(done, len(files), n_sections, n_bytes, source))
        removed = _removed_sources(known, seen, paths)
        for source in removed:
            writer.delete_by_term("source", source)
    except BaseException:
        writer.cancel()
        raise
    finally:
        reader.close()
    keep_previous_generation(writer, ix)
    writer.commit()
    return IndexReport(
        index_dir=str(workdir),
        files=len(files),
        files_indexed=n_indexed,
        files_unchanged=n_unchanged,
        files_removed=len(removed),
        articles=n_articles,
        sections=n_sections,
        bytes=n_bytes,
        seconds=time.perf_counter() - started,
        skipped=tuple(skipped),
        warnings=tuple(warnings),
    )


def _known_files(reader) -> dict[str, str]:
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


def _removed_sources(known: dict[str, str], seen: set[str], paths: list[Path]) -> list[str]:
    """Indexed files under an indexed directory that are no longer there."""
    dirs = [str(_resolve(p)) + os.sep for p in paths if p.is_dir()]
    files = {str(_resolve(p)) for p in paths if not p.exists() or p.is_file()}
    return sorted(
        s for s in known if s not in seen and (s in files or any(s.startswith(d) for d in dirs))
    )


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


def _add_article(writer, article: Article, source: str, digest: str) -> int:
    meta = dict(article.meta)
    tags = meta.get("tags") or []
    if not isinstance(tags, list):
        tags = [str(tags)]
    common = {
        "article": article.id,
        "title": article.title,
        "source": source,
        "filekey": f"{source}\x00{digest}",
        "category": _keyword(meta.get("category")),
        "author": _keyword(meta.get("author")),
        "tags": ",".join(_keyword(t) for t in tags if _keyword(t)),
        "date": str(meta.get("date") or ""),
    }
    added = 0
    has_text = any(s.text.strip() for s in article.sections)
    for section in article.sections:
        # A heading with no text of its own (一、 directly followed by 1.1)
        # would win heading matches with an empty snippet; its words are in
        # its children's heading paths, so it is not indexed on its own.
        if has_text and not section.text.strip():
            continue
        heading = " / ".join(section.path)
        writer.add_document(
            key=section_key(article.id, section.index),
            section=section.index,
            heading=heading,
            body=section.text,
            grams=gram_text(heading, section.text),
            data={
                "level": section.level,
                "heading": section.heading,
                "path": list(section.path),
                "meta": meta,
                "count": len(article.sections),
            },
            **common,
        )
        added += 1
    return added


def _keyword(value: object) -> str:
    return str(value).replace(",", " ").strip() if value not in (None, "") else ""


def _swap_in(new: Path, target: Path) -> None:
    """Replace ``target`` by ``new``; see :func:`indexer.storage.swap_in`."""
    swap_in(new, target)
