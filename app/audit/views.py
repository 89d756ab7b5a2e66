"""The audit log page: district administrators and auditors read and filter it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.auth.permissions import require
from app.db import get_session

from . import services

bp = Blueprint("audit", __name__, template_folder="templates")

ACTION_LABELS = {
    "signin.success": _l("Signed in"), "signin.failure": _l("Sign-in failed"), "signin.throttled": _l("Sign-in throttled"),
    "signout": _l("Signed out"), "password.change": _l("Password changed"), "role.grant": _l("Role granted"),
    "role.revoke": _l("Role revoked"), "member.create": _l("Member added"), "member.update": _l("Member changed"),
    "member.import": _l("Members imported"), "member.export": _l("Members exported"),
    "assignment.create": _l("Grid assigned"), "assignment.end": _l("Grid assignment ended"),
    "org.create": _l("Unit added"), "org.rename": _l("Unit renamed"), "org.move": _l("Unit moved"),
    "org.retire": _l("Unit retired"), "demo.load": _l("Demo data loaded"),
}
ACTIONS = ("signin.success", "signin.failure", "signin.throttled", "signout", "password.change", "role.grant",
           "role.revoke", "member.create", "member.update", "member.import", "member.export", "assignment.create",
           "assignment.end", "org.create", "org.rename", "org.move", "org.retire")
# Sign-in links and session expiry (app/auth).
ACTION_LABELS.update({
    "session.expired": _l("Session expired"), "invitation.activate": _l("Sign-in link made"),
    "invitation.reset": _l("Password reset (link made)"), "invitation.use": _l("Sign-in link used"),
})
ACTIONS += ("session.expired", "invitation.activate", "invitation.reset", "invitation.use")


@bp.app_template_filter("readable_json")
def readable_json(value) -> str:
    """JSON with Chinese left readable (|tojson turns each Chinese character into an escape)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _date(name: str):
    raw = request.args.get(name) or ""
    try:
        return datetime.strptime(raw, "%Y-%m-%d")
    except ValueError:
        return None


@bp.get("/audit/")
@login_required
def list_events():
    require(current_user, "audit.view")
    since, until = _date("since"), _date("until")
    events = services.search(
        get_session(), current_user.tenant_id, action=request.args.get("action") or None,
        actor_user_id=request.args.get("actor", type=int), target_type=request.args.get("target_type") or None,
        target_id=request.args.get("target_id", type=int), since=since,
        until=until + timedelta(days=1) if until else None, before_id=request.args.get("before", type=int), limit=50,
    )
    return render_template("audit/list.html", events=events, actions=ACTIONS, labels=ACTION_LABELS, args=request.args,
                           next_before=events[-1].id if len(events) == 50 else None)
