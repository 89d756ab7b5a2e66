"""URL rules of the fund area (only URL rules): the fund's JSON API; `fund-pages` adds the page rules."""

from __future__ import annotations

from flask import Blueprint

from app.api.blueprints import ID, api_blueprint  # noqa: F401

from . import api  # noqa: F401

bp = Blueprint("fund", "app.fund", template_folder="templates")

# --- pages (views) -------------------------------------------------------------------------------------------

api_bp = api_blueprint("fund_api", __name__)

# --- JSON API (api) ------------------------------------------------------------------------------------------
