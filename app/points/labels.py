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
