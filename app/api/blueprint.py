"""URL rules of the api area (only URL rules: the views are plain functions in their modules)."""

from __future__ import annotations

from . import v1
from .blueprints import api_blueprint

bp = api_blueprint("api_v1", __name__)

bp.add_url_rule("/openapi.json", view_func=v1.openapi, methods=["GET"])
bp.add_url_rule("/csrf-token", view_func=v1.csrf_token, methods=["GET"])
