"""Write the bundled sample Word and PDF documents (a developer script).

    python -m zhsearch.corpus.make_samples      # or: python corpus/make_samples.py

Writes ``articles/contract-001.docx`` (python-docx: a Title paragraph,
heading styles, 第X条 clauses, a table, a page header that must not be
indexed) and ``articles/guide-001.pdf`` (reportlab with its built-in CID font
``STSong-Light``, so Chinese text needs no font file: three pages with a
running header and page-number footer, numbered headings and a paragraph
that runs over a page break).  The text was written for this project.
reportlab is a development dependency only (the ``dev`` extra); the output
is deterministic, so re-running the script changes nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

ARTICLES = Path(__file__).resolve().parent / "articles"

CONTRACT_TITLE = "个人借款合同（示范文本）"
CONTRACT: list[tuple[str, str]] = [
    ("p", "出借人（甲方）：______　　借款人（乙方）：______"),
    ("p", "甲乙双方本着平等自愿、诚实信用的原则，经协商一致，就借款事宜订立本合同，共同遵守。"),
    ("h1", "第一章 借款事项"),
    ("p", "第一条 借款金额"),
    ("p", "甲方同意向乙方出借人民币伍万元整（¥50,000.00），以银行转账方式支付至乙方指定账户。"),
    ("p", "第二条 借款用途"),
    ("p", "乙方借款仅用于家庭装修，未经甲方书面同意，不得改变借款用途，不得用于赌博、投资理财或者偿还其他借款。"),
    ("p", "第三条 借款期限与利率"),
    ("p", "借款期限为十二个月，自甲方实际支付借款之日起计算。借款年利率为百分之六，不计复利。"),
    ("p", "双方约定的利率不得超过合同成立时一年期贷款市场报价利率的四倍，超过部分的利息约定无效。"),
    ("h1", "第二章 还款"),
    ("p", "第四条 还款方式"),
    ("p", "乙方按月等额偿还本息，每月二十日为还款日，还款计划如下表："),
    ("table", ""),
    ("p", "第五条 提前还款"),
    ("p", "乙方可以提前偿还全部或者部分借款，利息按照实际借款期间计算，甲方不得收取提前还款违约金。"),
    ("h1", "第三章 违约责任与争议解决"),
    ("p", "第六条 逾期还款"),
    (
        "p",
        "乙方未按期还款的，应当自逾期之日起就逾期部分按照年利率百分之六另行支付逾期利息。甲方催收借款，应当采用合法方式，不得骚扰乙方的家人、同事。",
    ),
    ("p", "第七条 争议解决"),
    ("p", "因本合同发生争议的，双方应当友好协商；协商不成的，任何一方可以向甲方住所地人民法院提起诉讼。"),
    ("p", "第八条 其他"),
    ("p", "本合同一式两份，甲乙双方各执一份，自双方签字之日起生效。"),
]
SCHEDULE = [
    ("期数", "还款日", "应还本金（元）", "应还利息（元）"),
    ("第1期", "次月20日", "4,166.67", "250.00"),
    ("第2期", "第三个月20日", "4,166.67", "229.17"),
    ("……", "……", "……", "……"),
]

GUIDE_TITLE = "个人债务协商还款指南"
GUIDE_HEADER = "清河市金融消费者权益保护中心 · 公众教育资料"
GUIDE: list[tuple[str, str]] = [
    ("h", "一、什么是协商还款"),
    (
        "p",
        "协商还款是指借款人因失业、疾病、经营困难等原因暂时无法按原合同还款时，主动与银行或者贷款机构沟通，"
        "在双方自愿的基础上重新约定还款期限、金额和方式。它不是逃避债务，而是在自己能够承受的范围内继续履行债务。",
    ),
    (
        "p",
        "协商的结果可能是延期还款、分期偿还、减免部分罚息，也可能被拒绝。无论结果如何，主动沟通都比长期失联更有利，"
        "因为失联会让机构把账户转入更严厉的催收和诉讼程序。",
    ),
    ("h", "二、协商前的准备"),
    ("h", "（一）算清自己的账"),
    (
        "p",
        "把所有借款列成清单，写明机构名称、剩余本金、利率、每月应还金额和逾期天数。再根据家庭收入和必要支出，"
        "算出每个月最多能拿出多少钱用于还款。提出的方案必须是自己真正做得到的，否则签下新的协议后再次违约，处境只会更难。",
    ),
    ("h", "（二）准备证明材料"),
    (
        "p",
        "常用的材料包括：解除劳动合同的证明、医院的诊断证明和费用清单、营业执照注销或者经营亏损的证明、最近半年的银行流水。"
        "材料越具体，越能说明还款困难是真实的、暂时的。复印件上可以注明仅供协商还款使用，避免被挪作他用。",
    ),
    ("h", "三、怎样和机构沟通"),
    (
        "p",
        "请通过机构的官方客服电话、营业网点或者官方应用提出申请，说明困难的原因、持续的时间和自己的还款方案。"
        "沟通时保持冷静，记下每次通话的时间和对方工号。对方口头答应的方案，一定要以书面形式或者在官方应用中确认后再按新方案还款。"
        "在收到确认之前，尽量按照原合同至少偿还一部分，表明自己的诚意，也减少逾期记录的累积。如果一次申请没有成功，"
        "可以在补充材料以后再次申请，也可以请求转接负责逾期账户的专门部门。",
    ),
    ("h", "四、警惕代理协商的陷阱"),
    (
        "p",
        "一些中介声称可以包办停息挂账、保证减免利息，要求先交几千元服务费，还要借款人交出身份证件和账户密码。"
        "协商还款本人就可以免费办理，中介无法作出任何保证，交出个人信息还可能被用于诈骗。遇到这类宣传，请向金融监管部门反映。",
    ),
    ("h", "五、需要帮助时"),
    (
        "p",
        "如果与机构的沟通陷入僵局，可以向本中心或者当地的金融消费纠纷调解组织申请调解，调解不收取费用。"
        "已经被起诉的，请按时应诉，在法庭上同样可以请求调解。",
    ),
]


def write_docx(path: Path) -> None:
    import docx
    from docx.shared import Pt

    document = docx.Document()
    props = document.core_properties
    props.title, props.author, props.category = CONTRACT_TITLE, "清河市金融消费者权益保护中心", "合同范本"
    props.keywords = "借款合同, 示范文本"
    props.created = props.modified = dt.datetime(2024, 6, 3, 9, 0, 0)
    props.last_modified_by, props.revision = "", 1
    header = document.sections[0].header.paragraphs[0]
    header.text = "合同编号：QH-JK-__________　页眉文字不应被检索"
    document.add_paragraph(CONTRACT_TITLE, style="Title")
    for kind, text in CONTRACT:
        if kind == "h1":
            document.add_heading(text, level=1)
        elif kind == "table":
            table = document.add_table(rows=len(SCHEDULE), cols=len(SCHEDULE[0]))
            for r, row in enumerate(SCHEDULE):
                for c, value in enumerate(row):
                    table.cell(r, c).text = value
        else:
            paragraph = document.add_paragraph(text)
            if text.startswith("第") and len(text) < 12:
                paragraph.runs[0].bold = True
                paragraph.runs[0].font.size = Pt(12)
    document.save(str(path))


def _wrap(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)]


def write_pdf(path: Path) -> None:
    from reportlab.lib.pagesizes import A5
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pages: list[list[tuple[str, str]]] = [[]]
    per_line, per_page = 26, 24
    used = 0
    lines: list[tuple[str, str]] = [("title", GUIDE_TITLE), ("gap", "")]
    for kind, text in GUIDE:
        if kind == "h":
            lines += [("gap", ""), ("h", text)]
        else:
            wrapped = _wrap(text, per_line)
            lines += [("p1", wrapped[0])] + [("p", line) for line in wrapped[1:]]
    for line in lines:
        if used == per_page:
            pages.append([])
            used = 0
        pages[-1].append(line)
        used += 1
    c = canvas.Canvas(str(path), pagesize=A5, invariant=1)
    c.setTitle(GUIDE_TITLE)
    c.setAuthor("清河市金融消费者权益保护中心")
    c.setDateFormatter(lambda *_: "D:20240615090000+08'00'")
    width, height = A5
    for number, page in enumerate(pages, 1):
        c.setFont("STSong-Light", 8)
        c.drawString(40, height - 30, GUIDE_HEADER)
        c.drawCentredString(width / 2, 25, f"第 {number} 页 共 {len(pages)} 页")
        y = height - 60
        for kind, text in page:
            if kind == "title":
                c.setFont("STSong-Light", 14)
                c.drawCentredString(width / 2, y, text)
            elif kind == "h":
                c.setFont("STSong-Light", 11)
                c.drawString(40, y, text)
            elif kind in ("p", "p1"):
                c.setFont("STSong-Light", 10)
                c.drawString(60 if kind == "p1" else 40, y, text)  # 首行缩进两字
            y -= 20
        c.showPage()
    c.save()


def main() -> None:
    write_docx(ARTICLES / "contract-001.docx")
    write_pdf(ARTICLES / "guide-001.pdf")
    print(f"wrote {ARTICLES / 'contract-001.docx'} and {ARTICLES / 'guide-001.pdf'}")


if __name__ == "__main__":
    main()
