"""Config files: where settings come from, which one wins, bad files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from zhsearch.corpus.errors import ConfigError
from zhsearch.search.cli import main
from zhsearch.search.config import config


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


ARTICLES = {f"a{i}.txt": f"逾期第{i}篇\n\n网贷逾期以后的第{i}件事。\n" for i in range(4)}


@pytest.fixture(scope="module")
def small_index(shared_index) -> Path:
    return shared_index(ARTICLES, "config")


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_index: Path) -> dict[str, Path]:
    """A per-user config directory, an index with its own config, and a
    $ZHSEARCH_CONFIG file, all empty to begin with."""
    home = tmp_path / "home"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("ZHSEARCH_CONFIG", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    user = Path(__import__("click").get_app_dir("zhsearch")) / "config.toml"
    user.parent.mkdir(parents=True)
    index = tmp_path / "index"
    index.symlink_to(small_index, target_is_directory=True)
    return {"user": user, "index": index, "env": tmp_path / "env.toml", "tmp": tmp_path}


def test_defaults_and_where_they_come_from(places, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ZHSEARCH_INDEX", str(places["index"]))
    cfg = config()
    assert cfg.setting("index").source == "$ZHSEARCH_INDEX"
    assert (cfg["limit"], cfg["color"], cfg["synonyms"], cfg["user_dict"]) == (10, "auto", None, None)
    monkeypatch.setenv("NO_COLOR", "1")
    assert config().setting("color").source == "$NO_COLOR" and config()["color"] == "never"


def test_precedence_option_env_file_index_dir_user(places, monkeypatch: pytest.MonkeyPatch):
    tmp = places["tmp"]
    places["user"].write_text(f'index = "{places["index"]}"\nlimit = 2\ncolor = "always"\nsynonyms = "u.txt"\n')
    cfg = config()
    assert cfg["index"] == str(places["index"]) and cfg.setting("index").source == str(places["user"])
    assert cfg["synonyms"] == str(places["user"].parent / "u.txt")  # relative to the file
    (places["index"] / "zhsearch.toml").write_text('limit = 3\nsynonyms = "i.txt"\n')
    try:
        cfg = config()
        assert (cfg["limit"], cfg.setting("limit").source) == (3, str(places["index"] / "zhsearch.toml"))
        assert cfg["color"] == "always"  # only the user file has it
        places["env"].write_text("limit = 4\n")
        monkeypatch.setenv("ZHSEARCH_CONFIG", str(places["env"]))
        cfg = config()
        assert (cfg["limit"], cfg.setting("limit").source) == (4, str(places["env"]))
        assert cfg["synonyms"] == str(places["index"] / "i.txt")
        cfg = config(limit=5)
        assert (cfg["limit"], cfg.setting("limit").source) == (5, "--limit option")
        assert [p for p, _ in cfg.files] == [
            str(places["env"]),
            str(places["index"] / "zhsearch.toml"),
            str(places["user"]),
        ]
        other = tmp / "other"
        assert config(str(other)).setting("index").source == "--index option"
    finally:
        (places["index"] / "zhsearch.toml").unlink()


def test_cli_uses_the_config_and_options_win(places, monkeypatch: pytest.MonkeyPatch):
    places["user"].write_text(f'index = "{places["index"]}"\nlimit = 2\ncolor = "always"\n')
    result = run("search", "逾期")
    assert result.exit_code == 0, result.output
    assert "showing 1-2 " in result.stdout and "\x1b[1;31m" in result.stdout
    plain = run("search", "逾期", "-n", "3", "--color", "never")
    assert "showing 1-3 " in plain.stdout and "\x1b[" not in plain.stdout
    # A config file beats NO_COLOR (https://no-color.org); an option beats both.
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[1;31m" in run("search", "逾期").stdout
    # The configured index is the user's: no sample is built there when it is missing.
    places["user"].write_text(f'index = "{places["tmp"] / "missing"}"\n')
    missing = run("search", "逾期")
    assert missing.exit_code == 2 and "no index at" in missing.stderr
    assert not (places["tmp"] / "missing").exists()


def test_config_command_shows_values_and_sources(places):
    places["user"].write_text(f'index = "{places["index"]}"\nlimit = 7\n')
    result = run("config")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["index", str(places["index"]), str(places["user"])]
    assert lines[3].split() == ["limit", "7", str(places["user"])]
    assert lines[4].split() == ["color", "auto", "default"]
    assert f"  {places['user']}" in lines and f"  {places['index'] / 'zhsearch.toml'}  (not there)" in lines
    data = json.loads(run("config", "--json", "--index", str(places["tmp"])).stdout)
    assert data["type"] == "config"
    assert data["settings"]["index"] == {"value": str(places["tmp"]), "source": "--index option"}
    assert data["settings"]["limit"] == {"value": 7, "source": str(places["user"])}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("limit = ", "is not valid TOML"),
        ("limt = 3", "unknown setting 'limt'; the settings are index, synonyms, user_dict, limit, color, prior"),
        ("limit = 0", "limit must be a whole number from 1 to 1000"),
        ('limit = "3"', "limit must be a whole number from 1 to 1000"),
        ('color = "blue"', "color must be one of auto, always, never"),
        ("synonyms = 3", "synonyms must be a path in quotes"),
        ('__import__ = "os"', "unknown setting '__import__'"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_it(places, text: str, message: str):
    places["user"].write_text(text)
    with pytest.raises(ConfigError, match=message):
        config()
    result = run("search", "逾期", "--index", str(places["index"]))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"zhsearch: error: config file {places['user']}")
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_an_index_config_cannot_name_another_index(places):
    (places["index"] / "zhsearch.toml").write_text('index = "/elsewhere"\n')
    try:
        with pytest.raises(ConfigError, match="inside an index and cannot name another index"):
            config(str(places["index"]))
    finally:
        (places["index"] / "zhsearch.toml").unlink()


def test_an_index_config_survives_a_rebuild(tmp_path: Path, articles_dir: Path):
    index_dir = tmp_path / "index"
    assert run("index", str(articles_dir / "wd-001.txt"), "--index", str(index_dir)).exit_code == 0
    (index_dir / "zhsearch.toml").write_text("limit = 1\n")
    assert run("index", str(articles_dir / "wd-001.txt"), "--index", str(index_dir), "--rebuild").exit_code == 0
    assert (index_dir / "zhsearch.toml").read_text() == "limit = 1\n"


def test_a_config_path_that_is_no_file_is_an_error(places, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ZHSEARCH_CONFIG", str(places["tmp"]))
    with pytest.raises(ConfigError, match="is not a regular file"):
        config()
    fifo = places["tmp"] / "fifo.toml"
    os.mkfifo(fifo)
    monkeypatch.setenv("ZHSEARCH_CONFIG", str(fifo))
    with pytest.raises(ConfigError, match="is not a regular file"):
        config()  # and does not block reading it
