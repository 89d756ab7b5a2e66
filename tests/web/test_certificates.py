"""Service record certificates (志愿服务记录证明) through the real app on SQLite and PostgreSQL: the PDF's
text (pdfminer) lists exactly the approved and adjusted attendances with their credited hours and the
right total; its QR code (the embedded image, decoded with zxing-cpp) is the verify URL; the public
verify page shows the masked name and nothing more personal; who may issue for whom; the audit log."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta

import pytest
import zxingcpp
from pdfminer.high_level import extract_pages, extract_text
from pdfminer.layout import LTFigure, LTImage
from PIL import Image
from sqlalchemy import select

from app.activities import services as act
from app.activities.labels import SCAN
from app.audit.models import AuditEvent
from app.auth.services import user_for_member
from app.certificates import codes
from app.certificates.models import Certificate
from app.db import unit_of_work, utcnow
from app.people.models import Member
from app.times import to_beijing
from tests.conftest import csrf_from, sign_in
from tests.factories import make_member, valid_id_number

TITLES = {"approved": "敬老院陪护", "adjusted": "垃圾分类宣传", "rejected": "河道清理", "waiting": "图书馆整理"}


def _uow(app):
    return unit_of_work(app.extensions["db_sessionmaker"])


def serve(app, town, member_id: int, title: str, minutes: int, decision: str, day: int = 1) -> None:
    """An activity `day` days ahead; the member scans in and out `minutes` apart; the organiser decides."""
    with app.test_request_context(), _uow(app) as s:
        organiser = town.users["organiser"][0]
        ou = user_for_member(s, organiser).id
        start = (utcnow() + timedelta(days=day)).replace(second=0, microsecond=0)
        data = act.ActivityData(
            title=title,
            category="environment",
            host_unit_id=town.community_a.id,
            place=f"{title}地点",
            starts_at=start,
            ends_at=start + timedelta(minutes=minutes),
            capacity=20,
        )
        a = act.publish_activity(s, act.create_activity(s, town.district.id, data, actor_user_id=ou), actor_user_id=ou)
        m = s.get(Member, member_id)
        act.check_in(s, a, m, start, SCAN)
        att = act.check_out(s, a, m, start + timedelta(minutes=minutes), SCAN).attendance
        review = {
            "approved": act.Review(approve=[att.id]),
            "adjusted": act.Review(adjust=[(att.id, 45, "早退")]),
            "rejected": act.Review(reject=[(att.id, "未到岗")]),
            "waiting": None,
        }[decision]
        if review is not None:
            act.review(s, a, review, actor_user_id=ou, actor_member_id=organiser.id, now=start + timedelta(hours=4))


def period() -> tuple[str, str]:
    today = to_beijing(utcnow()).date()
    return today.isoformat(), (today + timedelta(days=5)).isoformat()


def issue_on_page(client, url: str, **extra):
    page = client.get(url)
    assert page.status_code == 200
    first, last = period()
    data = {"csrf_token": csrf_from(page.get_data(as_text=True)), "period_from": first, "period_to": last, **extra}
    return client.post(url, data=data)


def certificates_of(app, member_id: int) -> list[Certificate]:
    with _uow(app) as s:
        return list(s.scalars(select(Certificate).where(Certificate.member_id == member_id).order_by(Certificate.id)))


def qr_codes_in(pdf: bytes) -> list[str]:
    """Decode every image embedded in the PDF (reportlab stores the QR as a grey-scale image)."""
    found: list[str] = []

    def walk(items):
        for item in items:
            if isinstance(item, LTImage):
                stream = item.stream
                w, h = stream["Width"], stream["Height"]
                img = Image.frombytes("L", (w, h), stream.get_data())
                found.extend(r.text for r in zxingcpp.read_barcodes(img))
            elif isinstance(item, LTFigure):
                walk(item)

    for page in extract_pages(io.BytesIO(pdf)):
        walk(page)
    return found


@pytest.fixture
def served(app, town):
    """The volunteer (with an ID number) served four times: approved 2 h, adjusted to 45 min,
    rejected, and one still waiting for review."""
    volunteer = town.users["volunteer"][0]
    for i, decision in enumerate(("approved", "adjusted", "rejected", "waiting")):
        serve(app, town, volunteer.id, TITLES[decision], 120, decision, day=1 + i % 2)
    return volunteer


def test_the_pdf_lists_the_approved_hours_and_its_qr_is_the_verify_url(app, client, town, served):
    sign_in(client, town, "volunteer")
    resp = issue_on_page(client, "/me/certificates")
    assert resp.status_code == 302
    [cert] = certificates_of(app, served.id)
    assert cert.total_minutes == 120 + 45
    assert sorted(x["title"] for x in cert.lines) == sorted([TITLES["approved"], TITLES["adjusted"]])
    assert sorted(x["minutes"] for x in cert.lines) == [45, 120]

    listing = client.get("/me/certificates").get_data(as_text=True)
    assert codes.grouped(cert.code) in listing
    pdf = client.get(f"/certificates/{cert.code}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "attachment" in pdf.headers["Content-Disposition"]
    body = pdf.get_data()
    assert hashlib.sha256(body).hexdigest() == cert.pdf_sha256  # the download is the PDF issued

    text = re.sub(r"\s+", "", extract_text(io.BytesIO(body)))
    assert "志愿服务记录证明" in text
    assert served.name in text
    assert "未登记" in text  # no ID number on record
    assert TITLES["approved"] in text and TITLES["adjusted"] in text
    assert TITLES["rejected"] not in text and TITLES["waiting"] not in text
    assert "累计志愿服务时长2.75小时" in text  # 120 + 45 minutes
    assert "合计" in text and "0.75" in text  # the adjusted line: 45 minutes
    assert text.count("2.75") >= 2  # the sentence and the total row
    assert codes.grouped(cert.code) in text
    assert town.district.name in text  # issued in the district's name

    [url] = qr_codes_in(body)
    assert url == cert.verify_url
    assert url.endswith(f"/verify/{cert.code}")


def test_the_masked_id_number_is_printed(app, client, town):
    with app.test_request_context(), _uow(app) as s:
        m = make_member(s, town.district.id, town.grid_a1, name="欧阳娜娜", id_number=valid_id_number())
        masked, member_id = m.id_number_masked, m.id
    serve(app, town, member_id, TITLES["approved"], 90, "approved")
    sign_in(client, town, "district_admin")
    assert issue_on_page(client, f"/members/{member_id}/certificates").status_code == 302
    [cert] = certificates_of(app, member_id)
    text = re.sub(r"\s+", "", extract_text(io.BytesIO(client.get(f"/certificates/{cert.code}.pdf").get_data())))
    assert masked and masked in text and "欧阳娜娜" in text and "1.5" in text


def test_the_verify_page_is_public_and_shows_the_masked_name_only(app, client, town, served):
    sign_in(client, town, "volunteer")
    issue_on_page(client, "/me/certificates")
    [cert] = certificates_of(app, served.id)
    public = app.test_client()
    page = public.get(f"/verify/{cert.code}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"{served.name[0]}*" in html
    assert served.name not in html
    assert served.mobile not in html and served.mobile[-4:] not in html
    assert "2.75" in html and town.district.name in html
    # Typed by hand: lower case, with the dash, O for 0 — the same certificate.
    typed = codes.grouped(cert.code).lower().replace("0", "o")
    assert public.get(f"/verify/{typed}").status_code == 200
    assert public.get("/verify/", query_string={"code": typed}).status_code == 302


def test_an_unknown_code_says_not_found_and_guessing_is_throttled(app, town):
    public = app.test_client()
    body = "23456789AB"
    wrong = body[:-1] + ("C" if codes.normalise(body[:-1] + "C") is None else "D")
    env = {"REMOTE_ADDR": "203.0.113.9"}
    resp = public.get(f"/verify/{wrong}", environ_base=env)
    assert resp.status_code == 404
    assert "check" in resp.get_data(as_text=True).lower() or "核对" in resp.get_data(as_text=True)
    statuses = [public.get(f"/verify/{wrong}", environ_base=env).status_code for _ in range(25)]
    assert 429 in statuses
    assert public.get(f"/verify/{wrong}", environ_base={"REMOTE_ADDR": "203.0.113.10"}).status_code == 404


def test_a_volunteer_cannot_issue_for_someone_else(app, client, town, served):
    other = town.users["organiser"][0]
    sign_in(client, town, "volunteer")
    assert client.get(f"/members/{other.id}/certificates").status_code == 404
    token = client.get("/api/v1/csrf-token").get_json()["csrf_token"]
    first, last = period()
    resp = client.post(
        "/api/v1/certificates",
        json={"member_id": other.id, "from": first, "to": last},
        headers={"X-CSRFToken": token},
    )
    assert resp.status_code in (403, 404)
    assert certificates_of(app, other.id) == []
    # ... nor download another member's certificate by its code.
    sign_in(client, town, "district_admin")
    issue_on_page(client, f"/members/{served.id}/certificates")
    [cert] = certificates_of(app, served.id)
    outsider = app.test_client()
    sign_in(outsider, town, "fund_manager")  # may see members, may not issue
    assert outsider.get(f"/certificates/{cert.code}.pdf").status_code == 403


def test_an_admin_outside_their_scope_gets_404_and_inside_issues_in_a_communitys_name(app, client, town):
    with app.test_request_context(), _uow(app) as s:
        far = make_member(s, town.district.id, town.grid_b1, name="孙丽").id
        near = make_member(s, town.district.id, town.grid_a2, name="周杰").id
    serve(app, town, near, TITLES["approved"], 60, "approved")
    sign_in(client, town, "grid_admin")  # grid admin of 凤凰社区
    assert client.get(f"/members/{far}/certificates").status_code == 404
    token = client.get("/api/v1/csrf-token").get_json()["csrf_token"]
    first, last = period()
    headers = {"X-CSRFToken": token}
    resp = client.post("/api/v1/certificates", json={"member_id": far, "from": first, "to": last}, headers=headers)
    assert resp.status_code == 404
    resp = client.post(
        "/api/v1/certificates",
        json={"member_id": near, "from": first, "to": last, "issuer_unit_id": town.community_b.id},
        headers=headers,
    )
    assert resp.status_code == 422  # 塘家社区 is not theirs to issue in
    resp = client.post(
        "/api/v1/certificates",
        json={"member_id": near, "from": first, "to": last, "issuer_unit_id": town.community_a.id},
        headers=headers,
    )
    assert resp.status_code == 201, resp.get_json()
    out = resp.get_json()
    assert out["issuer_name"] == "凤凰社区" and out["total_minutes"] == 60 and out["total_hours"] == "1"
    assert [x["title"] for x in out["lines"]] == [TITLES["approved"]]
    assert client.get(out["download_url"]).status_code == 200
    verified = client.get(f"/api/v1/certificates/{out['code']}").get_json()
    assert verified["genuine"] and verified["holder"] == "周*" and verified["activity_count"] == 1
    assert "周杰" not in str(verified)
    assert client.get("/api/v1/certificates/23456789AB").status_code == 404
    # the member page links to it
    assert f"/members/{near}/certificates" in client.get(f"/members/{near}").get_data(as_text=True)


def test_issuing_and_downloading_are_audited(app, client, town, served):
    user = sign_in(client, town, "volunteer")
    issue_on_page(client, "/me/certificates")
    [cert] = certificates_of(app, served.id)
    client.get(f"/certificates/{cert.code}.pdf")
    with _uow(app) as s:
        events = list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.tenant_id == town.district.id, AuditEvent.action.like("certificate.%"))
                .order_by(AuditEvent.id)
            )
        )
        actor = user_for_member(s, user).id
    assert [e.action for e in events] == ["certificate.issue", "certificate.download"]
    assert all(e.actor_user_id == actor and e.target_id == served.id for e in events)
    assert events[0].detail["code"] == cert.code and events[0].detail["total_minutes"] == 165


def test_a_period_the_wrong_way_round_is_refused_with_a_clear_message(app, client, town):
    sign_in(client, town, "volunteer")
    page = client.get("/me/certificates")
    first, last = period()
    resp = client.post(
        "/me/certificates",
        data={"csrf_token": csrf_from(page.get_data(as_text=True)), "period_from": last, "period_to": first},
    )
    assert resp.status_code == 422
    assert 'role="alert"' in resp.get_data(as_text=True)
    token = client.get("/api/v1/csrf-token").get_json()["csrf_token"]
    resp = client.post("/api/v1/certificates", json={"from": last, "to": first}, headers={"X-CSRFToken": token})
    assert resp.status_code == 422 and resp.get_json()["error"]["details"][0]["field"] == "to"


def test_hours_whose_points_were_reversed_are_not_certified(app, client, town, served):
    # A correction took back the 2 h (posted by mistake): the certificate counts the 45 minutes only.
    from app.activities.models import Activity, Attendance
    from app.points import awards

    with _uow(app) as s:
        attendance = s.scalar(
            select(Attendance)
            .join(Activity, Activity.id == Attendance.activity_id)
            .where(Attendance.member_id == served.id, Activity.title == TITLES["approved"])
        )
        admin = user_for_member(s, town.users["district_admin"][0]).id
        awards.reverse_hours(s, town.district.id, attendance.id, reason="误登记", actor_user_id=admin)
    sign_in(client, town, "volunteer")
    assert issue_on_page(client, "/me/certificates").status_code == 302
    [cert] = certificates_of(app, served.id)
    assert cert.total_minutes == 45 and [x["title"] for x in cert.lines] == [TITLES["adjusted"]]
