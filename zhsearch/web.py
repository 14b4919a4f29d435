"""The zhsearch web app for ASGI servers: ``uvicorn zhsearch.web:app``.

``app`` serves the index of ``$ZHSEARCH_INDEX`` (else the default one);
``create_app(index_dir)`` makes one for another index.  See
:mod:`zhsearch.search.web`.
"""

from __future__ import annotations

from typing import Any

from zhsearch.search.web import create_app, serve

__all__ = ["app", "create_app", "serve"]  # noqa: F822 - app is made by __getattr__


def __getattr__(name: str) -> Any:
    # Made on first use, so importing create_app does not touch any index.
    if name == "app":
        value = create_app()
        globals()["app"] = value
        return value
    raise AttributeError(f"module 'zhsearch.web' has no attribute {name!r}")
