"""The audit log is append-only in the database itself: UPDATE, DELETE and (PostgreSQL) TRUNCATE are refused."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.audit.services import record


@pytest.fixture
def event_id(session) -> int:
    return record(session, "signout", tenant_id=None, detail={"why": "test"}).id


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'forged' WHERE id = :id",
        "DELETE FROM audit_events WHERE id = :id",
        "DELETE FROM audit_events",
    ],
)
def test_audit_rows_cannot_be_changed_or_deleted(session, event_id, statement):
    conn = session.connection()
    with pytest.raises(DBAPIError, match="append-only"):
        with conn.begin_nested():
            conn.execute(text(statement), {"id": event_id} if ":id" in statement else {})
    assert conn.execute(text("SELECT action FROM audit_events WHERE id = :id"), {"id": event_id}).scalar() == "signout"


@pytest.mark.postgres
def test_truncating_the_audit_log_is_refused_on_postgresql(postgres_url):
    from app.db import make_engine

    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            with pytest.raises(DBAPIError, match="audit_events is append-only: TRUNCATE refused"):
                conn.execute(text("TRUNCATE audit_events"))
            conn.rollback()
            with pytest.raises(DBAPIError, match="append-only: TRUNCATE refused"):
                conn.execute(text("TRUNCATE audit_events CASCADE"))
            conn.rollback()
    finally:
        engine.dispose()
