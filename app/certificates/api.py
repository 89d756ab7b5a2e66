"""The certificates JSON API: issue a certificate (for yourself, or for a member you administer) and
check one by its code."""

from __future__ import annotations

from flask import request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.access import require
from app.api.openapi import WRITE_SECURITY, api, responses, write_responses
from app.api.schemas import ErrorOut, utc
from app.db import get_session
from app.errors import NotFound
from app.extensions import limiter
from app.people import services as people
from app.places.api import unit_in_body

from . import services
from .models import Certificate
from .pdf import hours
from .schemas import CertificateIn, CertificateLineOut, CertificateOut, VerifiedOut
from .views import _verify_key, _verify_limit, issue

TAGS = ["certificates"]


def _out(cert: Certificate) -> CertificateOut:
    return CertificateOut(
        code=cert.code,
        member_id=cert.member_id,
        holder_name=cert.holder_name,
        holder_id_masked=cert.holder_id_masked,
        issuer_name=cert.issuer_name,
        period_from=cert.period_from,
        period_to=cert.period_to,
        total_minutes=cert.total_minutes,
        total_hours=hours(cert.total_minutes),
        lines=[
            CertificateLineOut(date=x["date"], title=x["title"], place=x["place"], minutes=x["minutes"])
            for x in cert.lines
        ],
        issued_at=utc(cert.issued_at),
        pdf_sha256=cert.pdf_sha256,
        download_url=url_for("certificates.download", code=cert.code, _external=True),
        verify_url=cert.verify_url,
    )


@api.validate(
    json=CertificateIn,
    resp=write_responses(HTTP_201=CertificateOut),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="issueCertificate",
)
def issue_certificate():
    """Issue a service record certificate (志愿服务记录证明) of approved hours in the period; download
    the PDF from `download_url` (signed in)."""
    data: CertificateIn = request.context.json
    db = get_session()
    member = people.get_member(db, current_user.tenant_id, data.member_id or current_user.member_id)
    require(current_user, "certificate.issue", member)
    unit = None
    if data.issuer_unit_id is not None:
        unit = unit_in_body(data.issuer_unit_id, "issuer_unit_id", "certificate.issue")
    cert, _body = issue(member, data.from_, data.to, unit)
    return _out(cert), 201, {"Location": url_for(".verify_certificate", code=cert.code)}


@limiter.limit(_verify_limit, key_func=_verify_key)
@api.validate(
    resp=responses(HTTP_200=VerifiedOut, HTTP_429=(ErrorOut, "Too many checks; wait a minute")),
    tags=TAGS,
    operation_id="verifyCertificate",
)
def verify_certificate(code: str):
    """Whether a certificate with this code was issued, and what it certified (the masked name only)."""
    cert = services.find_by_code(get_session(), code)
    if cert is None:
        raise NotFound(_("No certificate has this code. Check the code and try again."))
    v = services.verified(cert)
    return VerifiedOut(
        genuine=True,
        code=v.code,
        holder=v.holder,
        issuer_name=v.issuer_name,
        period_from=v.period_from,
        period_to=v.period_to,
        total_minutes=v.total_minutes,
        total_hours=hours(v.total_minutes),
        activity_count=v.activity_count,
        issued_on=v.issued_on,
    )
