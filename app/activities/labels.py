"""The activities area's vocabularies: activity status, who may join, sign-up and attendance states,
how a check-in or check-out was recorded, review outcomes — with their labels."""

from flask_babel import lazy_gettext as _l

DRAFT, PUBLISHED, CANCELLED = "draft", "published", "cancelled"
ACTIVITY_STATUSES = (DRAFT, PUBLISHED, CANCELLED)
ACTIVITY_STATUS_LABELS = {DRAFT: _l("Draft"), PUBLISHED: _l("Published"), CANCELLED: _l("Cancelled")}

# Who may sign up: everyone in the district, residents of one community, party members, members with a tag.
ELIGIBILITY = ("district", "community", "party", "tag")
ELIGIBILITY_LABELS = {
    "district": _l("Everyone in the district"),
    "community": _l("Residents of one community"),
    "party": _l("Party members"),
    "tag": _l("Members with a tag"),
}

CONFIRMED, WAITLISTED, WITHDRAWN = "confirmed", "waitlisted", "cancelled"
SIGNUP_STATUSES = (CONFIRMED, WAITLISTED, WITHDRAWN)
SIGNUP_STATUS_LABELS = {CONFIRMED: _l("Signed up"), WAITLISTED: _l("On the waiting list"), WITHDRAWN: _l("Cancelled")}

# How a check-in or check-out came to be recorded.
SCAN, POSTER, MANUAL, PAPER, AUTO = "scan", "poster", "manual", "paper", "auto"
SOURCES = (SCAN, POSTER, MANUAL, PAPER, AUTO)
SOURCE_LABELS = {
    SCAN: _l("Scanned the organiser's code"),
    POSTER: _l("Scanned the poster"),
    MANUAL: _l("Recorded by the organiser"),
    PAPER: _l("From the paper sign-in sheet"),
    AUTO: _l("Closed automatically (no check-out)"),
}

# An attendance: in (checked in), awaiting review (checked out or closed), then approved, adjusted or rejected.
IN, TO_REVIEW, APPROVED, ADJUSTED, REJECTED = "in", "to_review", "approved", "adjusted", "rejected"
ATTENDANCE_STATUSES = (IN, TO_REVIEW, APPROVED, ADJUSTED, REJECTED)
ATTENDANCE_STATUS_LABELS = {
    IN: _l("Checked in"),
    TO_REVIEW: _l("Waiting for review"),
    APPROVED: _l("Approved"),
    ADJUSTED: _l("Approved with adjusted time"),
    REJECTED: _l("Rejected"),
}
REVIEWED = (APPROVED, ADJUSTED, REJECTED)
# Not a status: an approved attendance whose points a district administrator later reversed (the review
# stays as it was; the ledger holds the reversal — app/points/awards.reversed_attendances).
POINTS_REVERSED = _l("Points reversed")

# Why an attendance was credited nothing (rules.credit's zero reasons).
ZERO_REASON_LABELS = {
    "below_threshold": _l("Present for less than the required share of the activity"),
    "missed_checkout": _l("Did not check out; confirm the time to credit it"),
    "no_overlap": _l("Not present during the activity's time"),
    "below_unit": _l("Present for less than one rounding unit"),
}

CHECKIN, CHECKOUT = "in", "out"


def register_audit_words() -> None:
    """How the audit log page shows activities' and attendance events (app/audit/labels.py)."""
    from app.audit.labels import register_detail, register_target

    register_target("activity", _l("Activity"))
    register_target("attendance", _l("Attendance"))
    register_detail("title", _l("Title"))
    register_detail("approved", _l("Approved"), action="attendance.review")
    register_detail("adjusted", _l("Time adjusted"), action="attendance.review")
    register_detail("rejected", _l("Rejected"), action="attendance.review")
    register_detail("at", _l("Time"), action="attendance.manual_in")
    register_detail("in", _l("Check-in time"), action="attendance.paper")
    register_detail("out", _l("Check-out time"), action="attendance.paper")
    register_detail("told", _l("People told"))
    register_detail("activities", _l("Activities"), action="demo.load")
