"""The points area's errors (codes are stable: API clients match on them)."""

from app.errors import AppError, Conflict


class RuleInvalid(AppError):
    code = "rule_invalid"
    status = 422


class AlreadyReviewed(Conflict):
    code = "already_reviewed"


class OwnAward(AppError):
    code = "own_award"
    status = 403


class AwardInvalid(AppError):
    code = "award_invalid"
    status = 422


class AwardDecided(Conflict):
    code = "award_decided"


class CorrectionRefused(Conflict):
    code = "insufficient_balance"
