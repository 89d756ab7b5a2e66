"""places: districts and the org-unit tree (street → community → grid → building) and their pages."""

from flask_babel import lazy_gettext as _l

from app.access import Action
from app.area import Area

AREA = Area(
    name="places",
    blueprints=["app.places.views:bp"],
    actions=[Action("org.view", read=True), Action("org.edit")],
    grants={
        "organiser": ["org.view"], "grid_admin": ["org.view", "org.edit"],
        "fund_manager": ["org.view"], "fund_approver": ["org.view"],
    },
    audit_labels={
        "org.create": _l("Unit added"), "org.rename": _l("Unit renamed"), "org.move": _l("Unit moved"),
        "org.retire": _l("Unit retired"),
    },
)
