"""The audit log page reads as plain words: people and places by name, translated event kinds and
details, Beijing time, a filter by a person picked by part of their name; names loaded in batches."""

from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta

from sqlalchemy import event, select

from app.audit.models import AuditEvent
from app.db import unit_of_work
from tests.conftest import sign_in
from tests.factories import make_user
from tests.web.test_api import commit, patch, post, signed_in


def page_text(resp) -> str:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    body = resp.get_data(as_text=True).split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", body))


def test_events_show_names_places_translated_details_and_beijing_time(app, client, town):
    volunteer = town.users["volunteer"][0]
    token = signed_in(client, town, "district_admin")
    assert (
        patch(
            client, f"/api/v1/members/{volunteer.id}", {"status": "suspended", "mobile": "13700001111"}, token
        ).status_code
        == 200
    )
    assert patch(client, f"/api/v1/org-units/{town.grid_a2.id}", {"name": "凤凰新网格"}, token).status_code == 200

    reader = app.test_client()
    sign_in(reader, town, "auditor")
    text = page_text(reader.get("/audit/"))
    assert "修改成员" in text and "组织单元改名" in text  # event kinds, translated
    assert "赵敏" in text  # the actor by name, not "user 6"
    assert "李娜（凤凰街道 › 凤凰社区 › 凤凰第一片区网格）" in text  # the target by name and place
    flat = re.sub(r"\s+", "", text)
    assert "状态：正常→已暂停" in flat and "手机号：已更改（不记录具体值）" in flat
    assert "原名称：凤凰第二片区网格" in flat and "新名称：凤凰新网格" in flat
    assert "13700001111" not in text and '"changed"' not in text and "member.update" not in text
    assert "{" not in text  # no raw JSON

    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        at = s.scalar(
            select(AuditEvent.at).where(AuditEvent.tenant_id == town.district.id, AuditEvent.action == "org.rename")
        )
    assert (at + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S") in text
    assert "时间（北京时间）" in reader.get("/audit/").get_data(as_text=True)

    english = page_text(reader.get("/audit/?lang=en"))
    assert "Member changed" in english and "Status: Active → Suspended" in english


def test_the_who_filter_takes_part_of_a_name_and_offers_a_pick_when_several_match(app, client, town):
    token = signed_in(client, town, "district_admin")
    post(
        client,
        "/api/v1/org-units",
        {"name": "赵家网格", "kind": "grid", "grid_type": "micro", "parent_id": town.community_b.id},
        token,
    )
    other = app.test_client()
    token2 = signed_in(other, town, "grid_admin")  # 刘洋
    patch(other, f"/api/v1/org-units/{town.grid_a2.id}", {"name": "刘家网格"}, token2)
    reader = app.test_client()
    sign_in(reader, town, "auditor")

    only_zhao = page_text(reader.get("/audit/?who=赵"))
    assert "赵家网格" in only_zhao and "刘家网格" not in only_zhao
    only_liu = page_text(reader.get("/audit/?who=刘洋"))
    assert "刘家网格" in only_liu and "赵家网格" not in only_liu

    commit(app, lambda s: make_user(s, town.district.id, town.grid_a1, "赵丽", [("organiser", town.community_a)]))
    page = reader.get("/audit/?who=赵").get_data(as_text=True)
    assert "有多人匹配，请选择一位" in page
    links = re.findall(r'href="(/audit/\?[^"]*actor=\d+[^"]*)"', page)
    assert len(links) == 2
    picked = reader.get(htmllib.unescape(next(link for link in links if "%E8%B5%B5%E6%95%8F" in link)))  # 赵敏
    assert "正在显示赵敏的操作" in picked.get_data(as_text=True)
    assert "赵家网格" in page_text(picked)
    assert "没有姓名包含" in reader.get("/audit/?who=不存在的人").get_data(as_text=True)


def test_the_page_loads_names_in_a_fixed_number_of_queries(app, client, town):
    """No query per row: 3 events or 40, the same number of statements."""
    token = signed_in(client, town, "district_admin")
    reader = app.test_client()
    sign_in(reader, town, "auditor")
    statements: list[str] = []
    engine = app.extensions["db_engine"]

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    def queries_for_page() -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            page = reader.get("/audit/")
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert "赵敏  凤凰街道 › 凤凰社区 › 凤凰第一片区网格" in page_text(page)  # names and places were loaded
        return len(statements)

    few = queries_for_page()
    for i in range(40):
        patch(client, f"/api/v1/members/{town.users['volunteer'][0].id}", {"is_volunteer": i % 2 == 0}, token)
        post(
            client,
            "/api/v1/org-units",
            {"name": f"网格{i}", "kind": "grid", "grid_type": "micro", "parent_id": town.community_a.id},
            token,
        )
    assert queries_for_page() == few


def test_bad_filter_arguments_answer_400_not_500(client, town):
    sign_in(client, town, "auditor")
    for query in (
        "actor=abc",
        "actor=99999999999999999999",
        "actor=" + "9" * 5000,
        "until=9999-12-31",
        "since=2026-02-30",
    ):
        r = client.get(f"/audit/?{query}")
        assert r.status_code == 400, query


def test_fund_outlet_and_rule_events_read_in_words_with_yuan_and_names(app, client, town):
    """Each area labels its own detail keys: the fund's amounts in yuan, the payee by name, codes such as
    the payment channel in words; the target's kind in words."""
    from app.audit.services import record

    payee = town.users["volunteer"][0]

    def seed(s):
        record(
            s,
            "fund.proposed",
            tenant_id=town.district.id,
            target_type="fund_payout",
            target_id=300,
            detail={"amount": 380000, "payee_member_id": payee.id, "reason_category": "mediation", "fund_id": 1},
        )
        record(
            s,
            "fund.paid",
            tenant_id=town.district.id,
            target_type="fund_payout",
            target_id=300,
            detail={"amount": 380000, "channel": "wechat", "paid_on": "2026-12-01", "reference": "WX1"},
        )
        record(
            s,
            "points.checkin_rule_change",
            tenant_id=town.district.id,
            target_type="checkin_rule",
            target_id=2,
            detail={"version": 2, "points_per_checkin": 3, "monthly_cap": 10},
        )

    commit(app, seed)
    sign_in(client, town, "auditor")
    flat = re.sub(r"\s+", "", page_text(client.get("/audit/")))
    assert "金额：¥3,800.00" in flat and f"受奖人：{payee.name}" in flat and "事由类别：矛盾调解成功" in flat
    assert "支付方式：微信" in flat and "发放：编号300" in flat
    assert "每次报到积分：3" in flat and "每月报到积分上限：10" in flat and "报到积分规则" in flat
    for raw in ("380000", "payee_member_id", "wechat", "fund_payout", "points_per_checkin", "checkin_rule"):
        assert raw not in flat, raw
    english = re.sub(r"\s+", " ", page_text(client.get("/audit/?lang=en")))
    assert "Amount: ¥3,800.00" in english and "Paid by way of: WeChat" in english


def test_the_auditors_home_page_shows_the_log_at_a_glance(app, client, town):
    """An auditor's first look is their work: how much the log took in the last day and its latest
    events in words, each a link into the log filtered to that kind."""
    admin = app.test_client()
    token = signed_in(admin, town, "district_admin")
    assert patch(admin, f"/api/v1/org-units/{town.grid_a2.id}", {"name": "凤凰新网格"}, token).status_code == 200
    sign_in(client, town, "auditor")
    client.get("/?lang=en")
    home = client.get("/").get_data(as_text=True)
    assert "Audit log" in home and "in the last 24 hours" in home
    assert "Unit renamed" in home and "/audit/?action=org.rename" in home
    volunteer = app.test_client()
    sign_in(volunteer, town, "volunteer")
    assert "/audit/?action=" not in volunteer.get("/").get_data(as_text=True)


def test_objects_by_name_times_in_beijing_and_codes_in_words(app, client, town):
    """What the walk-through found: an activity named by its title and the district by its name (not
    "number 75"), a stored UTC time shown in Beijing time, every role kind and a grid report's decision in
    words, a thing's name labelled 名称 (not 姓名), and an event about no one object naming none."""
    from app.audit.services import record
    from tests.web.test_volunteer_pages import make_activity

    activity_id = make_activity(app, town, "河道清洁日")

    def seed(s):
        d = town.district.id
        record(s, "attendance.manual_in", tenant_id=d, target_type="activity", target_id=activity_id,
               detail={"at": "2026-12-06T00:36"})  # fmt: skip
        record(s, "demo.load", tenant_id=d, target_type="district", target_id=d)
        record(s, "role.grant", tenant_id=d, target_type="member", target_id=town.users["volunteer"][0].id,
               detail={"role": "outlet_supervisor"})  # fmt: skip
        record(s, "gridreport.triage", tenant_id=d, target_type="grid_report", target_id=41,
               detail={"status": "verified"})  # fmt: skip
        record(s, "org.create", tenant_id=d, target_type="org_unit", target_id=town.grid_a1.id,
               detail={"name": "新网格"})  # fmt: skip
        record(s, "member.export", tenant_id=d, target_type="member", detail={"rows": 3, "filter": {"q": ""}})
        record(s, "invitation.use", tenant_id=d, target_type="user", detail={"invitation_id": 1, "purpose": "activate"})

    commit(app, seed)
    sign_in(client, town, "auditor")
    flat = re.sub(r"\s+", "", page_text(client.get("/audit/")))
    assert "活动：河道清洁日" in flat and f"所属区：{town.district.name}" in flat
    assert "时间：2026-12-0608:36" in flat and "2026-12-06T00:36" not in flat  # 00:36 UTC
    assert "角色：爱心超市主管" in flat or "角色：超市主管" in flat, flat[:3000]
    assert "处理结果：已核实" in flat and "verified" not in flat
    assert "名称：新网格" in flat and "姓名：新网格" not in flat
    assert "成员：行数" not in flat and "outlet_supervisor" not in flat
    assert "筛选：" not in flat  # an export's empty filter says nothing
    assert "链接用途：首次登录" in flat and "purpose" not in flat and "invitation_id" not in flat


def test_an_outlet_role_grant_names_the_outlet_not_its_path_segment(app, client, town):
    from app.outlets import OUTLET_SUPERVISOR
    from tests.outlets_world import make_outlet, make_staff

    def seed(s):
        make_staff(s, town, make_outlet(s, town, "凤凰社区爱心超市"), "林主管", OUTLET_SUPERVISOR)

    commit(app, seed)
    sign_in(client, town, "auditor")
    flat = re.sub(r"\s+", "", page_text(client.get("/audit/?action=role.grant")))
    assert "爱心超市：凤凰社区爱心超市" in flat or "超市：凤凰社区爱心超市" in flat, flat[:2000]
    assert not re.search(r"o\d+/", flat)
