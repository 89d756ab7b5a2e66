"""audit: the append-only audit log of sign-ins, role grants and changes, and the page that reads it."""

from app.access import Action
from app.area import Area

AREA = Area(
    name="audit",
    blueprints=["app.audit.views:bp"],
    actions=[Action("audit.view", read=True)],
)
