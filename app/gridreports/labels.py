"""The gridreports area's vocabularies with their labels."""

from flask_babel import lazy_gettext as _l

HAZARD, ENVIRONMENT, DISPUTE, FACILITY, OTHER = "hazard", "environment", "dispute", "facility", "other"
CATEGORIES = (HAZARD, ENVIRONMENT, DISPUTE, FACILITY, OTHER)
CATEGORY_LABELS = {
    HAZARD: _l("Safety hazard"),
    ENVIRONMENT: _l("Environment"),
    DISPUTE: _l("Dispute"),
    FACILITY: _l("Facility"),
    OTHER: _l("Other"),
}

SUBMITTED, VERIFIED, REJECTED, DUPLICATE = "submitted", "verified", "rejected", "duplicate"
STATUSES = (SUBMITTED, VERIFIED, REJECTED, DUPLICATE)
# What the reporter reads about their report.
STATUS_LABELS = {
    SUBMITTED: _l("Waiting for the grid admin"),
    VERIFIED: _l("Verified"),
    REJECTED: _l("Not accepted"),
    DUPLICATE: _l("Already reported"),
}

MAX_PHOTOS = 3
MAX_TEXT = 1000
MAX_REASON = 200
DEFAULT_TRIAGE_DAYS = 3


def register_audit_words() -> None:
    """How the audit log page shows grid reports' events (app/audit/labels.py)."""
    from app.audit.labels import register_detail, register_target

    register_target("grid_report", _l("Grid report"))
    register_target("grid_report_setting", _l("Grid report settings"))
    register_detail("category", _l("Category"), action="gridreport.submit", values=CATEGORY_LABELS)
    register_detail("photos", _l("Photos"), action="gridreport.submit")
    register_detail("duplicate_of", _l("Repeats report number"), action="gridreport.triage")
    register_detail("status", _l("Decision"), action="gridreport.triage", values=STATUS_LABELS)
    register_detail("triage_days", _l("Days to decide a report"))
    register_detail("was", _l("Before"))
