"""The points area's errors (codes are stable: API clients match on them)."""

from app.errors import AppError, Conflict


class RuleInvalid(AppError):
    code = "rule_invalid"
    status = 422


class AlreadyReviewed(Conflict):
    code = "already_reviewed"
