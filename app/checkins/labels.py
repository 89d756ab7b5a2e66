"""The checkins area's vocabularies with their labels."""

from flask_babel import lazy_gettext as _l

POSTER, CODE = "poster", "code"
SOURCES = (POSTER, CODE)
SOURCE_LABELS = {POSTER: _l("Printed poster"), CODE: _l("Code on a staff phone")}

SUBMITTED, CONFIRMED, REJECTED = "submitted", "confirmed", "rejected"
VISIT_STATUSES = (SUBMITTED, CONFIRMED, REJECTED)
VISIT_STATUS_LABELS = {
    SUBMITTED: _l("Waiting for the grid admin"),
    CONFIRMED: _l("Confirmed"),
    REJECTED: _l("Rejected"),
}


def register_audit_words() -> None:
    """How the audit log page shows check-in sites' and household visits' events (app/audit/labels.py)."""
    from app.audit.labels import register_detail, register_target

    register_target("checkin_site", _l("Check-in site"))
    register_target("household_visit", _l("Household visit"))
    register_detail("unit_id", _l("Unit"), refers_to="org_unit")
    register_detail("radius_m", _l("Radius (m)"))
    register_detail("households", _l("Households"))
    register_detail("status", _l("Status"), action="checkin.visit_decide", values=VISIT_STATUS_LABELS)
