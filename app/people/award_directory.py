"""What the points area's awards need to know of members (the points area sits below people and
cannot import them): members by mobile for an award list, and names for its pages."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.places.models import OrgUnit

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


def _card(member: Member, place: str) -> dict:
    return {"id": member.id, "name": member.name, "mobile": member.mobile_masked, "place": place}


def search_members(session: Session, tenant_id: int, text: str, limit: int = 10) -> list[dict]:
    """Active members of the district found by part of the name, the last 4 digits of the mobile or
    the whole mobile: [{id, name, mobile (masked), place (the grid's name)}], closest names first."""
    text = " ".join((text or "").split())[:50]
    if not text:
        return []
    q = (
        select(Member, OrgUnit.name)
        .join(OrgUnit, OrgUnit.id == Member.grid_id)
        .where(Member.tenant_id == tenant_id, Member.status == "active")
    )
    if text.isdecimal() and len(text) == 4:
        q = q.where(Member.mobile_tail == text)
    elif text.isdecimal() and len(text) == 11:
        q = q.where(Member.mobile == text)
    else:
        q = q.where(Member.name.contains(text, autoescape=True))
    rows = session.execute(q.order_by(Member.name != text, Member.name, Member.id).limit(limit)).all()
    return [_card(m, place) for m, place in rows]


def member_card(session: Session, tenant_id: int, member_id: int) -> dict | None:
    """One active member of the district as search_members shows them, or None."""
    row = session.execute(
        select(Member, OrgUnit.name)
        .join(OrgUnit, OrgUnit.id == Member.grid_id)
        .where(Member.tenant_id == tenant_id, Member.id == member_id, Member.status == "active")
    ).first()
    return _card(row[0], row[1]) if row else None
