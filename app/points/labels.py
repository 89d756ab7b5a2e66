"""The points area's vocabularies: service categories (which rules price), what a missed check-out earns,
and the journal kinds it posts, with their labels."""

from flask_babel import lazy_gettext as _l

# Categories of service. Rules are set per district, and optionally per category (a rule without a
# category is the district's default for every category).
CATEGORIES = ("environment", "elderly", "safety", "culture", "civic", "other")
CATEGORY_LABELS = {
    "environment": _l("Environment and clean-up"),
    "elderly": _l("Care for the elderly and children"),
    "safety": _l("Safety patrol"),
    "culture": _l("Culture and education"),
    "civic": _l("Civic campaigns"),
    "other": _l("Other service"),
}

# What a volunteer earns when they never checked out (the job closes the attendance at the end plus
# a grace period): nothing until the organiser confirms the time (the default), or the time up to the
# activity's end.
MISSED_NOTHING, MISSED_UNTIL_END = "nothing", "until_end"
MISSED_CHECKOUT = (MISSED_NOTHING, MISSED_UNTIL_END)
MISSED_CHECKOUT_LABELS = {
    MISSED_NOTHING: _l("Nothing until the organiser confirms the time"),
    MISSED_UNTIL_END: _l("The time up to the activity's end"),
}

# Journal kinds the points area posts.
KIND_HOURS = "hours"  # service hours at an activity (pending until the organiser reviews them)
KIND_CHECKIN = "checkin"  # a party member's check-in (报到) at a site, priced by app/points/checkin_rules.py
KIND_AWARD = "award"  # a manual award (奖励积分), app/points/awards.py
KIND_EXPIRY = "expiry"  # points that expired (app/points/expiry.py), wallet -> `expired`
KIND_REPORT = "report"  # a verified grid report (网格事件上报), priced by app/points/grid_reports.py
KINDS = (KIND_HOURS, KIND_CHECKIN, KIND_AWARD, KIND_EXPIRY, KIND_REPORT)

AWARD_SOURCE = "source:award"  # district-wide: the books show how many points awards issued
AWARD_STATUS_LABELS = {
    "pending": _l("Waiting for a second administrator"),
    "posted": _l("Posted"),
    "rejected": _l("Rejected"),
    "reversed": _l("Reversed"),
}


def register_audit_words() -> None:
    """How the audit log page shows the points area's events (app/audit/labels.py)."""
    from app.audit.labels import register_detail, register_target

    from .expiry import MODE_LABELS as EXPIRY_MODE_LABELS

    register_target("points_rule", _l("Points rule"))
    register_target("checkin_rule", _l("Check-in points rule"))
    register_target("points_expiry_policy", _l("Points expiry rule"))
    register_target("award", _l("Award"))
    register_target("award_line", _l("Award line"))
    register_target("award_setting", _l("Award settings"))
    register_detail("category", _l("Category"), action="points.rule_change", values=CATEGORY_LABELS)
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
    register_detail("total", _l("Points in total"), action="points.award_proposed")
    register_detail("points", _l("Points"))
