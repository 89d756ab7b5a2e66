"""The Simplified Chinese catalogue is complete, current and safe to format (every UI string, same placeholders)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from config import ROOT

PO = ROOT / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
# Python %-format specifiers, as Babel's python-format flag understands them; "%%" is counted too, because
# templates format every _() call, so a literal percent sign must stay doubled in the translation.
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")


def _catalogue():
    with PO.open("rb") as f:
        return read_po(f)


def _messages():
    return [m for m in _catalogue() if m.id]


def _ids(messages):
    return [m.id if isinstance(m.id, str) else m.id[0] for m in messages]


@pytest.fixture(scope="module")
def messages():
    found = _messages()
    assert found, f"{PO} holds no messages"
    return found


def test_every_message_is_translated(messages):
    untranslated = [m.id for m in messages if not (m.string if isinstance(m.string, str) else all(m.string))]
    assert untranslated == [], "translate these in messages.po"


def test_no_translation_is_a_copy_of_the_english(messages):
    copied = [m.id for m in messages if m.string == m.id]
    assert copied == []


def test_no_fuzzy_entries(messages):
    # A fuzzy entry is a guess pybabel made; gettext ignores it, so the page would show English.
    assert [m.id for m in messages if m.fuzzy] == []


def test_placeholders_match(messages):
    """A missing or renamed %(name)s raises KeyError when the page renders; an extra one leaks raw text."""
    wrong = []
    for m in messages:
        ids = m.id if isinstance(m.id, (list, tuple)) else [m.id]
        strings = m.string if isinstance(m.string, (list, tuple)) else [m.string]
        expected = Counter(PLACEHOLDER.findall(ids[0]))
        for s in strings:
            if Counter(PLACEHOLDER.findall(s)) != expected:
                wrong.append((m.id, s))
    assert wrong == []


def test_catalogue_covers_every_string_in_the_source():
    """Strings added to the code after the last `make translations` would show in English on Chinese pages."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    in_source = {
        msg[2] if isinstance(msg[2], str) else msg[2][0]
        for msg in extract_from_dir(str(ROOT), method_map, options_map, keywords=keywords)
    }
    missing = sorted(in_source - set(_ids(_messages())))
    assert missing == [], "run `make translations`, then translate the new entries in messages.po"


@pytest.mark.parametrize(
    ("english", "chinese_part"),
    [
        (
            "Too many attempts. Sign-in is locked for %(minutes)d more minutes, until %(time)s; try again then.",
            "尝试次数过多",
        ),
        ("Too many attempts. Wait a few minutes and try again.", "尝试次数过多"),
        ("Wrong mobile number or password.", "手机号或密码错误"),
        ("Sign in", "登录"),
        ("Sign out", "退出登录"),
    ],
)
def test_key_wording(messages, english, chinese_part):
    """Words staff are told to look for (and other tests search for) keep their standard Chinese form."""
    by_id = {m.id: m.string for m in messages}
    assert chinese_part in by_id[english]
