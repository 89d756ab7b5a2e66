"""The outlets area's vocabularies with their labels: item kinds, limit periods, stock movement kinds,
write-off and count reasons, count statuses."""

from flask_babel import lazy_gettext as _l

GOODS, SERVICE = "goods", "service"
ITEM_KINDS = (GOODS, SERVICE)
ITEM_KIND_LABELS = {GOODS: _l("Goods"), SERVICE: _l("Service")}

DAY, WEEK, MONTH, YEAR = "day", "week", "month", "year"
LIMIT_PERIODS = (DAY, WEEK, MONTH, YEAR)
LIMIT_PERIOD_LABELS = {DAY: _l("per day"), WEEK: _l("per week"), MONTH: _l("per month"), YEAR: _l("per year")}

# Stock movements: each is one ledger journal of the outlet's goods accounts.
DONATION, PURCHASE, TRANSFER, WRITE_OFF, ADJUSTMENT, REDEMPTION, REFUND = (
    "donation",
    "purchase",
    "transfer",
    "write_off",
    "adjustment",
    "redemption",
    "refund",
)
MOVEMENT_KINDS = (DONATION, PURCHASE, TRANSFER, WRITE_OFF, ADJUSTMENT)
MOVEMENT_LABELS = {
    DONATION: _l("Donation in"),
    PURCHASE: _l("Purchase in"),
    TRANSFER: _l("Transfer between outlets"),
    WRITE_OFF: _l("Write-off"),
    ADJUSTMENT: _l("Stock count adjustment"),
    REDEMPTION: _l("Redemption"),
    REFUND: _l("Refund"),
}

DAMAGED, EXPIRED, LOST, OTHER = "damaged", "expired", "lost", "other"
WRITE_OFF_REASONS = (DAMAGED, EXPIRED, LOST, OTHER)
WRITE_OFF_REASON_LABELS = {
    DAMAGED: _l("Damaged"),
    EXPIRED: _l("Past its use-by date"),
    LOST: _l("Lost or missing"),
    OTHER: _l("Other"),
}

PENDING, APPLIED, CANCELLED = "pending", "applied", "cancelled"
COUNT_STATUSES = (PENDING, APPLIED, CANCELLED)
COUNT_STATUS_LABELS = {
    PENDING: _l("Waiting for a supervisor"),
    APPLIED: _l("Applied to the books"),
    CANCELLED: _l("Cancelled"),
}


def register_audit_words() -> None:
    """How the audit log page shows the outlets' events (app/audit/labels.py)."""
    from app.audit.labels import register_detail, register_target

    register_target("outlet", _l("Outlet"))
    register_target("outlet_item", _l("Catalogue item"))
    register_target("outlet_stock_count", _l("Stock count"))
    register_target("outlet_redemption", _l("Redemption"))
    register_target("outlet_settings", _l("Outlet settings"))
    register_target("catalogue", _l("Catalogue"))
    register_detail("outlet_id", _l("Outlet"), refers_to="outlet")
    register_detail("kind", _l("Movement"), action="outlet.stock_movement", values=MOVEMENT_LABELS)
    register_detail("movement_id", _l("Stock movement number"))
    register_detail("lines", _l("Lines"))
    register_detail("items", _l("Items counted"), action="outlet.count_record")
    register_detail("differences", _l("Differences"))
    register_detail("limit_qty", _l("Limit"))
    register_detail("limit_period", _l("Limit per"), values=LIMIT_PERIOD_LABELS)
    register_detail("refund_days", _l("Refunds allowed for (days)"))
    register_detail("refund_id", _l("Refund number"))
    register_detail("active", _l("Open or in the catalogue"))
    register_detail("photo", _l("Photo"))
    register_detail("import", _l("From a spreadsheet"))
    register_detail("added", _l("Added"))
