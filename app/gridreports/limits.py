"""How often one member may submit grid reports (the page and the API share the count): a resident has
no reason to report more than this, and a script or a stuck button cannot flood a grid admin's queue or
the photo store. Override with the GRID_REPORT_LIMIT setting (Flask-Limiter's syntax)."""

from __future__ import annotations

from app.extensions import per_user_limit

SUBMIT_LIMIT = "10 per hour;30 per day"

# Counted only for a POST: reading the form costs nothing.
submit_limit = per_user_limit("grid-report-submit", SUBMIT_LIMIT, "GRID_REPORT_LIMIT", methods=["POST"])
