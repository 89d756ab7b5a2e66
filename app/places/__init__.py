"""places: districts and the org-unit tree (street → community → grid → building) and their pages."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from app.access import Action
from app.area import Area, MenuLink
from app.audit.labels import register_detail


def _setup(app: Flask) -> None:
    from .labels import GRID_TYPE_LABELS, KIND_LABELS
    from .views import template_labels

    app.context_processor(template_labels)
    register_detail("kind", _l("Kind"), values=KIND_LABELS)
    register_detail("grid_type", _l("Grid type"), values=GRID_TYPE_LABELS)


AREA = Area(
    name="places",
    blueprints=["app.places.blueprint:bp", "app.places.blueprint:api_bp"],
    actions=[Action("org.view", read=True), Action("org.edit")],
    grants={
        "organiser": ["org.view"],
        "grid_admin": ["org.view", "org.edit"],
        "fund_manager": ["org.view"],
        "fund_approver": ["org.view"],
    },
    audit_labels={
        "org.create": _l("Unit added"),
        "org.rename": _l("Unit renamed"),
        "org.move": _l("Unit moved"),
        "org.retire": _l("Unit retired"),
    },
    setup=_setup,
    menu=[MenuLink("places.tree", _l("Grid"), actions=["org.view"])],
)
