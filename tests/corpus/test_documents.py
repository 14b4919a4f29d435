"""Word, PDF and EPUB files: title, meta, sections, what is left out, bad files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from zhsearch.corpus import packages
from zhsearch.corpus.errors import ReadError
from zhsearch.corpus.readers import read_file
from zhsearch.search.cli import main


def read(path: Path):
    return read_file(path, path.parent).articles[0]


def reason(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    with pytest.raises(ReadError) as info:
        read_file(path, path.parent)
    assert info.value.path == str(path)
    return info.value.reason


# --------------------------------------------------------------------------
# Word


def test_sample_contract_docx(articles_dir: Path):
    a = read(articles_dir / "contract-001.docx")
    assert a.title == "个人借款合同（示范文本）"
    assert (a.meta["author"], a.meta["date"], a.meta["category"]) == (
        "清河市金融消费者权益保护中心",
        "2024-06-03",
        "合同范本",
    )
    clause = next(s for s in a.sections if s.heading == "第四条 还款方式")
    assert clause.path == ("第二章 还款", "第四条 还款方式")
    # The table is text, a row a line, cells in order.
    assert "期数 还款日 应还本金（元） 应还利息（元）" in clause.text.splitlines()
    assert "第1期 次月20日 4,166.67 250.00" in clause.text.splitlines()
    # The page header is not part of the text.
    assert "页眉" not in a.text and "合同编号" not in a.text


def make_docx(path: Path) -> Path:
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    document.core_properties.title = ""
    document.core_properties.author = "王律师"
    cn1 = document.styles.add_style("标题 1", WD_STYLE_TYPE.PARAGRAPH)
    outline = document.styles.add_style("我的小标题", WD_STYLE_TYPE.PARAGRAPH)
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    lvl = OxmlElement("w:outlineLvl")
    lvl.set(qn("w:val"), "1")
    outline.element.get_or_add_pPr().append(lvl)
    document.add_paragraph("债务催收投诉指引", style="Title")
    document.add_paragraph("本指引说明遇到违规催收时怎样投诉。")
    document.add_paragraph("一、可以投诉的情形", style=cn1)
    document.add_paragraph("催收人员辱骂、威胁，或者向家人同事透露欠款。")
    document.add_paragraph("投诉前保存证据", style=outline)
    document.add_paragraph("保存通话录音和短信截图。")
    document.add_heading("二、投诉渠道", level=1)
    table = document.add_table(rows=2, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 1))
    merged.text = "渠道"
    table.cell(0, 2).text = "时限"
    table.cell(1, 0).text = "平台客服"
    table.cell(1, 1).text = "官方电话"
    table.cell(1, 2).text = "十五日内答复"
    document.sections[0].footer.paragraphs[0].text = "页脚内容不检索"
    document.save(str(path))
    return path


def test_docx_heading_styles_tables_and_title(tmp_path: Path):
    a = read(make_docx(tmp_path / "guide.docx"))
    assert a.title == "债务催收投诉指引"
    assert a.meta["author"] == "王律师"
    assert [(s.level, s.path) for s in a.sections] == [
        (0, ()),
        (1, ("一、可以投诉的情形",)),
        (2, ("一、可以投诉的情形", "投诉前保存证据")),
        (1, ("二、投诉渠道",)),
    ]
    # A merged cell once; rows a line each.
    assert a.sections[-1].text == "渠道 时限\n平台客服 官方电话 十五日内答复"
    assert "页脚" not in a.text


def test_encrypted_docx(tmp_path: Path, articles_dir: Path):
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO((articles_dir / "contract-001.docx").read_bytes())).encrypt("secret", out)
    assert reason(tmp_path / "locked.docx", out.getvalue()) == (
        "password-protected (encrypted) Word .docx file; remove the password and save it again"
    )


def zip_bytes(parts: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty file: no title and no text"),
        (
            packages.OLE_MAGIC + b"\x00" * 504,
            "not a Word .docx file: an OLE file (an old Word 97-2003 .doc renamed?); save it as .docx",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not a Word .docx file (not a ZIP package)"),
        (b"just some text", "not a Word .docx file (not a ZIP package)"),
        (zip_bytes({"hello.txt": b"hi"}), "not a Word .docx file (the package has no word/document.xml)"),
    ],
)
def test_bad_docx(tmp_path: Path, data: bytes, expected: str):
    assert reason(tmp_path / "bad.docx", data) == expected


def test_truncated_docx(tmp_path: Path, articles_dir: Path):
    data = (articles_dir / "contract-001.docx").read_bytes()
    assert (
        reason(tmp_path / "cut.docx", data[: len(data) // 2])
        == "truncated or damaged Word .docx file (not a complete ZIP package)"
    )


def test_zip_bomb_and_huge_files_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    bomb = zip_bytes({"word/document.xml": b"<" * (2 * 2**20)})
    monkeypatch.setattr(packages, "MAX_UNPACKED_BYTES", 2**20)
    assert reason(tmp_path / "bomb.docx", bomb) == "too large: unpacks to 2 MB (over 1 MB; a ZIP bomb?)"
    monkeypatch.setattr(packages, "MAX_DOCUMENT_BYTES", 1000)
    assert reason(tmp_path / "big.pdf", b"%PDF-1.4\n" + b" " * 2**20) == "too large (1 MB; files over 0 MB are skipped)"


# --------------------------------------------------------------------------
# PDF


def test_sample_pdf_pages_healed_headers_dropped(articles_dir: Path):
    a = read(articles_dir / "guide-001.pdf")
    assert a.title == "个人债务协商还款指南"
    assert (a.meta["author"], a.meta["date"]) == ("清河市金融消费者权益保护中心", "2024-06-15")
    assert [s.heading for s in a.sections] == [
        "一、什么是协商还款",
        "二、协商前的准备",
        "（一）算清自己的账",
        "（二）准备证明材料",
        "三、怎样和机构沟通",
        "四、警惕代理协商的陷阱",
        "五、需要帮助时",
    ]
    assert a.sections[2].path == ("二、协商前的准备", "（一）算清自己的账")
    # The running header and the page numbers are gone; the paragraphs are whole.
    assert "公众教育资料" not in a.text and "共 3 页" not in a.text
    assert a.sections[0].text.split("\n")[0].endswith("而是在自己能够承受的范围内继续履行债务。")
    long = a.sections[4].text
    assert "\n" not in long and long.startswith("请通过机构") and long.endswith("负责逾期账户的专门部门。")


def pdf_bytes(pages: list[list[str]], images_only: bool = False) -> bytes:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, invariant=1)
    for lines in pages:
        if images_only:
            c.rect(50, 50, 400, 600, fill=1)
        c.setFont("STSong-Light", 12)
        for i, line in enumerate(lines):
            c.drawString(72, 760 - 20 * i, line)
        c.showPage()
    c.save()
    return buf.getvalue()


def test_scanned_pdf_has_no_text_layer(tmp_path: Path):
    assert (
        reason(tmp_path / "scan.pdf", pdf_bytes([[], []], images_only=True))
        == "no text layer (a scanned image?); OCR it first"
    )


def test_encrypted_pdf(tmp_path: Path):
    import pypdf

    def encrypted(user: str, owner: str) -> bytes:
        reader = pypdf.PdfReader(
            io.BytesIO(pdf_bytes([["保密文件", "第一条 本文件仅供内部使用。", "第二条 不得外传。"]]))
        )
        writer = pypdf.PdfWriter(clone_from=reader)
        writer.encrypt(user_password=user, owner_password=owner, algorithm="AES-128")
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()

    assert reason(tmp_path / "locked.pdf", encrypted("secret", "owner")) == (
        "password-protected (encrypted) PDF; save a copy without the password"
    )
    # Restricted (owner password only): it opens without a password and is read.
    (tmp_path / "restricted.pdf").write_bytes(encrypted("", "owner"))
    a = read(tmp_path / "restricted.pdf")
    assert [s.heading for s in a.sections] == ["第一条", "第二条"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty file: no title and no text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not a PDF file (no %PDF- header)"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "truncated or damaged PDF"),
    ],
)
def test_bad_pdf(tmp_path: Path, data: bytes, expected: str):
    assert reason(tmp_path / "bad.pdf", data).startswith(expected)


def test_truncated_pdf_is_skipped_or_read_never_a_crash(tmp_path: Path, articles_dir: Path):
    data = (articles_dir / "guide-001.pdf").read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: len(data) // 3])
    try:
        article = read(path)
    except ReadError as exc:
        assert exc.reason.startswith(("truncated or damaged PDF", "no text layer"))
    else:  # pypdf recovered the pages before the cut
        assert article.title


# --------------------------------------------------------------------------
# EPUB


def make_epub(path: Path, drm: bool = False) -> Path:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("zhsearch-test")
    book.set_title("还债手记")
    book.set_language("zh")
    book.add_author("阿宁")
    book.add_metadata("DC", "date", "2024-01-15")
    chapters = []
    for name, body in [
        ("c2.xhtml", "<h1>第一章 开始</h1><p>那一年我欠下了第一笔网贷。</p><h2>一、记账</h2><p>每一笔都记下来。</p>"),
        ("c1.xhtml", "<p>写给每一个还在还债的人。</p>"),
        ("c3.xhtml", "<h1>第二章 上岸</h1><p>最后一笔还清的那天，我睡了一个好觉。</p>"),
    ]:
        item = epub.EpubHtml(title={"c1.xhtml": "序言"}.get(name, name), file_name=name, lang="zh")
        item.content = f"<html><body>{body}</body></html>"
        book.add_item(item)
        chapters.append(item)
    by_name = {c.file_name: c for c in chapters}
    # Reading order: the preface (c1) first, whatever the file names say.
    book.toc = [epub.Link("c1.xhtml", "序言", "c1")]
    book.spine = ["nav", by_name["c1.xhtml"], by_name["c2.xhtml"], by_name["c3.xhtml"]]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    epub.write_epub(str(path), book)
    if drm:
        data = path.read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            parts = {n: z.read(n) for n in z.namelist()}
        parts["META-INF/encryption.xml"] = (
            b'<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" xmlns:enc="http://www.w3.org/2001/04/xmlenc#">'
            b'<enc:EncryptedData><enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
            b'<enc:CipherData><enc:CipherReference URI="EPUB/c1.xhtml"/></enc:CipherData></enc:EncryptedData></encryption>'
        )
        path.write_bytes(zip_bytes(parts))
    return path


def test_epub_chapters_in_reading_order(tmp_path: Path):
    a = read(make_epub(tmp_path / "book.epub"))
    assert a.title == "还债手记"
    assert (a.meta["author"], a.meta["date"]) == ("阿宁", "2024-01-15")
    assert [(s.heading, s.text) for s in a.sections] == [
        ("序言", "写给每一个还在还债的人。"),
        ("第一章 开始", "那一年我欠下了第一笔网贷。"),
        ("一、记账", "每一笔都记下来。"),
        ("第二章 上岸", "最后一笔还清的那天，我睡了一个好觉。"),
    ]
    assert a.sections[2].path == ("第一章 开始", "一、记账")


def test_bad_epub(tmp_path: Path):
    assert reason(tmp_path / "drm.epub", make_epub(tmp_path / "x.epub", drm=True).read_bytes()) == (
        "DRM-protected (encrypted) EPUB e-book; its text can't be read"
    )
    assert (
        reason(tmp_path / "bad.epub", b"PK\x03\x04garbage")
        == "truncated or damaged EPUB e-book (not a complete ZIP package)"
    )
    assert reason(tmp_path / "txt.epub", b"not a book") == "not a EPUB e-book (not a ZIP package)"


# --------------------------------------------------------------------------
# Through the CLI: a folder of every format


def test_cli_indexes_every_format_and_lists_bad_files(tmp_path: Path, articles_dir: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("contract-001.docx", "guide-001.pdf", "news-001.html"):
        (docs / name).write_bytes((articles_dir / name).read_bytes())
    make_epub(docs / "book.epub")
    (docs / "scan.pdf").write_bytes(pdf_bytes([[]], images_only=True))
    (docs / "old.docx").write_bytes(packages.OLE_MAGIC + b"\x00" * 504)
    index_dir = str(tmp_path / "index")
    runner = CliRunner()
    result = runner.invoke(main, ["index", str(docs), "--index", index_dir])
    assert result.exit_code == 3, result.output
    assert result.stdout.startswith("Indexed 4 articles")
    assert f"  {docs / 'scan.pdf'}: no text layer (a scanned image?); OCR it first" in result.stdout
    assert f"  {docs / 'old.docx'}: not a Word .docx file: an OLE file" in result.stdout
    for query, expected in [
        ("提前还款违约金", "§ 第二章 还款 › 第五条 提前还款"),
        ("代理协商 中介 服务费", "§ 四、警惕代理协商的陷阱"),
        ("睡了一个好觉", "§ 第二章 上岸"),
    ]:
        result = runner.invoke(main, ["search", query, "--index", index_dir, "--color", "never", "-n", "1"])
        assert result.exit_code == 0, result.output
        assert expected in result.stdout, result.stdout
    result = runner.invoke(main, ["search", '"页眉文字"', "--index", index_dir])
    assert result.exit_code == 1
