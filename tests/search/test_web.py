"""The HTTP API (``zhsearch.web``) through the ASGI test client, and a real
uvicorn server for the live-index and ``zhsearch serve`` tests."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from zhsearch.indexer.build import build_index
from zhsearch.search.cli import main
from zhsearch.search.output import dumps, hit_record
from zhsearch.search.searcher import Searcher
from zhsearch.search.web import MAX_LIMIT, MAX_QUERY_CHARS

from zhsearch.web import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice about httpx versions
    from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parents[2]
NASTY = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def client(sample_index: Path) -> TestClient:
    return TestClient(create_app(sample_index))


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    # An error is a record like the others: its "type" says what it is.
    assert set(body) == {"type", "error", "error_type"} and body["type"] == "error"
    return body["error"]


def cli_error(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert line.startswith("zhsearch: error: ")
    return line.removeprefix("zhsearch: error: ")


# --------------------------------------------------------------------------
# /search


def test_search_has_the_library_fields(client: TestClient, sample_index: Path):
    r = client.get("/search", params={"q": "网贷逾期多久会上门", "limit": 3})
    assert r.status_code == 200
    data = r.json()
    with Searcher(sample_index) as s:
        want = s.search("网贷逾期多久会上门", limit=3)
    assert data["total"] == want.total and data["pages"] == want.pages
    assert data["query"] == "网贷逾期多久会上门" and data["page"] == 1 and data["limit"] == 3
    assert [h["id"] for h in data["hits"]] == [h.id for h in want.hits]
    assert data["type"] == "results"
    hit = data["hits"][0]
    assert hit == json.loads(dumps(hit_record(want.hits[0])))  # the records of `search --json`
    # The highlights mark query words in the snippet.
    marked = [hit["snippet"][a:b] for a, b in hit["highlights"]]
    assert marked and set(marked) <= {"网贷", "逾期", "上门", "会上", "门"}
    assert "网贷逾期" in r.text  # Chinese left readable, as in the CLI's --json


def test_search_pages_facets_filters_and_sort(client: TestClient):
    first = client.get("/search", params={"q": "逾期", "limit": 2, "facet": ["category", "year"]}).json()
    second = client.get("/search", params={"q": "逾期", "limit": 2, "page": 2}).json()
    assert first["pages"] > 2 and second["page"] == 2
    assert [h["rank"] for h in second["hits"]] == [3, 4]
    assert not {h["id"] for h in first["hits"]} & {h["id"] for h in second["hits"]}
    category, n = next(iter(first["facets"]["category"].items()))
    assert set(first["facets"]) == {"category", "year"}
    only = client.get("/search", params={"q": "逾期", "category": category, "limit": 50}).json()
    assert only["total"] == n and {h["meta"]["category"] for h in only["hits"]} == {category}
    by_date = client.get("/search", params={"q": "逾期", "sort": "date", "since": "2024", "limit": 50}).json()
    dates = [h["meta"]["date"] for h in by_date["hits"]]
    assert dates == sorted(dates, reverse=True) and min(dates) >= "2024"


def test_search_suggestion_and_notices(client: TestClient):
    data = client.get("/search", params={"q": "网代逾期"}).json()
    assert data["suggestion"] == "网贷逾期"
    empty = client.get("/search", params={"q": "？？"}).json()
    assert empty["total"] == 0 and empty["hits"] == [] and empty["notices"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "x", "sort": "newest"}, "unknown sort 'newest'; sort by score or date"),
        ({"q": "x", "facet": "colour"}, "unknown facet 'colour'; facets are category, author, tag, year"),
        ({"q": "x", "since": "2024-13"}, None),
        ({"q": "x", "since": "2025", "until": "2024"}, None),
    ],
)
def test_bad_options_are_400_with_the_cli_message(client: TestClient, sample_index: Path, params, message):
    got = error_of(client.get("/search", params=params), 400)
    cli = ["search", "x", "--index", str(sample_index)]
    for k in ("since", "until"):
        if k in params:
            cli += [f"--{k}", params[k]]
    if "sort" not in params and "facet" not in params:
        assert got == cli_error(*cli)
    else:
        assert got == message


def test_limits_on_query_limit_and_page(client: TestClient):
    assert "limit" in error_of(client.get("/search", params={"q": "x", "limit": MAX_LIMIT + 1}), 400)
    assert "limit" in error_of(client.get("/search", params={"q": "x", "limit": 0}), 400)
    assert "page" in error_of(client.get("/search", params={"q": "x", "page": 10**9}), 400)
    assert "page" in error_of(client.get("/search", params={"q": "x", "page": "two"}), 400)
    long = "网贷" * MAX_QUERY_CHARS
    assert f"at most {MAX_QUERY_CHARS}" in error_of(client.get("/search", params={"q": long}), 400)
    assert f"at most {MAX_QUERY_CHARS}" in error_of(client.get("/suggest", params={"q": long}), 400)


@pytest.mark.parametrize("q", ['"', "AND OR", "title:", "-", "\x00", "😀" * 10, "a" * MAX_QUERY_CHARS, "((("])
def test_a_bad_query_never_fails(client: TestClient, q: str):
    assert client.get("/search", params={"q": q}).status_code == 200


# --------------------------------------------------------------------------
# /articles, /related, /stats, /suggest


def test_article_as_show_json(client: TestClient, sample_index: Path):
    data = client.get("/articles/wd-001.txt").json()
    shown = CliRunner().invoke(main, ["show", "wd-001.txt", "--json", "--index", str(sample_index)])
    assert data == json.loads(shown.stdout)
    one = client.get("/articles/wd-001.txt", params={"section": 2}).json()
    assert [s["index"] for s in one["sections"]] == [2]


def test_article_marks_the_query_in_every_section(client: TestClient):
    data = client.get("/articles/wd-001.txt", params={"q": "上门 走访"}).json()
    marked = {s["text"][a:b] for s in data["sections"] for a, b in s["highlights"]}
    assert marked == {"上门", "走访", "上门走访"}  # adjacent matches are marked as one
    assert all("highlights" in s for s in data["sections"])


def test_unknown_article_or_section_is_404_with_the_cli_message(client: TestClient, sample_index: Path):
    assert error_of(client.get("/articles/nope.txt"), 404) == cli_error(
        "show", "nope.txt", "--index", str(sample_index)
    )
    got = error_of(client.get("/articles/wd-001.txt", params={"section": 999}), 404)
    assert got == cli_error("show", "wd-001.txt", "--section", "999", "--index", str(sample_index))
    assert error_of(client.get("/related/nope.txt"), 404).startswith("no article with id 'nope.txt'")


def test_related(client: TestClient, sample_index: Path):
    data = client.get("/related/wd-001.txt", params={"limit": 3}).json()
    with Searcher(sample_index) as s:
        want = s.related("wd-001.txt", limit=3)
    assert [h["id"] for h in data["hits"]] == [h.id for h in want.hits]
    assert "wd-001.txt" not in [h["id"] for h in data["hits"]]
    assert data["terms"] == list(want.terms)


def test_stats(client: TestClient, sample_index: Path):
    data = client.get("/stats").json()
    cli = CliRunner().invoke(main, ["stats", "--json", "--index", str(sample_index)])
    assert data == json.loads(cli.stdout)
    with Searcher(sample_index) as s:
        assert data["articles"] == s.stats().articles > 30


def test_suggest_words_titles_and_pinyin(client: TestClient):
    def texts(q: str, kind: str) -> list[str]:
        found = client.get("/suggest", params={"q": q}).json()["suggestions"]
        return [s["text"] for s in found if s["kind"] == kind]

    assert "网贷" in texts("网", "word")
    assert "网贷" in texts("網", "word")  # Traditional prefix, Simplified index words
    assert "网贷" in texts("wangd", "word")  # pinyin prefix
    assert "网贷" in texts("wd", "word")  # initials
    titles = client.get("/suggest", params={"q": "停息"}).json()["suggestions"]
    assert any(s["kind"] == "title" and "停息" in s["text"] and s["id"] for s in titles)
    assert client.get("/suggest", params={"q": ""}).json()["suggestions"] == []
    assert client.get("/suggest", params={"q": "zzzzqqq"}).json()["suggestions"] == []


# --------------------------------------------------------------------------
# safety and the page


def test_read_only_and_no_files_by_name(client: TestClient):
    assert client.post("/search", params={"q": "x"}).status_code == 405
    assert client.delete("/articles/wd-001.txt").status_code == 405
    assert client.get("/static/web.py").status_code == 404
    assert client.get("/static/..%2F..%2Fsetup.cfg").status_code == 404
    assert client.get("/static/%2e%2e/web.py").status_code == 404
    assert error_of(client.get("/articles/..%2F..%2Fsetup.cfg"), 404).startswith("no article with id '../../setup.cfg'")
    assert error_of(client.get("/setup.cfg"), 404) == "Not Found"
    assert error_of(client.get("/articles/%2Fetc%2Fpasswd"), 404).startswith("no article with id")


def test_page_and_its_files(client: TestClient):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert 'id="q"' in page.text
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")


def test_openapi_documents_every_endpoint(client: TestClient):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/search", "/articles/{article_id}", "/related/{article_id}", "/stats", "/suggest"} <= set(paths)
    names = {p["name"] for p in paths["/search"]["get"]["parameters"]}
    assert {"q", "limit", "page", "category", "author", "tag", "since", "until", "facet", "sort"} <= names
    page = client.get("/docs")
    assert page.status_code == 200
    # Swagger UI is served by the app itself: no CDN, so the docs work offline.
    assert "cdn." not in page.text and "/docs/assets/swagger-ui-bundle.js" in page.text
    script = client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200


def test_article_text_comes_back_as_data_not_markup(make_index):
    record = {"id": "x1", "title": NASTY, "sections": [{"heading": "<b>h</b>", "text": f"网贷 {NASTY} 逾期"}]}
    index = make_index({"a.jsonl": json.dumps(record, ensure_ascii=False) + "\n"})
    client = TestClient(create_app(index))
    r = client.get("/search", params={"q": "网贷"})
    assert r.headers["content-type"].startswith("application/json")
    hit = r.json()["hits"][0]
    assert hit["title"] == NASTY and NASTY in hit["snippet"]
    assert client.get("/articles/x1").json()["sections"][0]["heading"] == "<b>h</b>"


# --------------------------------------------------------------------------
# the index underneath


def test_no_index_is_503_until_one_is_built(tmp_path: Path, articles_dir: Path):
    index = tmp_path / "index"
    client = TestClient(create_app(index))
    r = client.get("/search", params={"q": "网贷"})
    assert "no index at" in error_of(r, 503) and r.headers["retry-after"] == "1"
    assert error_of(client.get("/stats"), 503) == cli_error("stats", "--index", str(index))
    build_index([articles_dir / "wd-001.txt"], index)
    assert client.get("/search", params={"q": "网贷"}).json()["total"] == 1


def test_index_moved_away_is_503_then_served_again(make_index):
    index = make_index({"a.txt": "网贷逾期\n\n网贷逾期了怎么办，先和平台协商。"})
    client = TestClient(create_app(index))
    assert client.get("/search", params={"q": "网贷"}).json()["total"] == 1
    aside = index.with_name("aside")
    index.rename(aside)
    try:
        error_of(client.get("/search", params={"q": "网贷"}), 503)
    finally:
        aside.rename(index)
    assert client.get("/search", params={"q": "网贷"}).json()["total"] == 1


def test_live_server_answers_from_each_new_commit(make_index, tmp_path: Path, live_server):
    index = make_index({"a.txt": "网贷逾期\n\n网贷逾期了怎么办，先和平台协商。"})
    base = live_server(index)
    with httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/search", params={"q": "停息挂账"}).json()["total"] == 0
        assert http.get("/stats").json()["articles"] == 1
        docs = tmp_path / "idx-docs"
        (docs / "b.txt").write_text("停息挂账怎么申请\n\n停息挂账需要先和银行协商。", encoding="utf-8")
        build_index([docs], index)  # an incremental update, committed while the server runs
        hits = http.get("/search", params={"q": "停息挂账"}).json()["hits"]
        assert [h["title"] for h in hits] == ["停息挂账怎么申请"]
        assert http.get("/stats").json()["articles"] == 2
        assert http.get(f"/articles/{hits[0]['id']}").status_code == 200
        build_index([docs], index, rebuild=True)  # a rebuild swaps the directory
        assert http.get("/search", params={"q": "停息挂账"}).json()["total"] == 1


def test_zhsearch_serve_prints_its_url_and_serves(sample_index: Path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "zhsearch", "serve", "--index", str(sample_index), "--port", "0"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.fullmatch(r"Serving (http://127\.0\.0\.1:(\d+)/) \(Ctrl-C to stop\)\n", line)
        assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
        with Searcher(sample_index) as s:
            assert httpx.get(m.group(1) + "stats", timeout=10).json()["articles"] == s.stats().articles
    finally:
        proc.terminate()
        proc.wait(10)


def test_zhsearch_serve_without_an_index_fails_in_one_line(tmp_path: Path):
    assert "no index at" in cli_error("serve", "--index", str(tmp_path / "none"))


def test_answers_are_remembered_only_for_the_commit_they_came_from(make_index, tmp_path: Path):
    index = make_index({"a.txt": "网贷逾期\n\n网贷逾期了怎么办，先和平台协商。"})
    client = TestClient(create_app(index))
    first, again = (client.get("/search", params={"q": "网贷"}) for _ in range(2))
    assert (first.headers["x-cache"], again.headers["x-cache"]) == ("miss", "hit")
    assert first.content == again.content
    (tmp_path / "idx-docs" / "b.txt").write_text("网贷协商\n\n网贷可以协商分期。", encoding="utf-8")
    build_index([tmp_path / "idx-docs"], index)
    after = client.get("/search", params={"q": "网贷"})
    assert after.headers["x-cache"] == "miss" and after.json()["total"] == 2
    assert TestClient(create_app(index, cache_entries=0)).get("/search", params={"q": "网贷"}).json()["total"] == 2


def test_search_answers_what_the_cli_prints_as_one_json_document(client: TestClient, sample_index: Path):
    args = ["search", "催收", "上门", "--limit", "3", "--facet", "year", "--format", "json"]
    args += ["--index", str(sample_index)]
    cli = json.loads(CliRunner().invoke(main, args).stdout)
    api = client.get("/search", params={"q": "催收 上门", "limit": 3, "facet": "year"}).json()
    assert {**api, "seconds": 0} == {**cli, "seconds": 0}


def test_an_unexpected_failure_is_a_json_500(sample_index: Path, monkeypatch):
    client = TestClient(create_app(sample_index), raise_server_exceptions=False)

    def broken(self, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(Searcher, "search", broken)
    assert error_of(client.get("/search", params={"q": "网贷"}), 500) == "internal error: RuntimeError: boom"
    assert client.get("/stats").status_code == 200
