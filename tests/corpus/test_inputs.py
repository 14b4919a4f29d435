"""Odd inputs the readers meet in the wild: each is read sensibly or refused
with a reason (a :class:`ReadError`), never anything else.

Per-format parsing and the common encodings are in test_readers.py; this
file covers the edges: UTF-16, very short legacy-encoded text, control
characters, special files, huge lines and headings, and JSON values of the
wrong type.
"""

from __future__ import annotations

import codecs
import errno
import json
import os
from pathlib import Path

import pytest
from zhsearch.corpus.decoding import decode_bytes
from zhsearch.corpus.errors import ReadError
from zhsearch.corpus.readers import (
    MAX_SECTION_CHARS,
    clean_text,
    discover,
    parse_jsonl,
    parse_markdown,
    parse_text,
    read_bytes,
    read_file,
)

TEXT = "网贷逾期多久会有人上门\n\n一、上门走访一般出现在什么阶段\n\n逾期九十天以后才会安排外访人员上门。\n"


def read_one(path: Path):
    (article,) = read_file(path, path.parent).articles
    return article


# --------------------------------------------------------------------------
# Encodings


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
        TEXT.encode("utf-32"),
        codecs.BOM_UTF8 + TEXT.encode("utf-8"),
    ],
    ids=["utf16-le", "utf16-be", "utf32", "utf8-bom"],
)
def test_unicode_with_a_byte_order_mark(tmp_path: Path, data: bytes):
    path = tmp_path / "a.txt"
    path.write_bytes(data)
    article = read_one(path)
    assert article.title == "网贷逾期多久会有人上门"
    assert article.sections[0].text == "逾期九十天以后才会安排外访人员上门。"


@pytest.mark.parametrize("text", ["逾期", "中国", "网贷", "你好", "上门走访\n", "逾期了怎么办"])
def test_short_gbk_text_is_not_taken_for_big5(text: str):
    # charset-normalizer alone reads 中国 in GBK as Big5 笢弊.
    assert decode_bytes(text.encode("gbk")) == text


@pytest.mark.parametrize("text", ["銀行", "卡債", "信用卡逾期怎麼辦", "債務協商"])
def test_short_big5_text_is_big5(text: str):
    assert decode_bytes(text.encode("big5")) == text


def test_utf16_without_a_byte_order_mark_is_refused_by_name():
    with pytest.raises(ReadError, match="UTF-16 text without a byte-order mark"):
        decode_bytes(TEXT.encode("utf-16-le"), "a.txt")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary file (contains NUL bytes)"),
        (bytes(range(1, 32)) * 20, "binary file (mostly control characters)"),
    ],
    ids=["png", "controls"],
)
def test_binary_and_undecodable_bytes_are_refused(data: bytes, reason: str):
    with pytest.raises(ReadError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        decode_bytes(data, "x.txt")


# --------------------------------------------------------------------------
# Characters


def test_stray_control_characters_and_escapes_are_dropped(tmp_path: Path):
    path = tmp_path / "c.txt"
    path.write_bytes("控制字符\n\n正文\x07\x08\x1b[31m红色\x1b[0m\x7f结束。\x0b下一行\x0c\n".encode())
    article = read_one(path)
    assert article.title == "控制字符"
    assert article.sections[0].text == "正文红色结束。\n下一行"


def test_clean_text_replaces_unpaired_surrogates():
    assert clean_text("a\ud800b\x00c") == "a\ufffdbc"


def test_emoji_private_use_and_rare_ideographs_are_kept(tmp_path: Path):
    text = "𠮷野家的故事😀\n\n正文里有𠮷、𪚥、私用区\ue000字和👨‍👩‍👧。\n"
    path = tmp_path / "rare.txt"
    path.write_text(text, encoding="utf-8")
    article = read_one(path)
    assert article.title == "𠮷野家的故事😀"
    assert article.sections[0].text == "正文里有𠮷、𪚥、私用区\ue000字和👨‍👩‍👧。"
    path.write_bytes(text.replace("😀", "").replace("👨‍👩‍👧", "").encode("gb18030"))
    assert read_one(path).sections[0].text == "正文里有𠮷、𪚥、私用区\ue000字和。"


# --------------------------------------------------------------------------
# Shapes: empty, title only, huge lines, long and deep headings


@pytest.mark.parametrize(
    "content", [b"", b"  \n\t\n \r\n", "\u3000\n\n".encode()], ids=["empty", "blank", "ideographic-space"]
)
@pytest.mark.parametrize("name", ["e.txt", "e.md"])
def test_empty_and_whitespace_only_files_are_refused(tmp_path: Path, name: str, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ReadError, match="empty file"):
        read_file(path, tmp_path)


@pytest.mark.parametrize(
    ("name", "content"),
    [("t.txt", "只有标题\n"), ("t.md", "# 只有标题\n"), ("f.md", "---\ntitle: 只有标题\n---\n")],
)
def test_a_title_without_a_body_is_an_article(tmp_path: Path, name: str, content: str):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    article = read_one(path)
    assert article.title == "只有标题"
    assert [s.text for s in article.sections] == [""]


def test_a_huge_single_line_is_text_cut_into_sections():
    line = "网贷逾期以后怎么办，先协商还款。" * 20_000  # 320,000 characters, no newline
    article = parse_text(line, "one.txt")
    assert article.title == line[:60]
    assert all(0 < len(s.text) <= MAX_SECTION_CHARS for s in article.sections)
    assert len(article.sections) == 7
    assert "".join(s.text for s in article.sections) == line
    # Cut after a sentence end, not inside a word.
    assert all(s.text.endswith("。") for s in article.sections)
    assert [s.index for s in article.sections] == list(range(7))


def test_a_long_section_is_cut_at_paragraph_ends():
    para = "协商还款需要准备收入证明和困难说明。" * 100
    text = "标题\n\n一、材料\n\n" + "\n".join([para] * 60)
    article = parse_text(text, "p.txt")
    assert len(article.sections) > 1
    assert all(s.path == ("一、材料",) and s.text.startswith(para) for s in article.sections)
    assert "\n".join(s.text for s in article.sections) == "\n".join([para] * 60)


def test_a_very_long_heading_is_not_a_title():
    heading = "长" * 5000
    article = parse_markdown(f"# {heading}\n\n正文。\n", "h.md")
    assert article.title == "长" * 60
    assert article.sections[-1].heading == heading
    assert article.sections[-1].text == "正文。"
    # In .txt, a numbered line that long is a paragraph, not a heading.
    article = parse_text(f"标题\n\n一、{heading}\n\n正文。\n", "h.txt")
    assert [s.heading for s in article.sections] == [""]


def test_deeply_nested_headings():
    md = "".join(f"{'#' * i} 第{i}层\n\n内容{i}\n\n" for i in range(1, 10))
    article = parse_markdown(md, "deep.md")
    assert article.title == "第1层"
    assert article.sections[-1].path == ("第2层", "第3层", "第4层", "第5层", "第6层")
    assert "####### 第7层" in article.sections[-1].text  # seven #s are text in Markdown
    txt = "深层\n\n" + "\n\n".join(
        f"{h}\n\n内容{i}"
        for i, h in enumerate(
            [
                "第一编 总则",
                "第一章 合同",
                "第一节 订立",
                "一、要约",
                "（一）条件",
                "1.1 具体",
                "1.1.1 确定",
                "(1) 说明",
            ]
        )
    )
    article = parse_text(txt, "deep.txt")
    assert len(article.sections[-1].path) == 8
    assert article.sections[-1].text == "内容7"


# --------------------------------------------------------------------------
# JSON lines: bad lines are warnings, the rest is read


def test_jsonl_bad_values_are_warnings_with_line_numbers():
    lines = [
        {"id": "ok", "title": "好", "body": "正文"},
        "[" * 100_000 + "]" * 100_000,  # nesting beyond the parser's recursion limit
        '{"id": "n", "body": ' + "1" * 5000 + "}",  # an integer too long to convert
        {"id": "obj", "title": "t", "body": {"x": 1}},
        {"id": "\ud800", "title": "t"},
        {"id": None, "title": "t"},
        {"id": True, "title": "t"},
        {"title": "无id"},
    ]
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines)
    articles, warnings = parse_jsonl(text, "q.jsonl")
    assert [a.id for a in articles] == ["ok"]
    assert [w.split(":")[1] for w in warnings] == ["2", "3", "4", "5", "6", "7", "8"]
    assert "nested too deeply" in warnings[0]
    assert "must be a string or a list of strings, not an object" in warnings[2]
    assert "surrogate" in warnings[3]
    assert all(w.endswith("line skipped") for w in warnings)


def test_jsonl_values_of_other_types_become_text():
    record = {"id": 7, "title": ["网贷", "逾期"], "body": ["第一段", 2, None, True], "tags": {"a": "\ud800"}}
    (article,), warnings = parse_jsonl(json.dumps(record), "q.jsonl")
    assert warnings == []
    assert article.id == "7"
    assert article.title == "网贷 逾期"
    assert article.text == "第一段\n2\n\nTrue"
    assert article.meta["tags"] == {"a": "\ufffd"}


def test_jsonl_long_body_is_cut_into_sections():
    body = "协商还款。" * 30_000
    (article,), _ = parse_jsonl(json.dumps({"id": "x", "title": "t", "body": body}, ensure_ascii=False))
    assert len(article.sections) == 3
    assert "".join(s.text for s in article.sections) == body


# --------------------------------------------------------------------------
# Paths that are not plain files


@pytest.fixture
def odd_dir(tmp_path: Path) -> Path:
    d = tmp_path / "odd"
    d.mkdir()
    (d / "ok.txt").write_text("标题\n\n正文。\n", encoding="utf-8")
    os.mkfifo(d / "fifo.txt")
    (d / "zero.txt").symlink_to("/dev/zero")
    (d / "broken.txt").symlink_to(d / "missing.txt")
    (d / "loop1.txt").symlink_to(d / "loop2.txt")
    (d / "loop2.txt").symlink_to(d / "loop1.txt")
    (d / "up").symlink_to(d)  # a directory link loop: not followed
    (d / "sub.txt").mkdir()
    return d


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("fifo.txt", "not a regular file (a FIFO, socket or device)"),
        ("zero.txt", "not a regular file (a FIFO, socket or device)"),
        ("broken.txt", "broken symbolic link (its target does not exist)"),
        ("loop1.txt", "symbolic link loop"),
        ("sub.txt", "is a directory"),
        ("gone.txt", "file disappeared before it could be read"),
    ],
)
def test_special_files_are_refused_without_blocking(odd_dir: Path, name: str, reason: str):
    with pytest.raises(ReadError) as info:
        read_bytes(odd_dir / name)
    assert info.value.reason == reason


def test_discover_lists_special_files_and_does_not_follow_directory_links(odd_dir: Path):
    names = sorted(f.name for _, f in discover([odd_dir]))
    assert names == ["broken.txt", "fifo.txt", "loop1.txt", "loop2.txt", "ok.txt", "zero.txt"]


def test_discover_reports_a_directory_it_cannot_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "d" / "locked").mkdir(parents=True)
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    errors: list[ReadError] = []
    assert list(discover([tmp_path / "d"], on_error=errors.append)) == []
    assert [(Path(e.path).name, e.reason) for e in errors] == [("locked", "permission denied")]


def test_unreadable_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "secret.txt"
    path.write_text("标题\n\n正文。\n", encoding="utf-8")
    if os.geteuid() != 0:
        path.chmod(0)
    else:  # root reads anything: refuse the open the way the kernel would
        real_open = os.open

        def deny(p, *args, **kwargs):
            if str(p) == str(path):
                raise PermissionError(errno.EACCES, "Permission denied", str(p))
            return real_open(p, *args, **kwargs)

        monkeypatch.setattr(os, "open", deny)
    with pytest.raises(ReadError) as info:
        read_file(path, tmp_path)
    assert info.value.reason == "permission denied"


@pytest.mark.parametrize("name", ["loop", "missing"])
def test_discover_refuses_a_top_level_path_that_cannot_be_walked(tmp_path: Path, name: str):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(ReadError) as info:
        list(discover([tmp_path / name]))
    assert info.value.reason == {"loop": "symbolic link loop", "missing": "no such file or directory"}[name]
