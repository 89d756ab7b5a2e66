"""How the audit log page shows the points area's events (app/audit/labels.py). Apart from labels.py:
the expiry modes' labels live in expiry.py, which imports labels.py."""

from flask_babel import lazy_gettext as _l

from app.audit.labels import register_detail, register_target

from .expiry import MODE_LABELS as EXPIRY_MODE_LABELS
from .labels import CATEGORY_LABELS, MISSED_CHECKOUT_LABELS


def register_audit_words() -> None:
    """How the audit log page shows the points area's events (app/audit/labels.py)."""
    register_target("points_rule", _l("Points rule"))
    register_target("checkin_rule", _l("Check-in points rule"))
    register_target("points_expiry_policy", _l("Points expiry rule"))
    register_target("award", _l("Award"))
    register_target("award_line", _l("Award line"))
    register_target("award_setting", _l("Award settings"))
    register_detail(
        "category",
        _l("Category"),
        action="points.rule_change",
        values={**CATEGORY_LABELS, "default": _l("Every category (the default)")},
    )
    register_detail("category", _l("Category"), action="points.award_proposed", values=CATEGORY_LABELS)
    register_detail("version", _l("Version"))
    register_detail("effective_from", _l("In force from"))
    register_detail("points_per_hour", _l("Points per hour"))
    register_detail("rounding_minutes", _l("Rounded to (minutes)"))
    register_detail("presence_percent", _l("Presence needed (%)"))
    register_detail("grace_minutes", _l("Grace (minutes)"))
    register_detail("missed_checkout", _l("Missed check-out"), values=MISSED_CHECKOUT_LABELS)
    register_detail("max_minutes_per_activity", _l("Minutes credited per activity, at most"))
    register_detail("daily_points_cap", _l("Points a day, at most"))
    register_detail("monthly_points_cap", _l("Points a month, at most"))
    register_detail("points_per_checkin", _l("Points per check-in"))
    register_detail("other_site_points", _l("Points at another community's site"))
    register_detail("monthly_cap", _l("Check-in points a month, at most"))
    register_detail("mode", _l("Expiry"), action="points.expiry_change", values=EXPIRY_MODE_LABELS)
    register_detail("months", _l("Months"), action="points.expiry_change")
    register_detail("pending", _l("Waiting for approval"), action="points.award_proposed")
    register_detail("threshold", _l("Approval needed above (points)"), action="points.award_proposed")
    for action in ("points.award_proposed", "points.award_approved", "points.award_rejected"):
        register_detail("total", _l("Points in total"), action=action)
    register_detail("award_id", _l("Award"), action="points.award_reversed", refers_to="award")
    register_detail("points", _l("Points"))
