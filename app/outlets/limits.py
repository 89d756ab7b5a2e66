"""How many failed member lookups one staff account may make at the counter (the page and the API share
the count): a short code is 6–8 characters and lives 10 minutes, so guessing one is slow, and this makes
it slower still. Only a refused lookup counts (a busy counter's good scans never do). Override with the
MEMBER_LOOKUP_LIMIT setting (Flask-Limiter's syntax)."""

from __future__ import annotations

from flask import current_app, request
from flask_login import current_user

from app.extensions import limiter

LOOKUP_LIMIT = "30 per 10 minutes"


def _limit() -> str:
    return current_app.config.get("MEMBER_LOOKUP_LIMIT") or LOOKUP_LIMIT


def _key() -> str:
    user_id = getattr(current_user, "user_id", None)
    return f"member-lookup:user:{user_id}" if user_id else f"member-lookup:ip:{request.remote_addr}"


def _refused(response) -> bool:
    return response.status_code in (404, 422)


lookup_limit = limiter.shared_limit(
    _limit, scope="member-lookup", key_func=_key, methods=["POST"], deduct_when=_refused
)
