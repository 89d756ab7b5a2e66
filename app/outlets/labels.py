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
