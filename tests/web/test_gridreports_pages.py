"""Grid report pages and API through the real app (sessions, CSRF, permissions), on both databases: a
member reports a problem with photos (their own grid, or one chosen by typing its name), follows its
status; the grid's admin sees the queue with overdue reports flagged, verifies after confirming (points
credited once), rejects with a reason, marks a duplicate; photos only to those who may see the report;
a grid admin of another grid gets 404; the summary per grid and its .xlsx; the settings; the API."""

from __future__ import annotations

import json
from datetime import timedelta
from io import BytesIO

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select, update

from app.auth import services as auth
from app.db import utcnow
from app.gridreports.models import GridReport
from app.people.models import Member
from ledger import Ledger
from tests.conftest import csrf_from, sign_in
from tests.factories import PASSWORD, make_user
from tests.web.test_api import commit, post, signed_in


@pytest.fixture(autouse=True)
def _uploads(app, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")


def jpeg(colour=(200, 30, 30), size=(2400, 1800)) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return out.getvalue()


def _report(client, html, **data):
    form = {"csrf_token": csrf_from(html), "category": "hazard", "text": "楼道堆放杂物，堵住消防通道", **data}
    return client.post("/grid-reports/new", data=form, content_type="multipart/form-data")


def _reports(app, member_id):
    return commit(
        app,
        lambda s: [
            (r.id, r.grid_id, r.status, r.points, len(r.photos))
            for r in s.scalars(select(GridReport).where(GridReport.reporter_member_id == member_id))
        ],
    )


def _balance(app, town, member_id):
    return commit(app, lambda s: Ledger(s, tenant=town.district.id).balance(f"member:{member_id}").posted)


def _other_grid_admin(app, town):
    def make(s):
        grid = s.merge(town.grid_b1)
        return make_user(s, town.district.id, grid, "孙悦", [("grid_admin", grid)])

    m = commit(app, make)
    town.users["other_admin"] = (m, m.mobile, PASSWORD)
    return m


def test_member_reports_with_photos_and_grid_admin_verifies_once(app, client, town):
    client.get("/?lang=en")
    member = sign_in(client, town, "volunteer")
    page = client.get("/grid-reports/new")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'accept="image/*"' in html and "capture" in html and "凤凰第一片区网格" in html  # own grid named
    resp = _report(client, html, photos=[(BytesIO(jpeg()), "a.jpg"), (BytesIO(jpeg((0, 90, 0))), "b.jpg")])
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    [(report_id, grid_id, status, points, photos)] = _reports(app, member.id)
    assert (grid_id, status, points, photos) == (town.grid_a1.id, "submitted", 0, 2)
    mine = client.get("/me/grid-reports").get_data(as_text=True)
    assert "Waiting for the grid admin" in mine and f"No. {report_id}" in mine

    # The photo: shrunk to 1600 px, served to the reporter with private caching, revalidated by its ETag.
    ph = client.get(f"/me/grid-reports/{report_id}/photos/1")
    assert ph.status_code == 200 and ph.mimetype == "image/jpeg"
    assert "private" in ph.headers["Cache-Control"] and ph.headers.get("ETag")
    assert Image.open(BytesIO(ph.data)).size == (1600, 1200)
    again = client.get(f"/me/grid-reports/{report_id}/photos/1", headers={"If-None-Match": ph.headers["ETag"]})
    assert again.status_code == 304
    assert client.get(f"/me/grid-reports/{report_id}/photos/3").status_code == 404

    # The reporter cannot triage their own report.
    assert client.get("/grid-reports/triage").status_code in (403, 404)

    admin = app.test_client()
    admin.get("/?lang=en")
    sign_in(admin, town, "grid_admin")
    assert "1 report waits for triage" in admin.get("/").get_data(as_text=True)
    answer = admin.get("/grid-reports/triage")
    queue = answer.get_data(as_text=True)
    assert answer.status_code == 200 and f"No. {report_id}" in queue and member.name in queue
    assert admin.get(f"/me/grid-reports/{report_id}/photos/2").status_code == 200
    page = admin.get(f"/me/grid-reports/{report_id}").get_data(as_text=True)
    assert "Verify…" in page
    token = csrf_from(page)
    # First POST asks; nothing is decided yet.
    ask = admin.post(f"/me/grid-reports/{report_id}/triage", data={"csrf_token": token, "decision": "verify"})
    assert ask.status_code == 200 and "cannot be undone" in ask.get_data(as_text=True)
    assert _reports(app, member.id)[0][2] == "submitted"
    done = admin.post(
        f"/me/grid-reports/{report_id}/triage", data={"csrf_token": token, "decision": "verify", "confirm": "yes"}
    )
    assert done.status_code == 302
    assert _reports(app, member.id)[0][2:4] == ("verified", 5)
    assert _balance(app, town, member.id) == 5
    # A second verification (a double click, a replay) changes nothing.
    again = admin.post(
        f"/me/grid-reports/{report_id}/triage", data={"csrf_token": token, "decision": "verify", "confirm": "yes"}
    )
    assert again.status_code == 302
    assert _balance(app, town, member.id) == 5
    mine = client.get(f"/me/grid-reports/{report_id}").get_data(as_text=True)
    assert "Verified" in mine and "+5 points" in mine
    notices = client.get("/notices").get_data(as_text=True)
    assert f"Your grid report No. {report_id} was verified: +5 points" in notices


def test_grid_chosen_by_typing_its_name_and_bad_input_kept(app, client, town):
    client.get("/?lang=en")
    member = sign_in(client, town, "volunteer")
    html = client.get("/grid-reports/new").get_data(as_text=True)
    found = client.get("/grid-reports/grids?q=塘家").get_json()["items"]
    assert [i["name"] for i in found] == ["塘家第一片区网格"]
    resp = _report(client, html, **{"grid-text": "塘家第一"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    assert _reports(app, member.id)[0][1] == town.grid_b1.id
    # Too short, a file that is no photo, four photos: a clear message, nothing recorded, the text kept.
    bad = _report(client, html, text="坏")
    assert bad.status_code == 422 and "at least 5 characters" in bad.get_data(as_text=True)
    bad = _report(client, html, text="路灯不亮了很久", photos=[(BytesIO(b"not an image"), "x.jpg")])
    assert bad.status_code == 422 and "not a photo we can read" in bad.get_data(as_text=True)
    assert "路灯不亮了很久" in bad.get_data(as_text=True)
    bad = _report(client, html, photos=[(BytesIO(jpeg()), f"{i}.jpg") for i in range(4)])
    assert bad.status_code == 422 and "at most 3 photos" in bad.get_data(as_text=True)
    assert len(_reports(app, member.id)) == 1


def test_reject_needs_a_reason_and_duplicate_points_to_an_earlier_report(app, client, town):
    client.get("/?lang=en")
    member = sign_in(client, town, "volunteer")
    html = client.get("/grid-reports/new").get_data(as_text=True)
    for _ in range(3):
        assert _report(client, html).status_code == 302
    first, second, third = sorted(r[0] for r in _reports(app, member.id))
    admin = app.test_client()
    admin.get("/?lang=en")
    sign_in(admin, town, "grid_admin")
    page = admin.get(f"/me/grid-reports/{second}").get_data(as_text=True)
    token = csrf_from(page)
    url = f"/me/grid-reports/{second}/triage"
    ask = admin.post(url, data={"csrf_token": token, "decision": "reject", "reason": ""})
    assert "Say why" in ask.get_data(as_text=True)
    admin.post(url, data={"csrf_token": token, "decision": "reject", "reason": "", "confirm": "yes"})
    assert dict((r[0], r[2]) for r in _reports(app, member.id))[second] == "submitted"
    admin.post(url, data={"csrf_token": token, "decision": "duplicate", "duplicate_of": first, "confirm": "yes"})
    admin.post(
        f"/me/grid-reports/{third}/triage",
        data={"csrf_token": token, "decision": "reject", "reason": "已处理完毕", "confirm": "yes"},
    )
    states = {r[0]: (r[2], r[3]) for r in _reports(app, member.id)}
    assert states == {first: ("submitted", 0), second: ("duplicate", 0), third: ("rejected", 0)}
    mine = client.get(f"/me/grid-reports/{third}").get_data(as_text=True)
    assert "Not accepted" in mine and "已处理完毕" in mine
    assert "Already reported" in client.get(f"/me/grid-reports/{second}").get_data(as_text=True)
    assert _balance(app, town, member.id) == 0


def test_overdue_flagged_and_other_grid_admin_gets_404(app, client, town):
    member = town.users["volunteer"][0]
    client.get("/?lang=en")
    sign_in(client, town, "volunteer")
    html = client.get("/grid-reports/new").get_data(as_text=True)
    assert _report(client, html, photos=[(BytesIO(jpeg()), "a.jpg")]).status_code == 302
    report_id = _reports(app, member.id)[0][0]
    commit(
        app,
        lambda s: s.execute(
            update(GridReport).where(GridReport.id == report_id).values(created_at=utcnow() - timedelta(days=4))
        ),
    )
    admin = app.test_client()
    admin.get("/?lang=en")
    sign_in(admin, town, "grid_admin")
    queue = admin.get("/grid-reports/triage").get_data(as_text=True)
    assert "1 waiting, 1 overdue" in queue and "Overdue" in queue
    assert "1 overdue" in admin.get("/").get_data(as_text=True)

    _other_grid_admin(app, town)
    other = app.test_client()
    other.get("/?lang=en")
    sign_in(other, town, "other_admin")
    assert other.get(f"/me/grid-reports/{report_id}").status_code == 404
    assert other.get(f"/me/grid-reports/{report_id}/photos/1").status_code == 404
    token = csrf_from(other.get("/grid-reports/triage").get_data(as_text=True))
    r = other.post(
        f"/me/grid-reports/{report_id}/triage", data={"csrf_token": token, "decision": "verify", "confirm": "yes"}
    )
    assert r.status_code == 404
    assert f"No. {report_id}" not in other.get("/grid-reports/triage").get_data(as_text=True)
    # Another member (not the reporter, no role) sees neither the report nor its photo.
    stranger = app.test_client()
    sign_in(stranger, town, "organiser")
    assert stranger.get(f"/me/grid-reports/{report_id}/photos/1").status_code == 404


def test_summary_per_grid_with_chart_and_xlsx_scoped(app, client, town):
    client.get("/?lang=en")
    member = sign_in(client, town, "volunteer")
    html = client.get("/grid-reports/new").get_data(as_text=True)
    _report(client, html)
    _report(client, html, category="environment", **{"grid-text": "塘家第一"})
    admin = app.test_client()
    admin.get("/?lang=en")
    sign_in(admin, town, "grid_admin")
    page = admin.get(f"/grid-reports/summary/{town.community_a.id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "report-chart-data" in body and "凤凰第一片区网格" in body
    assert "塘家第一片区网格" not in body
    # The street is above the admin's scope: not theirs to read.
    assert admin.get(f"/grid-reports/summary/{town.street.id}").status_code in (403, 404)
    x = admin.get(f"/grid-reports/summary/{town.community_a.id}.xlsx")
    ws = load_workbook(BytesIO(x.data)).active
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    a1 = next(r for r in rows if r[0] == "凤凰第一片区网格")
    assert a1[1] == "1" or a1[1] == 1
    district = app.test_client()
    district.get("/?lang=en")
    sign_in(district, town, "district_admin")
    body = district.get(f"/grid-reports/summary/{town.street.id}").get_data(as_text=True)
    assert "塘家第一片区网格" in body and "2 reports" in body
    assert member  # the reporter


def test_settings_change_triage_days_and_points(app, client, town):
    client.get("/?lang=en")
    sign_in(client, town, "district_admin")
    page = client.get("/grid-reports/settings")
    assert page.status_code == 200
    r = client.post(
        "/grid-reports/settings",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "triage_days": "5",
            "points_per_report": "8",
            "monthly_cap": "",
            "reason": "提高奖励",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    page = client.get("/grid-reports/settings").get_data(as_text=True)
    assert 'value="5"' in page and 'value="8"' in page
    # Out of range: the message says what to give, in the page's language.
    r = client.post(
        "/grid-reports/settings",
        data={"csrf_token": csrf_from(page), "triage_days": "90", "points_per_report": "8", "reason": "x"},
    )
    assert r.status_code == 422 and "Give a number of days from 1 to 60." in r.get_data(as_text=True)
    g = app.test_client()
    sign_in(g, town, "grid_admin")
    assert g.get("/grid-reports/settings").status_code == 403


def test_api_report_list_and_triage(app, town):
    c = app.test_client()
    ct = signed_in(c, town, "volunteer")
    r = post(c, "/api/v1/grid-reports", {"category": "facility", "text": "健身器材损坏", "lat": 22.7, "lng": 113.9}, ct)
    assert r.status_code == 201, r.get_data(as_text=True)
    rep = r.get_json()
    assert rep["grid_id"] == town.grid_a1.id and rep["status"] == "submitted"
    body = {"category": "facility", "text": "健身器材损坏", "grid_id": town.community_a.id}
    r = post(c, "/api/v1/grid-reports", body, ct)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "grid_required"
    r2 = post(c, "/api/v1/grid-reports", {"category": "facility", "text": "健身器材又坏了"}, ct)
    r3 = post(c, "/api/v1/grid-reports", {"category": "other", "text": "井盖松动有异响"}, ct)
    assert [x["id"] for x in c.get("/api/v1/me/grid-reports").get_json()["items"]] == [
        r3.get_json()["id"],
        r2.get_json()["id"],
        rep["id"],
    ]
    assert c.get("/api/v1/grid-reports/triage").status_code == 403
    assert c.get(f"/api/v1/grid-reports/{rep['id']}").get_json()["status"] == "submitted"
    assert post(c, f"/api/v1/grid-reports/{rep['id']}/verification", {}, ct).status_code == 403

    g = app.test_client()
    gt = signed_in(g, town, "grid_admin")
    queue = g.get("/api/v1/grid-reports/triage").get_json()
    assert [x["id"] for x in queue["items"]] == [rep["id"], r2.get_json()["id"], r3.get_json()["id"]]
    assert queue["overdue_ids"] == []
    r = post(g, f"/api/v1/grid-reports/{rep['id']}/verification", {}, gt)
    assert r.status_code == 200 and r.get_json()["points"] == 5
    r = post(g, f"/api/v1/grid-reports/{rep['id']}/verification", {}, gt)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "already_triaged"
    r = post(g, f"/api/v1/grid-reports/{r2.get_json()['id']}/duplicate", {"duplicate_of_id": r3.get_json()["id"]}, gt)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "duplicate_invalid"
    r = post(g, f"/api/v1/grid-reports/{r2.get_json()['id']}/duplicate", {"duplicate_of_id": rep["id"]}, gt)
    assert r.status_code == 200 and r.get_json()["status"] == "duplicate"
    r = post(g, f"/api/v1/grid-reports/{r3.get_json()['id']}/rejection", {"reason": ""}, gt)
    assert r.status_code == 422
    r = post(g, f"/api/v1/grid-reports/{r3.get_json()['id']}/rejection", {"reason": "不属实"}, gt)
    assert r.status_code == 200 and r.get_json()["status_text"]

    _other_grid_admin(app, town)
    o = app.test_client()
    ot = signed_in(o, town, "other_admin")
    r4 = post(c, "/api/v1/grid-reports", {"category": "other", "text": "另一件事情需要处理"}, ct).get_json()
    assert post(o, f"/api/v1/grid-reports/{r4['id']}/verification", {}, ot).status_code == 404
    assert o.get(f"/api/v1/grid-reports/{r4['id']}").status_code == 404


def test_pages_render_for_every_role(app, town):
    for role in ("volunteer", "grid_admin", "district_admin", "auditor", "fund_manager"):
        c = app.test_client()
        sign_in(c, town, role)
        for path in ("/", "/grid-reports/new", "/me/grid-reports"):
            assert c.get(path).status_code == 200, (role, path)
    a = app.test_client()
    sign_in(a, town, "auditor")
    assert a.get("/grid-reports/summary").status_code == 200
    assert a.get("/grid-reports/triage").status_code == 403
    assert commit(app, lambda s: s.scalar(select(Member.id).where(Member.id == town.users["auditor"][0].id)))
    assert auth  # imported for the factories' roles


def test_a_member_submitting_too_often_is_told_to_wait_page_and_api_share_the_count(app, town):
    app.config["GRID_REPORT_LIMIT"] = "3 per hour"
    c = app.test_client()
    c.get("/?lang=en")
    ct = signed_in(c, town, "volunteer")
    for text in ("健身器材损坏", "井盖松动有异响"):
        assert post(c, "/api/v1/grid-reports", {"category": "facility", "text": text}, ct).status_code == 201
    page = c.get("/grid-reports/new")
    assert _report(c, page.get_data(as_text=True)).status_code == 302  # the third, from the page
    refused = post(c, "/api/v1/grid-reports", {"category": "other", "text": "小区路灯不亮了好几天"}, ct)
    assert refused.status_code == 429
    err = refused.get_json()["error"]
    assert err["code"] == "too_many_requests"
    assert "Wait" in err["message"] and "Sign-in" not in err["message"]
    assert c.get("/grid-reports/new").status_code == 200  # reading the form is not counted
    again = _report(c, c.get("/grid-reports/new").get_data(as_text=True))
    assert again.status_code == 429 and "Too many requests" in again.get_data(as_text=True)
    member = town.users["volunteer"][0]
    assert len(_reports(app, member.id)) == 3  # nothing refused was kept
    other = app.test_client()
    other_token = signed_in(other, town, "organiser")  # the count is the member's own
    assert (
        post(
            other, "/api/v1/grid-reports", {"category": "other", "text": "小区路灯不亮了好几天"}, other_token
        ).status_code
        == 201
    )


def test_a_grid_admin_cannot_verify_their_own_report(app, town):
    # Its points would be their own: another grid administrator verifies it (own_report).
    g = app.test_client()
    gt = signed_in(g, town, "grid_admin")
    body = {"category": "facility", "text": "小区路灯一直不亮", "grid_id": town.grid_a1.id}
    mine = post(g, "/api/v1/grid-reports", body, gt)
    assert mine.status_code == 201, mine.get_data(as_text=True)
    r = post(g, f"/api/v1/grid-reports/{mine.get_json()['id']}/verification", {}, gt)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "own_report"
    assert g.get(f"/api/v1/grid-reports/{mine.get_json()['id']}").get_json()["status"] == "submitted"


def test_the_api_takes_photos_as_base64_and_serves_them_like_the_pages(app, town):
    import base64

    c = app.test_client()
    ct = signed_in(c, town, "volunteer")
    body = {"category": "hazard", "text": "井盖破损，夜里容易绊倒", "photos": [base64.b64encode(jpeg()).decode()]}
    r = post(c, "/api/v1/grid-reports", body, ct)
    assert r.status_code == 201, r.get_data(as_text=True)
    report = r.get_json()
    assert report["photos"] == 1 and len(json.dumps(body)) > 64 * 1024  # over the usual limit, accepted
    ph = c.get(f"/me/grid-reports/{report['id']}/photos/1")
    assert ph.status_code == 200 and ph.mimetype.startswith("image/")
    # Not base64, not an image, more than three: refused with what to fix, nothing recorded.
    for bad, code in (
        (["not base64!"], "validation_failed"),
        ([base64.b64encode(b"plain text").decode()], "photo_invalid"),
        ([base64.b64encode(jpeg(size=(20, 20))).decode()] * 4, "validation_failed"),
    ):
        r = post(c, "/api/v1/grid-reports", {**body, "photos": bad}, ct)
        assert r.status_code == 422 and r.get_json()["error"]["code"] == code, (code, r.get_data(as_text=True))
    assert len(c.get("/api/v1/me/grid-reports").get_json()["items"]) == 1
