"""audit: the append-only audit log of sign-ins, role grants and changes, and the page that reads it."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from app.access import Action
from app.area import Area, MenuLink


def _setup(app: Flask) -> None:
    from app.area import register_home_panel

    from .views import beijing_time, home_panel, readable_json

    app.add_template_filter(readable_json, "readable_json")
    app.add_template_filter(beijing_time, "beijing_time")
    register_home_panel(app, "audit/_home_panel.html", home_panel)


AREA = Area(
    name="audit",
    blueprints=["app.audit.blueprint:bp"],
    actions=[Action("audit.view", read=True)],
    setup=_setup,
    menu=[MenuLink("audit.list_events", _l("Audit log"), actions=["audit.view"])],
)
