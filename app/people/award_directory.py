"""What the points area's awards need to know of members (the points area sits below people and
cannot import them): members by mobile for an award list, and names for its pages."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Member


def members_by_mobile(session: Session, tenant_id: int, mobiles: list[str]) -> dict[str, tuple[int, str]]:
    found: dict[str, tuple[int, str]] = {}
    for i in range(0, len(mobiles), 1000):
        rows = session.execute(
            select(Member.mobile, Member.id, Member.name).where(
                Member.tenant_id == tenant_id, Member.mobile.in_(mobiles[i : i + 1000]), Member.status == "active"
            )
        )
        found.update({r.mobile: (r.id, r.name) for r in rows})
    return found


def names_of(session: Session, tenant_id: int, ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for i in range(0, len(ids), 1000):
        rows = session.execute(
            select(Member.id, Member.name).where(Member.tenant_id == tenant_id, Member.id.in_(ids[i : i + 1000]))
        )
        out.update({r.id: r.name for r in rows})
    return out
