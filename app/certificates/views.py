"""Pages: ask for a certificate (one's own, or a member's for an admin), download it, and the public
verify page."""

from __future__ import annotations

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.access import can, require
from app.db import get_session, writes_on_get
from app.errors import AppError, NotFound
from app.extensions import limiter
from app.forms import show_errors
from app.people import services as people

from . import codes, services
from .forms import CertificateForm
from .models import Certificate
from .pdf import hours

# Guessing codes: 45 random bits against 20 tries a minute per address is hopeless, a person never notices.
VERIFY_LIMIT = "20 per minute;300 per day"
_FORM_FIELDS = {"from": "period_from", "to": "period_to"}


def verify_url_for(code: str) -> str:
    return url_for("certificates.verify", code=code, _external=True)


def download_url_for(cert: Certificate) -> str:
    return url_for("certificates.download", code=cert.code)


def issue(member, period_from, period_to, issuer_unit):
    """Issue for `member` as the signed-in user (the caller has checked they may)."""
    return services.issue_certificate(
        get_session(),
        member,
        period_from=period_from,
        period_to=period_to,
        issuer_unit=issuer_unit,
        actor_user_id=current_user.user_id,
        verify_url_for=verify_url_for,
        font_path=current_app.config.get("CERTIFICATE_FONT"),
    )


def _page(member, back_endpoint: str, **back_args):
    form = CertificateForm()
    admin = member.id != current_user.member_id and can(current_user, "certificate.issue")
    status = 200
    if form.validate_on_submit():
        unit = form.issuer_unit_id.data if admin else None
        try:
            cert, _body = issue(member, form.period_from.data, form.period_to.data, unit)
        except AppError as e:
            for d in e.details or []:
                d["field"] = _FORM_FIELDS.get(d.get("field"), d.get("field"))
            show_errors(form, e)
            status = 422
        else:
            flash(_("Certificate %(code)s issued. Download it below.", code=codes.grouped(cert.code)), "success")
            return redirect(url_for(back_endpoint, **back_args))
    elif request.method == "POST":
        status = 422
    return (
        render_template(
            "certificates/issue.html",
            form=form,
            member=member,
            admin=admin,
            mine=member.id == current_user.member_id,
            certificates=services.certificates_of(get_session(), member),
            hours=hours,
            grouped=codes.grouped,
        ),
        status,
    )


@login_required
def mine():
    member = people.get_member(get_session(), current_user.tenant_id, current_user.member_id)
    return _page(member, "certificates.mine")


@login_required
def for_member(member_id: int):
    member = people.get_member(get_session(), current_user.tenant_id, member_id)
    require(current_user, "certificate.issue", member)  # 404 outside the admin's scope
    return _page(member, "certificates.for_member", member_id=member_id)


@login_required
@writes_on_get  # the download is recorded in the audit log
def download(code: str):
    db = get_session()
    cert = services.find_by_code(db, code)
    if cert is None or cert.tenant_id != current_user.tenant_id:
        raise NotFound(_("No such certificate."))
    require(current_user, "certificate.issue", cert)
    body = services.render_pdf(cert, current_app.config.get("CERTIFICATE_FONT"))
    services.record_download(db, cert, actor_user_id=current_user.user_id)
    resp = Response(body, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="certificate-{cert.code}.pdf"'
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


def _verify_limit() -> str:
    return current_app.config.get("CERTIFICATE_VERIFY_LIMIT") or VERIFY_LIMIT


def _verify_key() -> str:
    return f"certificate-verify:{request.remote_addr}"


@limiter.limit(_verify_limit, key_func=_verify_key)
def verify(code: str):
    """Public: is this certificate genuine, and what did it certify (the masked name only)."""
    cert = services.find_by_code(get_session(), code)
    if cert is None:
        return render_template("certificates/verify_missing.html", code=code[:40]), 404
    return render_template("certificates/verify.html", v=services.verified(cert), hours=hours)


def verify_enter():
    """Public: type a code from a paper certificate."""
    typed = (request.args.get("code") or "").strip()
    if typed:
        return redirect(url_for("certificates.verify", code=typed[:40]))
    return render_template("certificates/verify_enter.html")
