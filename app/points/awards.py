"""Manual awards (奖励积分) and corrections.

An award gives points to one member or a list of members, with one reason and one category, from the
district-wide source account `source:award`. When the award's TOTAL (all its lines together) is above
the district's threshold (`AwardSetting`, default 100), it waits for a second district administrator —
never the proposer: `OwnAward` here, and a CHECK (approver_user_id <> proposer_user_id) in the database.
Otherwise it posts at once. A posted line is journal kind 'award', key `award:<line id>`; a batch posts
with one `Ledger.post_many` call (all or none).

Corrections are reversals, never edits: `reverse_award_line` and `reverse_hours` post the reversal of
the original journal under `<original key>:reverse`, refused with the shortfall in words when the wallet
no longer holds the points.

The points area sits below people and notices: a member's name/mobile lookup and telling members go
through the two hooks below, which those areas fill in at start-up (`register_directory`, `register_teller`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.db import utcnow
from app.errors import NotFound
from app.places.models import District
from ledger import Journal, JournalSpec, Ledger, Transfer
from ledger.errors import AlreadyReversed, InsufficientBalance
from ledger.schema import journals

from .accounts import open_source, open_wallets, wallet_code
from .errors import AwardDecided, AwardInvalid, CorrectionRefused, OwnAward
from .labels import AWARD_SOURCE, CATEGORIES, KIND_AWARD
from .models import Award, AwardLine, AwardSetting

DEFAULT_THRESHOLD = 100
MAX_LINES = 5_000
MAX_POINTS = 100_000

# --- hooks filled in by higher areas -------------------------------------------------------------------
# directory(session, tenant_id, mobiles) -> {mobile: (member_id, name)}; names(session, tenant_id, ids) ->
# {member_id: name}; teller(session, tenant_id, rows of (member id, kind, params, link)).
_hooks: dict[str, Callable] = {}


def register_directory(find_by_mobile: Callable, names: Callable) -> None:
    _hooks["find_by_mobile"], _hooks["names"] = find_by_mobile, names


def register_member_search(search: Callable, card: Callable) -> None:
    _hooks["search_members"], _hooks["member_card"] = search, card


def search_members(session: Session, tenant_id: int, text: str, limit: int = 10) -> list[dict]:
    """Active members of the district by part of the name or the mobile (tail):
    [{id, name, mobile (masked), place}]."""
    return _hooks["search_members"](session, tenant_id, text, limit) if "search_members" in _hooks else []


def member_card(session: Session, tenant_id: int, member_id: int) -> dict | None:
    return _hooks["member_card"](session, tenant_id, member_id) if "member_card" in _hooks else None


def register_teller(teller: Callable) -> None:
    _hooks["tell"] = teller


def lookup_mobiles(session: Session, tenant_id: int, mobiles: list[str]) -> dict[str, tuple[int, str]]:
    """Active members of the district by mobile: {mobile: (member id, name)}."""
    return _hooks["find_by_mobile"](session, tenant_id, mobiles) if mobiles and "find_by_mobile" in _hooks else {}


def member_names(session: Session, tenant_id: int, ids: Iterable[int]) -> dict[int, str]:
    ids = list(set(ids))
    return _hooks["names"](session, tenant_id, ids) if ids and "names" in _hooks else {}


def _tell(session: Session, tenant_id: int, rows: list[tuple[int, str, dict, str | None]]) -> None:
    if rows and "tell" in _hooks:
        _hooks["tell"](session, tenant_id, rows)


# --- the threshold ------------------------------------------------------------------------------------


def threshold(session: Session, tenant_id: int) -> int:
    """The district's current approval threshold (points, an award's total)."""
    value = session.scalars(
        select(AwardSetting.approval_threshold)
        .where(AwardSetting.tenant_id == tenant_id)
        .order_by(AwardSetting.version.desc())
        .limit(1)
    ).first()
    return DEFAULT_THRESHOLD if value is None else value


def set_threshold(
    session: Session, tenant_id: int, value: int, *, reason: str = "", actor_user_id: int | None = None
) -> AwardSetting:
    """A new version of the threshold (audited): awards whose total is above it wait for a second
    administrator; 0 means every award does."""
    if not 0 <= value <= MAX_POINTS * 10:
        raise AwardInvalid(str(_l("The threshold must be from 0 to 1,000,000 points.")), field="approval_threshold")
    session.execute(select(District.id).where(District.id == tenant_id).with_for_update())
    last = session.scalars(
        select(AwardSetting.version).where(AwardSetting.tenant_id == tenant_id).order_by(AwardSetting.version.desc())
    ).first()
    before = threshold(session, tenant_id)
    row = AwardSetting(
        tenant_id=tenant_id,
        version=(last or 0) + 1,
        approval_threshold=value,
        created_by_user_id=actor_user_id,
        reason=reason[:200],
    )
    session.add(row)
    session.flush()
    record(
        session,
        "points.award_threshold",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="award_setting",
        target_id=row.id,
        detail={"before": before, "after": value, "reason": reason[:200]},
    )
    return row


# --- proposing, approving, rejecting --------------------------------------------------------------------


@dataclass(frozen=True)
class AwardItem:
    member_id: int
    points: int


def propose(
    session: Session,
    tenant_id: int,
    items: Iterable[AwardItem],
    *,
    category: str,
    reason: str,
    actor_user_id: int,
    actor_member_id: int | None = None,
    now: datetime | None = None,
) -> Award:
    """Award points to one member or many (all or none). Posted at once when the total is at most the
    district's threshold; otherwise pending until another district administrator approves it. Nobody
    awards points to themselves (`actor_member_id` on a line: own_award), below the threshold or not."""
    now = now or utcnow()
    items = list(items)
    if actor_member_id is not None and any(i.member_id == actor_member_id for i in items):
        raise OwnAward(str(_l("You cannot award points to yourself; another district administrator must.")))
    reason = (reason or "").strip()
    problems: list[tuple[str, object]] = []
    if not items:
        problems.append(("members", _l("Choose at least one member.")))
    if len(items) > MAX_LINES:
        problems.append(("members", _l("At most 5,000 members in one award; split the list.")))
    if len({i.member_id for i in items}) != len(items):
        problems.append(("members", _l("A member appears twice; give each member one line.")))
    if any(not 1 <= i.points <= MAX_POINTS for i in items):
        problems.append(("points", _l("Points must be a whole number from 1 to 100,000.")))
    if category not in CATEGORIES:
        problems.append(("category", _l("Choose one of the listed categories.")))
    if not reason:
        problems.append(("reason", _l("Say why the points are awarded.")))
    if not problems and "names" in _hooks:
        known = member_names(session, tenant_id, [i.member_id for i in items])
        if any(i.member_id not in known for i in items):
            problems.append(("members", _l("A member in the award is not a member of this district.")))
    if problems:
        field, message = problems[0]
        raise AwardInvalid(
            str(message),
            field=field,
            details=[{"field": f, "code": "award_invalid", "message": str(m)} for f, m in problems],
        )
    limit = threshold(session, tenant_id)
    total = sum(i.points for i in items)
    # Split awards are weighed together: what the same members were awarded in the last 24 hours
    # (posted or waiting) counts toward the threshold, so three awards of 100 weigh as 300.
    recent = 0
    if total <= limit:
        recent = (
            session.scalar(
                select(func.coalesce(func.sum(AwardLine.points), 0))
                .join(Award, Award.id == AwardLine.award_id)
                .where(
                    AwardLine.tenant_id == tenant_id,
                    AwardLine.member_id.in_([i.member_id for i in items]),
                    AwardLine.status.in_(("posted", "pending")),
                    Award.proposed_at >= now - timedelta(days=1),
                )
            )
            or 0
        )
    pending = total + recent > limit
    award = Award(
        tenant_id=tenant_id,
        category=category,
        reason=reason[:200],
        status="pending" if pending else "posted",
        total=total,
        member_count=len(items),
        threshold=limit,
        proposer_user_id=actor_user_id,
        proposed_at=now,
    )
    session.add(award)
    session.flush()
    lines = [
        AwardLine(tenant_id=tenant_id, award_id=award.id, member_id=i.member_id, points=i.points, status="pending")
        for i in items
    ]
    session.add_all(lines)
    session.flush()
    record(
        session,
        "points.award_proposed",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="award",
        target_id=award.id,
        detail={"members": len(items), "total": total, "category": category, "threshold": limit, "pending": pending},
    )
    if not pending:
        _post(session, award, lines, now)
    return award


def _post(session: Session, award: Award, lines: list[AwardLine], now: datetime) -> None:
    tenant_id = award.tenant_id
    open_source(session, tenant_id, AWARD_SOURCE)
    open_wallets(session, tenant_id, [line.member_id for line in lines])
    specs = [
        JournalSpec(
            [Transfer(AWARD_SOURCE, wallet_code(line.member_id), line.points)],
            kind=KIND_AWARD,
            key=f"award:{line.id}",
            memo=award.reason[:200],
            meta={"award_id": award.id, "award_line_id": line.id, "category": award.category, "title": award.reason},
        )
        for line in lines
    ]
    posted = Ledger(session, tenant=tenant_id).post_many(specs)
    for line, journal in zip(lines, posted, strict=True):
        line.status, line.journal_id = "posted", journal.id
    award.status = "posted"
    session.flush()
    _tell(
        session,
        tenant_id,
        [
            (line.member_id, "points.awarded", {"points": line.points, "reason": award.reason}, "/me/points")
            for line in lines
        ],
    )


def _pending(session: Session, tenant_id: int, award_id: int) -> tuple[Award, list[AwardLine]]:
    award = session.scalars(
        select(Award).where(Award.id == award_id, Award.tenant_id == tenant_id).with_for_update()
    ).first()
    if award is None:
        raise NotFound(str(_l("No such award.")))
    if award.status != "pending":
        raise AwardDecided(str(_l("This award was already decided. Reload the page.")))
    lines = list(session.scalars(select(AwardLine).where(AwardLine.award_id == award.id).order_by(AwardLine.id)))
    return award, lines


def approve(
    session: Session,
    tenant_id: int,
    award_id: int,
    *,
    actor_user_id: int,
    actor_member_id: int | None = None,
    reason: str = "",
    now=None,
) -> Award:
    """A second district administrator approves a pending award: every line posts (all or none). Neither
    its proposer nor a member it awards (`actor_member_id`) may approve it."""
    now = now or utcnow()
    award, lines = _pending(session, tenant_id, award_id)
    if award.proposer_user_id == actor_user_id:
        raise OwnAward(str(_l("You proposed this award; another district administrator must approve it.")))
    if actor_member_id is not None and any(line.member_id == actor_member_id for line in lines):
        raise OwnAward(str(_l("This award includes you; another district administrator must approve it.")))
    award.approver_user_id, award.decided_at, award.decision_reason = actor_user_id, now, reason[:200] or None
    session.flush()
    _post(session, award, lines, now)
    record(
        session,
        "points.award_approved",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="award",
        target_id=award.id,
        detail={"members": award.member_count, "total": award.total, "reason": reason[:200]},
    )
    return award


def reject(session: Session, tenant_id: int, award_id: int, *, actor_user_id: int, reason: str, now=None) -> Award:
    """Another district administrator rejects a pending award, with a reason; nothing posts. The
    proposer may withdraw it the same way (the CHECK allows no approver equal to the proposer, so a
    withdrawal leaves approver empty)."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise AwardInvalid(str(_l("Say why the award is rejected.")), field="reason")
    award, lines = _pending(session, tenant_id, award_id)
    award.status, award.decided_at, award.decision_reason = "rejected", now, reason[:200]
    if award.proposer_user_id != actor_user_id:
        award.approver_user_id = actor_user_id
    for line in lines:
        line.status = "rejected"
    session.flush()
    record(
        session,
        "points.award_rejected",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="award",
        target_id=award.id,
        detail={"members": award.member_count, "total": award.total, "reason": reason[:200]},
    )
    return award


def awards(
    session: Session, tenant_id: int, status: str | None = None, limit: int = 50, offset: int = 0
) -> list[Award]:
    q = select(Award).where(Award.tenant_id == tenant_id)
    if status:
        q = q.where(Award.status == status)
    return list(session.scalars(q.order_by(Award.id.desc()).limit(limit).offset(offset)))


def get_award(session: Session, tenant_id: int, award_id: int) -> Award:
    award = session.scalars(select(Award).where(Award.id == award_id, Award.tenant_id == tenant_id)).first()
    if award is None:
        raise NotFound(str(_l("No such award.")))
    return award


def lines_of(session: Session, award_id: int) -> list[AwardLine]:
    return list(session.scalars(select(AwardLine).where(AwardLine.award_id == award_id).order_by(AwardLine.id)))


# --- corrections ------------------------------------------------------------------------------------------


def _reverse(session: Session, tenant_id: int, journal_id: int, key: str, member_id: int, memo: str) -> Journal:
    book = Ledger(session, tenant=tenant_id)
    try:
        with session.begin_nested():
            return book.reverse(journal_id, key=f"{key}:reverse", memo=memo[:200])
    except InsufficientBalance:
        held = book.balance(wallet_code(member_id)).available
        moved = sum(a for _d, c, a, _s in book.journal_transfers(journal_id) if c == wallet_code(member_id))
        raise CorrectionRefused(
            str(
                _l(
                    "The member's wallet no longer holds these points: %(points)s are to be taken back but "
                    "only %(held)s are available, %(short)s short. Nothing was changed.",
                    points=moved,
                    held=held,
                    short=moved - held,
                )
            )
        ) from None
    except AlreadyReversed:
        raise AwardDecided(str(_l("This was already reversed. Reload the page."))) from None


def reverse_award_line(session: Session, tenant_id: int, line_id: int, *, reason: str, actor_user_id: int) -> AwardLine:
    """Take back one posted award line (a correction): its journal is reversed; the member is told."""
    reason = (reason or "").strip()
    if not reason:
        raise AwardInvalid(str(_l("Say why the points are taken back.")), field="reason")
    line = session.scalars(
        select(AwardLine).where(AwardLine.id == line_id, AwardLine.tenant_id == tenant_id).with_for_update()
    ).first()
    if line is None:
        raise NotFound(str(_l("No such award line.")))
    if line.status != "posted" or line.journal_id is None:
        raise AwardDecided(str(_l("Only a posted award can be reversed.")))
    journal = _reverse(session, tenant_id, line.journal_id, f"award:{line.id}", line.member_id, reason)
    line.status, line.reversal_journal_id, line.reversal_reason = "reversed", journal.id, reason[:200]
    session.flush()
    record(
        session,
        "points.award_reversed",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="award_line",
        target_id=line.id,
        detail={"award_id": line.award_id, "points": line.points, "reason": reason[:200]},
    )
    _tell(session, tenant_id, [(line.member_id, "points.reversed", {"points": line.points, "reason": reason}, None)])
    return line


def reverse_hours(session: Session, tenant_id: int, attendance_id: int, *, reason: str, actor_user_id: int) -> int:
    """Take back the posted points of one attendance's hours (a correction of wrongly approved hours):
        the journals posted under `hours:<id>:post` / `hours:<id>:credit` are reversed. Returns the points
    taken back. The attendance itself keeps its review (history is append-only); its points page shows the
    reversal line."""
    reason = (reason or "").strip()
    if not reason:
        raise AwardInvalid(str(_l("Say why the points are taken back.")), field="reason")
    keys = [f"hours:{attendance_id}:post", f"hours:{attendance_id}:credit"]
    rows = session.execute(
        select(journals.c.id, journals.c.key).where(journals.c.tenant_id == tenant_id, journals.c.key.in_(keys))
    ).all()
    if not rows:
        raise AwardDecided(str(_l("No posted points for these hours: nothing to reverse.")))
    book = Ledger(session, tenant=tenant_id)
    wallet = next(c for r in rows for _d, c, _a, _s in book.journal_transfers(r.id) if c.startswith("member:"))
    member_id = int(wallet.split(":")[1])
    out = [_reverse(session, tenant_id, r.id, r.key, member_id, reason) for r in rows]
    points = sum(a for j in out for d, _c, a, _s in book.journal_transfers(j.id) if d == wallet)
    record(
        session,
        "points.hours_reversed",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="attendance",
        target_id=attendance_id,
        detail={"points": points, "reason": reason[:200]},
    )
    _tell(session, tenant_id, [(member_id, "points.reversed", {"points": points, "reason": reason}, None)])
    return points


def reversed_attendances(session: Session, tenant_id: int, attendance_ids: Iterable[int]) -> set[int]:
    """Which of these attendances had their posted points reversed (a correction): read from the
    ledger (a journal `hours:<id>:post` or `:credit` that a later journal reverses), so pages show a
    reversed attendance as reversed although its review stays as it was."""
    ids = list(dict.fromkeys(attendance_ids))
    out: set[int] = set()
    reversal = journals.alias("reversal")
    for i in range(0, len(ids), 500):
        keys = [f"hours:{a}:{part}" for a in ids[i : i + 500] for part in ("post", "credit")]
        for (key,) in session.execute(
            select(journals.c.key)
            .join(reversal, reversal.c.reverses_id == journals.c.id)
            .where(journals.c.tenant_id == tenant_id, journals.c.key.in_(keys))
        ):
            out.add(int(key.split(":")[1]))
    return out


@dataclass(frozen=True)
class PostedHours:
    attendance_id: int
    title: str
    minutes: int | None
    points: int
    time: datetime
    reversed: bool


def posted_hours(session: Session, tenant_id: int, member_id: int, limit: int = 50) -> list[PostedHours]:
    """A member's latest posted hours (what a correction can reverse), newest first, with whether each
    was already reversed."""
    wallet = wallet_code(member_id)
    book = Ledger(session, tenant=tenant_id)
    page = book.statement(wallet, limit=limit * 3)
    out: list[PostedHours] = []
    seen: set[int] = set()
    for line in page.lines:
        row = session.execute(
            select(journals.c.key, journals.c.meta, journals.c.resolves_id).where(journals.c.id == line.journal_id)
        ).first()
        if row is None or not row.key or not row.key.startswith("hours:") or line.amount <= 0:
            continue
        parts = row.key.split(":")
        if len(parts) != 3 or parts[2] not in ("post", "credit"):
            continue
        attendance_id = int(parts[1])
        if attendance_id in seen:
            continue
        seen.add(attendance_id)
        meta = row.meta or {}
        if row.resolves_id is not None:
            meta = session.scalar(select(journals.c.meta).where(journals.c.id == row.resolves_id)) or meta
        done = session.scalar(
            select(journals.c.id).where(journals.c.tenant_id == tenant_id, journals.c.key == f"{row.key}:reverse")
        )
        out.append(
            PostedHours(
                attendance_id, meta.get("title") or "", meta.get("minutes"), line.amount, line.time, done is not None
            )
        )
        if len(out) >= limit:
            break
    return out
