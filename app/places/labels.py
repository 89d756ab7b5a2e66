"""Display names for unit kinds and grid types (Chinese words users expect, translated for English)."""

from flask_babel import lazy_gettext as _l

KIND_LABELS = {"street": _l("Street"), "community": _l("Community"), "grid": _l("Grid"), "building": _l("Building")}
GRID_TYPE_LABELS = {
    "area": _l("Area grid"),
    "comprehensive": _l("Comprehensive grid"),
    "basic": _l("Basic grid"),
    "micro": _l("Micro grid"),
    "dedicated": _l("Dedicated grid"),
    "professional": _l("Professional grid"),
}
