"""notes: a throwaway area (a model, an action, a page and an API route) proving an area plugs in alone."""

from flask_babel import lazy_gettext as _l

from app.access import Action
from app.area import Area

AREA = Area(
    name="notes",
    blueprints=["tests.areas.notes.blueprint:bp", "tests.areas.notes.blueprint:api_bp"],
    actions=[Action("note.view", read=True), Action("note.write")],
    grants={"grid_admin": ["note.view", "note.write"]},
    audit_labels={"note.write": _l("Member added")},
)
