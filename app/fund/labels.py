"""The fund area's vocabularies with their labels: income kinds, reason categories, payment channels,
payout statuses, and the ledger journal kinds it posts."""

from flask_babel import lazy_gettext as _l

# Money that comes into a fund.
ALLOCATION, DONATION = "allocation", "donation"
INCOME_KINDS = (ALLOCATION, DONATION)
INCOME_KIND_LABELS = {
    ALLOCATION: _l("Allocation"),
    DONATION: _l("Donation"),
}

# Why a payout is made.
REASONS = ("grid_report", "mediation", "patrol", "volunteer_of_month", "other")
REASON_LABELS = {
    "grid_report": _l("Verified grid report"),
    "mediation": _l("Mediation success"),
    "patrol": _l("Patrol"),
    "volunteer_of_month": _l("Volunteer of the month"),
    "other": _l("Other"),
}

# How an approved payout is paid (outside the system).
CHANNELS = ("bank", "wechat", "cash")
CHANNEL_LABELS = {
    "bank": _l("Bank transfer"),
    "wechat": _l("WeChat"),
    "cash": _l("Cash"),
}

# A payout's life: proposed (reserves the money, waits for approvers) -> approved -> paid; or it ends
# rejected / expired (left too long without approval) / withdrawn (by its proposer) / returned
# (approved but unclaimed too long). Every end but `paid` releases the reservation.
PROPOSED, APPROVED, PAID = "proposed", "approved", "paid"
REJECTED, EXPIRED, WITHDRAWN, RETURNED = "rejected", "expired", "withdrawn", "returned"
STATUSES = (PROPOSED, APPROVED, PAID, REJECTED, EXPIRED, WITHDRAWN, RETURNED)
OPEN_STATUSES = (PROPOSED, APPROVED)  # still holding a reservation
STATUS_LABELS = {
    PROPOSED: _l("Waiting for approval"),
    APPROVED: _l("Approved, waiting to be paid"),
    PAID: _l("Paid"),
    REJECTED: _l("Rejected"),
    EXPIRED: _l("Not approved in time"),
    WITHDRAWN: _l("Withdrawn"),
    RETURNED: _l("Unclaimed, returned to the fund"),
}

# Ledger journal kinds the fund posts (unit CNY, fen).
KIND_INCOME = "fund.income"  # source -> available (an allocation or a donation)
KIND_PAYOUT = "fund.payout"  # available -> payee, pending while proposed/approved; posted when paid
KINDS = (KIND_INCOME, KIND_PAYOUT)
