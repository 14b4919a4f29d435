"""Settings from TOML files, so options need not be repeated on every command.

A config file sets any of ``index``, ``synonyms``, ``user_dict`` (paths,
relative to the file's own directory), ``limit`` (hits per page),
``color`` (``auto``, ``always``, ``never``) and ``prior`` (``true`` or
``false``: the document-level prior of ``search.authority``)::

    index = "~/notes/zhsearch-index"
    synonyms = "synonyms.txt"
    limit = 5

Values are taken from, the first that has one winning:

1. the command-line option;
2. the file named by ``$ZHSEARCH_CONFIG``;
3. ``zhsearch.toml`` in the index directory (settings for that index; it
   cannot name another index);
4. ``config.toml`` in the per-user config directory (``~/.config/zhsearch``
   on Linux);
5. the environment: ``$ZHSEARCH_INDEX`` for the index; ``NO_COLOR`` and
   ``FORCE_COLOR`` for colour (as https://no-color.org asks, a config file
   or option overrides them);
6. the built-in default.

:func:`config` reports every value with where it came from (``zhsearch
config``).  Files are parsed with :mod:`tomllib` (``tomli`` on Python 3.10),
as data only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zhsearch.corpus.errors import ConfigError

INDEX_CONFIG = "zhsearch.toml"
USER_CONFIG = "config.toml"
KEYS = ("index", "synonyms", "user_dict", "limit", "color", "prior")
PATH_KEYS = ("index", "synonyms", "user_dict")
COLORS = ("auto", "always", "never")
DEFAULT_LIMIT = 10


@dataclass(frozen=True)
class Setting:
    """One value in effect and where it came from (``--limit option``, a
    file path, ``$ZHSEARCH_INDEX``, ``default``)."""

    name: str
    value: Any
    source: str


@dataclass(frozen=True)
class Config:
    """The settings in effect, and the config files looked at."""

    settings: tuple[Setting, ...]
    # (path, found) for every file consulted, highest precedence first.
    files: tuple[tuple[str, bool], ...]

    def __getitem__(self, name: str) -> Any:
        return self.setting(name).value

    def setting(self, name: str) -> Setting:
        for s in self.settings:
            if s.name == name:
                return s
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "settings": {s.name: {"value": s.value, "source": s.source} for s in self.settings},
            "files": [{"path": p, "found": found} for p, found in self.files],
        }


def user_config_path() -> Path:
    """``config.toml`` in the per-user config directory."""
    import click

    return Path(click.get_app_dir("zhsearch")) / USER_CONFIG


def read_config_file(path: str | os.PathLike[str], *, in_index: bool = False) -> dict[str, Any]:
    """The settings in one TOML file, paths made absolute; a missing file
    has none.  Raises :class:`ConfigError` naming the file and the problem."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_file():  # a directory, a FIFO that would block
        raise ConfigError(f"config file {p} is not a regular file")
    try:
        f = open(p, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror or exc}") from None
    # Imported only when there is a file: most runs have none (cold start).
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with f:
            raw = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from None
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise ConfigError(f"config file {p}: unknown setting {unknown[0]!r}; the settings are {', '.join(KEYS)}")
    if in_index and "index" in raw:
        raise ConfigError(f"config file {p} is inside an index and cannot name another index; remove its 'index' line")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        values[key] = _check(p, key, value)
    return values


def _check(path: Path, key: str, value: Any) -> Any:
    where = f"config file {path}: {key}"
    if key in PATH_KEYS:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where} must be a path in quotes")
        return str((path.parent / Path(value).expanduser()).absolute())
    if key == "limit":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
            raise ConfigError(f"{where} must be a whole number from 1 to 1000")
        return value
    if key == "prior":
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false")
        return value
    if value not in COLORS:
        raise ConfigError(f"{where} must be one of {', '.join(COLORS)}")
    return value


def config(index_dir: str | os.PathLike[str] | None = None, **options: Any) -> Config:
    """The settings in effect: ``options`` (``index_dir``, ``synonyms``,
    ``user_dict``, ``limit``, ``color``, ``prior``; ``None`` means not given) over the
    config files over the environment and defaults (see the module notes)."""
    from zhsearch.indexer.storage import default_index_dir

    given = {k: v for k, v in {"index": index_dir, **options}.items() if v is not None}
    unknown = sorted(set(given) - set(KEYS))
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}; the settings are {', '.join(KEYS)}")
    env_file = os.environ.get("ZHSEARCH_CONFIG")
    user_file = user_config_path()
    env_values = read_config_file(env_file) if env_file else {}
    user_values = read_config_file(user_file)
    layers: list[tuple[str, Mapping[str, Any]]] = [
        ("option", {k: str(Path(v).expanduser().absolute()) if k in PATH_KEYS else v for k, v in given.items()}),
    ]
    if env_file:
        layers.append((str(Path(env_file).expanduser()), env_values))
    files: list[tuple[str, bool]] = []
    if env_file:
        files.append((str(Path(env_file).expanduser()), Path(env_file).expanduser().is_file()))

    # The index is needed first: its directory may hold more settings.
    index = _first("index", [*layers, (str(user_file), user_values)])
    if index is None:
        env_index = os.environ.get("ZHSEARCH_INDEX")
        index = Setting("index", str(default_index_dir()), "$ZHSEARCH_INDEX" if env_index else "default")
    index_file = Path(index.value) / INDEX_CONFIG
    layers.append((str(index_file), read_config_file(index_file, in_index=True)))
    layers.append((str(user_file), user_values))
    files += [(str(index_file), index_file.is_file()), (str(user_file), user_file.is_file())]

    settings = [index]
    for key in KEYS[1:]:
        found = _first(key, layers)
        if found is None:
            found = _default(key)
        settings.append(found)
    return Config(tuple(settings), tuple(files))


def _first(key: str, layers: list[tuple[str, Mapping[str, Any]]]) -> Setting | None:
    for source, values in layers:
        if key in values:
            label = f"--{key.replace('_', '-')} option" if source == "option" else source
            return Setting(key, values[key], label)
    return None


def _default(key: str) -> Setting:
    if key == "limit":
        return Setting(key, DEFAULT_LIMIT, "default")
    if key == "prior":
        from zhsearch.search.authority import ON_BY_DEFAULT

        return Setting(key, ON_BY_DEFAULT, "default")
    if key == "color":
        if os.environ.get("NO_COLOR"):
            return Setting(key, "never", "$NO_COLOR")
        if os.environ.get("FORCE_COLOR", "0") not in ("", "0"):
            return Setting(key, "always", "$FORCE_COLOR")
        return Setting(key, "auto", "default")
    return Setting(key, None, "default")
