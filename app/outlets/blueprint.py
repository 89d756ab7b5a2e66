"""URL rules of the outlets area (only URL rules): the pages (views modules, added by the page
owners below) and the JSON API (api)."""

from __future__ import annotations

from flask import Blueprint

from app.api.blueprints import ID, api_blueprint

from . import api

bp = Blueprint("outlets", "app.outlets", template_folder="templates")

# --- pages (counter, catalogue, stock, outlet and district views) ---------------------------------


# --- JSON API ---------------------------------------------------------------------------------------
api_bp = api_blueprint("outlets_api", __name__)

_O = f"/outlets/<{ID}:outlet_id>"
