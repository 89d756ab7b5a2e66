"""Member import from real .xlsx and .csv files: reading, the dry-run report, and all-or-none bulk writes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from app.access import Principal, Scope, can
from app.audit.models import AuditEvent
from app.db import utcnow
from app.people import import_job
from app.people.identity import id_check_char
from app.people.member_rows import problem_text
from app.people.models import Member
from app.people.services import id_hash_key
from app.places import services as places
from app.spreadsheets import SpreadsheetError
from ledger import Ledger
from ledger.schema import accounts
from tests.factories import make_member, make_town, unique_mobile

HEADERS = ["姓名", "手机号", "身份证号", "网格", "志愿者", "党员", "党组织", "报到社区", "网格员", "楼栋长"]


# The importer runs in the test's own rolled-back session; the app only lends its request context.
pytestmark = pytest.mark.commits


def id_number(n: int) -> str:
    """A valid 身份证 number, different for each n (the birth date moves one day per n)."""
    first17 = f"440311{date(1950, 1, 1) + timedelta(days=n):%Y%m%d}{n % 1000:03d}"
    return first17 + id_check_char(first17)


def bad_checksum(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


def xlsx(path, rows, headers=HEADERS):
    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path.read_bytes()


@pytest.fixture
def town(app, session):
    """A district built in the test's rolled-back session, inside an English request context (the
    services need one; messages are asserted in English)."""
    with app.test_request_context("/?lang=en"):
        yield make_town(session)


def principal(town, scope_path):
    """A grid administrator of one subtree (None = the whole district, as a district administrator)."""
    member = town.users["grid_admin"][0]
    role = "grid_admin" if scope_path else "district_admin"
    return Principal(
        token="t",
        user_id=0,
        member_id=member.id,
        tenant_id=town.district.id,
        name=member.name,
        scopes=[Scope(role, scope_path)],
    )


def may_edit_in(town, scope_path):
    p = principal(town, scope_path)
    return lambda unit: can(p, "member.edit", unit)


def check(session, town, filename, content, scope="a"):
    path = {"a": town.community_a.path, "district": None}[scope]
    return import_job.dry_run(
        session, town.district.id, filename, content, may_edit=may_edit_in(town, path), id_key=id_hash_key()
    )


def do_import(session, town, filename, content, scope="a"):
    path = {"a": town.community_a.path, "district": None}[scope]
    return import_job.import_file(
        session,
        town.district.id,
        filename,
        content,
        may_edit=may_edit_in(town, path),
        id_key=id_hash_key(),
        actor_user_id=None,
    )


def members_in(session, town) -> int:
    return session.scalar(select(func.count()).select_from(Member).where(Member.tenant_id == town.district.id))


def problems(result_or_errors):
    errors = result_or_errors.errors if hasattr(result_or_errors, "errors") else result_or_errors
    return [(e["row"], e["column"], e["code"]) for e in errors]


def test_good_workbook_imports_every_row_with_a_wallet_and_one_audit_event(session, town, tmp_path):
    m1, m2, m3 = unique_mobile(), unique_mobile(), unique_mobile()
    content = xlsx(
        tmp_path / "members.xlsx",
        [
            ["王小明", m1, id_number(1), town.grid_a1.name, "是", "否", None, None, "否", "否"],
            # Excel often holds a mobile as a number; the grid may be given by its number
            [
                "Zoë O'Brien",
                int(m2),
                None,
                town.grid_a2.id,
                "N",
                "Y",
                "凤凰社区第一党支部",
                town.community_a.name,
                "1",
                "0",
            ],
            ["欧阳娜娜", m3, None, str(town.grid_a1.id), None, "true", None, town.community_b.id, None, "TRUE"],
            [None, None, None, None, None, None, None, None, None, None],  # a blank row is not a member
        ],
    )
    before = members_in(session, town)

    ids = do_import(session, town, "members.xlsx", content)

    assert len(ids) == 3
    assert members_in(session, town) == before + 3
    by_mobile = {m.mobile: m for m in session.scalars(select(Member).where(Member.id.in_(ids)))}
    a, b, c = by_mobile[m1], by_mobile[m2], by_mobile[m3]
    assert (a.name, a.grid_id, a.is_volunteer, a.is_party_member, a.status) == (
        "王小明",
        town.grid_a1.id,
        True,
        False,
        "active",
    )
    assert a.id_number_masked == id_number(1)[:4] + "*" * 10 + id_number(1)[-4:] and a.id_number_hash
    assert a.mobile_tail == m1[-4:]
    assert (b.name, b.grid_id, b.is_volunteer, b.is_party_member, b.is_grid_worker) == (
        "Zoë O'Brien",
        town.grid_a2.id,
        False,
        True,
        True,
    )
    assert (b.party_org, b.checkin_community_id) == ("凤凰社区第一党支部", town.community_a.id)
    assert (c.is_volunteer, c.is_party_member, c.is_building_head, c.checkin_community_id) == (
        True,
        True,
        True,
        town.community_b.id,
    )
    book = Ledger(session, tenant=town.district.id)
    for m in (a, b, c):
        acct = book.account(m.wallet_code)
        assert (acct.unit, acct.normal, acct.no_overdraft) == ("PT", "credit", True)
        assert book.balance(m.wallet_code).posted == 0
    events = list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.tenant_id == town.district.id, AuditEvent.action == "member.import")
        )
    )
    assert len(events) == 1 and events[0].detail["imported"] == 3 and events[0].detail["filename"] == "members.xlsx"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_utf8_with_or_without_bom_and_in_gbk(session, town, tmp_path, encoding):
    mobile = unique_mobile()
    text = (
        f"姓名,手机号,身份证号,网格,党员,党组织\r\n张伟,{mobile},{id_number(7)},{town.grid_a1.name},是,凤凰社区党委\r\n"
    )
    path = tmp_path / "members.csv"
    path.write_bytes(text.encode(encoding))

    ids = do_import(session, town, "members.csv", path.read_bytes())

    member = session.get(Member, ids[0])
    assert (member.name, member.mobile, member.grid_id, member.party_org) == (
        "张伟",
        mobile,
        town.grid_a1.id,
        "凤凰社区党委",
    )


def test_a_file_in_another_encoding_is_refused_with_an_encoding_error(session, town, tmp_path):
    path = tmp_path / "members.csv"
    text = f"姓名,手机号,网格\r\n张伟,{unique_mobile()},{town.grid_a1.name}\r\n"
    path.write_bytes(text.encode("utf-16"))  # what Excel's "Unicode text" writes

    with pytest.raises(SpreadsheetError) as e:
        check(session, town, "members.csv", path.read_bytes())
    assert e.value.code == "encoding" and "UTF-8" in e.value.message


def test_a_csv_with_a_nul_character_is_refused_as_unreadable(session, town):
    content = f"姓名,手机号,网格\r\n张\x00伟,{unique_mobile()},{town.grid_a1.name}\r\n".encode()

    with pytest.raises(SpreadsheetError) as e:
        check(session, town, "members.csv", content)
    assert e.value.code == "bad_file"


def test_missing_required_columns_are_named_in_one_error(session, town, tmp_path):
    content = xlsx(tmp_path / "m.xlsx", [["张伟", "是"]], headers=["姓名", "志愿者"])

    with pytest.raises(SpreadsheetError) as e:
        check(session, town, "m.xlsx", content)
    assert e.value.code == "missing_columns"
    assert "手机号" in e.value.message and "网格" in e.value.message and "姓名" not in e.value.message


def test_english_and_office_style_headers_are_understood(session, town, tmp_path):
    mobile = unique_mobile()
    content = xlsx(
        tmp_path / "m.xlsx",
        [[1, "李雷", mobile, town.grid_a1.id, "否", "备注"]],
        headers=["序号", "Name", "手机号码*", "所属网格", "是否志愿者（是/否）", "备注"],
    )

    result = check(session, town, "m.xlsx", content)

    assert result.errors == [] and result.total_rows == 1
    member = result.members[0]
    assert (member["name"], member["mobile"], member["is_volunteer"]) == ("李雷", mobile, False)


def test_duplicates_in_the_file_and_in_the_district_are_reported_on_every_row(session, town, tmp_path):
    existing = make_member(session, town.district.id, town.grid_a1, name="老会员", id_number=id_number(50))
    dup, other = unique_mobile(), unique_mobile()
    content = xlsx(
        tmp_path / "m.xlsx",
        [
            ["甲", dup, id_number(51), town.grid_a1.name],  # row 2
            ["乙", other, id_number(51), town.grid_a1.name],  # row 3: same ID as row 2
            ["丙", dup, None, town.grid_a1.name],  # row 4: same mobile as row 2
            ["丁", existing.mobile, None, town.grid_a1.name],  # row 5: mobile already in the district
            ["戊", unique_mobile(), id_number(50), town.grid_a1.name],  # row 6: ID already in the district
            ["己", dup, None, "不存在的网格"],  # row 7: a duplicate in a row with another problem
            [None, existing.mobile, None, town.grid_a1.name],  # row 8: like row 5, and no name
        ],
    )

    result = check(session, town, "m.xlsx", content)

    assert problems(result) == [
        (3, "身份证号", "duplicate_in_file"),
        (4, "手机号", "duplicate_in_file"),
        (5, "手机号", "duplicate_in_district"),
        (6, "身份证号", "duplicate_in_district"),
        (7, "手机号", "duplicate_in_file"),
        (7, "网格", "unknown_grid"),
        (8, "姓名", "missing"),
        (8, "手机号", "duplicate_in_file"),
        (8, "手机号", "duplicate_in_district"),
    ]
    assert result.errors[0]["params"]["row"] == 2 and result.members == []
    assert "row 2" in problem_text(result.errors[0]["code"], result.errors[0]["params"])


def test_bad_id_checksums_bad_mobiles_and_missing_fields(session, town, tmp_path):
    wrong_check = bad_checksum(id_number(3))
    content = xlsx(
        tmp_path / "m.xlsx",
        [
            ["甲", unique_mobile(), wrong_check, town.grid_a1.name],  # row 2
            ["乙", unique_mobile(), 440311195001010000, town.grid_a1.name],  # row 3: Excel kept the ID as a number
            ["丙", "1380013800", None, town.grid_a1.name],  # row 4: ten digits
            [None, unique_mobile(), None, town.grid_a1.name],  # row 5: no name
            ["丁", None, None, None],  # row 6: no mobile, no grid
            ["戊", unique_mobile(), None, town.grid_a1.name, "也许"],  # row 7: not yes or no
        ],
    )

    result = check(session, town, "m.xlsx", content)

    assert problems(result) == [
        (2, "身份证号", "bad_id_number"),
        (3, "身份证号", "id_number_as_number"),
        (4, "手机号", "bad_mobile"),
        (5, "姓名", "missing"),
        (6, "手机号", "missing"),
        (6, "网格", "missing"),
        (7, "志愿者", "not_yes_no"),
    ]


def test_unknown_and_retired_grids_are_refused(session, town, tmp_path):
    retired = places.create_unit(
        session, town.district.id, name="已撤销网格", kind="grid", grid_type="area", parent=town.community_a
    )
    places.retire_unit(session, retired)
    content = xlsx(
        tmp_path / "m.xlsx",
        [
            ["甲", unique_mobile(), None, "不存在的网格"],  # row 2: no such name
            ["乙", unique_mobile(), None, town.community_a.id],  # row 3: a community, not a grid
            ["丙", unique_mobile(), None, retired.id],  # row 4: retired
            ["丁", unique_mobile(), None, 999_999_999],  # row 5: no such number
            ["戊", unique_mobile(), None, town.grid_a1.name, None, "是", None, "不存在的社区"],  # row 6
        ],
    )

    result = check(session, town, "m.xlsx", content)

    assert problems(result) == [
        (2, "网格", "unknown_grid"),
        (3, "网格", "unknown_grid"),
        (4, "网格", "unknown_grid"),
        (5, "网格", "unknown_grid"),
        (6, "报到社区", "unknown_community"),
    ]


def test_a_grid_outside_the_importers_area_is_treated_as_unknown(session, town, tmp_path):
    content = xlsx(
        tmp_path / "m.xlsx",
        [
            ["甲", unique_mobile(), None, town.grid_a1.name],
            ["乙", unique_mobile(), None, town.grid_b1.name],  # community B: not this grid admin's
            ["丙", unique_mobile(), None, town.grid_b1.id],
        ],
    )

    assert problems(check(session, town, "m.xlsx", content, scope="a")) == [
        (3, "网格", "unknown_grid"),
        (4, "网格", "unknown_grid"),
    ]
    assert check(session, town, "m.xlsx", content, scope="district").errors == []


def test_a_grid_name_used_in_two_communities_resolves_to_the_importers_own(session, town, tmp_path):
    mine = places.create_unit(
        session, town.district.id, name="第一网格", kind="grid", grid_type="basic", parent=town.community_a
    )
    places.create_unit(
        session, town.district.id, name="第一网格", kind="grid", grid_type="basic", parent=town.community_b
    )
    content = xlsx(tmp_path / "m.xlsx", [["甲", unique_mobile(), None, "第一网格"]])

    assert check(session, town, "m.xlsx", content, scope="a").members[0]["grid_id"] == mine.id
    assert problems(check(session, town, "m.xlsx", content, scope="district")) == [(2, "网格", "ambiguous_grid")]


def test_one_bad_row_and_nothing_is_imported(session, town, tmp_path):
    rows = [[f"会员{i}", unique_mobile(), id_number(100 + i), town.grid_a1.name] for i in range(20)]
    rows[13][2] = bad_checksum(rows[13][2])
    content = xlsx(tmp_path / "m.xlsx", rows)
    before = members_in(session, town)

    with pytest.raises(import_job.ImportRejected) as e:
        do_import(session, town, "m.xlsx", content)

    assert problems(e.value.errors) == [(15, "身份证号", "bad_id_number")]
    assert members_in(session, town) == before
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.tenant_id == town.district.id, AuditEvent.action == "member.import")
        )
        == 0
    )


def test_an_unreadable_workbook_and_an_old_xls_get_clear_errors(session, town):
    with pytest.raises(SpreadsheetError) as e:
        check(session, town, "members.xlsx", b"PK\x03\x04 not really a zip")
    assert e.value.code == "bad_file"
    with pytest.raises(SpreadsheetError) as e:
        check(session, town, "members.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    assert e.value.code == "unsupported_format" and ".xlsx" in e.value.message


@pytest.mark.slow
def test_ten_thousand_rows_import_completely(session, town, tmp_path):
    rows = [
        [
            f"会员{i}",
            f"137{i:08d}",
            id_number(i),
            town.grid_a1.name if i % 2 else town.grid_a2.id,
            "是",
            "是" if i % 10 == 0 else "否",
        ]
        for i in range(10_000)
    ]
    content = xlsx(tmp_path / "big.xlsx", rows, headers=HEADERS[:6])
    before = members_in(session, town)
    started = utcnow()

    ids = do_import(session, town, "big.xlsx", content)

    assert len(ids) == len(set(ids)) == 10_000
    assert members_in(session, town) == before + 10_000
    assert (
        session.scalar(
            select(func.count())
            .select_from(Member)
            .where(Member.tenant_id == town.district.id, Member.is_party_member.is_(True), Member.created_at >= started)
        )
        == 1000
    )
    book = Ledger(session, tenant=town.district.id)
    assert book.account(f"member:{ids[0]}").no_overdraft and book.account(f"member:{ids[-1]}").normal == "credit"
    # every member of the district, imported or not, has exactly one wallet
    assert session.scalar(
        select(func.count())
        .select_from(accounts)
        .where(accounts.c.tenant_id == town.district.id, accounts.c.code.startswith("member:"))
    ) == members_in(session, town)
