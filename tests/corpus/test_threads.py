"""Pages made of posts: a Q&A page is its question and one answer, a thread
its first post; comment lists, signatures and profile counters are not text."""

from __future__ import annotations

from pathlib import Path

from zhsearch.corpus.readers import read_file

QUESTION = "我在外地打工，老家的房子被人占了，户口本和房产证都在我这里，应该先找村委会还是直接起诉？"
ANSWERS = (
    "先写一份书面材料交给村委会调解，调解不成再向房子所在地的法院起诉，证据要带齐。",
    "直接报警就行了，让派出所出面处理这种占房的事情。",
    "可以找律师发律师函，对方一般就会搬走了，费用也不高。",
)


def _answer(i: int, text: str, extra: str = "") -> str:
    return (
        f'<div class="reply-card{extra}" id="reply-{i}"><div class="reply-author"><a href="/user/{i}">网友{i}</a></div>'
        f'<div class="reply-body"><p>{text}</p></div><div class="reply-time">2024-03-0{i} 10:00</div></div>'
    )


def _qa_page(tmp_path: Path, accepted: int | None) -> str:
    answers = "".join(
        _answer(i, text, " is-accepted" if i == accepted else "") for i, text in enumerate(ANSWERS, start=1)
    )
    page = (
        "<html><head><meta charset='utf-8'><title>老家房子被占了怎么办 - 某某问答</title></head><body>"
        "<div class='nav'><a href='/'>首页</a><a href='/ask'>提问</a></div>"
        "<div class='question-card'><h1>老家房子被占了怎么办</h1>"
        f"<div class='question-text'>{QUESTION}</div><div class='question-stats'>浏览 310 次，关注 4 人</div></div>"
        f"<div class='replies'>{answers}</div></body></html>"
    )
    path = tmp_path / "qa.html"
    path.write_text(page, encoding="utf-8")
    return read_file(path, tmp_path).articles[0].text


def test_qa_page_is_the_question_and_the_first_answer(tmp_path: Path):
    text = _qa_page(tmp_path, accepted=None)
    assert text.startswith(QUESTION)
    assert ANSWERS[0] in text
    assert ANSWERS[1] not in text and ANSWERS[2] not in text
    assert "浏览" not in text


def test_qa_page_keeps_the_accepted_answer_wherever_it_is(tmp_path: Path):
    text = _qa_page(tmp_path, accepted=3)
    assert text.startswith(QUESTION)
    assert ANSWERS[2] in text
    assert ANSWERS[0] not in text and ANSWERS[1] not in text


def test_thread_is_its_first_post_without_signatures(tmp_path: Path):
    first = "第一次自己去车管所办解除抵押，带齐身份证、绿本和结清证明，窗口十分钟就办完了，下面是详细过程。"
    posts = "".join(
        f'<div class="msg-row" id="m{i}"><span class="poster"><a href="/member/{i}">车友{i}</a></span>'
        f'<div class="msg-body">{text}</div><div class="signature">签名：开车不喝酒，喝酒不开车。</div></div>'
        for i, text in enumerate([first, "请问外地车也能这样办吗？我的车是在老家上的牌。", "顶一下，很有用。"])
    )
    path = tmp_path / "thread.html"
    path.write_text(f"<html><head><title>解除抵押</title></head><body>{posts}</body></html>", encoding="utf-8")
    text = read_file(path, tmp_path).articles[0].text
    assert first in text
    assert "外地车" not in text and "顶一下" not in text and "签名" not in text


def test_an_article_in_post_classes_is_not_a_thread(tmp_path: Path):
    """One ``post-meta`` and one ``post-content`` are not a list of posts."""
    body = "".join(
        f"<p>第{i}段：还款计划要按月收入来定，先保证最低还款，再和银行协商分期的期数。</p>" for i in range(3)
    )
    path = tmp_path / "post.html"
    path.write_text(
        "<html><head><title>还款计划怎么定</title></head><body><article class='post'>"
        "<div class='post-meta'><a href='/author/1'>阿青</a> 2024-01-02</div>"
        f"<div class='post-content'>{body}</div></article></body></html>",
        encoding="utf-8",
    )
    text = read_file(path, tmp_path).articles[0].text
    assert text.count("还款计划要按月收入来定") == 3


def test_profile_counters_are_not_text(tmp_path: Path):
    body = "".join(f"<p>第{i}段：整理旧物时找到父亲的存折，每一笔存款都不多，却记了整整二十年。</p>" for i in range(3))
    path = tmp_path / "blog.html"
    path.write_text(
        "<html><head><title>父亲的存折_老槐树的日志_某某博客</title></head><body><table><tr><td>"
        "<p>博主：老槐树</p><p>访问量：56,204</p><p>粉丝：1,027</p></td><td><h2>父亲的存折</h2>"
        f"{body}<p>阅读(2306) | 评论(14) | 转载(3)</p></td></tr></table></body></html>",
        encoding="utf-8",
    )
    a = read_file(path, tmp_path).articles[0]
    assert a.title == "父亲的存折"
    assert a.meta["author"] == "老槐树"
    assert a.text.startswith("第0段")
    assert "访问量" not in a.text and "粉丝" not in a.text and "阅读(" not in a.text


def test_author_box_and_edit_date_lines_are_not_text(tmp_path: Path):
    body = "".join(
        f"<p>第{i}段：年终奖可以单独计税，也可以并入综合所得，两种方式各试算一次再选。</p>" for i in range(3)
    )
    path = tmp_path / "column.html"
    path.write_text(
        "<html><head><title>年终奖怎么交税</title></head><body><article><h1>年终奖怎么交税</h1>"
        "<div class='AuthorInfo'><a href='/people/lin'>税务林老师</a><span>注册税务师</span></div>"
        f"<div class='content'>{body}</div><div class='time'>编辑于 2024-01-15 09:12・IP 属地浙江</div>"
        "</article></body></html>",
        encoding="utf-8",
    )
    a = read_file(path, tmp_path).articles[0]
    assert a.text.startswith("第0段") and a.text.endswith("再选。")
    assert "税务林老师" not in a.text and "编辑于" not in a.text
    assert a.meta["date"] == "2024-01-15"


FIRST_POST = "第一次给阳台的月季换盆，选了透气的红陶盆，底部垫了碎瓦片，再铺一层松针土，浇透以后放在散射光的地方缓苗。"


def _item_thread(tmp_path: Path, item_class: str) -> str:
    """A thread whose posts are classed by item (no post/reply word), each
    with a poster column and a floor mark."""
    marks = ("楼主", "沙发", "板凳", "3楼")
    texts = (FIRST_POST, "换盆以后要不要马上施肥？我的叶子有点发黄。", "收藏了，明天也试试。", "红陶盆夏天干得快。")
    posts = "".join(
        f'<li class="{item_class}"><div class="item-left"><a class="nickname" href="/people/{i}">花友{i}</a>'
        f'<span>等级 {i}</span></div><div class="item-right"><span class="floor-no">{mark}</span>'
        f'<div class="item-text"><p>{text}</p></div></div></li>'
        for i, (mark, text) in enumerate(zip(marks, texts, strict=True))
    )
    path = tmp_path / "thread.html"
    path.write_text(
        "<html><head><meta charset='utf-8'><title>月季换盆记录 - 阳台花园 - 某某社区</title></head><body>"
        f"<h1>月季换盆记录</h1><ul class='floors'>{posts}</ul></body></html>",
        encoding="utf-8",
    )
    return read_file(path, tmp_path).articles[0].text


def test_thread_of_item_classed_posts_is_its_first_post(tmp_path: Path):
    text = _item_thread(tmp_path, "list-item clearfix")
    assert FIRST_POST in text
    assert "叶子有点发黄" not in text and "收藏了" not in text and "红陶盆夏天" not in text
    assert "沙发" not in text and "楼主" not in text


def test_items_without_floor_marks_are_not_a_thread(tmp_path: Path):
    """Teasers of other articles, each with an author link, are left to extraction."""
    items = "".join(
        f'<li class="card-item"><a href="/people/{i}">作者{i}</a><p>第{i}段：换盆要选阴天，根系少晒太阳，'
        "缓苗一周以后再正常浇水施肥。</p></li>"
        for i in range(3)
    )
    path = tmp_path / "list.html"
    path.write_text(f"<html><head><title>换盆</title></head><body><ul>{items}</ul></body></html>", encoding="utf-8")
    text = read_file(path, tmp_path).articles[0].text
    assert text.count("换盆要选阴天") == 3
