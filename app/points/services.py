"""Points use cases: hold service hours as a pending journal, post, adjust or void it on review, change
the rules, and read a member's points in words. The only module that posts points journals.

Idempotency keys (one convention, spelled here): the hours of attendance N are held under
`hours:N`; the review's outcome is `hours:N:post`, `hours:N:void`, or, when the organiser credits more
than was held (or nothing was held), `hours:N:credit`. A retried request therefore changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit.services import record
from app.db import utcnow
from app.errors import Conflict
from app.places.models import District
from ledger import Journal, Ledger, Transfer
from ledger.schema import accounts, journals

from . import caps, history
from .accounts import hours_source_code, open_source, wallet_code
from .labels import CATEGORIES, KIND_CHECKIN, KIND_HOURS, KIND_REPORT, MISSED_CHECKOUT
from .models import PointsRule
from .rules import Rule
from .versioned_rules import refuse_problems


@dataclass(frozen=True)
class HoursClaim:
    """One attendance's hours as the points area needs them."""

    attendance_id: int
    activity_id: int
    member_id: int
    host_unit_id: int
    title: str
    minutes: int
    points: int
    rule: Rule


def _meta(claim: HoursClaim, minutes: int | None = None, reason: str | None = None) -> dict:
    meta = {
        "attendance_id": claim.attendance_id,
        "activity_id": claim.activity_id,
        "title": claim.title,
        "minutes": claim.minutes if minutes is None else minutes,
        **claim.rule.meta(),
    }
    if reason:
        meta["reason"] = reason
    return meta


def hold_hours(session: Session, tenant_id: int, claim: HoursClaim) -> Journal | None:
    """Reserve the points of one attendance as a pending journal (nothing when it earns nothing)."""
    if claim.points <= 0:
        return None
    source = hours_source_code(claim.host_unit_id)
    open_source(session, tenant_id, source)
    return Ledger(session, tenant=tenant_id).post(
        [Transfer(source, wallet_code(claim.member_id), claim.points)],
        kind=KIND_HOURS,
        key=f"hours:{claim.attendance_id}",
        memo=claim.title[:200],
        pending=True,
        meta=_meta(claim),
    )


def approve_hours(session: Session, tenant_id: int, journal_id: int, attendance_id: int) -> Journal:
    """Post the held points in full."""
    return Ledger(session, tenant=tenant_id).post_pending(journal_id, key=f"hours:{attendance_id}:post")


# Resolutions per ledger call in a bulk review: all or none either way (the review is one transaction);
# chunks only bound the size of one statement's arrays.
REVIEW_CHUNK = 2_000


def approve_hours_many(session: Session, tenant_id: int, pairs: Iterable[tuple[int, int]]) -> list[Journal]:
    """Post many held journals in full: pairs of (journal id, attendance id), as approve_hours each
    (same keys, so a retried review changes nothing), through the ledger's batch resolution: a handful
    of statements per chunk instead of a dozen per attendance."""
    book = Ledger(session, tenant=tenant_id)
    items = [(journal_id, None, f"hours:{attendance_id}:post") for journal_id, attendance_id in pairs]
    out: list[Journal] = []
    for i in range(0, len(items), REVIEW_CHUNK):
        out += book.post_pending_many(items[i : i + REVIEW_CHUNK])
    return out


def lock_for_review(
    session: Session, tenant_id: int, host_unit_id: int, items: Iterable[tuple[int, Rule | None, datetime]]
) -> None:
    """Before a review touches anything: lock, in one global order, every cap counter and every ledger
    account it may take — first the counters (sorted by member, kind, period), then the wallets and the
    host's hours source (sorted by code, the ledger's own order). items: (member id, rule, activity
    start) per attendance decided; rule None for one rejected (it takes no cap).
    Two reviews over overlapping members in any order then wait for
    each other instead of deadlocking; what they take later is already theirs."""
    items = list(items)
    shapes: dict[tuple[int, datetime], list[tuple[str, str]]] = {}  # (rule, start) -> [(kind, period)], once each
    keys: list[tuple[int, str, str]] = []
    for m, rule, at in items:
        if rule is None:
            continue
        shape = shapes.get((id(rule), at))
        if shape is None:
            shape = [(k, p) for _, k, p in caps.hours_counter_keys(session, tenant_id, 0, rule, at)]
            shapes[(id(rule), at)] = shape
        keys += [(m, k, p) for k, p in shape]
    caps.lock_counters(session, tenant_id, keys)
    codes = sorted({wallet_code(m) for m, _, _ in items} | {hours_source_code(host_unit_id)})
    for i in range(0, len(codes), 1000):
        chunk = codes[i : i + 1000]
        session.execute(
            select(accounts.c.id)
            .where(accounts.c.tenant_id == tenant_id, accounts.c.code.in_(chunk))
            .order_by(accounts.c.code)
            .with_for_update()
        ).all()


def reject_hours(session: Session, tenant_id: int, journal_id: int, attendance_id: int) -> Journal:
    """Release the held points: nothing moves."""
    return Ledger(session, tenant=tenant_id).void_pending(journal_id, key=f"hours:{attendance_id}:void")


def reject_hours_many(session: Session, tenant_id: int, pairs: Iterable[tuple[int, int]]) -> list[Journal]:
    """Release many held journals: pairs of (journal id, attendance id), as reject_hours each, in batches."""
    book = Ledger(session, tenant=tenant_id)
    items = [(journal_id, f"hours:{attendance_id}:void") for journal_id, attendance_id in pairs]
    out: list[Journal] = []
    for i in range(0, len(items), REVIEW_CHUNK):
        out += book.void_pending_many(items[i : i + REVIEW_CHUNK])
    return out


def credit_hours(
    session: Session, tenant_id: int, claim: HoursClaim, held: Journal | None, held_points: int, reason: str
) -> Journal | None:
    """The organiser credits `claim.points` for `claim.minutes` (an adjustment, or a missed check-out
    confirmed). Up to what was held: a partial post of the pending journal. More than was held, or
    nothing held: the pending journal (if any) is voided and the whole amount is posted afresh."""
    book = Ledger(session, tenant=tenant_id)
    if held is not None and 0 < claim.points <= held_points:
        if claim.points == held_points:
            return book.post_pending(held.id, key=f"hours:{claim.attendance_id}:post")
        return book.post_pending(held.id, amount=claim.points, key=f"hours:{claim.attendance_id}:post")
    if held is not None:
        book.void_pending(held.id, key=f"hours:{claim.attendance_id}:void")
    if claim.points <= 0:
        return None
    source = hours_source_code(claim.host_unit_id)
    open_source(session, tenant_id, source)
    return book.post(
        [Transfer(source, wallet_code(claim.member_id), claim.points)],
        kind=KIND_HOURS,
        key=f"hours:{claim.attendance_id}:credit",
        memo=claim.title[:200],
        meta=_meta(claim, reason=reason),
    )


# --- rules ------------------------------------------------------------------------------------------


def rule_versions(session: Session, tenant_id: int) -> list[PointsRule]:
    """Every version of every rule of the district, newest first within each category."""
    return list(
        session.scalars(
            select(PointsRule)
            .where(PointsRule.tenant_id == tenant_id)
            .order_by(PointsRule.category, PointsRule.version.desc())
        )
    )


def change_rule(
    session: Session,
    tenant_id: int,
    *,
    category: str,
    points_per_hour: int,
    rounding_minutes: int,
    presence_percent: int,
    missed_checkout: str,
    grace_minutes: int,
    effective_from: datetime | None,
    reason: str = "",
    actor_user_id: int | None = None,
    now: datetime | None = None,
    max_minutes_per_activity: int | None = None,
    daily_points_cap: int | None = None,
    monthly_points_cap: int | None = None,
) -> PointsRule:
    """Add a new version of the district's rule for `category` ('' = the default for every category).
    It takes effect at `effective_from` (default now), which may not be in the past: a rule never
    prices service already given."""
    now = now or utcnow()
    effective_from = effective_from or now
    problems: list[tuple[str, object]] = []
    if category not in ("", *CATEGORIES):
        problems.append(("category", _l("Choose one of the listed categories.")))
    if not 0 <= points_per_hour <= 1000:
        problems.append(("points_per_hour", _l("Points per hour must be from 0 to 1000.")))
    if not 1 <= rounding_minutes <= 240:
        problems.append(("rounding_minutes", _l("The rounding unit must be from 1 to 240 minutes.")))
    if not 0 <= presence_percent <= 100:
        problems.append(("presence_percent", _l("The presence threshold must be from 0 to 100 per cent.")))
    if missed_checkout not in MISSED_CHECKOUT:
        problems.append(("missed_checkout", _l("Choose what a missed check-out earns.")))
    if not 0 <= grace_minutes <= 1440:
        problems.append(("grace_minutes", _l("The grace period must be from 0 to 1440 minutes.")))
    if max_minutes_per_activity is not None and not 1 <= max_minutes_per_activity <= 1440:
        problems.append(("max_minutes_per_activity", _l("Minutes per activity must be from 1 to 1440, or empty.")))
    for field, cap in (("daily_points_cap", daily_points_cap), ("monthly_points_cap", monthly_points_cap)):
        if cap is not None and not 0 <= cap <= 100_000:
            problems.append((field, _l("A points cap must be from 0 to 100,000, or empty for no cap.")))
    refuse_problems(problems, effective_from, now)
    # Admins saving at once take turns (the district's row is locked), so each gets the next version.
    session.execute(select(District.id).where(District.id == tenant_id).with_for_update())
    last = session.scalars(
        select(PointsRule.version)
        .where(PointsRule.tenant_id == tenant_id, PointsRule.category == category)
        .order_by(PointsRule.version.desc())
        .limit(1)
    ).first()
    rule = PointsRule(
        tenant_id=tenant_id,
        category=category,
        version=(last or 0) + 1,
        effective_from=max(effective_from, now),
        points_per_hour=points_per_hour,
        rounding_minutes=rounding_minutes,
        presence_percent=presence_percent,
        missed_checkout=missed_checkout,
        grace_minutes=grace_minutes,
        created_by_user_id=actor_user_id,
        created_at=now,
        reason=reason[:200],
        max_minutes_per_activity=max_minutes_per_activity,
        daily_points_cap=daily_points_cap,
        monthly_points_cap=monthly_points_cap,
    )
    try:
        with session.begin_nested():
            session.add(rule)
            session.flush()
    except IntegrityError:
        # Belt and braces beside the lock above: never a 500 for a version number taken a moment ago.
        raise Conflict(
            str(_l("Someone else changed this rule a moment ago. Reload the page, check the rule and try again."))
        ) from None
    record(
        session,
        "points.rule_change",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="points_rule",
        target_id=rule.id,
        detail={
            "category": category or "default",
            "version": rule.version,
            "points_per_hour": points_per_hour,
            "rounding_minutes": rounding_minutes,
            "presence_percent": presence_percent,
            "missed_checkout": missed_checkout,
            "grace_minutes": grace_minutes,
            "effective_from": rule.effective_from.isoformat(timespec="minutes"),
            "max_minutes_per_activity": max_minutes_per_activity,
            "daily_points_cap": daily_points_cap,
            "monthly_points_cap": monthly_points_cap,
        },
    )
    return rule


# --- a member's points --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointsLine:
    """One line of a member's history, with what a person needs to read it in words."""

    time: datetime
    kind: str
    phase: str  # posted | pending | post | void
    amount: int  # change to the available points (posted) ...
    pending_amount: int  # ... and to the pending ones
    title: str
    minutes: int | None  # as held; an adjusted attendance's own row has the credited minutes
    activity_id: int | None
    attendance_id: int | None


@dataclass(frozen=True)
class PointsSummary:
    available: int
    pending: int
    posted: int
    lines: list[PointsLine]


def _own_title(kind: str, meta: dict, memo: str) -> str:
    """A line of the points area's own kinds in words: what it was for, then the memo (the site or grid)."""
    if kind == KIND_CHECKIN:
        return str(_l("Check-in (报到) at %(place)s", place=memo))
    if kind == KIND_REPORT:
        return str(_l("Grid report verified (number %(n)s), %(place)s", n=meta.get("grid_report_id", "?"), place=memo))
    return memo


def member_points(session: Session, tenant_id: int, member_id: int, limit: int = 20) -> PointsSummary:
    """A member's points: available, pending (held for review), posted, and the latest lines in words."""
    book = Ledger(session, tenant=tenant_id)
    code = wallet_code(member_id)
    balance = book.balance(code)
    page = book.statement(code, limit=limit)
    ids = {line.journal_id for line in page.lines}
    metas: dict[int, dict] = {}
    taken_back: dict[int, str] = {}  # a reversing journal -> what it reversed, in words
    if ids:
        rows = session.execute(
            select(journals.c.id, journals.c.meta, journals.c.resolves_id, journals.c.reverses_id).where(
                journals.c.id.in_(ids)
            )
        ).all()
        reversed_ids = {r.reverses_id for r in rows if r.reverses_id is not None}
        if reversed_ids:
            taken_back = {
                r.id: (r.meta or {}).get("title") or r.memo
                for r in session.execute(
                    select(journals.c.id, journals.c.meta, journals.c.memo).where(journals.c.id.in_(reversed_ids))
                )
            }
            taken_back = {r.id: taken_back.get(r.reverses_id, "") for r in rows if r.reverses_id is not None}
        originals = {r.resolves_id for r in rows if r.resolves_id is not None}
        orig_meta = {}
        if originals:
            orig_meta = {
                r.id: r.meta
                for r in session.execute(select(journals.c.id, journals.c.meta).where(journals.c.id.in_(originals)))
            }
        for r in rows:
            metas[r.id] = (orig_meta.get(r.resolves_id) if r.resolves_id else r.meta) or {}
    # Journals posted for a higher area (an outlet's redemption) are said in words by that area.
    described = history.describe(session, tenant_id, {ln.journal_id: ln.kind for ln in page.lines}, metas)
    lines = []
    for line in page.lines:
        meta = metas.get(line.journal_id, {})
        lines.append(
            PointsLine(
                time=line.time,
                kind=line.kind,
                phase=line.phase,
                amount=line.amount,
                pending_amount=line.pending_amount,
                title=described.get(line.journal_id)
                or (
                    str(_l("Taken back: %(what)s (%(why)s)", what=taken_back[line.journal_id], why=line.memo))
                    if line.journal_id in taken_back
                    else None
                )
                or meta.get("title")
                or _own_title(line.kind, meta, line.memo),
                minutes=meta.get("minutes"),
                activity_id=meta.get("activity_id"),
                attendance_id=meta.get("attendance_id"),
            )
        )
    return PointsSummary(balance.available, balance.pending_in, balance.posted, lines)
