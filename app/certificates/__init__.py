"""certificates: 志愿服务记录证明 — service record certificates (PDF) of a volunteer's approved hours,
issued by the volunteer for themselves or by an admin for a member, and the public verify page."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from app.access import Action
from app.area import Area


def _setup(app: Flask) -> None:
    from app.audit.labels import register_detail

    # The activities and people pages link here only when this area is installed.
    app.context_processor(lambda: {"certificate_pages": True})
    register_detail("certificate_id", _l("Certificate number"))
    register_detail("code", _l("Verification code"), action="certificate.issue")
    register_detail("code", _l("Verification code"), action="certificate.download")
    register_detail("from", _l("From"), action="certificate.issue")
    register_detail("to", _l("To"), action="certificate.issue")
    register_detail("total_minutes", _l("Minutes in total"), action="certificate.issue")
    register_detail("activities", _l("Number of activities"), action="certificate.issue")
    register_detail("issuer", _l("Issued by"), action="certificate.issue")


AREA = Area(
    name="certificates",
    blueprints=["app.certificates.blueprint:bp", "app.certificates.blueprint:api_bp"],
    # Issue and download: one's own (own=True), or a member an admin sees (member.view reaches them).
    actions=[Action("certificate.issue", own=True)],
    grants={"grid_admin": ["certificate.issue"]},
    audit_labels={
        "certificate.issue": _l("Service record certificate issued"),
        "certificate.download": _l("Service record certificate downloaded"),
    },
    setup=_setup,
)
