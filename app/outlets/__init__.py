"""outlets: 爱心超市 — outlets with their staff (scoped to one outlet), the district's catalogue (items,
versioned prices, per-member limits, availability per outlet), stock kept as ledger accounts per
outlet and item (donations, purchases, transfers, write-offs, stock counts), redemption at the
counter by a member's QR code or short code (points and goods in one journal, posted by app/points),
and refunds. See docs/outlets.md."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from app.access import Action
from app.area import Area, MenuLink, RoleDef

OUTLET_STAFF, OUTLET_SUPERVISOR = "outlet_staff", "outlet_supervisor"
OUTLET_SCOPE = "outlet"  # granted on one outlet (app/outlets/staff.py), not on an org-unit subtree

_STAFF_ACTIONS = [
    "outlet.view",
    "outlet.catalogue.view",
    "outlet.stock.view",
    "outlet.redemption.view",
    "outlet.redeem",
    "outlet.stock.receive",
]
_SUPERVISOR_ACTIONS = [
    *_STAFF_ACTIONS,
    "outlet.refund",
    "outlet.stock.count",
    "outlet.stock.adjust",
]


def _setup(_app: Flask) -> None:
    """The words the audit log page shows for the outlets' events."""
    from app.audit.labels import names_from, register_target_names

    from .labels import register_audit_words
    from .models import Item, Outlet

    register_audit_words()
    register_target_names("outlet", names_from(Outlet, Outlet.name))
    register_target_names("outlet_item", names_from(Item, Item.name))


AREA = Area(
    name="outlets",
    setup=_setup,
    blueprints=["app.outlets.blueprint:bp", "app.outlets.blueprint:api_bp"],
    actions=[
        Action("outlet.view", read=True),
        Action("outlet.edit"),  # create outlets, change them, grant their staff (district/unit admins)
        Action("outlet.catalogue.view", read=True),
        Action("outlet.catalogue.edit"),  # items, prices, limits, availability
        Action("outlet.stock.view", read=True),
        Action("outlet.stock.receive"),  # donations and purchases in, transfers out
        Action("outlet.stock.adjust"),  # write-offs, applying a stock count
        Action("outlet.stock.count"),  # record a stock count (盘点)
        Action("outlet.redemption.view", read=True, own=True),
        Action("outlet.redeem"),
        Action("outlet.refund"),
        Action("outlet.settings.edit"),  # the district's refund period
    ],
    roles=[
        RoleDef(OUTLET_STAFF, _l("Outlet staff"), OUTLET_SCOPE),
        RoleDef(OUTLET_SUPERVISOR, _l("Outlet supervisor"), OUTLET_SCOPE),
    ],
    grants={
        OUTLET_STAFF: _STAFF_ACTIONS,
        OUTLET_SUPERVISOR: _SUPERVISOR_ACTIONS,
        "grid_admin": ["outlet.view", "outlet.catalogue.view", "outlet.stock.view", "outlet.redemption.view"],
    },
    audit_labels={
        "outlet.create": _l("Outlet created"),
        "outlet.update": _l("Outlet changed"),
        "outlet.staff_grant": _l("Outlet staff role granted"),
        "outlet.item_create": _l("Catalogue item added"),
        "outlet.item_update": _l("Catalogue item changed"),
        "outlet.price_change": _l("Item price changed"),
        "outlet.stock_movement": _l("Stock movement recorded"),
        "outlet.count_record": _l("Stock count recorded"),
        "outlet.count_apply": _l("Stock count applied"),
        "outlet.count_cancel": _l("Stock count cancelled"),
        "outlet.refund": _l("Redemption refunded"),
        "outlet.settings_change": _l("Outlet settings changed"),
    },
    commands=["app.outlets.cli:outlets_cli"],
    menu=[MenuLink("outlets.list_outlets", _l("Outlets (爱心超市)"), actions=["outlet.view"])],
)
