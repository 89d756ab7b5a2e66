"""How many failed member lookups one staff account may make at the counter (the page and the API share
the count): a short code is 6–8 characters and lives 10 minutes, so guessing one is slow, and this makes
it slower still. Only a refused lookup counts (a busy counter's good scans never do). Override with the
MEMBER_LOOKUP_LIMIT setting (Flask-Limiter's syntax)."""

from __future__ import annotations

from app.extensions import per_user_limit

LOOKUP_LIMIT = "30 per 10 minutes"


def _refused(response) -> bool:
    return response.status_code in (404, 422)


lookup_limit = per_user_limit(
    "member-lookup", LOOKUP_LIMIT, "MEMBER_LOOKUP_LIMIT", methods=["POST"], deduct_when=_refused
)
