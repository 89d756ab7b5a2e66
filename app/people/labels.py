"""The people area's vocabularies in one place: member status, assignment roles, tags, with labels."""

from flask_babel import lazy_gettext as _l

ACTIVE, SUSPENDED, LEFT = "active", "suspended", "left"
STATUSES = (ACTIVE, SUSPENDED, LEFT)
# A member in one of these may no longer sign in, and their sessions end when they enter it.
INACTIVE_STATUSES = (SUSPENDED, LEFT)
STATUS_LABELS = {ACTIVE: _l("Active"), SUSPENDED: _l("Suspended"), LEFT: _l("Left")}

ASSIGNMENT_ROLES = ("party_member", "grid_worker", "building_head")

TAGS = ("volunteer", "party_member", "grid_worker", "building_head")
