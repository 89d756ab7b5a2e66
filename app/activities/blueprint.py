"""URL rules of the activities area (only URL rules: the views are plain functions in their modules).

Pages for volunteers (volunteer_views), for organisers (organiser_views: activities, codes, posters,
the scan page, live view, hand and paper entries, review), and the JSON API (api)."""

from __future__ import annotations

from flask import Blueprint

from app.api.blueprints import ID, api_blueprint  # noqa: F401  (ID: for the API's id rules)

from . import api, organiser_views, volunteer_views  # noqa: F401

bp = Blueprint("activities", "app.activities", template_folder="templates")

# --- volunteers' pages (volunteer_views) ---------------------------------------------------------------


# --- organisers' pages and the scan page (organiser_views) -------------------------------------------------


api_bp = api_blueprint("activities_api", __name__)

# --- JSON API (api) ------------------------------------------------------------------------------------------
