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
