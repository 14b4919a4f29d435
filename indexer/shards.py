"""Sharded indexes: one collection kept as several ordinary zhsearch indexes.

Every article goes to the shard its id hashes to (a stable hash, so an
article stays in its shard from one update to the next; a JSON-lines file of
many articles is split across shards by a per-article filter in the build).
Each shard is built by one task — a Dask task on a cluster's workers, or in
this process without one — into a directory of its own, and the shards are
tied together by the *cluster manifest* ``cluster.json`` in the index
directory: the shards' directories, the generation, the analyzer settings.

A shard directory is never changed once a manifest names it.  An update
copies the shard (hard links: segment files are written once and replaced by
rename, never rewritten) into a new directory named for the next
generation, updates the copy, and the manifest is written — temporary file,
fsync, rename — only after every shard has committed.  A reader therefore
sees every shard of one generation or of the previous one, never a mix; a
build that dies (a worker killed, the client interrupted) leaves the previous
manifest and directories in force, and its half-written copies are removed by
the next build.  Shards whose articles did not change keep their directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from zhsearch.corpus.errors import DirectoryInUseError, IndexMismatchError, IndexNotFoundError, ReadError, ZhsearchError
from zhsearch.indexer.analysis import UserDict, default_settings, load_user_dict
from zhsearch.indexer.schema import SCHEMA_VERSION
from zhsearch.indexer.works import work_key

MANIFEST = "cluster.json"
MANIFEST_FORMAT = 1
# shard-NN.gGENERATION.BUILD: a build's own name, so a task of a build that
# died (still running on a worker) never writes where a later build does.
_SHARD_DIR = re.compile(r"shard-(\d+)\.g(\d+)(\.[0-9a-f]+)?$")
# Half-built copies (and what a build inside one leaves beside it).
_LEFTOVER = re.compile(r"\.+shard-\d+\.g\d+\S*\.tmp-")


def shard_of(article_id: str, shards: int, title: str = "") -> int:
    """The shard an article belongs to: a hash that is the same in every
    process and every version (unlike Python's ``hash``) of the work its
    title names (``民法典 第十条`` -> ``民法典``, see ``indexer.works``)
    or else of its id.  A work's articles share a shard, so the same-work
    evidence of ranking sees all of them there, as in one index."""
    work = work_key(title) if title else ""
    key = f"work:{work}" if work else article_id
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def shard_name(shard: int) -> str:
    return f"shard-{shard:02d}"


@dataclass(frozen=True)
class ShardFilter:
    """The articles of one shard (see ``indexer.build.ArticleFilter``)."""

    shard: int
    shards: int

    def __call__(self, article_id: str, title: str = "") -> bool:
        return shard_of(article_id, self.shards, title) == self.shard

    def wants_file(self, root: Path, file: Path) -> bool:
        from zhsearch.corpus.readers import JSONL_SUFFIXES

        # A file of one article has its path as id (as readers.read_file
        # names it); a JSON-lines file must be read to know.
        if file.suffix.lower() in JSONL_SUFFIXES:
            return True
        return self(_file_article_id(root, file))


def _file_article_id(root: Path, file: Path) -> str:
    from zhsearch.corpus.readers import article_id_for

    try:
        return article_id_for(root.resolve(), file.resolve())
    except (ValueError, OSError, RuntimeError):
        return file.name


@dataclass(frozen=True)
class ShardInfo:
    """One shard of a manifest: its number and the directory holding it."""

    shard: int
    path: str  # relative to the index directory
    generation: int  # the manifest generation that last changed it

    @property
    def name(self) -> str:
        return shard_name(self.shard)


@dataclass(frozen=True)
class Manifest:
    """What a sharded index is made of, in one generation."""

    generation: int
    shards: tuple[ShardInfo, ...]
    analyzer: dict[str, Any]
    schema_version: int = SCHEMA_VERSION
    created: float = 0.0
    updated: float = 0.0

    def shard_dirs(self, index_dir: Path) -> list[Path]:
        return [index_dir / s.path for s in self.shards]

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "generation": self.generation,
            "schema_version": self.schema_version,
            "analyzer": self.analyzer,
            "shards": [{"shard": s.shard, "path": s.path, "generation": s.generation} for s in self.shards],
            "created": self.created,
            "updated": self.updated,
        }


def is_sharded(index_dir: str | os.PathLike[str] | None) -> bool:
    """Whether ``index_dir`` holds a sharded index (a cluster manifest)."""
    return index_dir is not None and (Path(index_dir) / MANIFEST).is_file()


def read_manifest(index_dir: str | os.PathLike[str]) -> Manifest:
    """The committed manifest of the sharded index at ``index_dir``."""
    path = Path(index_dir) / MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"manifest format {raw.get('format')!r}, expected {MANIFEST_FORMAT}")
        shards = tuple(ShardInfo(int(s["shard"]), str(s["path"]), int(s["generation"])) for s in raw["shards"])
        if [s.shard for s in shards] != list(range(len(shards))) or any("/" in s.path for s in shards):
            raise ValueError("the shard list is not shards 0..N-1")
        return Manifest(
            int(raw["generation"]),
            shards,
            dict(raw.get("analyzer", {})),
            int(raw.get("schema_version", -1)),
            float(raw.get("created", 0)),
            float(raw.get("updated", 0)),
        )
    except FileNotFoundError:
        raise IndexNotFoundError(f"no sharded index at {index_dir} (no {MANIFEST})", index_dir=str(index_dir)) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexMismatchError(f"cannot read the cluster manifest {path} ({exc})", index_dir=str(index_dir)) from None


def write_manifest(index_dir: Path, manifest: Manifest) -> None:
    """Commit ``manifest``: a temporary file, fsynced, renamed over the old
    one, and the directory fsynced so the rename itself is durable."""
    tmp = index_dir / f".{MANIFEST}.{os.getpid()}.tmp"
    data = json.dumps(manifest.as_dict(), ensure_ascii=False, indent=1).encode("utf-8")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / MANIFEST)
    fd = os.open(index_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class _ShardJob:
    """What one shard's build task needs; small, it travels to a worker."""

    shard: int
    shards: int
    paths: tuple[str, ...]
    previous: str | None  # the shard's current directory, copied and updated
    target: str  # the directory the new generation goes to
    user_dict: UserDict | None
    rebuild: bool


def build_shard(job: _ShardJob):  # -> indexer.build.IndexReport
    """Build or update one shard into ``job.target`` (a Dask task).

    Works in a temporary directory renamed to the target at the end, so a
    task killed half-way leaves nothing a manifest names; run twice (Dask
    reruns the task of a worker that died), the second run starts afresh.
    """
    from zhsearch.indexer.build import build_index
    from zhsearch.indexer.collection import write_part

    target = Path(job.target)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        if job.previous is not None and not job.rebuild:
            shutil.copytree(job.previous, tmp, copy_function=os.link)
        report = build_index(
            list(job.paths),
            tmp,
            jobs=1,  # one task per shard: Dask spreads the shards over the workers' cores
            user_dict=job.user_dict if job.previous is None or job.rebuild else None,
            article_filter=ShardFilter(job.shard, job.shards),
        )
        # The shard's part of the collection statistics, committed with it.
        write_part(tmp)
        shutil.rmtree(target, ignore_errors=True)  # a copy of a build that never committed
        os.rename(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        Path(f"{tmp}.lock").unlink(missing_ok=True)
    return replace(report, index_dir=str(target))


# Runs shard jobs and returns their reports in order; raises on failure.
Runner = Callable[[list[_ShardJob]], list[Any]]


def _run_local(jobs: list[_ShardJob]) -> list[Any]:
    return [build_shard(job) for job in jobs]


def connect(cluster: Any) -> tuple[Any, bool]:
    """A ``distributed.Client`` for ``cluster`` (a scheduler address such as
    ``tcp://host:8786``, a client, or a cluster object), and whether it was
    opened here (and is to be closed by the caller)."""
    try:
        from distributed import Client
    except ImportError:
        raise ZhsearchError(
            "searching or indexing on a cluster needs dask and distributed: pip install 'zhsearch[cluster]'"
        ) from None
    if isinstance(cluster, Client):
        return cluster, False
    try:
        return Client(cluster, timeout=CONNECT_TIMEOUT), True
    except (OSError, TimeoutError, ValueError) as exc:
        raise ZhsearchError(f"cannot reach the Dask scheduler at {cluster} ({exc})") from None


# Seconds to wait for a scheduler to answer.
CONNECT_TIMEOUT = 10


def _dask_runner(cluster: Any) -> tuple[Runner, Callable[[], None]]:
    client, owned = connect(cluster)

    def run(jobs: list[_ShardJob]) -> list[Any]:
        from distributed import wait

        futures = [
            client.submit(build_shard, job, key=f"zhsearch-build-{shard_name(job.shard)}-{uuid.uuid4().hex}")
            for job in jobs
        ]
        try:
            wait(futures)
            reports = []
            for job, future in zip(jobs, futures, strict=True):
                if future.status != "finished":
                    exc = future.exception()
                    raise ZhsearchError(
                        f"building {shard_name(job.shard)} failed on the cluster ({type(exc).__name__}: {exc}); "
                        "the index is unchanged"
                    )
                reports.append(future.result())
            return reports
        finally:
            client.cancel(futures)

    return run, (client.close if owned else (lambda: None))


def build_shards(
    paths: Iterable[str | os.PathLike[str]],
    index_dir: str | os.PathLike[str],
    *,
    shards: int = 0,
    cluster: Any = None,
    rebuild: bool = False,
    wait: bool = False,
    user_dict: str | os.PathLike[str] | UserDict | None = None,
):  # -> indexer.build.IndexReport
    """Create or update the sharded index at ``index_dir``: ``shards``
    shard indexes (default: as many as it has, 4 for a new one), built as
    tasks on ``cluster`` (a scheduler address, a ``distributed.Client`` or
    a cluster object; ``None``: in this process).

    An update rebuilds only the shards whose articles changed; the manifest
    is committed after all of them are.
    """
    from zhsearch.indexer.build import IndexReport, Skipped, check_paths, collect_files
    from zhsearch.indexer.storage import WriteLock

    started = time.perf_counter()
    target = Path(index_dir).absolute()
    path_list = [Path(p) for p in paths]
    check_paths(path_list)
    if user_dict is not None and not isinstance(user_dict, UserDict):
        user_dict = load_user_dict(user_dict)
    if target.exists() and not is_sharded(target) and any(target.iterdir()):
        raise DirectoryInUseError(
            f"{target} exists and is not a sharded zhsearch index (zhsearch never replaces a directory it did not create)",
            path=str(target),
        )
    target.mkdir(parents=True, exist_ok=True)
    with WriteLock(target, wait=wait):
        old = read_manifest(target) if is_sharded(target) else None
        n = shards or (len(old.shards) if old is not None else 4)
        if n < 1 or n > 999:
            raise ZhsearchError(f"the number of shards must be between 1 and 999, not {n}")
        fresh = old is None or rebuild
        if not fresh and old is not None and n != len(old.shards):
            raise IndexMismatchError(
                f"the index at {target} has {len(old.shards)} shards, not {n}; a rebuild changes the number",
                index_dir=str(target),
                shards=n,
            )
        if not fresh and old is not None:
            _check_settings(target, old, user_dict)
        _remove_leftovers(target, old)
        generation = (old.generation if old is not None else 0) + 1
        build = uuid.uuid4().hex[:8]
        files = collect_files(path_list, target, [])
        if fresh or old is None:
            touched, changed = list(range(n)), [_size(f) for _, f in files]
        else:
            touched, changed = _changed_shards(path_list, files, target, old)
        jobs = [
            _ShardJob(
                k,
                n,
                tuple(str(p) for p in path_list),
                None if fresh or old is None else str(target / old.shards[k].path),
                str(target / f"{shard_name(k)}.g{generation:06d}.{build}"),
                user_dict if fresh else None,
                fresh,
            )
            for k in touched
        ]
        run, done = (_run_local, lambda: None) if cluster is None else _dask_runner(cluster)
        try:
            reports = run(jobs) if jobs else []
        finally:
            done()
        by_shard = dict(zip(touched, reports, strict=True))
        infos = tuple(
            ShardInfo(k, f"{shard_name(k)}.g{generation:06d}.{build}", generation) if k in by_shard else old.shards[k]  # type: ignore[union-attr]
            for k in range(n)
        )
        now = time.time()
        if jobs:
            settings = replace(default_settings(), user_dict=user_dict) if fresh else None
            analyzer = settings.as_dict() if settings is not None else old.analyzer  # type: ignore[union-attr]
            created = now if fresh or old is None else old.created
            write_manifest(target, Manifest(generation, infos, analyzer, SCHEMA_VERSION, created, now))
            _remove_unused(target, infos, old)
    # A JSON-lines file is read by every shard: report it once.
    skipped = {s.path: s for r in reports for s in r.skipped}
    warnings = list(dict.fromkeys(w for r in reports for w in r.warnings))
    indexed = max(len(changed) - len(skipped), 0)
    return IndexReport(
        index_dir=str(target),
        files=len(files),
        files_indexed=indexed,
        files_unchanged=len(files) - len(changed),
        files_removed=sum(r.files_removed for r in reports),
        articles=sum(r.articles for r in reports),
        sections=sum(r.sections for r in reports),
        bytes=sum(changed),
        seconds=time.perf_counter() - started,
        skipped=tuple(Skipped(p, s.reason) for p, s in skipped.items()),
        warnings=tuple(warnings),
    )


def check_shards(paths: list[Path], target: Path):  # -> indexer.build.CheckReport
    """``check_index`` of a sharded index: every shard's files and checksums
    (and its statistics part), then the files under ``paths`` against the
    sources all shards hold.  Read-only, in this process."""
    from zhsearch.indexer.binfile import FormatError
    from zhsearch.indexer.build import CheckReport, Skipped, collect_files, compare_files, known_files
    from zhsearch.indexer.collection import PART, ShardPart
    from zhsearch.indexer.storage import damage, open_index

    manifest = read_manifest(target)
    problems: list[str] = []
    unindexable: list[Skipped] = []
    files = collect_files(paths, target, unindexable)
    opened = []
    for info in manifest.shards:
        folder = target / info.path
        try:
            ix = open_index(folder)
        except (ZhsearchError, OSError) as exc:
            problems.append(f"{info.name} ({info.path}): {exc}")
            continue
        problems += [f"{info.name}: {problem}" for problem in damage(folder, ix, full=True)]
        try:
            ShardPart(folder / PART)
        except FileNotFoundError:
            pass  # built before shards kept statistics parts: searched with a statistics round
        except (OSError, FormatError) as exc:
            problems.append(f"{info.name}: {PART}: {exc}")
        opened.append(ix)
    if problems:
        return CheckReport(index_dir=str(target), files=len(files), damage=tuple(problems))
    known: dict[str, str] = {}
    for ix in opened:
        with ix.reader() as reader:
            for source, digest in known_files(reader).items():
                # A JSON-lines file split across shards is known to each; if
                # they disagree on its content, it changed.
                known[source] = digest if known.get(source, digest) == digest else ""
    return compare_files(target, paths, files, known, unindexable, problems)


def _check_settings(target: Path, old: Manifest, user_dict: UserDict | None) -> None:
    """An update must analyse like the shards were built (the first shard
    speaks for all: they are built with the same settings)."""
    from zhsearch.indexer.schema import recorded_user_dict, user_dict_mismatch
    from zhsearch.indexer.storage import check_compatible, open_index

    first = target / old.shards[0].path
    check_compatible(first)
    problem = user_dict_mismatch(target, recorded_user_dict(open_index(first).schema), user_dict)
    if problem:
        raise problem


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except OSError:
        return 0


def _changed_shards(
    paths: list[Path], files: list[tuple[Path, Path]], target: Path, old: Manifest
) -> tuple[list[int], list[int]]:
    """The shards an update has to touch — those holding or getting an
    article of a new, changed or removed file — and the sizes of the new and
    changed files.  Costs one read of every file (its content hash), as an
    unsharded update does."""
    from zhsearch.indexer.build import known_files, removed_sources
    from zhsearch.indexer.storage import open_index

    n = len(old.shards)
    known: list[dict[str, str]] = []
    for info in old.shards:
        ix = open_index(target / info.path)
        with ix.reader() as reader:
            known.append(known_files(reader))
    # The readers are loaded here, not when a search asks whether an index
    # is sharded (this module's first use in every query process).
    from zhsearch.corpus.readers import JSONL_SUFFIXES, read_bytes, read_file

    holders: dict[str, set[int]] = {}
    for k, sources in enumerate(known):
        for source in sources:
            holders.setdefault(source, set()).add(k)
    touched: set[int] = set()
    changed: list[int] = []
    seen: set[str] = set()
    for root, file in files:
        source = str(file)
        seen.add(source)
        try:
            data = read_bytes(file)
        except ReadError:
            touched |= holders.get(source, {0})  # the build says why it can't be read
            changed.append(0)
            continue
        digest = hashlib.sha1(data).hexdigest()
        had = holders.get(source, set())
        if had and all(known[k][source] == digest for k in had):
            continue
        changed.append(len(data))
        touched |= had
        if file.suffix.lower() in JSONL_SUFFIXES:
            try:
                parts = [(a.id, a.title) for a in read_file(file, root, data=data).articles]
            except ReadError:
                parts = []
            touched |= {shard_of(i, n, title) for i, title in parts} or {0}
        else:
            touched.add(shard_of(_file_article_id(root, file), n))
    for k, sources in enumerate(known):
        if removed_sources(sources, seen, paths):
            touched.add(k)
    return sorted(touched), changed


def _remove_leftovers(target: Path, old: Manifest | None) -> None:
    """Half-built shard copies of builds that died, and shard directories
    of a generation whose manifest was never written."""
    named = {s.path for s in old.shards} if old is not None else set()
    current = old.generation if old is not None else 0
    for entry in target.iterdir():
        if _LEFTOVER.match(entry.name):
            _remove(entry)
        m = _SHARD_DIR.match(entry.name)
        if m is not None and int(m.group(2)) > current and entry.name not in named:
            _remove(entry)


def _remove_unused(target: Path, infos: tuple[ShardInfo, ...], old: Manifest | None) -> None:
    """Shard directories neither this manifest nor the previous one names.
    The previous ones stay one generation: a query under way may still be
    reading them."""
    keep = {s.path for s in infos} | ({s.path for s in old.shards} if old is not None else set())
    for entry in target.iterdir():
        if _SHARD_DIR.match(entry.name) and entry.name not in keep:
            _remove(entry)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
