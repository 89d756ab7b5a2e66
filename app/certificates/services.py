"""Issue, re-make and verify service record certificates. Only approved or adjusted attendances count,
with the minutes the organiser credited; the certificate keeps a snapshot of what it said."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from app.activities.labels import ADJUSTED, APPROVED
from app.activities.models import Activity, Attendance
from app.audit.services import record
from app.db import utcnow
from app.errors import ValidationFailed
from app.people.models import Member
from app.places.models import District, OrgUnit
from app.points.awards import reversed_attendances
from app.times import to_beijing, to_utc

from . import codes, pdf
from .models import Certificate

ISSUER_KINDS = ("street", "community")
EARLIEST = date(2000, 1, 1)
MAX_DAYS = 366 * 10


class CertificateInvalid(ValidationFailed):
    code = "certificate_invalid"


def _invalid(field: str, message) -> CertificateInvalid:
    text = str(message)
    return CertificateInvalid(text, field=field, details=[{"field": field, "code": "invalid", "message": text}])


def check_period(period_from: date, period_to: date, today: date) -> None:
    if period_from < EARLIEST:
        raise _invalid("from", _l("The period cannot start before 2000."))
    if period_from > period_to:
        raise _invalid("to", _l("The end of the period must be on or after its start."))
    if period_from > today:
        raise _invalid("from", _l("The period cannot start in the future."))
    if (period_to - period_from).days > MAX_DAYS:
        raise _invalid("to", _l("A certificate covers at most ten years; choose a shorter period."))


def approved_service(session: Session, member: Member, period_from: date, period_to: date) -> list[Attendance]:
    """The member's approved and adjusted attendances checked in within the period (Beijing dates),
    without those whose points a correction reversed (the hours were taken back: their review stays as
    it was, the ledger says they were reversed)."""
    start = to_utc(datetime.combine(period_from, time.min))
    end = to_utc(datetime.combine(period_to + timedelta(days=1), time.min))
    found = list(
        session.scalars(
            select(Attendance)
            .join(Activity, Activity.id == Attendance.activity_id)
            .options(joinedload(Attendance.activity))
            .where(
                Attendance.tenant_id == member.tenant_id,
                Attendance.member_id == member.id,
                Attendance.status.in_((APPROVED, ADJUSTED)),
                Attendance.credited_minutes > 0,
                Attendance.checked_in_at >= start,
                Attendance.checked_in_at < end,
            )
            .order_by(Attendance.checked_in_at, Attendance.id)
        )
    )
    taken_back = reversed_attendances(session, member.tenant_id, [a.id for a in found])
    return [a for a in found if a.id not in taken_back]


def _content(cert: Certificate) -> pdf.Content:
    return pdf.Content(
        code=codes.grouped(cert.code),
        holder_name=cert.holder_name,
        holder_id_masked=cert.holder_id_masked,
        issuer_name=cert.issuer_name,
        period_from=cert.period_from,
        period_to=cert.period_to,
        total_minutes=cert.total_minutes,
        lines=[pdf.Line(date.fromisoformat(x["date"]), x["title"], x["place"], x["minutes"]) for x in cert.lines],
        issued_on=to_beijing(cert.issued_at).date(),
        verify_url=cert.verify_url,
    )


def render_pdf(cert: Certificate, font_path: str | None = None) -> bytes:
    return pdf.render(_content(cert), font_path)


def issue_certificate(
    session: Session,
    member: Member,
    *,
    period_from: date,
    period_to: date,
    issuer_unit: OrgUnit | None,
    actor_user_id: int | None,
    verify_url_for: Callable[[str], str],
    font_path: str | None = None,
    now: datetime | None = None,
) -> tuple[Certificate, bytes]:
    """Issue a certificate for `member` over the period (the caller has checked the actor may). The
    issuer is `issuer_unit` (a street or community) or else the district. Returns it and its PDF."""
    now = now or utcnow()
    check_period(period_from, period_to, to_beijing(now).date())
    if issuer_unit is not None:
        if issuer_unit.tenant_id != member.tenant_id or issuer_unit.kind not in ISSUER_KINDS:
            raise _invalid("issuer_unit_id", _l("The issuing organisation must be a street or a community."))
        issuer_name = issuer_unit.name
    else:
        district = session.get(District, member.tenant_id)
        issuer_name = district.name if district is not None else ""
    service = approved_service(session, member, period_from, period_to)
    lines = [
        {
            "attendance_id": a.id,
            "date": to_beijing(a.checked_in_at).date().isoformat(),
            "title": a.activity.title,
            "place": a.activity.place,
            "minutes": a.credited_minutes,
        }
        for a in service
    ]
    for _attempt in range(5):  # a clash of 45 random bits is all but impossible; retry all the same
        code = codes.new_code()
        cert = Certificate(
            tenant_id=member.tenant_id,
            member_id=member.id,
            code=code,
            period_from=period_from,
            period_to=period_to,
            issuer_unit_id=issuer_unit.id if issuer_unit is not None else None,
            issuer_name=issuer_name,
            holder_name=member.name,
            holder_id_masked=member.id_number_masked,
            total_minutes=sum(x["minutes"] for x in lines),
            lines=lines,
            verify_url=verify_url_for(code),
            issued_by_user_id=actor_user_id,
            issued_at=now.replace(microsecond=0),
            pdf_sha256="",
        )
        cert.member = member
        body = render_pdf(cert, font_path)
        cert.pdf_sha256 = hashlib.sha256(body).hexdigest()
        try:
            with session.begin_nested():
                session.add(cert)
                session.flush()
        except IntegrityError:
            continue
        break
    else:  # pragma: no cover
        raise RuntimeError("could not find a free certificate code")
    record(
        session,
        "certificate.issue",
        tenant_id=member.tenant_id,
        actor_user_id=actor_user_id,
        target_type="member",
        target_id=member.id,
        detail={
            "certificate_id": cert.id,
            "code": code,
            "from": period_from.isoformat(),
            "to": period_to.isoformat(),
            "total_minutes": cert.total_minutes,
            "activities": len(lines),
            "issuer": issuer_name,
        },
    )
    return cert, body


def record_download(session: Session, cert: Certificate, *, actor_user_id: int | None) -> None:
    record(
        session,
        "certificate.download",
        tenant_id=cert.tenant_id,
        actor_user_id=actor_user_id,
        target_type="member",
        target_id=cert.member_id,
        detail={"certificate_id": cert.id, "code": cert.code},
    )


def find_by_code(session: Session, text: str) -> Certificate | None:
    """The certificate a typed or scanned code names (any tenant: verifying is public), or None."""
    code = codes.normalise(text)
    if code is None:
        return None
    return session.scalar(select(Certificate).where(Certificate.code == code))


def certificates_of(session: Session, member: Member, limit: int = 50) -> list[Certificate]:
    return list(
        session.scalars(
            select(Certificate)
            .where(Certificate.tenant_id == member.tenant_id, Certificate.member_id == member.id)
            .order_by(Certificate.issued_at.desc(), Certificate.id.desc())
            .limit(limit)
        )
    )


def masked_name(name: str) -> str:
    """张伟 → 张*, 欧阳娜娜 → 欧***: the family name's first character only."""
    name = name.strip()
    return name[:1] + "*" * max(1, len(name) - 1) if name else "*"


@dataclass(frozen=True)
class Verified:
    """What the public verify page and API may show: nothing personal beyond the masked name."""

    code: str
    holder: str
    issuer_name: str
    period_from: date
    period_to: date
    total_minutes: int
    activity_count: int
    issued_on: date


def verified(cert: Certificate) -> Verified:
    return Verified(
        code=codes.grouped(cert.code),
        holder=masked_name(cert.holder_name),
        issuer_name=cert.issuer_name,
        period_from=cert.period_from,
        period_to=cert.period_to,
        total_minutes=cert.total_minutes,
        activity_count=len(cert.lines),
        issued_on=to_beijing(cert.issued_at).date(),
    )
