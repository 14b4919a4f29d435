"""What zhsearch prints: terminal-safe text and typed JSON records.

Text read from article files (ids, titles, authors, dates, tags, file names)
may carry control characters: an ESC sequence can clear a screen or forge a
hyperlink, U+009B is a one-character CSI on some terminals, and U+202E turns
the rest of a line around.  :func:`clean` removes them from everything the
CLI prints as text; :func:`dumps` escapes them in JSON (``\\u001b``), so a
JSON record shown raw in a terminal is harmless too and a JSON parser still
gets the exact text.

JSON output is made of *records*, each a dict whose ``"type"`` says what it
is, so a consumer of a JSON Lines stream can dispatch on it:

``hit``
    one result (:meth:`Hit.as_dict` plus ``type``) of ``search`` or ``related``;
``summary``
    the result list as a whole: ``query``, ``total``, ``total_exact``
    (false when ``total`` is an estimate), ``page``, ``pages``,
    ``limit``, ``seconds``, ``notices``, ``suggestion``, ``corrected``,
    ``facets`` (and ``terms`` for ``related``); printed first;
``article``, ``stats``, ``index``, ``check``, ``remove``, ``eval``, ``config``
    the one object the command of that name reports.

``--json`` prints records one a line (JSON Lines); ``--format json`` prints
one document: ``{"type": "results", **summary, "hits": [...]}`` for result
lists, the record itself otherwise.  The HTTP API uses the same shapes.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

# C0 controls but tab and newline, DEL, C1 controls, and the bidi
# embedding/override/isolate marks (LRM/RLM/ALM too: they reorder text).
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE_RE = re.compile(f"[{_UNSAFE}]")
_UNSAFE_LINE_RE = re.compile(f"[{_UNSAFE}\t\n]")
_UNSAFE_JSON_RE = re.compile(f"[{_UNSAFE}\u2028\u2029]")

FORMATS = ("text", "jsonl", "json")


def clean(text: object, *, one_line: bool = True) -> str:
    """``text`` with no character that could steer a terminal.

    ``one_line`` (for ids, titles, metadata and file names) also turns tabs
    and line breaks into spaces; without it (article text) they stay.
    """
    s = text if isinstance(text, str) else str(text)
    return (_UNSAFE_LINE_RE if one_line else _UNSAFE_RE).sub(" " if one_line else "", s)


def dumps(record: Any) -> str:
    """One JSON text with non-ASCII kept readable but every control and
    bidi character escaped (JSON itself only requires C0 to be)."""
    text = json.dumps(record, ensure_ascii=False, default=str)
    return _UNSAFE_JSON_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def iso_time(timestamp: float) -> str:
    """A Unix time as ISO 8601 in UTC (``2026-12-01T19:06:32Z``)."""
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def hit_record(hit: Any) -> dict[str, Any]:
    """A :class:`~zhsearch.search.searcher.Hit` as a ``hit`` record."""
    return {"type": "hit", **hit.as_dict()}


def summary_record(results: Any, *, terms: bool = False) -> dict[str, Any]:
    """What a :class:`~zhsearch.search.searcher.Results` says beyond its hits;
    with ``terms``, the words compared (``related``)."""
    record: dict[str, Any] = {
        "type": "summary",
        "query": results.query,
        "total": results.total,
        "total_exact": getattr(results, "total_exact", True),
        "page": results.page,
        "pages": results.pages,
        "limit": results.limit,
        "shown": len(results.hits),
        "seconds": round(results.seconds, 4),
        "notices": list(results.notices),
        "suggestion": results.suggestion,
        "corrected": getattr(results, "corrected", None),
        "facets": results.facets,
    }
    if terms:
        record["terms"] = list(results.terms)
    return record


def results_records(results: Any, *, terms: bool = False) -> list[dict[str, Any]]:
    """The JSON Lines of a result list: the summary, then one record per hit."""
    return [summary_record(results, terms=terms), *(hit_record(h) for h in results.hits)]


def results_document(results: Any, *, terms: bool = False) -> dict[str, Any]:
    """A result list as one JSON document (``--format json``)."""
    summary = summary_record(results, terms=terms)
    summary["type"] = "results"
    return {**summary, "hits": [hit_record(h) for h in results.hits]}


def record(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """A report of one command as a record of type ``kind``."""
    return {"type": kind, **data}


def render_snippet(snippet: str, highlights: Any, markers: tuple[str, str] = ("[", "]")) -> str:
    """A snippet with its highlights wrapped in ``markers``, cleaned piece by
    piece so the offsets still fit and the markers (colour codes) survive."""
    out: list[str] = []
    pos = 0
    for start, end in highlights:
        out.append(clean(snippet[pos:start]))
        out.append(f"{markers[0]}{clean(snippet[start:end])}{markers[1]}")
        pos = end
    out.append(clean(snippet[pos:]))
    return "".join(out)
