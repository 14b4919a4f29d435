"""Legal text split by clause: 第X条 paragraphs become sections under 编/章/节."""

from __future__ import annotations

from pathlib import Path

from zhsearch.corpus.clauses import clause_start, has_clauses
from zhsearch.corpus.readers import parse_markdown, parse_text, read_file

LAW_MD = """\
# 中华人民共和国示范法

2030年1月1日 示范会议通过

<!-- INFO END -->

## 第一编 总则

### 第一章 基本规定

第一条 为了规范示范行为，制定本法。

第二条 本法适用于示范活动。

示范活动包括展示和演练。

### 第二章 示范主体

#### 第一节 一般规定

第三条 示范主体应当依法登记。

第三条之一 示范主体变更登记的，应当公告。

## 第二编 附则

第四条 本法自公布之日起施行。
"""


def test_markdown_law_one_section_per_clause_under_its_headings():
    article = parse_markdown(LAW_MD, "law.md")
    assert article is not None
    clauses = [s for s in article.sections if s.heading.startswith("第") and "条" in s.heading]
    assert [(s.heading, s.path) for s in clauses] == [
        ("第一条", ("第一编 总则", "第一章 基本规定", "第一条")),
        ("第二条", ("第一编 总则", "第一章 基本规定", "第二条")),
        ("第三条", ("第一编 总则", "第二章 示范主体", "第一节 一般规定", "第三条")),
        ("第三条之一", ("第一编 总则", "第二章 示范主体", "第一节 一般规定", "第三条之一")),
        ("第四条", ("第二编 附则", "第四条")),
    ]
    second = clauses[1]
    # The clause's later paragraphs (款) stay with it; the number is the heading.
    assert second.text == "本法适用于示范活动。\n\n示范活动包括展示和演练。"
    assert second.level == 4
    assert article.sections[0].text.startswith("2030年1月1日")


def test_text_law_is_split_the_same_way():
    text = "示范条例\n\n第一章 总则\n\n第一条　为了示范，制定本条例。\n\n第二条　本条例所称示范，是指演练。\n\n第二章 附则\n\n第三条　本条例自公布之日起施行。\n"
    article = parse_text(text, "law.txt")
    assert article is not None
    assert [s.path for s in article.sections if s.text] == [
        ("第一章 总则", "第一条"),
        ("第一章 总则", "第二条"),
        ("第二章 附则", "第三条"),
    ]
    assert article.sections[-1].text == "本条例自公布之日起施行。"


def test_contract_clause_titles_and_bracketed_titles():
    assert clause_start("第一条 租赁物") == clause_start("第一条：租赁物")
    start = clause_start("第一条 租赁物")
    assert start is not None and (start.heading, start.text) == ("第一条 租赁物", "")
    start = clause_start("第十二条【违约责任】任何一方违约的，应当赔偿损失。")
    assert start is not None and (start.heading, start.text) == (
        "第十二条【违约责任】",
        "任何一方违约的，应当赔偿损失。",
    )
    start = clause_start("第五条 催收人员不得有下列行为：")
    assert start is not None and start.heading == "第五条"
    contract = "房屋租赁合同\n\n第一条 租赁物\n\n甲方将其房屋出租给乙方。\n\n第二条 租金\n\n每月租金三千元。\n"
    article = parse_text(contract, "c.txt")
    assert article is not None
    assert [(s.heading, s.text) for s in article.sections] == [
        ("第一条 租赁物", "甲方将其房屋出租给乙方。"),
        ("第二条 租金", "每月租金三千元。"),
    ]


def test_a_sentence_citing_a_clause_is_not_a_clause():
    assert clause_start("第三条规定的情形，不适用本办法。") is None
    text = "一篇文章\n\n第十条 规定的期限很短。\n\n其他内容在这里。\n"
    # One clause-like paragraph does not make an article a law.
    assert not has_clauses(text.splitlines())
    article = parse_text(text, "a.txt")
    assert article is not None and len(article.sections) == 1


def test_clause_lines_in_fenced_code_are_text():
    md = "# 代码\n\n```\n第一条 甲\n第二条 乙\n```\n"
    article = parse_markdown(md, "c.md")
    assert article is not None and len(article.sections) == 1


def test_html_law_is_split_by_clause(articles_dir: Path):
    article = read_file(articles_dir / "gov-001.html", articles_dir).articles[0]
    clause = next(s for s in article.sections if s.heading == "第四条")
    assert clause.path == ("第二章 催收行为", "第四条")
    assert "二十二时至次日八时" in clause.text
    listing = next(s for s in article.sections if s.heading == "第五条")
    # The 项 under a clause belong to it.
    assert listing.text.splitlines()[0] == "催收人员不得有下列行为："
    assert "（四）冒充司法机关、政府部门工作人员。" in listing.text


def test_contract_numbered_1_1_clauses_are_sections_under_their_headings():
    text = (
        "房屋租赁合同\n\n1. 租赁物\n\n1.1 甲方将位于某市某路的房屋出租给乙方居住使用。\n\n1.2 房屋面积以产权证记载为准。\n\n"
        "2. 租金\n\n2.1 每月租金三千元，乙方应于每月五日前支付。\n\n续：支付方式为银行转账。\n\n"
        "2.2 逾期支付租金超过十五日的，甲方有权解除合同。\n"
    )
    article = parse_text(text, "c.txt")
    assert article is not None
    assert [(s.path, s.text) for s in article.sections if s.text] == [
        (("1. 租赁物", "1.1"), "甲方将位于某市某路的房屋出租给乙方居住使用。"),
        (("1. 租赁物", "1.2"), "房屋面积以产权证记载为准。"),
        (("2. 租金", "2.1"), "每月租金三千元，乙方应于每月五日前支付。\n续：支付方式为银行转账。"),
        (("2. 租金", "2.2"), "逾期支付租金超过十五日的，甲方有权解除合同。"),
    ]


def test_an_article_with_two_numbered_sentences_keeps_its_sections():
    text = "怎么还款\n\n1.1 先列出所有欠款。\n\n1.2 再按利率排序。\n\n最后逐笔还清。\n"
    article = parse_text(text, "a.txt")
    assert article is not None and len(article.sections) == 1


def test_legal_form_and_level_from_the_title():
    from zhsearch.corpus.clauses import legal_meta

    assert legal_meta("中华人民共和国民法典") == {"doc_kind": "法", "level": "national"}
    assert legal_meta("广东省失业保险条例") == {"doc_kind": "条例", "level": "local"}
    assert legal_meta("潮州市畲族文化保护条例（2021年修正）") == {"doc_kind": "条例", "level": "local"}
    assert legal_meta("城市居民委员会组织法") == {"doc_kind": "法", "level": "national"}
    assert legal_meta("最高人民法院关于审理民间借贷案件适用法律若干问题的规定") == {
        "doc_kind": "司法解释",
        "level": "national",
    }
    assert legal_meta("保理合同中基础合同的有效性辨析") == {}


def test_reader_records_the_form_of_a_document_made_of_clauses(tmp_path: Path):
    law = tmp_path / "law.md"
    law.write_text(LAW_MD.replace("中华人民共和国示范法", "深圳经济特区示范条例"), encoding="utf-8")
    meta = read_file(law, tmp_path).articles[0].meta
    assert (meta["doc_kind"], meta["level"]) == ("条例", "local")
    essay = tmp_path / "essay.md"
    essay.write_text("# 示范条例读后感\n\n第一次读条例，我记下了三点体会。\n", encoding="utf-8")
    assert "doc_kind" not in read_file(essay, tmp_path).articles[0].meta
