"""The audit log page: district administrators and auditors read and filter it, in names and Beijing time."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time, timedelta, timezone

from flask import current_app, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.access import require
from app.area import audit_labels
from app.db import get_session
from app.validation import date_arg, int_arg

from . import names as reader
from . import services
from .labels import PLACEHOLDERS, TARGET_LABELS, detail_key

BEIJING = timezone(timedelta(hours=8))  # China keeps one offset all year
PAGE = 50


def readable_json(value) -> str:
    """JSON with Chinese left readable (|tojson turns each Chinese character into an escape)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def beijing_time(value: datetime | None) -> str:
    """A stored (naive UTC) time as Beijing time."""
    if value is None:
        return ""
    return value.replace(tzinfo=UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _utc_start_of(day) -> datetime:
    """00:00 Beijing time of `day`, as the naive UTC the log stores."""
    return datetime.combine(day, time(), BEIJING).astimezone(UTC).replace(tzinfo=None)


def _value(key: str | None, value, names: reader.Names, action: str | None = None) -> str:
    spec = detail_key(action, key) if key else None
    if value is None:
        return "—"
    if isinstance(value, str) and value in PLACEHOLDERS:
        return str(PLACEHOLDERS[value])
    if isinstance(value, dict) and set(value) <= {"from", "to"} and value:
        return f"{_value(key, value.get('from'), names)} → {_value(key, value.get('to'), names)}"
    if isinstance(value, dict):
        return "；".join(f"{label}：{text}" for label, text in _items(value, names, action))
    if spec is not None and spec.refers_to:
        return names.of(spec.refers_to, value) or _("number %(n)s (no longer found)", n=value)
    if spec is not None and spec.format is not None and isinstance(value, int) and not isinstance(value, bool):
        return spec.format(value)
    if spec is not None and spec.values:
        try:
            return str(spec.values.get(value, value))
        except TypeError:  # an unhashable stored value
            pass
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return "、".join(_value(key, v, names, action) for v in value)
    if isinstance(value, str) and _UTC_TIME.match(value):  # a time services stored (UTC): in Beijing time
        try:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return beijing_time(at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at)
        except ValueError:
            pass
    return str(value)


# "2026-12-06T22:40:44.708841", "2026-12-06T00:36", "…+00:00": a stored time (a bare date is left as it is)
_UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _label(key: str, action: str | None) -> str:
    spec = detail_key(action, key)
    return str(spec.label) if spec else key


def _items(detail: dict, names: reader.Names, action: str | None = None) -> list[tuple[str, str]]:
    """(label, readable value) for each detail key; a "changed" map becomes one line per field."""
    items = []
    for key, value in detail.items():
        if key == "changed" and isinstance(value, dict):
            items += [(_label(k, action), _value(k, v, names, action)) for k, v in value.items()]
        elif value not in (None, "", {}):
            text = _value(key, value, names, action)
            if text:  # a map of empty values (an export's empty filter) says nothing
                items.append((_label(key, action), text))
    return items


def _present(e, names: reader.Names) -> dict:
    actor = names.users.get(e.actor_user_id) if e.actor_user_id else None
    target = None
    if e.target_type:
        label = str(TARGET_LABELS.get(e.target_type, e.target_type))
        shown = names.of(e.target_type, e.target_id) or (_("number %(n)s", n=e.target_id) if e.target_id else "")
        # An event about no one object ("members exported") names none, rather than an empty "Member:".
        target = (label, shown) if shown else None
    return {
        "at": e.at,
        "action": e.action,
        "action_label": str(audit_labels(current_app).get(e.action, e.action)),
        "actor": actor,
        "actor_missing": e.actor_user_id if e.actor_user_id and not actor else None,
        "target": target,
        "ip": e.ip,
        "items": _items(e.detail, names, e.action)
        if isinstance(e.detail, dict)
        else []
        if e.detail is None
        else [("", json.dumps(e.detail, ensure_ascii=False))],
    }


@login_required
def list_events():
    require(current_user, "audit.view")
    db, args = get_session(), request.args
    since, until = date_arg(args, "since"), date_arg(args, "until")
    actor = int_arg(args, "actor")
    who = (args.get("who") or "").strip()[:64]
    candidates: list[reader.Person] = []
    actor_ids = None
    if actor:
        actor_ids = [actor]
    elif who:
        candidates = reader.find_actors(db, current_user.tenant_id, who)
        actor_ids = [p.user_id for p in candidates]
    events = services.search(
        db,
        current_user.tenant_id,
        action=args.get("action") or None,
        actor_user_ids=actor_ids,
        target_type=args.get("target_type") or None,
        target_id=int_arg(args, "target_id"),
        since=_utc_start_of(since) if since else None,
        until=_utc_start_of(until + timedelta(days=1)) if until else None,
        before_id=int_arg(args, "before"),
        limit=PAGE,
    )
    names = reader.names_for(db, current_user.tenant_id, events)
    labels = audit_labels(current_app)  # what each installed area calls its events
    picked = names.users.get(actor) if actor else None
    if actor and picked is None:
        picked = next(iter(reader.names_for_users(db, current_user.tenant_id, [actor]).values()), None)
    keep = {k: v for k, v in args.items() if k != "before"}
    return render_template(
        "audit/list.html",
        events=[_present(e, names) for e in events],
        actions=list(labels),
        labels=labels,
        args=args,
        colon="：" if str(get_locale()).startswith("zh") else ": ",
        who=who,
        candidates=candidates if len(candidates) > 1 else [],
        picked=picked,
        pick_url=lambda p: url_for(".list_events", **{**keep, "actor": p.user_id, "who": p.name}),
        older_url=url_for(".list_events", **keep, before=events[-1].id) if len(events) == PAGE else None,
    )


def home_panel() -> dict | None:
    """The auditor's panel on the home page (and a district administrator's): how much the log holds
    from the last 24 hours, and its latest events in words, each a link into the log."""
    from sqlalchemy import func, select

    from app.access import can
    from app.db import utcnow

    from .models import AuditEvent

    if not current_user.is_authenticated or not can(current_user, "audit.view"):
        return None
    db = get_session()
    tenant = current_user.tenant_id
    day = db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.tenant_id == tenant, AuditEvent.at >= utcnow() - timedelta(hours=24))
    )
    latest = db.execute(
        select(AuditEvent.at, AuditEvent.action)
        .where(AuditEvent.tenant_id == tenant)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(5)
    ).all()
    labels = audit_labels(current_app)
    return {
        "day": day or 0,
        "latest": [(r.at, r.action, str(labels.get(r.action, r.action))) for r in latest],
    }
