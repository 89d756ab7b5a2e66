"""URL rules of the api area (only URL rules: the views are plain functions in their modules)."""

from __future__ import annotations

from . import v1
from .blueprints import api_blueprint
from .schemas import MAX_ID

bp = api_blueprint("api_v1", __name__)
# Ids beyond BIGINT cannot exist; the converter answers 404 instead of letting the driver overflow.
ID = f"int(min=1, max={MAX_ID})"

bp.add_url_rule("/openapi.json", view_func=v1.openapi, methods=["GET"])
bp.add_url_rule("/csrf-token", view_func=v1.csrf_token, methods=["GET"])
bp.add_url_rule("/org-units", view_func=v1.list_org_units, methods=["GET"])
bp.add_url_rule(f"/org-units/<{ID}:unit_id>", view_func=v1.get_org_unit, methods=["GET"])
bp.add_url_rule("/org-units", view_func=v1.create_org_unit, methods=["POST"])
bp.add_url_rule(f"/org-units/<{ID}:unit_id>", view_func=v1.update_org_unit, methods=["PATCH"])
bp.add_url_rule("/members", view_func=v1.list_members, methods=["GET"])
bp.add_url_rule(f"/members/<{ID}:member_id>", view_func=v1.get_member, methods=["GET"])
bp.add_url_rule("/members", view_func=v1.create_member, methods=["POST"])
bp.add_url_rule(f"/members/<{ID}:member_id>", view_func=v1.update_member, methods=["PATCH"])
