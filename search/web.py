"""The HTTP face of zhsearch: a JSON API and a search page, one ASGI app.

:func:`create_app` returns a FastAPI application over one index; uvicorn
runs it (:func:`serve`, behind ``zhsearch serve``), and anyone deploying it
themselves can import ``zhsearch.web:app`` (the index of
``$ZHSEARCH_INDEX``, else the default one) or call the factory.

The API mirrors the library and the CLI's ``--json`` — same names, same
fields: ``/search`` is :meth:`Searcher.search` (a :class:`Results` with its
hits as :meth:`Hit.as_dict`), ``/articles/{id}`` is ``show``, ``/related/{id}``,
``/stats`` and ``/suggest`` (:meth:`Searcher.complete`).  Library errors come
back as ``{"type": "error", "error": message, "error_type": class name}`` with the message the CLI
prints, and a status that fits: 400 for a bad option, 404 for an unknown
article, 503 while there is no index to read (say, mid-rebuild).

The app is read-only: only GET routes, no endpoint touches a file named in
a request, and the page's three static files are read once at start-up.
One :class:`Searcher` answers every request; it picks up each new commit of
``zhsearch index`` by itself (it compares the index generation on every
query), and is reopened whole when the index's meta file changes (a rebuild,
or an update's new timestamp).  Queries run in a worker thread, one at a
time (the Searcher's caches are not shared between threads); answers are
remembered per commit, and the event loop hands out the remembered ones
without waiting for the query being worked on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import swagger_ui_bundle
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from zhsearch.corpus.errors import (
    ArticleNotFoundError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    OptionError,
    ZhsearchError,
)
from zhsearch.indexer.storage import META_FILE, resolve_index_dir

# Limits on what one request may ask for.
MAX_QUERY_CHARS = 256
MAX_LIMIT = 100
MAX_PAGE = 1000
MAX_SUGGESTIONS = 20
# Answers remembered per index generation (pages asked again, the same query
# typed by many people); a new commit starts afresh.
CACHE_ENTRIES = 2048

# The page's own files only: no inline scripts or styles, nothing from elsewhere.
_PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "index.html": "text/html; charset=utf-8",
}


class IndexUnavailableError(ZhsearchError):
    """The index cannot be read right now (missing, or being swapped)."""


def to_json(content: Any) -> bytes:
    """JSON as the CLI writes it: Chinese readable, control characters escaped."""
    from zhsearch.search.output import dumps

    return dumps(content).encode("utf-8")


class JSONUTF8Response(JSONResponse):
    def render(self, content: Any) -> bytes:
        return to_json(content)


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


class _SecurityHeaders:
    """Pure ASGI middleware (Starlette's ``BaseHTTPMiddleware`` costs far more
    per request): no sniffing, no referrer, and the page's script policy on
    everything but FastAPI's doc pages, which load Swagger UI."""

    _common = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
    _policy = (b"content-security-policy", _PAGE_POLICY.encode())

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(self._common)
        if not scope["path"].startswith(("/docs", "/redoc")):
            extra.append(self._policy)

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def status_for(exc: Exception) -> int:
    """The HTTP status of a library error."""
    if isinstance(exc, ArticleNotFoundError):
        return 404
    if isinstance(exc, IndexNotFoundError | IndexMismatchError | IndexLockedError | IndexUnavailableError):
        return 503
    if isinstance(exc, OptionError | ZhsearchError):
        return 400
    return 500


def _meta_stamp(index_dir: Path) -> tuple[int, int] | None:
    from zhsearch.indexer.shards import MANIFEST

    try:
        # A sharded index's manifest is replaced by every update and rebuild.
        st = os.stat(index_dir / MANIFEST) if (index_dir / MANIFEST).exists() else os.stat(index_dir / META_FILE)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


class IndexHandle:
    """The app's one :class:`Searcher`, reopened when the index is replaced,
    and the answers it gave for the current commit.

    The Searcher's caches are not shared between threads, so one worker
    thread does all its work, in the order asked (first come, first served);
    the event loop itself only hands out answers already known for the
    current commit, and the page's files, so those never wait behind a slow
    query.
    """

    def __init__(
        self, index_dir: str | os.PathLike[str] | None, cache_entries: int = CACHE_ENTRIES, cluster: Any = None
    ) -> None:
        self.index_dir = resolve_index_dir(index_dir)
        self.cluster = cluster
        self._searcher: Any = None
        self._stamp: tuple[int, int] | None = None
        self._stale = False
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zhsearch-searcher")
        # Replaced, never changed in place, when the commit changes: the
        # event loop reads it while a worker thread fills it.
        self._cache: dict[tuple[Any, ...], bytes] = {}
        self._cache_entries = cache_entries
        self._version: tuple[Any, ...] | None = None
        self.hits = self.misses = 0

    def _known_version(self) -> tuple[Any, ...] | None:
        """The current commit, if the open Searcher can tell cheaply (a stat
        and a directory listing)."""
        searcher = self._searcher
        if searcher is None or self._stale:
            return None
        try:
            return (_meta_stamp(self.index_dir), searcher.generation())
        except Exception:  # noqa: BLE001 - let the worker thread find out what is wrong
            return None

    async def cached(self, key: tuple[Any, ...], answer: Callable[[Any], Any]) -> Response:
        """The JSON of ``answer(searcher)``, remembered for this commit (the
        ``X-Cache`` header says whether it was)."""
        version = self._known_version()
        body = self._cache.get(key) if version is not None and version == self._version else None
        hit = body is not None
        if body is None:
            body, hit = await self._in_worker(self._answer, key, answer)
        if hit:
            self.hits += 1
        else:
            self.misses += 1
        return Response(body, media_type="application/json", headers={"X-Cache": "hit" if hit else "miss"})

    async def _in_worker(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)

    def _answer(self, key: tuple[Any, ...], answer: Callable[[Any], Any]) -> tuple[bytes, bool]:
        searcher = self.get()
        version = (self._stamp, searcher.generation())
        if version != self._version:
            if self._version is not None:
                self.warm()
            self._cache, self._version = {}, version
        body = self._cache.get(key)
        if body is not None:  # asked again while this request waited
            return body, True
        body = to_json(answer(searcher))
        if self._cache_entries:
            if len(self._cache) >= self._cache_entries:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = body
        return body, False

    async def run(self, fn: Callable[[Any], Any]) -> Any:
        """``fn(searcher)`` in the worker thread."""
        return await self._in_worker(lambda: fn(self.get()))

    def get(self):  # -> Searcher; only in the worker thread
        from zhsearch.search.searcher import Searcher

        stamp = _meta_stamp(self.index_dir)
        if self._searcher is None or self._stale or stamp != self._stamp:
            fresh = Searcher(self.index_dir, cluster=self.cluster)
            if self._searcher is not None:
                self._searcher.close()
            self._searcher, self._stamp, self._stale = fresh, stamp, False
        return self._searcher

    def warm(self) -> None:
        """Prepare the current snapshot in the background — its article
        columns and pinyin index, which the first completion or did-you-mean
        would otherwise wait for (seconds on a large index)."""

        def prepare() -> None:
            try:
                self.get().complete("zh")
            except Exception:  # noqa: BLE001 - a query will report what is wrong
                pass

        self._worker.submit(prepare)

    def invalidate(self) -> None:
        """Reopen the index before the next query (its files changed under it)."""
        self._stale = True


def results_dict(results: Any, *, terms: bool = False) -> dict[str, Any]:
    """A :class:`Results` as ``zhsearch search --format json`` prints it: a
    ``results`` record (the summary's fields) with its ``hit`` records."""
    from zhsearch.search.output import results_document

    return results_document(results, terms=terms)


def article_dict(article: Any, highlights: dict[int, list[list[int]]] | None = None) -> dict[str, Any]:
    """An article as ``zhsearch show --json`` prints it; with ``highlights``
    each section also lists the ``[start, end]`` spans of the query's matches."""
    sections = []
    for s in article.sections:
        d: dict[str, Any] = {"index": s.index, "level": s.level, "heading": s.heading, "path": list(s.path)}
        d["text"] = s.text
        if highlights is not None:
            d["highlights"] = highlights.get(s.index, [])
        sections.append(d)
    return {"type": "article", "id": article.id, "title": article.title, "meta": article.meta, "sections": sections}


def _article(searcher: Any, article_id: str, section: int | None, q: str) -> dict[str, Any]:
    """``/articles``: the article (or one section), the matches of ``q`` marked."""
    from zhsearch.search.snippets import find_matches, merge_spans

    found = searcher.article(article_id)
    if section is not None:
        chosen = tuple(s for s in found.sections if s.index == section)
        if not chosen:
            have = ", ".join(str(s.index) for s in found.sections)
            raise ArticleNotFoundError(f"article {article_id!r} has no section {section}; its sections are {have}")
        found = type(found)(found.id, found.title, chosen, found.meta)
    marks = None
    if q.strip():
        parsed = searcher.parse(q)
        marks = {
            s.index: [
                list(span)
                for span in merge_spans(
                    (a, b) for a, b, _ in find_matches(s.text, parsed.terms, parsed.phrases, searcher.settings)
                )
            ]
            for s in found.sections
        }
    return article_dict(found, marks)


def _check_query(q: str, name: str = "q") -> str:
    if len(q) > MAX_QUERY_CHARS:
        raise OptionError(f"{name} is {len(q)} characters long; at most {MAX_QUERY_CHARS} are searched")
    return q


def _static(name: str) -> bytes:
    return resources.files("zhsearch.search").joinpath("static", name).read_bytes()


def create_app(
    index_dir: str | os.PathLike[str] | None = None, *, cache_entries: int = CACHE_ENTRIES, cluster: Any = None
) -> FastAPI:
    """The ASGI app serving the index at ``index_dir`` (default: as the CLI's);
    ``cache_entries`` answers are remembered per commit (0: none).  A
    sharded index is searched on the Dask cluster ``cluster`` (default:
    ``$ZHSEARCH_CLUSTER``; none: shard after shard in this process)."""

    from zhsearch import __version__

    handle = IndexHandle(index_dir, cache_entries, cluster or os.environ.get("ZHSEARCH_CLUSTER") or None)
    files = {name: _static(name) for name in _STATIC}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        handle.warm()
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="zhsearch",
        version=__version__,
        description="Full-text search of Chinese articles: the same operations and fields as the zhsearch library.",
        default_response_class=JSONUTF8Response,
        # The doc page's Swagger UI comes from the swagger-ui-bundle package,
        # not a CDN: the server works on a machine without a network.
        docs_url=None,
        redoc_url=None,
    )
    app.state.index = handle
    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="zhsearch API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )

    @app.exception_handler(ZhsearchError)
    async def library_error(request: Request, exc: ZhsearchError) -> Response:
        from zhsearch.search.cli import hint

        headers = {"Retry-After": "1"} if status_for(exc) == 503 else None
        # The message as the CLI prints it: with the command that fixes it.
        action = hint(exc)
        message = f"{exc}; {action}" if action else str(exc)
        return JSONUTF8Response(
            {"type": "error", "error": message, "error_type": type(exc).__name__},
            status_code=status_for(exc),
            headers=headers,
        )

    @app.exception_handler(OSError)
    async def read_error(request: Request, exc: OSError) -> Response:
        # A file vanished under a reader: an index swapped without an atomic exchange.
        handle.invalidate()
        error = IndexUnavailableError(f"the index at {handle.index_dir} is being replaced ({exc}); retry shortly")
        return await library_error(request, error)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        # As the CLI says it: one line, no traceback to the client.
        message = f"internal error: {type(exc).__name__}: {exc}"
        return JSONUTF8Response({"type": "error", "error": message, "error_type": "InternalError"}, status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return JSONUTF8Response(
            {"type": "error", "error": str(exc.detail), "error_type": "HTTPError"},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        return JSONUTF8Response(
            {"type": "error", "error": f"invalid parameter {problems}", "error_type": "OptionError"}, status_code=400
        )

    app.add_middleware(_SecurityHeaders)

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return Response(files["index.html"], media_type=_STATIC["index.html"])

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in _STATIC or name == "index.html":
            return JSONUTF8Response(
                {"type": "error", "error": f"no static file {name!r}", "error_type": "HTTPError"}, status_code=404
            )
        return Response(files[name], media_type=_STATIC[name], headers={"Cache-Control": "no-cache"})

    @app.get("/search", summary="Search the articles (Searcher.search)")
    async def search(
        q: str = Query("", description="The query, as typed at `zhsearch search`."),
        limit: int = Query(10, ge=1, le=MAX_LIMIT, description="Hits per page."),
        page: int = Query(1, ge=1, le=MAX_PAGE, description="Page of results."),
        category: Annotated[
            list[str] | None, Query(description="Only these categories (repeat for either of several).")
        ] = None,
        author: Annotated[list[str] | None, Query(description="Only these authors.")] = None,
        tag: Annotated[list[str] | None, Query(description="Only articles with one of these tags.")] = None,
        since: str | None = Query(None, description="Dated on or after (YYYY-MM-DD, YYYY-MM or YYYY)."),
        until: str | None = Query(None, description="Dated on or before."),
        facet: Annotated[
            list[str] | None, Query(description="Count matches per category, author, tag or year.")
        ] = None,
        sort: str = Query("score", description="score (best first) or date (newest first)."),
        snippets: bool = Query(True, description="Make snippets (false: the ranking only)."),
        correct: bool = Query(
            False, description="Show a did-you-mean correction's results when it finds clearly more (`corrected`)."
        ),
        prior: bool = Query(
            True,
            description="The document-level prior: a national law before the local regulations and "
            "interpretations repeating it, unless the query names their place or kind (false: off).",
        ),
    ) -> Response:
        q = _check_query(q)
        options: dict[str, Any] = {
            "limit": limit,
            "page": page,
            "snippets": snippets,
            "category": tuple(category or ()),
            "author": tuple(author or ()),
            "tag": tuple(tag or ()),
            "since": since or None,
            "until": until or None,
            "facets": tuple(facet or ()),
            "sort": sort,
            "correct": correct,
            "prior": prior,
        }
        key = ("search", q, *options.values())
        return await handle.cached(key, lambda s: results_dict(s.search(q, **options)))

    @app.get("/articles/{article_id:path}", summary="One article (show)")
    async def article(
        article_id: str,
        section: int | None = Query(None, ge=0, description="Only the section with this index."),
        q: str = Query("", description="Mark this query's matches in every section (`highlights`)."),
    ) -> Response:
        q = _check_query(q)
        return _json(to_json(await handle.run(lambda searcher: _article(searcher, article_id, section, q))))

    @app.get("/related/{article_id:path}", summary="Articles like this one (related)")
    async def related(article_id: str, limit: int = Query(5, ge=1, le=MAX_LIMIT)) -> Response:
        key = ("related", article_id, limit)
        return await handle.cached(key, lambda s: results_dict(s.related(article_id, limit=limit), terms=True))

    @app.get("/stats", summary="What the index holds (stats)")
    async def stats() -> Response:
        from zhsearch.search.output import iso_time

        st = await handle.run(lambda s: s.stats())
        return _json(to_json({"type": "stats", **st.__dict__, "updated": iso_time(st.updated)}))

    @app.get("/suggest", summary="Completions as you type (Searcher.complete)")
    async def suggest(
        q: str = Query("", description="What is typed so far; Latin letters are also read as pinyin."),
        limit: int = Query(8, ge=1, le=MAX_SUGGESTIONS),
    ) -> Response:
        q = _check_query(q)
        key = ("suggest", q, limit)
        return await handle.cached(
            key, lambda s: {"query": q, "suggestions": [c.as_dict() for c in s.complete(q, limit)]}
        )

    return app


def serve(
    index_dir: str | os.PathLike[str] | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    workers: int = 1,
    ready: Any = None,
    cluster: Any = None,
) -> None:
    """Serve the index at ``index_dir`` over HTTP until interrupted.

    Binds ``host`` (loopback unless told otherwise).  The index must exist;
    it is opened first so a bad one fails here, not at the first request.
    ``ready`` is called with the page's URL once the server listens.
    ``workers`` > 1 runs that many processes (each with its own Searcher).
    A sharded index is searched on the Dask cluster ``cluster`` if given
    (a scheduler address).
    """
    import uvicorn
    from zhsearch.search.searcher import Searcher

    target = resolve_index_dir(index_dir)
    Searcher(target, cluster=cluster).close()
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
    config: dict[str, Any] = {"host": host, "port": port, "log_level": "warning", "access_log": False}
    if workers > 1:
        os.environ["ZHSEARCH_INDEX"] = str(target)
        if cluster is not None:
            os.environ["ZHSEARCH_CLUSTER"] = str(cluster)
        if ready is not None:
            ready(url)
        uvicorn.run("zhsearch.web:app", workers=workers, **config)
        return
    server = uvicorn.Server(uvicorn.Config(create_app(target, cluster=cluster), **config))
    if ready is not None:
        original = server.startup

        async def startup(sockets: Any = None) -> None:
            await original(sockets)
            if server.started:
                # The port actually bound (port 0 asks the system for a free one).
                bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
                ready(url.rsplit(":", 1)[0] + f":{bound}/")

        server.startup = startup  # type: ignore[method-assign]
    server.run()
