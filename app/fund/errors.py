"""The fund area's errors. Codes are stable: API clients and pages match on them."""

from app.errors import AppError, Conflict


class FundInvalid(AppError):
    """Bad input (an amount, a missing reason, an unknown member...); `field` names what to fix."""

    code = "fund_invalid"
    status = 422


class AmountInvalid(FundInvalid):
    """A yuan amount that cannot be read or is out of range."""

    code = "amount_invalid"


class BudgetExceeded(Conflict):
    """The fund (or the year's budget) has not enough left for this payout."""

    code = "budget_exceeded"


class OwnProposal(AppError):
    """The approver proposed this payout."""

    code = "own_proposal"
    status = 403


class PayeeCannotApprove(AppError):
    """The approver (or the one deciding) is the payee."""

    code = "payee_cannot_approve"
    status = 403


class PayeeCannotPropose(AppError):
    """A fund manager may not propose a reward to themselves."""

    code = "payee_cannot_propose"
    status = 403


class SecondApproverNeeded(Conflict):
    """The payout has one approval of the two it needs: it cannot be paid yet. (Approving it answers 200
    with status `proposed`, not this error.)"""

    code = "second_approver_needed"


class AlreadyApprovedByYou(Conflict):
    """This approver already approved this payout; a second approval must come from someone else."""

    code = "already_approved_by_you"


class AlreadyDecided(Conflict):
    """The payout is no longer waiting for approval (approved, rejected, expired...)."""

    code = "already_decided"


class NotApproved(Conflict):
    """Only an approved payout can be paid or returned."""

    code = "not_approved"


class AlreadyPaid(Conflict):
    """The payout was already paid (a second record of the same payment)."""

    code = "already_paid"


class ImportRefused(FundInvalid):
    """An .xlsx list with errors: nothing was proposed (details per row)."""

    code = "import_refused"
