"""fund: the reward fund (平安志愿者奖励基金) — money in yuan, kept as integer fen in the ledger (unit CNY).

Fund managers record allocations and donations, set the year's budget, propose payouts (which reserve
the money) and record payments made outside the system; fund approvers approve or reject payouts
(maker-checker: never their own proposal, never to themselves; above the district's threshold two
different approvers). Both role kinds are district-wide (no org-unit scope): a fund belongs to the
district. District administrators have every action; auditors read everything and change nothing.
Each payee sees their own rewards (the `own` read action on a payout)."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from app.access import Action
from app.area import Area, MenuLink, RoleDef


def _setup(app: Flask) -> None:
    """The fund's pages (home panels, the `yuan` filter: page_setup.py) and the words of the notices a
    payee gets (app/fund/payees.py `tell`)."""
    from app.audit.labels import names_from, register_target_names
    from app.notices.channels import register_kind

    from .labels import CHANNEL_LABELS, register_audit_words
    from .models import Fund
    from .page_setup import setup_pages

    setup_pages(app)
    register_audit_words()
    register_target_names("fund", names_from(Fund, Fund.name))

    register_kind("fund.approved", _l("Your reward of %(amount)s was approved: %(reason)s"))
    register_kind(
        "fund.ready_to_pay", _l("Approved, ready to pay: %(amount)s to %(payee)s (%(reason)s). Record the payment.")
    )
    register_kind(
        "fund.paid",
        _l("Your reward of %(amount)s was paid (%(channel)s, %(paid_on)s): %(reason)s"),
        words={"channel": CHANNEL_LABELS},
    )
    register_kind("fund.rejected", _l("A proposed reward of %(amount)s for you was not approved: %(why)s"))
    register_kind("fund.returned", _l("Your reward of %(amount)s was not claimed and went back to the fund: %(why)s"))


FUND_MANAGER = "fund_manager"
FUND_APPROVER = "fund_approver"

AREA = Area(
    name="fund",
    blueprints=["app.fund.blueprint:bp", "app.fund.blueprint:api_bp"],
    actions=[
        Action("fund.view", read=True, own=True),  # funds, balances, payouts, reports; a payee their own
        Action("fund.manage"),  # allocations, donations, budgets, proposals, payments, returns
        Action("fund.approve"),  # approve or reject payouts
        Action("fund.settings"),  # the approval threshold and periods: district administrators only
    ],
    roles=[
        RoleDef(FUND_MANAGER, _l("Fund manager")),
        RoleDef(FUND_APPROVER, _l("Fund approver")),
    ],
    grants={
        # gridreport.view: the evidence of a reward is often a verified grid report (its text and photos).
        FUND_MANAGER: ["fund.view", "fund.manage", "gridreport.view"],
        FUND_APPROVER: ["fund.view", "fund.approve", "gridreport.view"],
    },
    audit_labels={
        "fund.created": _l("Fund opened"),
        "fund.settings": _l("Fund rules changed"),
        "fund.budget": _l("Fund budget set"),
        "fund.income": _l("Fund income recorded"),
        "fund.proposed": _l("Payout proposed"),
        "fund.approved": _l("Payout approved"),
        "fund.rejected": _l("Payout rejected"),
        "fund.withdrawn": _l("Payout withdrawn"),
        "fund.expired": _l("Payout released: not approved in time"),
        "fund.paid": _l("Payout paid"),
        "fund.returned": _l("Payout returned to the fund"),
    },
    commands=["app.fund.jobs:fund_cli"],
    tasks=["app.fund.jobs"],
    setup=_setup,
    menu=[
        MenuLink("fund.my_rewards_page", _l("My rewards"), personal=True),
        MenuLink("fund.index", _l("Reward fund"), actions=["fund.view"]),
        MenuLink("fund.approvals_page", _l("Payouts to approve"), actions=["fund.approve"]),
    ],
)
