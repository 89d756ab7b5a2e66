"""The awards pages: award one member, upload a list (dry run with every row's problem, then all or
none), the approval queue with maker-checker, and reversing a posted line."""

from __future__ import annotations

import io
import re

from openpyxl import Workbook, load_workbook

from tests.conftest import csrf_from, once_from, sign_in
from tests.web.test_activities_api import _extra_user
from tests.web.test_api import commit


def workbook(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["姓名", "手机号", "积分"])
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _bal(app, member_id: int) -> int:
    from app.people.models import Member
    from ledger import Ledger

    def read(s):
        m = s.get(Member, member_id)
        return Ledger(s, tenant=m.tenant_id).balance(f"member:{member_id}").available

    return commit(app, read)


def test_one_member_award_posts_and_the_list_dry_run_names_every_problem(app, client, town):
    sign_in(client, town, "district_admin")
    page = client.get("/points/awards")
    assert page.status_code == 200
    volunteer, mobile, _pw = town.users["volunteer"]
    data = {
        "csrf_token": csrf_from(page.get_data(as_text=True)),
        "one-once": once_from(page.get_data(as_text=True), "one-"),
        "form": "single",
        "one-member": volunteer.name,
        "one-points": "30",
        "one-category": "civic",
        "one-reason": "创文表彰",
    }
    r = client.post("/points/awards", data=data)
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    assert _bal(app, volunteer.id) == 30
    again = client.post("/points/awards", data=data, follow_redirects=True)  # the same form sent twice
    assert "already sent" in again.get_data(as_text=True) or "已经提交" in again.get_data(as_text=True)
    assert _bal(app, volunteer.id) == 30
    r = client.post("/points/awards", data={**data, "one-member": "别人"})
    assert r.status_code == 422 and "别人" in r.get_data(as_text=True)
    assert _bal(app, volunteer.id) == 30

    template = client.get("/points/awards/template.xlsx")
    assert template.status_code == 200
    assert list(load_workbook(io.BytesIO(template.data)).active.iter_rows(values_only=True))[0] == (
        "姓名",
        "手机号",
        "积分",
    )

    organiser, omobile, _ = town.users["organiser"]
    bad = workbook([[volunteer.name, mobile, "abc"], ["谁", "13900000000", 5], [organiser.name, omobile, 10]])
    up = client.get("/points/awards/upload")
    form = {"csrf_token": csrf_from(up.get_data(as_text=True)), "step": "check", "category": "civic", "reason": "表彰"}
    r = client.post(
        "/points/awards/upload",
        data={**form, "file": (io.BytesIO(bad), "list.xlsx")},
        content_type="multipart/form-data",
    )
    text = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "100,000" in text  # "Points must be a whole number from 1 to 100,000." in either language
    assert text.count("<tr><td>2</td>") == 1 and "<tr><td>3</td>" in text
    assert _bal(app, organiser.id) == 0  # all or none: the good row was not awarded

    good = workbook([[volunteer.name, mobile, 20], [organiser.name, omobile, 10]])
    r = client.post(
        "/points/awards/upload",
        data={**form, "file": (io.BytesIO(good), "list.xlsx")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    rows = re.search(r'name="rows"[^>]*value="([^"]+)"', html) or re.search(r'value="([^"]+)"[^>]*name="rows"', html)
    assert rows
    confirm = {
        "csrf_token": csrf_from(html),
        "step": "confirm",
        "category": "civic",
        "reason": "表彰",
        "rows": rows.group(1),
        "once": once_from(html),
    }
    r = client.post("/points/awards/upload", data={**confirm, "rows": rows.group(1)[:-2] + "xx"})
    assert r.status_code == 422 and _bal(app, organiser.id) == 0
    r = client.post("/points/awards/upload", data=confirm)
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    assert (_bal(app, volunteer.id), _bal(app, organiser.id)) == (50, 10)
    # Sent again: awarded once. The category and reason are the checked ones, whatever the form says.
    client.post("/points/awards/upload", data={**confirm, "reason": "改过的理由"})
    assert (_bal(app, volunteer.id), _bal(app, organiser.id)) == (50, 10)


def test_the_queue_the_proposer_cannot_approve_and_a_reversal(app, client, town):
    _extra_user(app, town, "district_admin2", "孙丽", roles=[("district_admin", None)])
    volunteer, mobile, _pw = town.users["volunteer"]
    sign_in(client, town, "district_admin")
    page = client.get("/points/awards")
    data = {
        "csrf_token": csrf_from(page.get_data(as_text=True)),
        "one-once": once_from(page.get_data(as_text=True), "one-"),
        "form": "single",
        "one-member": volunteer.name,
        "one-points": "500",
        "one-category": "safety",
        "one-reason": "见义勇为",
    }
    r = client.post("/points/awards", data=data)
    assert r.status_code == 302
    url = r.headers["Location"]
    own = client.get(url).get_data(as_text=True)
    assert 'value="approve"' not in own
    r = client.post(
        url, data={"csrf_token": csrf_from(own), "action": "approve", "decision_reason": "", "confirm": "yes"}
    )
    assert r.status_code == 422 and _bal(app, volunteer.id) == 0
    assert "见义勇为" in client.get("/points/awards").get_data(as_text=True)

    other = app.test_client()
    sign_in(other, town, "district_admin2")
    page = other.get(url).get_data(as_text=True)
    # Approving asks first, with the points and the member count; nothing is posted before the answer.
    decision = {"csrf_token": csrf_from(page), "action": "approve", "decision_reason": "核实"}
    r = other.post(url, data=decision)
    assert r.status_code == 200 and "见义勇为" in r.get_data(as_text=True) and _bal(app, volunteer.id) == 0
    r = other.post(url, data={**decision, "confirm": "yes"})
    assert r.status_code == 302 and _bal(app, volunteer.id) == 500
    page = other.get(url).get_data(as_text=True)
    line = re.search(r'name="line" value="(\d+)"', page).group(1)
    reverse = {"csrf_token": csrf_from(page), "action": "reverse", "line": line, "decision_reason": "重复"}
    r = other.post(url, data=reverse)
    assert r.status_code == 200 and f'name="line" value="{line}"' in r.get_data(as_text=True)
    assert _bal(app, volunteer.id) == 500
    r = other.post(url, data={**reverse, "confirm": "yes"})
    assert r.status_code == 302 and _bal(app, volunteer.id) == 0


def test_volunteers_and_organisers_do_not_see_awards(app, client, town):
    sign_in(client, town, "organiser")
    assert client.get("/points/awards").status_code == 403


def test_the_auditor_reads_awards_without_the_forms(app, client, town):
    sign_in(client, town, "auditor")
    page = client.get("/points/awards")
    assert page.status_code == 200
    assert 'name="one-points"' not in page.get_data(as_text=True)
    assert client.get("/points/awards/upload").status_code == 403


def test_the_member_reads_the_award_and_its_reversal_in_words(app, client, town):
    volunteer, mobile, _pw = town.users["volunteer"]
    sign_in(client, town, "district_admin")
    page = client.get("/points/awards")
    data = {
        "csrf_token": csrf_from(page.get_data(as_text=True)),
        "form": "single",
        "one-member": volunteer.name,
        "one-points": "30",
        "one-category": "civic",
        "one-reason": "创文表彰",
    }
    url = client.post("/points/awards", data=data).headers["Location"]
    page = client.get(url).get_data(as_text=True)
    line = re.search(r'name="line" value="(\d+)"', page).group(1)
    client.post(
        url,
        data={
            "csrf_token": csrf_from(page),
            "action": "reverse",
            "line": line,
            "decision_reason": "重复",
            "confirm": "yes",
        },
    )
    member = app.test_client()
    sign_in(member, town, "volunteer")
    text = member.get("/notices").get_data(as_text=True)
    assert "30" in text and "创文表彰" in text and "重复" in text
    points = member.get("/me/points").get_data(as_text=True)
    assert "创文表彰" in points and "已收回：创文表彰（重复）" in points  # the reversal says what it took back


def test_approved_hours_are_corrected_on_the_corrections_page(app, client, town):
    from datetime import timedelta

    from app.activities import services as act
    from app.activities.labels import MANUAL
    from app.auth.services import user_for_member
    from app.db import utcnow

    volunteer, mobile, _pw = town.users["volunteer"]

    def serve(s):
        organiser = town.users["organiser"][0]
        user = user_for_member(s, organiser).id
        start = (utcnow() + timedelta(days=1)).replace(second=0, microsecond=0)
        data = act.ActivityData(
            title="敬老院探访",
            category="elderly",
            host_unit_id=town.community_a.id,
            place="敬老院",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            capacity=10,
        )
        a = act.publish_activity(
            s, act.create_activity(s, town.district.id, data, actor_user_id=user), actor_user_id=user
        )
        member = s.get(type(volunteer), volunteer.id)
        act.check_in(s, a, member, start, MANUAL, reason="测试")
        act.check_out(s, a, member, start + timedelta(hours=2), MANUAL, reason="测试")
        act.review(s, a, act.Review(approve="all"), actor_user_id=user, actor_member_id=organiser.id)

    commit(app, serve)
    assert _bal(app, volunteer.id) == 20
    sign_in(client, town, "district_admin")
    # Found by name and mobile sent in the body: the mobile never goes into an address (history, logs).
    token = csrf_from(client.get("/points/corrections").get_data(as_text=True))
    empty = client.post("/points/corrections", data={"csrf_token": token, "action": "find", "name": "", "mobile": ""})
    assert empty.status_code == 422 and "请输入成员的姓名和手机号" in empty.get_data(as_text=True)
    # The last 4 digits do, with the name (pages show mobiles masked).
    by_tail = client.post(
        "/points/corrections",
        data={"csrf_token": token, "action": "find", "name": volunteer.name, "mobile": mobile[-4:]},
    )
    assert by_tail.status_code == 302 and by_tail.headers["Location"].endswith(f"?member={volunteer.id}")
    nobody = client.post(
        "/points/corrections", data={"csrf_token": token, "action": "find", "name": "别人", "mobile": mobile[-4:]}
    )
    assert nobody.status_code == 422
    wrong = client.post(
        "/points/corrections", data={"csrf_token": token, "action": "find", "name": "别人", "mobile": mobile}
    )
    assert wrong.status_code == 422 and volunteer.name in wrong.get_data(as_text=True)  # "belongs to …"
    found = client.post(
        "/points/corrections", data={"csrf_token": token, "action": "find", "name": volunteer.name, "mobile": mobile}
    )
    assert found.status_code == 302 and mobile not in found.headers["Location"]
    url = found.headers["Location"]
    assert url.endswith(f"/points/corrections?member={volunteer.id}")
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "敬老院探访" in html and mobile not in html.split("<form", 1)[0]
    attendance = re.search(r'name="attendance" value="(\d+)"', html).group(1)
    assert f'action="/points/corrections?member={volunteer.id}"' in html
    r = client.post(url, data={"csrf_token": csrf_from(html), "attendance": attendance, "decision_reason": ""})
    assert r.status_code == 422 and _bal(app, volunteer.id) == 20
    reversal = {"csrf_token": csrf_from(html), "attendance": attendance, "decision_reason": "代签到"}
    r = client.post(url, data=reversal)  # asks first, with the points, the member and the reason
    assert r.status_code == 200 and "代签到" in r.get_data(as_text=True) and _bal(app, volunteer.id) == 20
    r = client.post(url, data={**reversal, "confirm": "yes"})
    assert r.status_code == 302 and _bal(app, volunteer.id) == 0
    assert 'name="attendance"' not in client.get(url).get_data(as_text=True)  # shown as reversed


def test_the_member_is_picked_by_part_of_the_name(app, client, town):
    from app.people.models import Member
    from tests.factories import make_member

    volunteer, mobile, _pw = town.users["volunteer"]
    twins = commit(
        app,
        lambda s: [make_member(s, town.district.id, town.grid_a1, name=n).id for n in ("欧阳明月", "欧阳明日")],
    )
    sign_in(client, town, "district_admin")
    # The suggestions: part of a name, or the mobile's last 4 digits; the mobile is masked.
    found = client.get("/points/awards/members?q=" + volunteer.name[1:]).get_json()["items"]
    assert volunteer.id in [f["id"] for f in found]
    card = next(f for f in found if f["id"] == volunteer.id)
    assert card["name"] == volunteer.name and mobile not in str(card) and mobile[-4:] in card["mobile"]
    assert volunteer.id in [f["id"] for f in client.get(f"/points/awards/members?q={mobile[-4:]}").get_json()["items"]]
    assert sorted(f["id"] for f in client.get("/points/awards/members?q=欧阳明").get_json()["items"]) == sorted(twins)

    page = client.get("/points/awards")
    html = page.get_data(as_text=True)
    assert "data-member-pick" in html and "js/pick.js" in html
    data = {
        "csrf_token": csrf_from(html),
        "form": "single",
        "one-points": "12",
        "one-category": "civic",
        "one-reason": "表彰",
    }
    # Typed without picking: two match, the form lists them to choose from; nothing is awarded.
    r = client.post("/points/awards", data={**data, "one-member": "欧阳明"})
    text = r.get_data(as_text=True)
    assert (
        r.status_code == 422 and "欧阳明月" in text and "欧阳明日" in text and 'name="one-member_id-choosing"' in text
    )
    assert commit(app, lambda s: s.get(Member, twins[0]).name) == "欧阳明月"
    # Chosen from that list: the second one gets the points.
    r = client.post(
        "/points/awards",
        data={**data, "one-member": "欧阳明", "one-member_id": str(twins[1]), "one-member_id-choosing": "1"},
    )
    assert r.status_code == 302 and (_bal(app, twins[0]), _bal(app, twins[1])) == (0, 12)
    # Picked from the suggestions (the id and the label the script puts in the field).
    label = f"{card['name']} · {card['mobile']} · {card['place']}"
    r = client.post("/points/awards", data={**data, "one-member": label, "one-member_id": str(volunteer.id)})
    assert r.status_code == 302 and _bal(app, volunteer.id) == 12
    # An id whose member the text does not name is not trusted: the text decides.
    r = client.post("/points/awards", data={**data, "one-member": "欧阳明月", "one-member_id": str(volunteer.id)})
    assert r.status_code == 302 and (_bal(app, twins[0]), _bal(app, volunteer.id)) == (12, 12)


def test_only_those_who_may_award_search_members(app, client, town):
    volunteer, _mobile, _pw = town.users["volunteer"]
    sign_in(client, town, "auditor")
    assert client.get("/points/awards/members?q=" + volunteer.name).status_code == 403
    sign_in(client, town, "organiser")
    assert client.get("/points/awards/members?q=" + volunteer.name).status_code == 403
