"""Changing and closing a check-in site through the real app, on both databases: the edit page (name,
place, radius; bad input says what to fix, nothing written), closing with a confirmation and a reason
(audited), a closed site refusing scans of its poster with a clear message on the scan page and on
the POST (nothing recorded, no points), the API scan refused with `site_closed`, and reopening."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.checkins.models import CheckinSite
from tests.conftest import csrf_from, sign_in
from tests.web.test_api import commit, post, signed_in
from tests.web.test_checkin_pages import _checkins, _party, _poster_token, _site


def _events(app, site_id):
    return commit(
        app,
        lambda s: [
            (e.action, e.detail)
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.target_type == "checkin_site", AuditEvent.target_id == site_id)
                .order_by(AuditEvent.id)
            )
        ],
    )


def _site_row(app, site_id):
    return commit(app, lambda s: (lambda x: (x.name, x.lat, x.lng, x.radius_m, x.active))(s.get(CheckinSite, site_id)))


def test_admin_changes_a_site_and_bad_input_changes_nothing(app, client, town):
    site_id = _site(app, town)
    client.get("/?lang=en")
    sign_in(client, town, "district_admin")
    assert "Change the site" in client.get(f"/checkins/sites/{site_id}").get_data(as_text=True)
    page = client.get(f"/checkins/sites/{site_id}/edit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    form = {
        "csrf_token": csrf_from(html),
        "name": "凤凰社区党群服务中心",
        "lat": "22.778",
        "lng": "",
        "radius_m": "200",
    }
    r = client.post(f"/checkins/sites/{site_id}/edit", data=form)
    assert r.status_code == 422 and "latitude and longitude" in r.get_data(as_text=True)
    assert _site_row(app, site_id) == ("凤凰社区", None, None, None, True)
    r = client.post(f"/checkins/sites/{site_id}/edit", data={**form, "lng": "113.936", "radius_m": "5"})
    assert r.status_code == 422 and "10 to 5000" in r.get_data(as_text=True)
    r = client.post(f"/checkins/sites/{site_id}/edit", data={**form, "lng": "113.936"})
    assert r.status_code == 302
    assert _site_row(app, site_id) == ("凤凰社区党群服务中心", 22.778, 113.936, 200, True)
    [(action, detail)] = [e for e in _events(app, site_id) if e[0] == "checkin.site_update"]
    assert detail["before"]["name"] == "凤凰社区" and detail["after"]["radius_m"] == 200
    assert "Check-in site changed" in client.get("/audit/").get_data(as_text=True)


def test_a_closed_site_refuses_scans_with_a_clear_message_and_can_reopen(app, client, town):
    site_id = _site(app, town)
    member = _party(app, town)
    token = _poster_token(app, town, site_id)
    admin = app.test_client()
    admin.get("/?lang=en")
    sign_in(admin, town, "district_admin")
    confirm = admin.get(f"/checkins/sites/{site_id}/close")
    assert confirm.status_code == 200 and "records nothing" in confirm.get_data(as_text=True)
    csrf = csrf_from(confirm.get_data(as_text=True))
    r = admin.post(f"/checkins/sites/{site_id}/close", data={"csrf_token": csrf, "reason": ""})
    assert r.status_code == 422 and _site_row(app, site_id)[4] is True  # a reason is needed
    r = admin.post(f"/checkins/sites/{site_id}/close", data={"csrf_token": csrf, "reason": "社区搬迁"})
    assert r.status_code == 302 and _site_row(app, site_id)[4] is False
    assert ("checkin.site_close", {"name": "凤凰社区", "reason": "社区搬迁"}) in _events(app, site_id)
    site_page = admin.get(f"/checkins/sites/{site_id}").get_data(as_text=True)
    assert "This site is closed" in site_page and "Print the QR poster" not in site_page
    assert "Closed" in admin.get("/checkins/sites/").get_data(as_text=True)

    # The party member scans the old poster: told at once, and a POST records nothing.
    client.get("/?lang=en")
    sign_in(client, town, "party")
    page = client.get(f"/site-scan/{token}")
    text = page.get_data(as_text=True)
    assert page.status_code == 409 and "凤凰社区 is closed" in text and 'id="scan-form"' not in text
    r = client.post(f"/site-scan/{token}", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    assert r.status_code == 409 and "is closed" in r.get_data(as_text=True)
    assert _checkins(app, member.id) == []
    api = app.test_client()
    at = signed_in(api, town, "party")
    r = post(api, "/api/v1/site-scans", {"token": token}, at)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "site_closed"

    # Reopened: the same poster works again.
    page = admin.get(f"/checkins/sites/{site_id}").get_data(as_text=True)
    r = admin.post(f"/checkins/sites/{site_id}/reopen", data={"csrf_token": csrf_from(page)})
    assert r.status_code == 302 and _site_row(app, site_id)[4] is True
    assert "checkin.site_reopen" in [a for a, _ in _events(app, site_id)]
    r = post(api, "/api/v1/site-scans", {"token": token}, at)
    assert r.status_code in (200, 201), r.get_data(as_text=True)
    assert _checkins(app, member.id) == [(site_id, 2, 0)]


def test_only_site_editors_change_or_close_a_site(app, client, town):
    site_id = _site(app, town)
    sign_in(client, town, "volunteer")
    assert client.get(f"/checkins/sites/{site_id}/edit").status_code in (403, 404)
    assert client.get(f"/checkins/sites/{site_id}/close").status_code in (403, 404)
    page = client.get("/").get_data(as_text=True)
    r = client.post(f"/checkins/sites/{site_id}/close", data={"csrf_token": csrf_from(page), "reason": "x"})
    assert r.status_code in (403, 404) and _site_row(app, site_id)[4] is True
