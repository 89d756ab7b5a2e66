"""Tell members something (in-app, plus any registered channel after commit), list and mark notices."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from app.db import after_commit, utcnow

from .channels import CHANNELS, render
from .models import Notice

# Notices are written with a Core executemany (no ORM bookkeeping per row: a review tells thousands).
_NOTICES = cast(Table, Notice.__table__)


def notify(
    session: Session, tenant_id: int, member_ids: Iterable[int], kind: str, params: dict, link: str | None = None
) -> int:
    """One notice per member (in the caller's transaction); returns how many were made."""
    ids = sorted(set(member_ids))
    if not ids:
        return 0
    now = utcnow()
    session.execute(
        insert(_NOTICES),
        [dict(tenant_id=tenant_id, member_id=m, kind=kind, params=params, link=link, created_at=now) for m in ids],
    )
    if CHANNELS:

        def _send() -> None:
            for channel in CHANNELS:
                for m in ids:
                    channel(tenant_id, m, kind, params, render(kind, params))

        after_commit(session, _send)
    return len(ids)


def notify_many(session: Session, tenant_id: int, rows: Iterable[tuple[int, str, dict, str | None]]) -> int:
    """Many notices, each with its own kind and params: rows of (member id, kind, params, link), inserted
    in one statement (a review of 10,000 attendances tells 10,000 volunteers at once). Returns how many."""
    items = list(rows)
    if not items:
        return 0
    now = utcnow()
    session.execute(
        insert(_NOTICES),
        [
            dict(tenant_id=tenant_id, member_id=m, kind=kind, params=params, link=link, created_at=now)
            for m, kind, params, link in items
        ],
    )
    if CHANNELS:

        def _send() -> None:
            for channel in CHANNELS:
                for m, kind, params, _link in items:
                    channel(tenant_id, m, kind, params, render(kind, params))

        after_commit(session, _send)
    return len(items)


def notices_of(session: Session, tenant_id: int, member_id: int, limit: int = 50) -> list[Notice]:
    return list(
        session.scalars(
            select(Notice)
            .where(Notice.tenant_id == tenant_id, Notice.member_id == member_id)
            .order_by(Notice.created_at.desc(), Notice.id.desc())
            .limit(limit)
        )
    )


def unread_count(session: Session, tenant_id: int, member_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notice)
            .where(Notice.tenant_id == tenant_id, Notice.member_id == member_id, Notice.read_at.is_(None))
        )
        or 0
    )


def mark_read(session: Session, tenant_id: int, member_id: int) -> None:
    session.execute(
        update(Notice)
        .where(Notice.tenant_id == tenant_id, Notice.member_id == member_id, Notice.read_at.is_(None))
        .values(read_at=utcnow())
    )
