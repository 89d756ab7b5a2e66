"""Record audit events (append-only), read them back filtered, and name what they mention."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow

from .models import AuditEvent


def record(
    session: Session,
    action: str,
    *,
    tenant_id: int | None,
    actor_user_id: int | None = None,
    target_type: str | None = None,
    target_id: int | None = None,
    ip: str | None = None,
    detail: dict | None = None,
) -> AuditEvent:
    event = AuditEvent(
        tenant_id=tenant_id,
        at=utcnow(),
        actor_user_id=actor_user_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        ip=ip,
        detail=detail,
    )
    session.add(event)
    session.flush()
    return event


def search(
    session: Session,
    tenant_id: int,
    *,
    action: str | None = None,
    actor_user_id: int | None = None,
    actor_user_ids: list[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    target_type: str | None = None,
    target_id: int | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[AuditEvent]:
    """Newest first. `actor_user_ids` (any of them; an empty list matches nothing) or one `actor_user_id`."""
    q = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    if action:
        q = q.where(AuditEvent.action.startswith(action, autoescape=True))
    if actor_user_id:
        q = q.where(AuditEvent.actor_user_id == actor_user_id)
    if actor_user_ids is not None:
        if not actor_user_ids:
            return []
        q = q.where(AuditEvent.actor_user_id.in_(actor_user_ids))
    if target_type:
        q = q.where(AuditEvent.target_type == target_type)
    if target_id:
        q = q.where(AuditEvent.target_id == target_id)
    if since:
        q = q.where(AuditEvent.at >= since)
    if until:
        q = q.where(AuditEvent.at < until)
    if before_id:
        q = q.where(AuditEvent.id < before_id)
    return list(session.scalars(q.order_by(AuditEvent.id.desc()).limit(limit)))
