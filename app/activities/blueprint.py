"""URL rules of the activities area (only URL rules: the views are plain functions in their modules).

Pages for volunteers (volunteer_views), for organisers (organiser_views: activities, codes, posters,
the scan page, live view, hand and paper entries, review), and the JSON API (api)."""

from __future__ import annotations

from flask import Blueprint

from app.api.blueprints import ID, api_blueprint  # noqa: F401  (ID: for the API's id rules)

from . import api, organiser_views, volunteer_views  # noqa: F401

bp = Blueprint("activities", "app.activities", template_folder="templates")

# --- volunteers' pages (volunteer_views) ---------------------------------------------------------------
bp.add_url_rule("/activities/", "browse", volunteer_views.browse)
bp.add_url_rule("/activities/<int:activity_id>", "activity_page", volunteer_views.activity_page)
bp.add_url_rule("/activities/<int:activity_id>/signup", "sign_up", volunteer_views.sign_up, methods=["POST"])
bp.add_url_rule(
    "/activities/<int:activity_id>/cancel-signup",
    "cancel_signup",
    volunteer_views.cancel_signup,
    methods=["GET", "POST"],
)
bp.add_url_rule("/me/points", "my_points", volunteer_views.my_points)
bp.add_url_rule("/me/activities", "my_activities", volunteer_views.my_activities)


# --- organisers' pages and the scan page (organiser_views) -------------------------------------------------
_o = organiser_views
_A = "/organise/activities/<int:activity_id>"
_D = "<any(in,out):direction>"
bp.add_url_rule("/organise/", view_func=_o.organise_home)
bp.add_url_rule("/organise/activities/new", view_func=_o.new_activity, methods=["GET", "POST"])
bp.add_url_rule(_A, view_func=_o.manage_activity)
bp.add_url_rule(f"{_A}/edit", view_func=_o.edit_activity, methods=["GET", "POST"])
bp.add_url_rule(f"{_A}/publish", view_func=_o.publish_activity, methods=["GET", "POST"])
bp.add_url_rule(f"{_A}/cancel", view_func=_o.cancel_activity, methods=["GET", "POST"])
bp.add_url_rule(f"{_A}/code/{_D}", view_func=_o.code_screen)
bp.add_url_rule(f"{_A}/code/{_D}.svg", view_func=_o.code_svg)
bp.add_url_rule(f"{_A}/poster/{_D}", view_func=_o.poster)
bp.add_url_rule(f"{_A}/live", view_func=_o.live)
bp.add_url_rule(f"{_A}/by-hand", view_func=_o.by_hand, methods=["GET", "POST"])
bp.add_url_rule(f"{_A}/paper", view_func=_o.paper, methods=["GET", "POST"])
bp.add_url_rule(f"{_A}/review", view_func=_o.review, methods=["GET", "POST"])
bp.add_url_rule(f"{_A}/review/all", view_func=_o.review_all, methods=["GET", "POST"])
bp.add_url_rule(f"{_A}/attendances.xlsx", view_func=_o.export_attendances)
bp.add_url_rule("/scan/", view_func=_o.scan_enter, endpoint="scan_enter")
bp.add_url_rule("/scan/<token>", view_func=_o.scan_page, endpoint="scan_page")
bp.add_url_rule("/scan/<token>", view_func=_o.scan_record, methods=["POST"], endpoint="scan_record")


api_bp = api_blueprint("activities_api", __name__)

# --- JSON API (api) ------------------------------------------------------------------------------------------
api_bp.add_url_rule("/activities", view_func=api.list_activities, methods=["GET"])
api_bp.add_url_rule("/activities", view_func=api.create_activity, methods=["POST"])
api_bp.add_url_rule(f"/activities/<{ID}:activity_id>", view_func=api.get_activity, methods=["GET"])
api_bp.add_url_rule(f"/activities/<{ID}:activity_id>", view_func=api.update_activity, methods=["PATCH"])
api_bp.add_url_rule(f"/activities/<{ID}:activity_id>/publish", view_func=api.publish_activity, methods=["POST"])
api_bp.add_url_rule(f"/activities/<{ID}:activity_id>/cancel", view_func=api.cancel_activity, methods=["POST"])
api_bp.add_url_rule(f"/activities/<{ID}:activity_id>/signups", view_func=api.sign_up, methods=["POST"])
api_bp.add_url_rule(f"/activities/<{ID}:activity_id>/signups", view_func=api.list_signups, methods=["GET"])
api_bp.add_url_rule(f"/activities/<{ID}:activity_id>/signups/me", view_func=api.cancel_my_signup, methods=["DELETE"])
api_bp.add_url_rule(f"/activities/<{ID}:activity_id>/codes", view_func=api.get_codes, methods=["GET"])
api_bp.add_url_rule("/scans", view_func=api.scan, methods=["POST"])
api_bp.add_url_rule(f"/activities/<{ID}:activity_id>/attendances", view_func=api.record_attendance, methods=["POST"])
api_bp.add_url_rule(f"/activities/<{ID}:activity_id>/attendances", view_func=api.list_attendances, methods=["GET"])
api_bp.add_url_rule(f"/activities/<{ID}:activity_id>/review", view_func=api.review, methods=["POST"])
