"""The README's library example, run against the *installed* package.

It runs in a fresh interpreter from a temporary directory, with nothing of
this repository on ``sys.path``: what a user gets from ``pip install .``.
CI installs the package (``pip install ".[test]"``), so there the default
run checks it; the slow test builds and installs the package into a
temporary directory itself (it needs the build back-end from PyPI).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
WRAPPER = """
import sys, zhsearch
print("IMPORTED", zhsearch.__file__)
exec(compile(open(sys.argv[1], encoding="utf-8").read(), "README example", "exec"))
"""


def readme_library_example() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Library\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README's Library section has no python example"
    return match.group(1)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    return {**env, **extra}


def where_installed(cwd: Path, env: dict[str, str]) -> Path | None:
    proc = subprocess.run(
        [sys.executable, "-c", "import zhsearch; print(zhsearch.__file__)"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        return None
    path = Path(proc.stdout.strip()).resolve()
    return None if REPO in path.parents else path


def run_example(workdir: Path, env: dict[str, str]) -> str:
    """Run the example where it expects its files: ``corpus/articles`` (a
    copy of the bundled sample) and ``more/articles.jsonl``."""
    shutil.copytree(REPO / "corpus" / "articles", workdir / "corpus" / "articles")
    (workdir / "more").mkdir()
    line = {"id": "extra-1", "title": "网贷逾期后的上门走访", "body": "逾期以后会不会有人上门走访？"}
    (workdir / "more" / "articles.jsonl").write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    (workdir / "example.py").write_text(readme_library_example(), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, "example.py"],
        cwd=workdir,
        env={**env, "ZHSEARCH_INDEX": str(workdir / "default-index")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def check_output(out: str, workdir: Path) -> None:
    lines = out.splitlines()
    imported = Path(lines[0].removeprefix("IMPORTED ")).resolve()
    assert REPO not in imported.parents, f"the repository's zhsearch was imported: {imported}"
    articles, sections, skipped = lines[1].split(" ", 2)
    assert int(articles) == len(list((REPO / "corpus" / "articles").iterdir())) + 1
    assert int(sections) > int(articles) and skipped == "()"
    total, notices = lines[2].split(" ", 1)
    assert int(total) > 5 and notices == "()"
    assert re.match(r"1 \S+ .+ \d+\.\d+", lines[3])  # rank, id, title, score
    assert any("【" in line and "】" in line for line in lines[4:])
    assert (workdir / "my-index" / "zhsearch.json").is_file()


def test_readme_example_runs_against_the_installed_package(tmp_path: Path):
    env = clean_env()
    if where_installed(tmp_path, env) is None:
        pytest.skip("zhsearch is not installed in this interpreter (CI installs it; see the slow test)")
    check_output(run_example(tmp_path, env), tmp_path)


@pytest.mark.slow
def test_readme_example_runs_against_a_fresh_install(tmp_path: Path):
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "out", "__pycache__"))
    site = tmp_path / "site"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pip.returncode == 0, pip.stderr
    env = clean_env(PYTHONPATH=str(site))
    work = tmp_path / "work"
    work.mkdir()
    assert where_installed(work, env) == (site / "zhsearch" / "__init__.py").resolve()
    check_output(run_example(work, env), work)
