"""The signed-in user of a request (auth.services.load_principal): one query, and nothing about who may do
what outlives the request — a change made by another process (another gunicorn worker, the CLI, a job)
stops or narrows a session on its very next request."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import event, update

from app.auth.services import load_principal
from app.db import get_session, unit_of_work
from app.places.models import OrgUnit
from config import ROOT
from tests.conftest import sign_in

# Runs in a process of its own: whatever this test process holds in memory cannot see it happen.
_ELSEWHERE = """
import sys
from sqlalchemy import text
from app.db import make_engine
engine = make_engine(sys.argv[1])
with engine.begin() as conn:
    conn.execute(text(sys.argv[2]), {"member_id": int(sys.argv[3])})
engine.dispose()
"""


def change_elsewhere(db_url: str, sql: str, member_id: int) -> None:
    subprocess.run([sys.executable, "-c", _ELSEWHERE, db_url, sql, str(member_id)], cwd=ROOT, check=True, timeout=60)


USER_OF = "SELECT id FROM users WHERE member_id = :member_id"


@pytest.mark.commits
@pytest.mark.slow
def test_sessions_revoked_by_another_process_stop_at_once(app, client, town, db_url):
    member = sign_in(client, town, "volunteer")
    assert client.get(f"/members/{member.id}").status_code == 200
    change_elsewhere(
        db_url,
        f"UPDATE user_sessions SET revoked_at = created_at, revoked_why = 'sign_out' "
        f"WHERE user_id = ({USER_OF}) AND revoked_at IS NULL",
        member.id,
    )
    resp = client.get(f"/members/{member.id}")
    assert resp.status_code == 302 and "/signin" in resp.headers["Location"]


@pytest.mark.commits
@pytest.mark.slow
def test_a_member_suspended_by_another_process_is_signed_out_at_once(app, client, town, db_url):
    # Only the member's status changes (no session is revoked): the status alone must stop the session.
    member = sign_in(client, town, "volunteer")
    assert client.get(f"/members/{member.id}").status_code == 200
    change_elsewhere(db_url, "UPDATE members SET status = 'suspended' WHERE id = :member_id", member.id)
    resp = client.get(f"/members/{member.id}")
    assert resp.status_code == 302 and "/signin" in resp.headers["Location"]
    assert client.get("/api/v1/members").status_code == 401


@pytest.mark.commits
@pytest.mark.slow
def test_a_role_revoked_by_another_process_is_gone_on_the_next_request(app, client, town, db_url):
    member = sign_in(client, town, "grid_admin")
    assert client.get("/api/v1/members").status_code == 200
    change_elsewhere(
        db_url,
        f"UPDATE role_grants SET revoked_at = granted_at WHERE user_id = ({USER_OF}) AND revoked_at IS NULL",
        member.id,
    )
    assert client.get("/api/v1/members").status_code == 403
    assert client.get(f"/members/{member.id}").status_code == 200  # still signed in, as a plain member


def test_the_principal_is_one_query_with_every_live_grant(app, town):
    member, _, _ = town.users["grid_admin"]
    statements: list[str] = []
    with app.test_request_context("/api/v1/members"):
        session = get_session()
        token = _open_session(app, member.id)
        engine = session.get_bind()

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            principal = load_principal(session, token)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert principal is not None and principal.member_id == member.id
    assert [(s.role, s.path) for s in principal.scopes] == [("grid_admin", town.community_a.path)]
    assert len(statements) == 1, statements


def test_grants_on_retired_units_and_revoked_grants_confer_nothing(app, town):
    from app.auth.models import RoleGrant
    from app.auth.services import grant_role
    from app.db import utcnow

    member, _, _ = town.users["organiser"]
    with app.test_request_context("/"):
        session = get_session()
        token = _open_session(app, member.id)
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            grant_role(s, None, s.merge(member), "grid_admin", s.merge(town.community_b))
            grant_role(s, None, s.merge(member), "auditor", None)
        before = load_principal(session, token)
        assert before is not None
        assert sorted((x.role, x.path) for x in before.scopes) == sorted(
            [("organiser", town.community_a.path), ("grid_admin", town.community_b.path), ("auditor", None)]
        )
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            for g in s.query(RoleGrant).filter_by(user_id=before.user_id, role="auditor"):
                g.revoked_at = utcnow()
            s.execute(update(OrgUnit).where(OrgUnit.id == town.community_b.id).values(retired_at=utcnow()))
        after = load_principal(session, token)
    assert after is not None
    assert [(x.role, x.path) for x in after.scopes] == [("organiser", town.community_a.path)]


def _open_session(app, member_id: int) -> str:
    from app.auth.models import User
    from app.auth.services import open_session

    with unit_of_work(app.extensions["db_sessionmaker"]) as s:
        user_id = s.query(User.id).filter_by(member_id=member_id).scalar()
        return open_session(s, user_id).token
