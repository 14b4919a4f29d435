"""Saved web pages: main text, title, metadata, encodings and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from zhsearch.corpus.errors import ReadError
from zhsearch.corpus.readers import read_file
from zhsearch.indexer.build import build_index
from zhsearch.search.cli import main
from zhsearch.search.searcher import Searcher

PAGES = ("news-001.html", "forum-001.html", "blog-001.html", "gov-001.html", "ask-001.html")
# Words that only the pages' navigation, footers, comments, share bars,
# sidebars and scripts contain.
BOILERPLATE = (
    "我要提问",
    "下载客户端",
    "联系我们",
    "关于博主",
    "版权所有",
    "备案号",
    "早该这样",
    "理财小白兔",
    "广告位",
    "晨风统计代码",
    "分享到朋友圈",
    "只看该作者",
    "感谢楼主",
    "坐等答案",
    "无障碍浏览",
    "打印本页",
    "长者模式",
    "点赞",
    "上一页",
    "立即注册",
    "签名",
    "积分",
    "演唱会",
)


def read(path: Path, root: Path | None = None):
    return read_file(path, root or path.parent).articles[0]


def test_news_page_title_meta_and_main_text(articles_dir: Path):
    a = read(articles_dir / "news-001.html")
    assert a.title == "多地法院集中审理网贷纠纷 调解成功率明显上升"
    assert (a.meta["author"], a.meta["date"], a.meta["category"]) == ("林晓雯", "2024-05-14", "财经")
    assert a.meta["related"][:2] == [
        "信用卡分期手续费怎么算？专家教你看懂年化利率",
        "催收新规落地一周年：暴力催收投诉量下降",
    ]
    assert a.text.startswith("今年以来，多地基层法院")
    assert a.text.endswith("必要时向当地法院或人民调解组织求助。")
    # The byline and the editor line are metadata, not text.
    assert "来源：" not in a.text and "责任编辑" not in a.text


def test_forum_thread_is_its_first_post(articles_dir: Path):
    a = read(articles_dir / "forum-001.html")
    assert a.title == "信用卡逾期八个月，自己和银行协商成功了，分享全过程"
    assert (a.meta["author"], a.meta["date"]) == ("慢慢上岸的阿宁", "2024-03-22")
    assert a.text.startswith("去年生意失败以后")
    assert a.text.endswith("收了前期费用就消失的我见过好几个。")
    assert "感谢楼主" not in a.text and "发表于" not in a.text


def test_blog_headings_become_sections(articles_dir: Path):
    a = read(articles_dir / "blog-001.html")
    assert a.title == "以贷养贷的三年：我是怎么一步步停下来的"
    assert (a.meta["author"], a.meta["date"], a.meta["category"]) == ("老林", "2023-11-05", "负债日记")
    assert [s.heading for s in a.sections] == [
        "",
        "一张表格让我看清了窟窿",
        "先停掉新的借款",
        "按利率从高到低还",
        "写给还在循环里的人",
    ]
    assert a.meta["related"][0] == "债务清单模板分享（附表格下载）"
    assert "路人甲" not in a.text and "推荐阅读" not in a.text


def test_gbk_page_declared_by_http_equiv(articles_dir: Path):
    raw = (articles_dir / "ask-001.html").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    a = read(articles_dir / "ask-001.html")
    assert a.title == "借呗逾期三个月了，会被起诉吗？现在还来得及协商吗？"
    assert (a.meta["category"], a.meta["date"]) == ("债务纠纷", "2024-02-18")
    assert a.text.startswith("去年底失业，借呗欠了两万三")
    assert "坐等答案" not in a.text and "最佳答案" not in a.text
    assert a.meta["related"] == ["花呗逾期一天会上征信吗？", "网贷起诉后多久开庭？"]


PAGE = """<html><head>{meta}<title>催收电话一天打几次算违规_某某网</title></head>
<body><nav><a href="/">首页</a> <a href="/login">登录</a></nav>
<div class="content"><h1>催收电话一天打几次算违规</h1>
<p>根据行业规范，催收机构每天联系同一债务人的次数有明确上限，超过上限就可以投诉。很多借款人并不知道这一点。</p>
<h2>一、次数的上限</h2><p>每天通过电话联系同一债务人一般不得超过三次，夜间不得拨打。</p>
<p>1.1 夜间的时间段</p><p>晚上十点到第二天早上八点之间属于夜间，这个时间段不应接到催收电话。</p>
<h2>二、怎样投诉</h2><p>保存通话记录和录音，向平台客服投诉，也可以向金融监管部门反映。</p>
</div><footer>版权所有 某某网</footer></body></html>"""


@pytest.mark.parametrize(
    ("encoding", "meta"),
    [
        ("utf-8", ""),
        ("gbk", '<meta charset="gbk">'),
        ("gbk", ""),  # undeclared: detected like .txt
        ("gb2312", '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'),
        ("big5", '<meta charset="big5">'),
        ("big5", ""),
        ("gbk", '<meta charset="utf-8">'),  # declared wrongly
    ],
)
def test_encodings(tmp_path: Path, encoding: str, meta: str):
    page = PAGE.format(meta=meta)
    if encoding == "big5":
        import opencc

        page = opencc.OpenCC("s2t").convert(page)
    path = tmp_path / "p.html"
    path.write_bytes(page.encode(encoding))
    a = read(path)
    expected = "催收电话一天打几次算违规" if encoding != "big5" else "催收電話一天打幾次算違規"
    assert a.title == expected
    assert "登录" not in a.text and "登錄" not in a.text


def test_numbered_headings_nest_under_html_headings(tmp_path: Path):
    path = tmp_path / "p.html"
    path.write_text(PAGE.format(meta=""), encoding="utf-8")
    a = read(path)
    assert [(s.level, s.path) for s in a.sections] == [
        (0, ()),
        (1, ("一、次数的上限",)),
        (2, ("一、次数的上限", "1.1 夜间的时间段")),
        (1, ("二、怎样投诉",)),
    ]


def test_title_from_title_tag_without_site_name(tmp_path: Path):
    path = tmp_path / "p.htm"
    path.write_text(
        "<html><head><title>停息挂账是真的吗 - 法律频道 - 某某网</title></head><body>"
        "<p>停息挂账是银行对确有困难的持卡人提供的个性化分期方案，需要本人与银行协商，并不是谁都能办理的。</p>"
        "<p>中介宣传的包办停息挂账多数收取高额费用，最后还是要借款人自己出面。</p></body></html>",
        encoding="utf-8",
    )
    a = read(path)
    assert a.title == "停息挂账是真的吗"
    assert "个性化分期方案" in a.text


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file: no title and no text"),
        (b"   \n\t ", "empty file: no title and no text"),
        (b"<html><head></head><body></body></html>", "empty file: no title and no text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary file (contains NUL bytes)"),
    ],
)
def test_bad_pages_are_read_errors(tmp_path: Path, content: bytes, reason: str):
    path = tmp_path / "bad.html"
    path.write_bytes(content)
    with pytest.raises(ReadError) as info:
        read_file(path, tmp_path)
    assert info.value.reason == reason


def test_truncated_page_keeps_what_it_has(tmp_path: Path):
    page = PAGE.format(meta="").encode("utf-8")
    path = tmp_path / "cut.html"
    path.write_bytes(page[: page.index("二、怎样投诉".encode()) + 9])
    a = read(path)
    assert a.title == "催收电话一天打几次算违规"
    assert "夜间不得拨打" in a.text


def test_boilerplate_words_are_never_found(tmp_path: Path, articles_dir: Path):
    index_dir = tmp_path / "index"
    build_index([articles_dir / name for name in PAGES], index_dir)
    with Searcher(index_dir) as searcher:
        for word in BOILERPLATE:
            results = searcher.search(f'"{word}"')
            # No article has the phrase (at most the relaxed query's words, said so).
            relaxed = any("no article has all of" in n for n in results.notices)
            assert results.total == 0 or relaxed, (word, [h.id for h in results.hits])
        assert searcher.search("调解成功率").hits[0].id == "news-001.html"


def test_cli_indexes_and_finds_a_page(tmp_path: Path, articles_dir: Path):
    docs = tmp_path / "web"
    docs.mkdir()
    for name in PAGES:
        (docs / name).write_bytes((articles_dir / name).read_bytes())
    (docs / "broken.html").write_bytes(b"\x00\x01\x02")
    index_dir = str(tmp_path / "index")
    runner = CliRunner()
    result = runner.invoke(main, ["index", str(docs), "--index", index_dir])
    assert result.exit_code == 3, result.output
    assert result.stdout.startswith("Indexed 5 articles")
    assert f"  {docs / 'broken.html'}: binary file (contains NUL bytes)" in result.stdout
    result = runner.invoke(main, ["search", "二十二时至次日八时", "--index", index_dir, "--color", "never", "-n", "1"])
    assert result.exit_code == 0, result.output
    assert "§ 第二章 催收行为 › 第四条" in result.stdout
    result = runner.invoke(main, ["search", '"版权所有"', "--index", index_dir])
    # No page has the footer's phrase: at most its words, said so.
    assert result.exit_code == 1 or "no article has all of 版权所有" in result.output


def test_government_info_table_is_metadata(articles_dir: Path):
    a = read(articles_dir / "gov-001.html")
    assert (a.meta["doc_number"], a.meta["author"]) == ("清金发〔2024〕12号", "清河市金融工作局")
    assert "索引号" not in a.text.replace(" ", "")
    assert a.text.startswith("各区县金融工作部门")


def test_table_layout_page_without_its_link_lists(tmp_path: Path):
    links = "".join(f'<tr><td>·<a href="l{i}.asp">栏目{i}的名字</a></td></tr>' for i in range(6))
    page = (
        '<html><head><meta charset="utf-8"><title>借条怎么写才有效--法律常识--某某服务站</title></head><body>'
        f"<table><tr><td width=180><table><tr><td><b>热门文章</b></td></tr>{links}</table></td>"
        "<td><table><tr><td><font size=4><b>借条怎么写才有效</b></font></td></tr>"
        "<tr><td>发布时间：2023-6-12　作者：社区法律顾问</td></tr>"
        "<tr><td><p>借条应当写明出借人和借款人的姓名、借款金额、借款日期和还款日期，由借款人签名并按手印。</p>"
        "<p>金额最好同时写大写和小写，避免日后被涂改。利息有约定的要写清楚年利率。</p></td></tr>"
        '<tr><td>上一篇：<a href="a.asp">欠条和借条的区别</a><br>下一篇：<a href="b.asp">民间借贷利息</a></td></tr>'
        "</table></td></tr></table><p>某某服务站 版权所有 电话：0000-1234567</p></body></html>"
    )
    path = tmp_path / "old.html"
    path.write_text(page, encoding="utf-8")
    a = read(path)
    assert a.title == "借条怎么写才有效"
    assert (a.meta["author"], a.meta["date"]) == ("社区法律顾问", "2023-06-12")
    assert a.text == (
        "借条应当写明出借人和借款人的姓名、借款金额、借款日期和还款日期，由借款人签名并按手印。\n"
        "金额最好同时写大写和小写，避免日后被涂改。利息有约定的要写清楚年利率。"
    )


def test_article_ends_at_end_marks_and_drops_page_chatter(tmp_path: Path):
    body = "".join(f"<p>第{i}段正文，讲的是停息挂账需要本人和银行协商，不需要交钱给中介。</p>" for i in range(3))
    page = (
        f"<html><head><title>停息挂账要交钱吗</title></head><body><article><h1>停息挂账要交钱吗</h1>{body}"
        "<p>长按识别二维码，关注我们</p><p>— END —</p><p>精选留言</p><p>说得太对了，我差点被骗。</p>"
        "</article></body></html>"
    )
    path = tmp_path / "end.html"
    path.write_text(page, encoding="utf-8")
    a = read(path)
    assert a.text.count("停息挂账需要本人") == 3
    assert "二维码" not in a.text and "END" not in a.text and "差点被骗" not in a.text


def test_title_is_the_h1_inside_a_decorated_title(tmp_path: Path):
    path = tmp_path / "q.html"
    path.write_text(
        "<html><head><title>(2 条消息) 征信有逾期还能贷款吗？ - 某乎</title></head><body><h1>征信有逾期还能贷款吗？</h1>"
        "<p>两年前信用卡逾期过三次，每次十几天，后来都还清了，现在申请房贷会不会被拒。</p></body></html>",
        encoding="utf-8",
    )
    a = read(path)
    assert a.title == "征信有逾期还能贷款吗？"
    assert a.text.startswith("两年前信用卡逾期过三次")


BLOG_TEXT = (
    "老屋后面有一口井，夏天把西瓜吊下去，傍晚捞上来，切开时还冒着凉气。",
    "后来通了自来水，井被填平，种上了一棵桂花，每年八月香满整条巷子。",
    "去年回去，桂花树还在，只是巷子里认识我的人已经不多了。",
)


def test_profile_box_beside_the_text_is_not_text(tmp_path: Path):
    """An old blog's profile (头像, 文章数, 访问量, 积分) in the same table
    column as the article, which extraction would keep."""
    body = "".join(f"<p>{t}</p>" for t in BLOG_TEXT)
    path = tmp_path / "blog.html"
    path.write_text(
        "<html><head><meta charset='utf-8'><title>老屋的井_青石的日志_某某博客</title></head><body><table><tr><td>"
        "<div class='blogger-info'><img alt='头像' src='a.jpg'><p><a href='/u/qs'>青石</a></p><p>文章数：326</p>"
        "<p>访问量：128,045</p><p>积分：2310</p><p>江南人，中学语文教师，业余写点散文。</p></div>"
        f"<h3>老屋的井</h3>{body}</td></tr></table></body></html>",
        encoding="utf-8",
    )
    a = read(path)
    assert a.text == "\n".join(BLOG_TEXT)


def test_reply_form_and_thread_furniture_are_not_text(tmp_path: Path):
    body = "".join(f"<p>{t}</p>" for t in BLOG_TEXT)
    path = tmp_path / "post.html"
    path.write_text(
        "<html><head><meta charset='utf-8'><title>老屋的井 - 怀旧 - 某某论坛</title></head><body><div class='main'>"
        "<div>[原创散文]</div><div>老屋的井</div><div>查看: 5620 | 回复: 3</div>"
        f"<div class='text'>{body}</div>"
        "<div class='reply'><h3>快速回复</h3><textarea></textarea><button>发表回复</button></div>"
        "</div></body></html>",
        encoding="utf-8",
    )
    a = read(path)
    assert a.text == "\n".join(BLOG_TEXT)


def test_comments_under_a_bare_heading_are_not_text(tmp_path: Path):
    body = "".join(f"<p>{t}</p>" for t in BLOG_TEXT)
    path = tmp_path / "c.html"
    path.write_text(
        "<html><head><meta charset='utf-8'><title>老屋的井</title></head><body><div class='art'>"
        f"<h2>老屋的井</h2><span>(2022-12-30 23:41:05)</span>{body}</div>"
        "<div class='allComm'><div>评论</div><div class='c'>写得真好，想起了外婆家。</div></div></body></html>",
        encoding="utf-8",
    )
    a = read(path)
    assert a.text == "\n".join(BLOG_TEXT)


# Words only the new shapes' furniture holds: profile boxes, lawyer cards,
# replies, floor marks, forms and rankings.
FURNITURE = ("访问量", "文章数", "积分", "咨询电话", "执业证号", "沙发", "板凳", "发表回复", "排行榜", "等级")


def test_furniture_words_are_never_found(tmp_path: Path):
    docs = tmp_path / "web"
    docs.mkdir()
    body = "".join(f"<p>{t}</p>" for t in BLOG_TEXT)
    (docs / "blog.html").write_text(
        "<html><head><meta charset='utf-8'><title>老屋的井_青石的日志</title></head><body><table><tr>"
        "<td><div class='mod-profile'><p>青石</p><p>文章数：326</p><p>访问量：128,045</p><p>积分：2310</p>"
        "<p>等级：九级</p></div></td>"
        f"<td><h3>老屋的井</h3>{body}</td></tr></table>"
        "<div class='hot'><h3>排行榜</h3><ol><li><a href='/1'>井水为什么冬暖夏凉</a></li>"
        "<li><a href='/2'>老屋翻修要注意什么</a></li></ol></div></body></html>",
        encoding="utf-8",
    )
    lawyer = (
        "<div class='lawyer-card'><p>周律师</p><p>执业证号：14401200000000000</p><p>咨询电话：138-0000-0000</p></div>"
    )
    (docs / "law.html").write_text(
        "<html><head><meta charset='utf-8'><title>借条的诉讼时效 - 某某律师事务所</title></head><body>"
        f"<div class='wrap'>{lawyer}<div class='content'><h1>借条的诉讼时效</h1>"
        "<p>借条约定了还款期限的，诉讼时效从期限届满的次日起算，期间为三年。</p>"
        "<p>出借人书面催要、借款人同意还款，都会使诉讼时效中断并重新计算。</p></div></div></body></html>",
        encoding="utf-8",
    )
    posts = "".join(
        f'<li class="row-item"><a class="nickname" href="/people/{i}">花友{i}</a><span>{mark}</span><p>{text}</p></li>'
        for i, (mark, text) in enumerate(
            [("楼主", "月季换盆要选透气的红陶盆，浇透以后放在散射光处缓苗一周。"), ("沙发", "学习了"), ("板凳", "顶")]
        )
    )
    (docs / "thread.html").write_text(
        "<html><head><meta charset='utf-8'><title>月季换盆</title></head><body>"
        f"<ul>{posts}</ul><div class='fast'><h3>快速回复</h3><textarea></textarea><button>发表回复</button></div>"
        "</body></html>",
        encoding="utf-8",
    )
    build_index([docs], tmp_path / "index")
    with Searcher(tmp_path / "index") as searcher:
        for word in FURNITURE:
            results = searcher.search(f'"{word}"')
            relaxed = any("no article has all of" in n for n in results.notices)
            assert results.total == 0 or relaxed, (word, [h.id for h in results.hits])
        assert searcher.search("诉讼时效中断").hits[0].id == "law.html"
        assert searcher.search("红陶盆").hits[0].id == "thread.html"
        assert searcher.search("老屋的井").hits[0].id == "blog.html"
