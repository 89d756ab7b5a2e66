"""The app the check-in burst benchmark serves with gunicorn: the real app (configured from the
environment, as in production) plus two bench-only API routes that exist only in this factory, never in
`create_app()` (section 9 also adds them to its in-process app with `with_bench_routes`, to time the floor):

- POST /api/v1/bench/scans — {"token", "lat"?, "lng"?}: what POST /api/v1/scans does (the signed-in
  member scans a check-in code through app.activities.services.scan). Used only while the real route
  is not in the app (the benchmark takes the path as a parameter and prefers /api/v1/scans).
- POST /api/v1/bench/floor — the floor: the same signed-in session lookup, CSRF and JSON checks (the
  API blueprint's hook) and one INSERT, nothing else.

gunicorn 'tests.bench.checkin_app:create()'
"""

from __future__ import annotations

from flask import Flask, request
from flask_login import current_user
from sqlalchemy import insert

from app import create_app
from app.activities import services as activities
from app.activities.labels import CHECKIN, SCAN
from app.activities.models import Scan
from app.api.blueprints import api_blueprint
from app.db import get_session, utcnow
from app.people.models import Member

SCANS = "/api/v1/scans"
BENCH_SCANS = "/api/v1/bench/scans"
FLOOR = "/api/v1/bench/floor"


def _scan():
    body = request.get_json()
    session = get_session()
    member = session.get(Member, current_user.member_id)
    assert member is not None  # a signed-in principal is an active member
    result = activities.scan(session, member, str(body.get("token") or ""), body.get("lat"), body.get("lng"))
    return {
        "direction": result.direction,
        "already": result.already,
        "attendance_id": result.attendance.id,
        "activity_id": result.activity.id,
    }


def _floor():
    body = request.get_json()
    get_session().execute(
        insert(Scan).values(
            tenant_id=current_user.tenant_id,
            activity_id=int(body["activity_id"]),
            member_id=current_user.member_id,
            direction=CHECKIN,
            source=SCAN,
            at=utcnow(),
            outcome="recorded",
        )
    )
    return {"ok": True}


def with_bench_routes(app: Flask) -> Flask:
    """`app` (before its first request) with the two bench-only routes; section 9 times the floor
    in-process on it."""
    bp = api_blueprint("bench_api", __name__)
    bp.add_url_rule("/bench/scans", "scan", _scan, methods=["POST"])
    bp.add_url_rule("/bench/floor", "floor", _floor, methods=["POST"])
    app.register_blueprint(bp)
    return app


def create() -> Flask:
    return with_bench_routes(create_app())
