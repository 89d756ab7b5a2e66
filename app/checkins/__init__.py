"""checkins: 党员报到 — check-in sites (报到点) of communities and 片区网格 with a printable QR poster and a
rotating code; party members' check-ins (once a day per site, points by the check-in rule within a
monthly cap, posted by app/points); and 包格联户 household visits the grid admin confirms."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from app.access import Action
from app.area import Area, MenuLink


def _party_member() -> bool:
    """The menu's party members' links: shown to party members only."""
    from .views import party_member

    return party_member()


def _setup(_app: Flask) -> None:
    """The words the audit log page shows for check-in sites' and visits' events."""
    from app.audit.labels import names_from, register_target_names

    from .labels import register_audit_words
    from .models import CheckinSite

    register_audit_words()
    register_target_names("checkin_site", names_from(CheckinSite, CheckinSite.name))


AREA = Area(
    name="checkins",
    setup=_setup,
    blueprints=["app.checkins.blueprint:bp", "app.checkins.blueprint:api_bp"],
    actions=[
        Action("checkin.site.view", read=True),
        Action("checkin.site.edit"),
        Action("visit.view", read=True, own=True),
        Action("visit.confirm"),
    ],
    grants={
        "grid_admin": ["checkin.site.view", "checkin.site.edit", "visit.view", "visit.confirm"],
    },
    audit_labels={
        "checkin.site_create": _l("Check-in site created"),
        "checkin.site_update": _l("Check-in site changed"),
        "checkin.site_close": _l("Check-in site closed"),
        "checkin.site_reopen": _l("Check-in site reopened"),
        "checkin.visit_decide": _l("Household visit confirmed or rejected"),
    },
    menu=[
        MenuLink("checkins.my_checkins", _l("My check-ins"), when=_party_member, personal=True),
        MenuLink("checkins.my_visits", _l("Household visits"), when=_party_member, personal=True),
        MenuLink("checkins.list_sites", _l("Check-in sites"), actions=["checkin.site.view"]),
        MenuLink("checkins.visit_queue", _l("Visits to confirm"), actions=["visit.confirm"]),
        MenuLink("checkins.checkin_rule", _l("Check-in points rule"), actions=["points.rules.edit"]),
    ],
)
