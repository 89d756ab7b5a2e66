"""audit: the append-only audit log of sign-ins, role grants and changes, and the page that reads it."""

from flask import Flask

from app.access import Action
from app.area import Area


def _setup(app: Flask) -> None:
    from .views import beijing_time, readable_json

    app.add_template_filter(readable_json, "readable_json")
    app.add_template_filter(beijing_time, "beijing_time")


AREA = Area(
    name="audit",
    blueprints=["app.audit.blueprint:bp"],
    actions=[Action("audit.view", read=True)],
    setup=_setup,
)
