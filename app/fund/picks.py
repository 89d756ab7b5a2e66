"""Finding a payee or an activity by typing part of its name, for the fund's pages: the JSON
suggestions (static/js/pick.js shows them, as it does for places) and the server-side resolution
of what was typed when the form is sent without the script."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from app.access import path_filter
from app.activities.models import Activity
from app.people.models import Member
from app.places.models import OrgUnit
from app.times import beijing

LIMIT = 15


@dataclass(frozen=True)
class Found:
    id: int
    name: str
    label: str  # what the text box shows once picked: unique enough to pick again by it
    hint: str  # the small grey text beside a suggestion


def _member_label(name: str, tail: str, grid: str) -> str:
    return f"{name} · {tail} · {grid}"


def search_members(session: Session, principal, text: str, *, limit: int = LIMIT) -> list[Found]:
    """Active members of the principal's district whose name contains the text (or whose mobile ends
    with it), within where they may see members; exact names first. A picked label ("name · 1234 ·
    grid") is searched by its name and narrowed by its mobile tail."""
    parts = [p.strip() for p in (text or "").split("·") if p.strip()]
    if not parts:
        return []
    term = parts[0][:64]
    q = (
        select(Member.id, Member.name, Member.mobile_tail, OrgUnit.name.label("grid"))
        .join(OrgUnit, OrgUnit.id == Member.grid_id)
        .where(
            Member.tenant_id == principal.tenant_id,
            Member.status == "active",
            path_filter(principal, "member.view", OrgUnit.path),
        )
    )
    if term.isdecimal() and len(term) == 4:
        q = q.where(Member.mobile_tail == term)
    else:
        q = q.where(Member.name.contains(term, autoescape=True))
    if len(parts) > 1 and parts[1].isdecimal():
        q = q.where(Member.mobile_tail == parts[1])
    exact = Member.name == literal(term)
    q = q.order_by(case((exact, 0), else_=1), func.length(Member.name), Member.name, Member.id).limit(limit)
    return [Found(r.id, r.name, _member_label(r.name, r.mobile_tail, r.grid), r.grid) for r in session.execute(q)]


def member_found(session: Session, principal, member_id: int) -> Found | None:
    row = session.execute(
        select(Member.id, Member.name, Member.mobile_tail, OrgUnit.name.label("grid"), OrgUnit.path)
        .join(OrgUnit, OrgUnit.id == Member.grid_id)
        .where(
            Member.id == member_id,
            Member.tenant_id == principal.tenant_id,
            Member.status == "active",
            path_filter(principal, "member.view", OrgUnit.path),
        )
    ).first()
    if row is None:
        return None
    return Found(row.id, row.name, _member_label(row.name, row.mobile_tail, row.grid), row.grid)


def _activity_found(a) -> Found:
    when = beijing(a.starts_at, "%Y-%m-%d")
    return Found(a.id, a.title, f"{a.title} · {when}", when)


def search_activities(session: Session, principal, text: str, *, limit: int = LIMIT) -> list[Found]:
    """Published or finished activities of the district whose title contains the text, newest first."""
    parts = [p.strip() for p in (text or "").split("·") if p.strip()]
    if not parts:
        return []
    term = parts[0][:100]
    q = (
        select(Activity)
        .where(
            Activity.tenant_id == principal.tenant_id,
            Activity.status == "published",
            Activity.title.contains(term, autoescape=True),
        )
        .order_by(Activity.starts_at.desc(), Activity.id.desc())
        .limit(limit * 3)
    )
    found = [_activity_found(a) for a in session.scalars(q)]
    if len(parts) > 1:  # a picked label: the date narrows it
        found = [f for f in found if f.hint == parts[1]] or found
    return found[:limit]


def activity_found(session: Session, principal, activity_id: int) -> Found | None:
    a = session.get(Activity, activity_id)
    if a is None or a.tenant_id != principal.tenant_id or a.status != "published":
        return None
    return _activity_found(a)


def _grid_report_model():
    """The grid reports' table (app/gridreports), or None while that area is not installed."""
    if find_spec("app.gridreports") is None:
        return None
    from app.gridreports.models import GridReport

    return GridReport


def _report_found(r, reporter: str) -> Found:
    text = " ".join((r.text or "").split())
    short = text[:24] + ("…" if len(text) > 24 else "")
    return Found(r.id, f"#{r.id}", f"#{r.id} · {reporter} · {short}", beijing(r.created_at, "%Y-%m-%d"))


def search_grid_reports(session: Session, principal, text: str, *, limit: int = LIMIT) -> list[Found]:
    """Verified grid reports of the district: by number ("#123" or "123") or by part of their text or
    of the reporter's name, newest first."""
    GridReport = _grid_report_model()
    parts = [p.strip() for p in (text or "").split("·") if p.strip()]
    if GridReport is None or not parts:
        return []
    term = parts[0].lstrip("#")[:100]
    q = (
        select(GridReport, Member.name)
        .join(Member, Member.id == GridReport.reporter_member_id)
        .where(GridReport.tenant_id == principal.tenant_id, GridReport.status == "verified")
    )
    if term.isdecimal() and len(term) < 19:
        q = q.where(GridReport.id == int(term))
    else:
        q = q.where(GridReport.text.contains(term, autoescape=True) | Member.name.contains(term, autoescape=True))
    q = q.order_by(GridReport.id.desc()).limit(limit)
    return [_report_found(r, name) for r, name in session.execute(q)]


def grid_report_found(session: Session, principal, report_id: int) -> Found | None:
    GridReport = _grid_report_model()
    if GridReport is None:
        return None
    row = session.execute(
        select(GridReport, Member.name)
        .join(Member, Member.id == GridReport.reporter_member_id)
        .where(
            GridReport.id == report_id,
            GridReport.tenant_id == principal.tenant_id,
            GridReport.status == "verified",
        )
    ).first()
    return _report_found(row[0], row[1]) if row else None


def grid_report_reporter(session: Session, principal, report_id: int) -> int | None:
    """Who reported a verified grid report (the payee a reward for it usually goes to)."""
    GridReport = _grid_report_model()
    if GridReport is None:
        return None
    return session.scalar(
        select(GridReport.reporter_member_id).where(
            GridReport.id == report_id, GridReport.tenant_id == principal.tenant_id, GridReport.status == "verified"
        )
    )
