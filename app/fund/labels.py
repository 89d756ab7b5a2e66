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


def register_audit_words() -> None:
    """How the audit log page shows the fund's events (app/audit/labels.py): amounts in yuan, codes in words."""
    from app.audit.labels import register_detail, register_target

    from .money import format_yuan

    register_target("fund", _l("Fund"))
    register_target("fund_income", _l("Fund income"))
    register_target("fund_payout", _l("Payout"))
    register_target("fund_setting", _l("Fund settings"))
    for action in (
        "fund.income",
        "fund.proposed",
        "fund.approved",
        "fund.paid",
        "fund.rejected",
        "fund.withdrawn",
        "fund.returned",
        "fund.expired",
    ):
        register_detail("amount", _l("Amount"), action=action, format=format_yuan)
    register_detail("before", _l("Budget before"), action="fund.budget", format=format_yuan)
    register_detail("after", _l("Budget after"), action="fund.budget", format=format_yuan)
    register_detail("year", _l("Year"), action="fund.budget")
    register_detail("note", _l("Note"), action="fund.budget")
    register_detail("approval", _l("Approval number"), action="fund.approved")
    register_detail("of", _l("Approvals needed"), action="fund.approved")
    register_detail("required_approvals", _l("Approvals needed"), action="fund.proposed")
    register_detail("payee_member_id", _l("Payee"), refers_to="member")
    register_detail("reason_category", _l("Reason category"), values=REASON_LABELS)
    register_detail("batch_ref", _l("Batch list"), action="fund.proposed")
    register_detail("fund_id", _l("Fund"), refers_to="fund")
    register_detail("source", _l("Source"), action="fund.income")
    register_detail("kind", _l("Kind"), action="fund.income", values=INCOME_KIND_LABELS)
    register_detail("document_ref", _l("Document reference"), action="fund.income")
    register_detail("channel", _l("Paid by way of"), action="fund.paid", values=CHANNEL_LABELS)
    register_detail("reference", _l("Payment reference"), action="fund.paid")
    register_detail("paid_on", _l("Paid on"), action="fund.paid")
    register_detail("paid_by", _l("Paid by"), action="fund.paid")
