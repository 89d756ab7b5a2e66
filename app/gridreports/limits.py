"""How often one member may submit grid reports (the page and the API share the count): a resident has
no reason to report more than this, and a script or a stuck button cannot flood a grid admin's queue or
the photo store. Override with the GRID_REPORT_LIMIT setting (Flask-Limiter's syntax)."""

from __future__ import annotations

from flask import current_app, request
from flask_login import current_user

from app.extensions import limiter

SUBMIT_LIMIT = "10 per hour;30 per day"


def _limit() -> str:
    return current_app.config.get("GRID_REPORT_LIMIT") or SUBMIT_LIMIT


def _key() -> str:
    user_id = getattr(current_user, "user_id", None)
    return f"grid-report-submit:user:{user_id}" if user_id else f"grid-report-submit:ip:{request.remote_addr}"


# Counted only for a POST: reading the form costs nothing.
submit_limit = limiter.shared_limit(_limit, scope="grid-report-submit", key_func=_key, methods=["POST"])
