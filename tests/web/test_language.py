"""Pages are in Simplified Chinese by default; ?lang=en switches to English, remembered by a cookie, ?lang=zh back."""

from __future__ import annotations

from html import unescape
from html.parser import HTMLParser

import pytest
from babel.messages.pofile import read_po

from config import ROOT
from tests.conftest import csrf_from, sign_in

PO = ROOT / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
LABEL_ATTRS = {"placeholder", "aria-label", "data-label", "title"}


class _Texts(HTMLParser):
    """Every piece of text a user sees or hears: text nodes, plus labels a screen reader reads out."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: set[str] = set()
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if value and (name in LABEL_ATTRS or (name.startswith("data-") and name.endswith("-text"))):
                self.texts.add(unescape(value).strip())

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.add(data.strip())


def texts(html: str) -> set[str]:
    parser = _Texts()
    parser.feed(html)
    return parser.texts


@pytest.fixture(scope="module")
def catalogue():
    with PO.open("rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id and isinstance(m.id, str)}


def page(client, path: str) -> str:
    r = client.get(path)
    assert r.status_code == 200, (path, r.status_code)
    return r.get_data(as_text=True)


def test_sign_in_page_is_chinese_by_default(client):
    html = page(client, "/signin")
    assert '<html lang="zh-CN">' in html
    assert "<h1>登录</h1>" in html
    assert "Sign in" not in html and "Password" not in html
    assert "密码" in texts(html)


def test_english_is_chosen_remembered_and_switched_back(client):
    html = page(client, "/signin?lang=en")
    assert '<html lang="en">' in html
    assert "<h1>Sign in</h1>" in html and "登录" not in html
    assert client.get_cookie("lang").value == "en"

    # Later pages, without the parameter, stay English because of the cookie.
    html = page(client, "/signin")
    assert "<h1>Sign in</h1>" in html and "Password" in texts(html)

    html = page(client, "/signin?lang=zh")
    assert "<h1>登录</h1>" in html and "Sign in" not in html
    assert client.get_cookie("lang").value == "zh"
    assert "<h1>登录</h1>" in page(client, "/signin")


def test_language_link_points_to_the_other_language(client):
    assert '<a href="/signin?lang=en" lang="en">English</a>' in page(client, "/signin")
    assert '<a href="/signin?lang=zh" lang="zh-CN">中文</a>' in page(client, "/signin?lang=en")


def test_language_link_keeps_the_search(client, town):
    from tests.conftest import sign_in

    sign_in(client, town, "district_admin")
    html = page(client, "/members/?q=%E6%9D%8E&tag=volunteer")
    assert 'href="/members/?q=%E6%9D%8E&amp;tag=volunteer&amp;lang=en"' in html


def test_sign_in_errors_and_notices_follow_the_language(client, town):
    _, mobile, _ = town.users["volunteer"]

    def wrong_password(lang_param: str = "") -> str:
        form = page(client, "/signin" + lang_param)
        r = client.post(
            "/signin",
            data={
                "csrf_token": csrf_from(form),
                "district": town.district.id,
                "mobile": mobile,
                "password": "not-the-password",
            },
        )
        assert r.status_code == 401
        return r.get_data(as_text=True)

    assert "手机号或密码错误" in wrong_password()
    assert "Wrong mobile number or password." in wrong_password("?lang=en")
    # The notice shown when a page needs signing in is translated too (it is made before the locale is known).
    r = client.get("/members/", follow_redirects=True)
    assert "Please sign in to see this page." in r.get_data(as_text=True)
    client.get("/signin?lang=zh")
    r = client.get("/members/", follow_redirects=True)
    assert "请先登录再查看此页面。" in r.get_data(as_text=True)


def _main_pages(town, member_id: int) -> list[str]:
    return [
        "/",
        "/members/",
        "/org/",
        f"/org/{town.grid_a1.id}",
        f"/org/{town.community_a.id}",
        f"/members/{member_id}",
        f"/members/{member_id}/edit",
        "/members/new",
        "/audit/",
        "/account/password",
    ]


def test_main_pages_show_no_untranslated_interface_text(client, town, catalogue):
    """On Chinese pages no English interface string appears, and on English pages no Chinese one."""
    sign_in(client, town, "district_admin")
    member_id = town.users["volunteer"][0].id
    english = {i for i, s in catalogue.items() if s != i}
    chinese = {s for i, s in catalogue.items() if s != i}
    for lang, foreign in (("zh", english), ("en", chinese)):
        client.get(f"/signin?lang={lang}")
        for path in _main_pages(town, member_id):
            leaked = texts(page(client, path)) & foreign
            assert leaked == set(), (lang, path)
    # The pages were really rendered in each language (the check above is not vacuous).
    client.get("/?lang=zh")
    assert {"成员", "审计日志", "退出登录"} <= texts(page(client, "/members/"))
    client.get("/?lang=en")
    assert {"Members", "Audit log", "Sign out"} <= texts(page(client, "/members/"))
