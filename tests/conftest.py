"""Shared fixtures: the sample index (built once per run) and small throwaway indexes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from zhsearch.indexer.build import build_index

REPO = Path(__file__).resolve().parent.parent
ARTICLES = REPO / "corpus" / "articles"


@pytest.fixture(scope="session", autouse=True)
def _private_default_index(tmp_path_factory: pytest.TempPathFactory):
    """Never let a test touch the per-user default index."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZHSEARCH_INDEX", str(tmp_path_factory.mktemp("default-index") / "index"))
        mp.delenv("ZHSEARCH_DEBUG", raising=False)
        yield


@pytest.fixture(scope="session")
def articles_dir() -> Path:
    return ARTICLES


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the 41 bundled sample articles; read-only for tests."""
    index_dir = tmp_path_factory.mktemp("sample") / "index"
    report = build_index([ARTICLES], index_dir)
    assert report.articles == 41, report
    return index_dir


MakeIndex = Callable[..., Path]


def _write_and_index(docs: Path, index_dir: Path, files: Mapping[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = docs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    build_index([docs], index_dir)
    return index_dir


@pytest.fixture
def make_index(tmp_path: Path) -> MakeIndex:
    """``make_index({"a.txt": "...", "b.md": b"..."}, name="idx") -> index dir``.

    Files go into ``<tmp_path>/<name>-docs`` (str as UTF-8, bytes as is);
    the index is built at ``<tmp_path>/<name>``.
    """

    def make(files: Mapping[str, str | bytes], name: str = "idx") -> Path:
        return _write_and_index(tmp_path / f"{name}-docs", tmp_path / name, files)

    return make


@pytest.fixture(scope="session")
def shared_index(tmp_path_factory: pytest.TempPathFactory) -> MakeIndex:
    """Like ``make_index``, for module- or session-scoped fixtures: each call
    gets a fresh temporary directory named after ``name``."""

    def make(files: Mapping[str, str | bytes], name: str = "idx") -> Path:
        root = tmp_path_factory.mktemp(name)
        return _write_and_index(root / "docs", root / "index", files)

    return make
