"""What the check-in and grid report rules share: a district's rule is a list of versions, each taking
effect at a time not in the past; a change is a new version, never an edit, and it is audited. The
version in force at a moment is the newest one effective by then."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.places.models import District

from .errors import RuleInvalid

R = TypeVar("R")


def in_force(session: Session, model: type[R], tenant_id: int, at: datetime) -> R | None:
    """The version of `model` (a rule table) in force at `at` (UTC), or None when the district has none."""
    m: Any = model
    return session.scalars(
        select(m)
        .where(m.tenant_id == tenant_id, m.effective_from <= at)
        .order_by(m.effective_from.desc(), m.version.desc())
        .limit(1)
    ).first()


def refuse_problems(problems: list, effective_from: datetime, now: datetime) -> None:
    """Raise RuleInvalid naming the first problem (and listing all) if there is any; a rule may not
    take effect before the current minute. `problems`: (field, message) pairs found by the caller."""
    if effective_from < now.replace(second=0, microsecond=0):
        problems = [*problems, ("effective_from", _l("A rule cannot take effect in the past; choose now or later."))]
    if problems:
        field, message = problems[0]
        raise RuleInvalid(
            str(message),
            field=field,
            details=[{"field": f, "code": "rule_invalid", "message": str(m)} for f, m in problems],
        )


def add_version(
    session: Session,
    model: type[R],
    tenant_id: int,
    actor_user_id: int | None,
    values: dict[str, Any],
    effective_from: datetime,
    reason: str,
    now: datetime,
) -> R:
    """Append the district's next version of `model` with `values` (checked by the caller) and audit it
    as `model.AUDIT` (action, target type). The district row is locked so two changes at once get
    versions n and n + 1."""
    m: Any = model
    action, target_type = m.AUDIT
    session.execute(select(District.id).where(District.id == tenant_id).with_for_update())
    last = session.scalars(
        select(m.version).where(m.tenant_id == tenant_id).order_by(m.version.desc()).limit(1)
    ).first()
    rule = m(
        tenant_id=tenant_id,
        version=(last or 0) + 1,
        effective_from=max(effective_from, now),
        created_by_user_id=actor_user_id,
        created_at=now,
        reason=reason[:200],
        **values,
    )
    session.add(rule)
    session.flush()
    record(
        session,
        action,
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type=target_type,
        target_id=rule.id,
        detail={
            "version": rule.version,
            **values,
            "effective_from": rule.effective_from.isoformat(),
            "reason": reason[:200],
        },
    )
    return rule
