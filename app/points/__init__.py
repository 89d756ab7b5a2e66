"""points: 爱心积分 — the only area that posts points journals. It owns the account codes
(accounts.py), journal kinds and idempotency keys (services.py), and the rules that price service
hours (rules.py, versioned per district and category; the rules page for district admins)."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from app.access import Action
from app.area import Area, MenuLink


def _setup(_app: Flask) -> None:
    """The words the audit log page shows for the points area's events."""
    from app.audit.labels import names_from, register_target_names

    from .audit_words import register_audit_words
    from .models import Award

    register_audit_words()
    register_target_names("award", names_from(Award, Award.reason))


AREA = Area(
    name="points",
    setup=_setup,
    blueprints=["app.points.blueprint:bp", "app.points.blueprint:api_bp"],
    actions=[
        Action("points.rules.view", read=True),
        Action("points.rules.edit"),
        Action("points.awards.view", read=True),
        Action("points.awards.edit"),  # propose, approve, reject, reverse: district administrators only
    ],
    grants={"organiser": ["points.rules.view"]},
    audit_labels={
        "points.rule_change": _l("Points rule changed"),
        "points.checkin_rule_change": _l("Check-in points rule changed"),
        "points.report_rule_change": _l("Grid report points rule changed"),
        "points.award_threshold": _l("Award approval threshold changed"),
        "points.award_proposed": _l("Points award proposed"),
        "points.award_approved": _l("Points award approved"),
        "points.award_rejected": _l("Points award rejected"),
        "points.award_reversed": _l("Points award reversed"),
        "points.hours_reversed": _l("Points for hours reversed"),
        "points.expiry_change": _l("Points expiry setting changed"),
    },
    commands=["app.points.expiry_jobs:points_cli"],
    tasks=["app.points.expiry_jobs"],
    menu=[
        MenuLink("points.rules_page", _l("Points rules"), actions=["points.rules.view"]),
        MenuLink("points.awards_page", _l("Awards"), actions=["points.awards.view"]),
    ],
)
