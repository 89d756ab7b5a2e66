"""reports: compliance and pledge reports for a street, community or grid — party members' check-ins by
month, party members who have not checked in for N months, and 包格联户 coverage (grids with and without
a responsible party member, households covered). Pages with charts, .xlsx exports and a JSON API. It
reads checkins, people and places; nothing imports it."""

from flask_babel import lazy_gettext as _l

from app.access import Action
from app.area import Area, MenuLink

AREA = Area(
    name="reports",
    blueprints=["app.reports.blueprint:bp", "app.reports.blueprint:api_bp"],
    actions=[Action("report.view", read=True)],
    grants={"grid_admin": ["report.view"]},
    menu=[MenuLink("reports.index", _l("Reports"), actions=["report.view"])],
)
