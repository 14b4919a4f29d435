"""Readers: scraped .txt pages, Markdown, JSON lines, encodings and directory walking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from zhsearch.corpus.errors import ReadError
from zhsearch.corpus.readers import discover, parse_jsonl, parse_markdown, parse_text, read_file, read_path

# A page in the shape of the scraped sample articles: title, glued meta line,
# keyword line (the title without punctuation), the title again, numbered
# headings, a closing summary and a 相关文章 block of other articles' teasers.
SEED_TXT = """网贷逾期多久会上门走访？催收流程和应对办法

小花2024-12-09债务优化83

网贷逾期多久会上门走访催收流程和应对办法

网贷逾期多久会上门走访？催收流程和应对办法

很多借款人担心逾期以后有人找上门，本文按时间顺序讲清楚。

一、逾期以后会发生什么

1.1 短信和电话提醒

逾期头几天，平台会发短信和打电话提醒还款。

1.2 罚息开始计算

从逾期第一天起按日计收罚息。

三、网贷逾期多久会上门走访?

3.1 催收的时间节点

一般逾期九十天以后，才会安排外访人员上门。
3.5倍罚息的说法并不准确。

3.2 上门人员的身份

正规外访人员应当出示工作证明。

总而言之，早点和平台协商还款，比担心有人上门更有用。

相关文章

招商银行信用卡逾期两个月会怎样

招商银行信用卡逾期两个月会怎样

招商银行的持卡人逾期两个月以后，会先接到客服电话...

某某分期协商还款被拒怎么办

某某分期协商还款被拒怎么办

协商被拒以后，先别急着放弃...
"""

# Every other Chinese numbering style, nested in the order it first appears.
STYLES_TXT = """借款合同的基本知识

第一章 合同的订立

第一节 要约与承诺

（一）要约的条件

1. 内容具体确定

要约的内容应当具体确定。

2. 表明受约束

表明经受要约人承诺，要约人即受该意思表示约束。

（二）承诺的方式

承诺应当以通知的方式作出。

第二节 合同的形式

借款合同应当采用书面形式。

第二章 合同的效力

依法成立的合同，自成立时生效。
"""

TRADITIONAL_TXT = """卡債協商怎麼談

一、先整理債務

把每一家銀行的欠款列出來，寫下本金和利率。

相關文章

國泰世華卡費遲繳怎麼辦

國泰世華卡費遲繳怎麼辦

卡費遲繳到第三個月，催收電話從早打到晚...
"""

SEED_MD = """---
title: 停息挂账怎么申请
author: 律师王明
date: 2024-05-18
category: 信用卡逾期
tags: [停息挂账, 信用卡, 个性化分期]
---

<!-- 编辑备注：内部信息，不要发布 -->

导语段落。

## 一、申请条件

### 1.1 失去还款能力

需要证明收入下降。

```bash
# 这一行在代码块里，不是标题
echo hello
```

## 二、办理流程

按步骤准备材料。<!-- 行内备注也不要 -->
"""


def by_heading(article, heading):
    return next(s for s in article.sections if s.heading == heading)


# --------------------------------------------------------------------------
# Scraped .txt pages


@pytest.fixture(scope="module")
def seed():
    return parse_text(SEED_TXT, "wd-999.txt", "/articles/wd-999.txt")


def test_txt_title_is_first_line(seed):
    assert seed.title == "网贷逾期多久会上门走访？催收流程和应对办法"


def test_txt_glued_meta_line_is_split(seed):
    assert seed.meta["author"] == "小花"
    assert seed.meta["date"] == "2024-12-09"
    assert seed.meta["category"] == "债务优化"
    assert seed.meta["views"] == 83
    assert seed.meta["source"] == "/articles/wd-999.txt"


def test_txt_header_repeats_are_not_text(seed):
    assert seed.sections[0].heading == ""
    assert seed.sections[0].path == ()
    assert seed.sections[0].text == "很多借款人担心逾期以后有人找上门，本文按时间顺序讲清楚。"
    assert "催收流程和应对办法" not in seed.text
    assert "2024-12-09" not in seed.text


def test_txt_heading_levels_and_paths(seed):
    got = [(s.index, s.level, s.path) for s in seed.sections]
    assert got == [
        (0, 0, ()),
        (1, 1, ("一、逾期以后会发生什么",)),
        (2, 2, ("一、逾期以后会发生什么", "1.1 短信和电话提醒")),
        (3, 2, ("一、逾期以后会发生什么", "1.2 罚息开始计算")),
        (4, 1, ("三、网贷逾期多久会上门走访?",)),
        (5, 2, ("三、网贷逾期多久会上门走访?", "3.1 催收的时间节点")),
        (6, 2, ("三、网贷逾期多久会上门走访?", "3.2 上门人员的身份")),
    ]
    timing = by_heading(seed, "3.1 催收的时间节点")
    assert timing.text == "一般逾期九十天以后，才会安排外访人员上门。\n3.5倍罚息的说法并不准确。"


def test_txt_closing_summary_stays_in_last_section(seed):
    assert seed.sections[-1].text.endswith("总而言之，早点和平台协商还款，比担心有人上门更有用。")


def test_txt_related_block_is_metadata_not_text(seed):
    assert seed.meta["related"] == ["招商银行信用卡逾期两个月会怎样", "某某分期协商还款被拒怎么办"]
    for section in seed.sections:
        assert "招商银行" not in section.text
        assert "相关文章" not in section.text
        assert "先别急着放弃" not in section.text


def test_txt_other_heading_styles_nest_in_order_of_appearance():
    article = parse_text(STYLES_TXT, "law.txt")
    got = {s.heading: (s.level, s.path) for s in article.sections}
    assert got["第一章 合同的订立"] == (1, ("第一章 合同的订立",))
    assert got["第一节 要约与承诺"] == (2, ("第一章 合同的订立", "第一节 要约与承诺"))
    assert got["（一）要约的条件"][0] == 3
    assert got["2. 表明受约束"] == (
        4,
        ("第一章 合同的订立", "第一节 要约与承诺", "（一）要约的条件", "2. 表明受约束"),
    )
    assert got["（二）承诺的方式"][1] == ("第一章 合同的订立", "第一节 要约与承诺", "（二）承诺的方式")
    assert got["第二节 合同的形式"][1] == ("第一章 合同的订立", "第二节 合同的形式")
    assert got["第二章 合同的效力"][1] == ("第二章 合同的效力",)
    assert by_heading(article, "第二章 合同的效力").text == "依法成立的合同，自成立时生效。"


def test_txt_traditional_related_marker():
    article = parse_text(TRADITIONAL_TXT, "tw.txt")
    assert article.meta["related"] == ["國泰世華卡費遲繳怎麼辦"]
    assert "國泰" not in article.text
    assert by_heading(article, "一、先整理債務").text == "把每一家銀行的欠款列出來，寫下本金和利率。"


def test_plain_text_is_one_section_titled_by_first_line():
    article = parse_text("今天去银行问了分期的事\n柜员说要先填申请表。\n下周再去一趟。\n", "note.txt")
    assert article.title == "今天去银行问了分期的事"
    assert len(article.sections) == 1
    assert article.sections[0].text == "柜员说要先填申请表。\n下周再去一趟。"
    assert "date" not in article.meta and "related" not in article.meta


def test_empty_text_is_no_article():
    assert parse_text(" \n\n \n", "empty.txt") is None


# --------------------------------------------------------------------------
# Markdown


@pytest.fixture(scope="module")
def md():
    return parse_markdown(SEED_MD, "md-999.md", "/articles/md-999.md")


def test_md_front_matter_metadata(md):
    assert md.title == "停息挂账怎么申请"
    assert md.meta["author"] == "律师王明"
    assert md.meta["date"] == "2024-05-18"
    assert md.meta["category"] == "信用卡逾期"
    assert md.meta["tags"] == ["停息挂账", "信用卡", "个性化分期"]


def test_md_html_comments_dropped(md):
    assert "编辑备注" not in md.text
    assert "行内备注" not in md.text
    assert "<!--" not in md.text
    assert by_heading(md, "二、办理流程").text == "按步骤准备材料。"


def test_md_heading_levels_and_paths(md):
    got = [(s.level, s.heading, s.path) for s in md.sections]
    assert got == [
        (0, "", ()),
        (2, "一、申请条件", ("一、申请条件",)),
        (3, "1.1 失去还款能力", ("一、申请条件", "1.1 失去还款能力")),
        (2, "二、办理流程", ("二、办理流程",)),
    ]
    assert md.sections[0].text == "导语段落。"


def test_md_hash_lines_in_fenced_code_are_not_headings(md):
    headings = [s.heading for s in md.sections]
    assert not any("代码块" in h for h in headings)
    assert "# 这一行在代码块里，不是标题" in by_heading(md, "1.1 失去还款能力").text


def test_md_first_h1_is_title_without_front_matter_title():
    text = "---\nauthor: 法务小林\ntags: 法律援助，诉讼 12348\n---\n\n# 请不起律师怎么办\n\n正文。\n\n## 申请条件\n\n经济困难。\n"
    article = parse_markdown(text, "md-2.md")
    assert article.title == "请不起律师怎么办"
    assert article.meta["author"] == "法务小林"
    assert article.meta["tags"] == ["法律援助", "诉讼", "12348"]
    assert [s.heading for s in article.sections] == ["", "申请条件"]
    assert "请不起律师怎么办" not in article.text


BAD_DATE_BUG = (
    "an impossible date in front matter (2024-02-30) makes YAML raise ValueError, which "
    "parse_front_matter does not catch: the file crashes the reader instead of being read"
)


@pytest.mark.parametrize("date", ["2024-02-30", "2024-13-01"])
def test_md_impossible_front_matter_date_does_not_crash(date: str):
    article = parse_markdown(f"---\ntitle: 借条\ndate: {date}\n---\n\n正文。\n", "d.md")
    assert article.title == "借条"
    assert article.text == "正文。"


def test_md_broken_front_matter_yaml_is_ignored():
    article = parse_markdown("---\ntitle: [未闭合\n---\n\n# 真标题\n\n正文。\n", "y.md")
    assert article.title == "真标题"
    assert article.text == "正文。"


def test_md_without_front_matter_or_heading_is_titled_by_first_line():
    article = parse_markdown("借条怎么写才有效\n\n要写清楚金额和日期。\n", "note.md")
    assert article.title == "借条怎么写才有效"


# --------------------------------------------------------------------------
# JSON lines


def test_jsonl_body_form_keeps_id_and_extra_keys():
    line = {"id": "cmrc-DEV_0", "title": "标题", "body": "正文内容", "lang": "zh", "answers": ["甲"]}
    articles, warnings = parse_jsonl(json.dumps(line, ensure_ascii=False), "q.jsonl")
    assert warnings == []
    (a,) = articles
    assert a.id == "cmrc-DEV_0"
    assert a.title == "标题"
    assert a.text == "正文内容"
    assert a.meta["lang"] == "zh"
    assert a.meta["answers"] == ["甲"]
    assert a.meta["source"] == "q.jsonl"


def test_jsonl_ids_are_not_normalised():
    lines = [{"id": "0042", "title": "a", "body": "x"}, {"id": "DRCD-1-hans", "title": "b", "body": "y"}]
    articles, _ = parse_jsonl("\n".join(json.dumps(x) for x in lines))
    assert [a.id for a in articles] == ["0042", "DRCD-1-hans"]


def test_jsonl_sections_form():
    record = {
        "id": "doc-1",
        "title": "协商还款",
        "sections": [
            {"heading": "一、准备材料", "text": "收入证明。"},
            {"heading": "二、沟通话术", "text": "说明困难。"},
        ],
    }
    (a,), _ = parse_jsonl(json.dumps(record, ensure_ascii=False))
    assert [(s.index, s.heading, s.path, s.text) for s in a.sections] == [
        (0, "一、准备材料", ("一、准备材料",), "收入证明。"),
        (1, "二、沟通话术", ("二、沟通话术",), "说明困难。"),
    ]


def test_jsonl_malformed_line_is_a_warning_naming_file_and_line(tmp_path: Path):
    path = tmp_path / "qa.jsonl"
    path.write_text(
        '{"id": "a", "title": "第一条", "body": "甲"}\n{"id": "b", "title": \n{"id": "c", "title": "第三条", "body": "丙"}\n',
        encoding="utf-8",
    )
    result = read_file(path, tmp_path)
    assert [a.id for a in result.articles] == ["a", "c"]
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith(f"{path}:2:")


def test_jsonl_record_without_id_is_skipped_with_warning():
    articles, warnings = parse_jsonl(
        '{"title": "无id", "body": "x"}\n{"id": "ok", "title": "t", "body": "y"}', "f.jsonl"
    )
    assert [a.id for a in articles] == ["ok"]
    assert len(warnings) == 1 and warnings[0].startswith("f.jsonl:1:")


# --------------------------------------------------------------------------
# Encodings and bad files

SIMPLIFIED = "网贷逾期多久会有人上门\n\n一、上门走访一般出现在什么阶段\n\n网贷平台内部通常按照逾期天数给账户分级，逾期九十天以后才会安排外访人员上门。\n"
TRADITIONAL = "卡債還不出來怎麼辦\n\n一、先弄清楚自己到底欠了多少\n\n把每一家銀行的信用卡、現金卡、信用貸款逐一列出，寫下欠款本金、利率和每個月應繳的金額。\n"


@pytest.mark.parametrize(
    ("name", "data", "title"),
    [
        ("gbk.txt", SIMPLIFIED.encode("gbk"), "网贷逾期多久会有人上门"),
        ("gb18030.txt", (SIMPLIFIED + "生僻字𠀀\n").encode("gb18030"), "网贷逾期多久会有人上门"),
        ("bom.txt", b"\xef\xbb\xbf" + SIMPLIFIED.encode("utf-8"), "网贷逾期多久会有人上门"),
        ("big5.txt", TRADITIONAL.encode("big5"), "卡債還不出來怎麼辦"),
    ],
    ids=["gbk", "gb18030", "utf8-bom", "big5"],
)
def test_legacy_encodings_are_decoded(tmp_path: Path, name: str, data: bytes, title: str):
    path = tmp_path / name
    path.write_bytes(data)
    (article,) = read_file(path, tmp_path).articles
    assert article.title == title
    assert article.sections[-1].heading.startswith("一、")


def test_binary_file_is_a_read_error_with_reason(tmp_path: Path):
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00")
    with pytest.raises(ReadError) as info:
        read_file(path, tmp_path)
    assert info.value.path == str(path)
    assert "binary" in info.value.reason


def test_unsupported_extension_is_a_read_error(tmp_path: Path):
    path = tmp_path / "report.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ReadError) as info:
        read_file(path, tmp_path)
    assert ".xls" in info.value.reason


def test_empty_file_is_a_read_error(tmp_path: Path):
    path = tmp_path / "empty.md"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ReadError, match="empty"):
        read_file(path, tmp_path)


# --------------------------------------------------------------------------
# Walking directories


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "sub" / ".cache").mkdir()
    (root / "a.txt").write_text("甲\n正文甲。", encoding="utf-8")
    (root / "sub" / "b.md").write_text("# 乙\n正文乙。", encoding="utf-8")
    (root / ".hidden.txt").write_text("隐藏\n不该读。", encoding="utf-8")
    (root / ".git" / "c.txt").write_text("丙\n不该读。", encoding="utf-8")
    (root / "sub" / ".cache" / "d.txt").write_text("丁\n不该读。", encoding="utf-8")
    return root


def test_discover_skips_hidden_files_and_directories(tree: Path):
    found = [(root, file.relative_to(tree).as_posix()) for root, file in discover([tree])]
    assert found == [(tree.resolve(), "a.txt"), (tree.resolve(), "sub/b.md")]


def test_article_ids_are_paths_relative_to_the_indexed_root(tree: Path):
    assert sorted(a.id for a in read_path(tree)) == ["a.txt", "sub/b.md"]
    assert [a.id for a in read_path(tree / "sub")] == ["b.md"]
    assert [a.id for a in read_path(tree / "sub" / "b.md")] == ["b.md"]


def test_discover_missing_path_raises(tmp_path: Path):
    with pytest.raises(ReadError, match="no such file"):
        list(discover([tmp_path / "nope"]))


# --------------------------------------------------------------------------
# Readers never raise on what they are given

_FRAGMENTS = st.sampled_from(
    [
        "---",
        "...",
        "title: 标题",
        "tags: [a, b",
        "# 标题",
        "## ",
        "```",
        "<!--",
        "-->",
        "一、标题",
        "1.1 小节",
        "（一）",
        "第一章",
        "相关文章",
        "相關文章",
        "小花2024-12-09债务优化83",
        "2024-13-45",
        '{"id": 1, "title": "t", "body": "b"}',
        '{"id": "x", "sections": [1, {"heading": null}]}',
        '{"id": true}',
        "[]",
        "\ufeff",
    ]
)
_TEXTS = st.one_of(st.text(), st.lists(st.one_of(_FRAGMENTS, st.text(max_size=20)), max_size=25).map("\n".join))


@settings(max_examples=200, deadline=None)
@given(_TEXTS)
def test_parse_text_never_raises(text: str):
    article = parse_text(text, "x.txt")
    assert article is None or article.sections


@settings(max_examples=200, deadline=None)
@given(_TEXTS)
@example("---\ndate: 2024-02-30\n---\n正文")
def test_parse_markdown_never_raises(text: str):
    article = parse_markdown(text, "x.md")
    assert article is None or article.sections


@settings(max_examples=200, deadline=None)
@given(_TEXTS)
def test_parse_jsonl_never_raises(text: str):
    articles, warnings = parse_jsonl(text, "x.jsonl")
    assert all(isinstance(w, str) for w in warnings)
    assert all(a.id for a in articles)
