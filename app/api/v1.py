"""JSON API v1 (org units and members). Filled in by the API work; see docs/api.md."""

from flask import Blueprint

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")
