"""URL rules of the statements area (only URL rules): the auditors' page and its downloads."""

from __future__ import annotations

from flask import Blueprint

from app.api.blueprints import ID

from . import views

bp = Blueprint("statements", "app.statements", template_folder="templates")

bp.add_url_rule("/audit/statements/", view_func=views.list_statements, methods=["GET"])
bp.add_url_rule(f"/audit/statements/<{ID}:statement_id>.json", view_func=views.download, methods=["GET"])
bp.add_url_rule("/audit/statements/public-key.pem", view_func=views.public_key, methods=["GET"])
