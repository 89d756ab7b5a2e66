"""An approved attendance whose points a district administrator reversed (a correction) keeps its review
but shows as reversed: on the volunteer's "my activities" page, on the organiser's live view and in the
attendance export — read from the ledger's reversal, on both databases."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import select

from app.activities.models import Activity, Attendance
from app.auth.services import user_for_member
from app.points import awards
from tests.conftest import sign_in
from tests.web.test_api import commit
from tests.web.test_certificates import serve


def test_reversed_hours_show_as_reversed_to_the_volunteer_and_the_organiser(app, client, town):
    volunteer = town.users["volunteer"][0]
    serve(app, town, volunteer.id, "敬老院陪护", 120, "approved")
    serve(app, town, volunteer.id, "河道清理", 120, "approved", day=2)

    def reverse(s):
        att, activity_id = s.execute(
            select(Attendance, Activity.id)
            .join(Activity, Activity.id == Attendance.activity_id)
            .where(Attendance.member_id == volunteer.id, Activity.title == "河道清理")
        ).one()
        admin = user_for_member(s, town.users["district_admin"][0]).id
        awards.reverse_hours(s, town.district.id, att.id, reason="代签到", actor_user_id=admin)
        return activity_id, att.points, att.status

    activity_id, points, status = commit(app, reverse)
    assert points > 0 and status == "approved"  # the review itself is history: it stays as it was

    client.get("/?lang=en")
    sign_in(client, town, "volunteer")
    html = client.get("/me/activities").get_data(as_text=True)
    kept, taken = html.split("河道清理")[1], html.split("敬老院陪护")[1]
    assert "Points reversed" in kept.split("</li>")[0] and "were reversed" in kept.split("</li>")[0]
    assert "Points reversed" not in taken.split("</li>")[0] and "Approved" in taken.split("</li>")[0]

    organiser = app.test_client()
    organiser.get("/?lang=en")
    sign_in(organiser, town, "organiser")
    live = organiser.get(f"/organise/activities/{activity_id}/live")
    assert live.status_code == 200
    text = live.get_data(as_text=True)
    assert "Points reversed" in text and f"{points} points taken back" in text
    sheet = organiser.get(f"/organise/activities/{activity_id}/attendances.xlsx")
    rows = list(load_workbook(io.BytesIO(sheet.data)).active.iter_rows(values_only=True))
    assert rows[1][9] == "Points reversed", rows
