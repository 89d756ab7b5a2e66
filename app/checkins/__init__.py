"""checkins: 党员报到 — check-in sites (报到点) of communities and 片区网格 with a printable QR poster and a
rotating code; party members' check-ins (once a day per site, points by the check-in rule within a
monthly cap, posted by app/points); and 包格联户 household visits the grid admin confirms."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from app.access import Action
from app.area import Area


def _setup(app: Flask) -> None:
    from .views import party_member

    app.context_processor(lambda: {"party_member": party_member})  # the menu's party members' links


AREA = Area(
    name="checkins",
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
    setup=_setup,
)
