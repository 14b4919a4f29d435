"""The HTTP face of zhsearch: a JSON API and a search page, one ASGI app.

:func:`create_app` returns a FastAPI application over one index; uvicorn
runs it (:func:`serve`, behind ``zhsearch serve``), and anyone deploying it
themselves can import ``zhsearch.web:app`` (the index of
``$ZHSEARCH_INDEX``, else the default one) or call the factory.

The API mirrors the library and the CLI's ``--json`` — same names, same
fields: ``/search`` is :meth:`Searcher.search` (a :class:`Results` with its
hits as :meth:`Hit.as_dict`), ``/articles/{id}`` is ``show``, ``/related/{id}``,
``/stats`` and ``/suggest`` (:meth:`Searcher.complete`).  Library errors come
back as ``{"error": message, "type": class name}`` with the message the CLI
prints, and a status that fits: 400 for a bad option, 404 for an unknown
article, 503 while there is no index to read (say, mid-rebuild).

The app is read-only: only GET routes, no endpoint touches a file named in
a request, and the page's three static files are read once at start-up.
One :class:`Searcher` answers every request; it picks up each new commit of
``zhsearch index`` by itself (it compares the index generation on every
query), and is reopened whole when the index's meta file changes (a rebuild,
or an update's new timestamp).  Requests run on the event loop, one at a
time: the work is CPU-bound Python, and the Searcher's caches are not
shared between threads.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import fields
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
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
    """JSON with Chinese left readable, like the CLI's ``--json``."""
    return json.dumps(content, ensure_ascii=False, default=str, separators=(",", ":")).encode("utf-8")


class JSONUTF8Response(JSONResponse):
    def render(self, content: Any) -> bytes:
        return to_json(content)


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


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
    try:
        st = os.stat(index_dir / META_FILE)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


class IndexHandle:
    """The app's one :class:`Searcher`, reopened when the index is replaced,
    and the answers it gave for the current commit."""

    def __init__(self, index_dir: str | os.PathLike[str] | None, cache_entries: int = CACHE_ENTRIES) -> None:
        self.index_dir = resolve_index_dir(index_dir)
        self._searcher: Any = None
        self._stamp: tuple[int, int] | None = None
        self._cache: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._cache_entries = cache_entries
        self._version: tuple[Any, ...] = ()
        self.hits = self.misses = 0

    def cached(self, key: tuple[Any, ...], answer: Callable[[Any], Any]) -> bytes:
        """The JSON of ``answer(searcher)``, remembered for this commit."""
        searcher = self.get()
        version = (self._stamp, searcher.generation())
        if version != self._version:
            self._cache.clear()
            self._version = version
        body = self._cache.get(key)
        if body is not None:
            self.hits += 1
            self._cache.move_to_end(key)
            return body
        self.misses += 1
        body = to_json(answer(searcher))
        if self._cache_entries:
            self._cache[key] = body
            if len(self._cache) > self._cache_entries:
                self._cache.popitem(last=False)
        return body

    def get(self):  # -> Searcher
        from zhsearch.search.searcher import Searcher

        stamp = _meta_stamp(self.index_dir)
        if self._searcher is None or stamp != self._stamp:
            fresh = Searcher(self.index_dir)
            if self._searcher is not None:
                self._searcher.close()
            self._searcher, self._stamp = fresh, stamp
        return self._searcher

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None


def results_dict(results: Any) -> dict[str, Any]:
    """A :class:`Results` as JSON: its fields, ``pages``, and the hits as
    :meth:`Hit.as_dict` (the records of ``zhsearch search --json``)."""
    out = {f.name: getattr(results, f.name) for f in fields(results) if f.name != "hits"}
    out["pages"] = results.pages
    out["hits"] = [hit.as_dict() for hit in results.hits]
    return out


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


def _check_query(q: str, name: str = "q") -> str:
    if len(q) > MAX_QUERY_CHARS:
        raise OptionError(f"{name} is {len(q)} characters long; at most {MAX_QUERY_CHARS} are searched")
    return q


def _static(name: str) -> bytes:
    return resources.files("zhsearch.search").joinpath("static", name).read_bytes()


def create_app(index_dir: str | os.PathLike[str] | None = None, *, cache_entries: int = CACHE_ENTRIES) -> FastAPI:
    """The ASGI app serving the index at ``index_dir`` (default: as the CLI's);
    ``cache_entries`` answers are remembered per commit (0: none)."""
    from zhsearch.search.snippets import find_matches, merge_spans

    from zhsearch import __version__

    handle = IndexHandle(index_dir, cache_entries)
    files = {name: _static(name) for name in _STATIC}
    app = FastAPI(
        title="zhsearch",
        version=__version__,
        description="Full-text search of Chinese articles: the same operations and fields as the zhsearch library.",
        default_response_class=JSONUTF8Response,
    )
    app.state.index = handle

    @app.exception_handler(ZhsearchError)
    async def library_error(request: Request, exc: ZhsearchError) -> Response:
        headers = {"Retry-After": "1"} if status_for(exc) == 503 else None
        return JSONUTF8Response(
            {"error": str(exc), "type": type(exc).__name__}, status_code=status_for(exc), headers=headers
        )

    @app.exception_handler(OSError)
    async def read_error(request: Request, exc: OSError) -> Response:
        # A file vanished under a reader: an index swapped without an atomic exchange.
        handle.close()
        error = IndexUnavailableError(f"the index at {handle.index_dir} is being replaced ({exc}); retry shortly")
        return await library_error(request, error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return JSONUTF8Response(
            {"error": str(exc.detail), "type": "HTTPError"}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        return JSONUTF8Response({"error": f"invalid parameter {problems}", "type": "OptionError"}, status_code=400)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if not request.url.path.startswith(("/docs", "/redoc")):  # FastAPI's doc pages load Swagger UI
            response.headers["Content-Security-Policy"] = _PAGE_POLICY
        return response

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return Response(files["index.html"], media_type=_STATIC["index.html"])

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in _STATIC or name == "index.html":
            return JSONUTF8Response({"error": f"no static file {name!r}", "type": "HTTPError"}, status_code=404)
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
        }
        key = ("search", q, *options.values())
        return _json(handle.cached(key, lambda s: results_dict(s.search(q, **options))))

    @app.get("/articles/{article_id:path}", summary="One article (show)")
    async def article(
        article_id: str,
        section: int | None = Query(None, ge=0, description="Only the section with this index."),
        q: str = Query("", description="Mark this query's matches in every section (`highlights`)."),
    ) -> Response:
        searcher = handle.get()
        found = searcher.article(article_id)
        if section is not None:
            chosen = tuple(s for s in found.sections if s.index == section)
            if not chosen:
                have = ", ".join(str(s.index) for s in found.sections)
                raise ArticleNotFoundError(f"article {article_id!r} has no section {section}; its sections are {have}")
            found = type(found)(found.id, found.title, chosen, found.meta)
        marks = None
        if q.strip():
            parsed = searcher.parse(_check_query(q))
            marks = {
                s.index: [
                    list(span)
                    for span in merge_spans(
                        (a, b) for a, b, _ in find_matches(s.text, parsed.terms, parsed.phrases, searcher.settings)
                    )
                ]
                for s in found.sections
            }
        return _json(to_json(article_dict(found, marks)))

    @app.get("/related/{article_id:path}", summary="Articles like this one (related)")
    async def related(article_id: str, limit: int = Query(5, ge=1, le=MAX_LIMIT)) -> Response:
        key = ("related", article_id, limit)
        return _json(handle.cached(key, lambda s: results_dict(s.related(article_id, limit=limit))))

    @app.get("/stats", summary="What the index holds (stats)")
    async def stats() -> Response:
        from zhsearch.search.output import iso_time

        st = handle.get().stats()
        return _json(to_json({"type": "stats", **st.__dict__, "updated": iso_time(st.updated)}))

    @app.get("/suggest", summary="Completions as you type (Searcher.complete)")
    async def suggest(
        q: str = Query("", description="What is typed so far; Latin letters are also read as pinyin."),
        limit: int = Query(8, ge=1, le=MAX_SUGGESTIONS),
    ) -> Response:
        q = _check_query(q)
        key = ("suggest", q, limit)
        return _json(
            handle.cached(key, lambda s: {"query": q, "suggestions": [c.as_dict() for c in s.complete(q, limit)]})
        )

    return app


def serve(
    index_dir: str | os.PathLike[str] | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    workers: int = 1,
    ready: Any = None,
) -> None:
    """Serve the index at ``index_dir`` over HTTP until interrupted.

    Binds ``host`` (loopback unless told otherwise).  The index must exist;
    it is opened first so a bad one fails here, not at the first request.
    ``ready`` is called with the page's URL once the server listens.
    ``workers`` > 1 runs that many processes (each with its own Searcher).
    """
    import uvicorn
    from zhsearch.search.searcher import Searcher

    target = resolve_index_dir(index_dir)
    Searcher(target).close()
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
    config: dict[str, Any] = {"host": host, "port": port, "log_level": "warning", "access_log": False}
    if workers > 1:
        os.environ["ZHSEARCH_INDEX"] = str(target)
        if ready is not None:
            ready(url)
        uvicorn.run("zhsearch.web:app", workers=workers, **config)
        return
    server = uvicorn.Server(uvicorn.Config(create_app(target), **config))
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
