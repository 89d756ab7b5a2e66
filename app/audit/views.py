"""The audit log page: district administrators and auditors read and filter it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user, login_required

from app.access import require
from app.area import audit_labels
from app.db import get_session

from . import services

bp = Blueprint("audit", __name__, template_folder="templates")

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
    labels = audit_labels(current_app)
    return render_template("audit/list.html", events=events, actions=list(labels), labels=labels, args=request.args,
                           next_before=events[-1].id if len(events) == 50 else None)
