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
