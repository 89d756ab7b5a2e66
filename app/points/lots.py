"""Expiry use cases: change the district's expiry setting (audited), keep the lots cache, run the
expiry, tell a member what expires soon, and check the cache against the ledger.

The cache (`points_lots`, `points_lot_marks`) is maintained lazily, not by every posting: a wallet is
stale when its ledger account has more entries than its mark says, and is then derived again from its
whole history (one index range read of `ledger_entries`). Readers never write the cache: a member's page
derives a stale wallet in memory. The expiry job first refreshes stale wallets, then expires due lots
with the wallets locked and derived again under the lock, so a posting that raced the refresh can never
make it expire the wrong amount. Keys `expiry:<member id>:<lot id>` make each lot expire once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import Table, and_, bindparam, case, delete, func, insert, null, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.audit.services import record
from app.db import unit_of_work, utcnow
from app.places.models import District
from app.times import to_beijing
from ledger import JournalSpec, Ledger, Transfer
from ledger.schema import accounts, entries, journals

from .accounts import POINTS, wallet_code
from .errors import RuleInvalid
from .expiry import (
    EXPIRED_ACCOUNT,
    KIND_EXPIRY,
    MODES,
    NOTICE_DAYS,
    OFF,
    Derived,
    ExpiryPolicy,
    LotMark,
    PointsLot,
    PolicyVersion,
    WalletRow,
    derive_lots,
    expiry_rule,
)
from .spending import KIND_REFUND

WALLET_PREFIX = "member:"
_LOTS: Table = PointsLot.__table__  # type: ignore[assignment]
_MARKS: Table = LotMark.__table__  # type: ignore[assignment]

# --- the setting ----------------------------------------------------------------------------------------


def policy_versions(session: Session, tenant_id: int) -> list[ExpiryPolicy]:
    """Every version of the district's expiry setting, newest first."""
    return list(
        session.scalars(
            select(ExpiryPolicy).where(ExpiryPolicy.tenant_id == tenant_id).order_by(ExpiryPolicy.version.desc())
        )
    )


def policy_in_force(session: Session, tenant_id: int, now: datetime) -> ExpiryPolicy | None:
    return session.scalars(
        select(ExpiryPolicy)
        .where(ExpiryPolicy.tenant_id == tenant_id, ExpiryPolicy.effective_from <= now)
        .order_by(ExpiryPolicy.effective_from.desc(), ExpiryPolicy.version.desc())
        .limit(1)
    ).first()


def _rule(session: Session, tenant_id: int) -> Callable[[datetime], date | None]:
    return expiry_rule(PolicyVersion(p.effective_from, p.mode, p.months) for p in policy_versions(session, tenant_id))


def change_expiry(
    session: Session,
    tenant_id: int,
    *,
    mode: str,
    months: int,
    reason: str = "",
    actor_user_id: int | None = None,
    now: datetime | None = None,
) -> ExpiryPolicy:
    """A new version of the district's expiry setting, in force from now for points earned from now on
    (points already earned keep the expiry they were given)."""
    now = now or utcnow()
    if mode not in MODES:
        raise RuleInvalid(str(_l("Choose when points expire.")), field="mode")
    if mode != OFF and not 1 <= months <= 120:
        raise RuleInvalid(str(_l("The number of months must be from 1 to 120.")), field="months")
    if mode == OFF:
        months = 0
    session.execute(select(District.id).where(District.id == tenant_id).with_for_update())
    last = session.scalars(
        select(ExpiryPolicy.version)
        .where(ExpiryPolicy.tenant_id == tenant_id)
        .order_by(ExpiryPolicy.version.desc())
        .limit(1)
    ).first()
    policy = ExpiryPolicy(
        tenant_id=tenant_id,
        version=(last or 0) + 1,
        effective_from=now,
        mode=mode,
        months=months,
        created_by_user_id=actor_user_id,
        created_at=now,
        reason=reason[:200],
    )
    session.add(policy)
    session.flush()
    record(
        session,
        "points.expiry_change",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="points_expiry_policy",
        target_id=policy.id,
        detail={"version": policy.version, "mode": mode, "months": months, "reason": reason[:200]},
    )
    return policy


# --- reading a wallet's history -------------------------------------------------------------------------


def _member_of(code: str) -> int:
    return int(code[len(WALLET_PREFIX) :])


def wallet_rows(session: Session, account_ids: list[int]) -> dict[int, list[WalletRow]]:
    """The posted history of the given wallet accounts, per account, one row per journal, in order."""
    out: dict[int, list[WalletRow]] = {a: [] for a in account_ids}
    if not account_ids:
        return out
    q = (
        select(
            entries.c.account_id,
            entries.c.seq,
            entries.c.journal_id,
            entries.c.posted_delta,
            entries.c.created_at,
            journals.c.effective_at,
            journals.c.kind,
            journals.c.reverses_id,
            # Only an expiry journal's meta (the lot it names) and a refund's (the redemption it gives
            # back) are needed: others' meta is not sent.
            case((journals.c.kind.in_((KIND_EXPIRY, KIND_REFUND)), journals.c.meta), else_=null()).label("meta"),
        )
        .join(journals, journals.c.id == entries.c.journal_id)
        .where(entries.c.account_id.in_(account_ids), entries.c.posted_delta != 0)
        .order_by(entries.c.account_id, entries.c.seq)
    )
    for r in session.execute(q):
        rows = out[r.account_id]
        if rows and rows[-1].journal_id == r.journal_id:  # two transfers of one journal: one change
            last = rows[-1]
            rows[-1] = WalletRow(
                last.journal_id, last.amount + r.posted_delta, last.time, last.kind, last.reverses_id, last.expires_lot
            )
            continue
        lot = (r.meta or {}).get("lot") if r.kind == KIND_EXPIRY and isinstance(r.meta, dict) else None
        reverses = r.reverses_id
        if reverses is None and r.kind == KIND_REFUND and isinstance(r.meta, dict):
            reverses = r.meta.get("refund_of")  # a (partial) refund gives back to the redemption's lots
        rows.append(WalletRow(r.journal_id, r.posted_delta, r.effective_at or r.created_at, r.kind, reverses, lot))
    return out


def derive_wallet(session: Session, tenant_id: int, member_id: int) -> Derived:
    """The member's lots, derived from the ledger now (the cache is not read)."""
    acct = session.execute(
        select(accounts.c.id).where(accounts.c.tenant_id == tenant_id, accounts.c.code == wallet_code(member_id))
    ).first()
    if acct is None:
        return Derived([])
    return derive_lots(wallet_rows(session, [acct.id])[acct.id], _rule(session, tenant_id))


def _write_cache(session: Session, tenant_id: int, derived: dict[int, tuple[int, int, Derived]]) -> None:
    """Replace the cached lots of the given members: {member id: (account id, entry count, derived)}."""
    if not derived:
        return
    ids = list(derived)
    session.execute(delete(PointsLot).where(PointsLot.tenant_id == tenant_id, PointsLot.member_id.in_(ids)))
    session.execute(delete(LotMark).where(LotMark.tenant_id == tenant_id, LotMark.member_id.in_(ids)))
    lot_rows = [
        {
            "tenant_id": tenant_id,
            "member_id": m,
            "lot_id": lot.lot_id,
            "earned_at": lot.earned_at,
            "expires_on": lot.expires_on,
            "amount": lot.amount,
            "remaining": lot.remaining,
            "expired": lot.expired,
        }
        for m, (_, _, d) in derived.items()
        for lot in d.lots
    ]
    # Core inserts (executemany), not the ORM's bulk path: a page writes thousands of rows.
    if lot_rows:
        session.execute(insert(_LOTS), lot_rows)
    session.execute(
        insert(_MARKS),
        [
            {"tenant_id": tenant_id, "member_id": m, "account_id": a, "entry_count": n}
            for m, (a, n, _) in derived.items()
        ],
    )


def _stale_page(session: Session, tenant_id: int, after: str, limit: int):
    """Wallets whose cache is missing or behind, in code order after `after`."""
    return session.execute(
        select(accounts.c.id, accounts.c.code, accounts.c.entry_count)
        .outerjoin(LotMark, and_(LotMark.account_id == accounts.c.id))
        .where(
            accounts.c.tenant_id == tenant_id,
            accounts.c.code > after,
            accounts.c.code < "member;",  # ';' follows ':': every code starting 'member:'
            accounts.c.code.like(WALLET_PREFIX + "%"),
            (LotMark.entry_count.is_(None)) | (LotMark.entry_count != accounts.c.entry_count),
        )
        .order_by(accounts.c.code)
        .limit(limit)
    ).all()


def refresh_page(session: Session, tenant_id: int, after: str = "", limit: int = 500) -> str | None:
    """Derive one page of stale wallets again and write their lots; returns the cursor for the next
    page, or None when there is none."""
    page = _stale_page(session, tenant_id, after, limit)
    if not page:
        return None
    rule = _rule(session, tenant_id)
    history = wallet_rows(session, [r.id for r in page])
    _write_cache(
        session,
        tenant_id,
        {_member_of(r.code): (r.id, r.entry_count, derive_lots(history[r.id], rule)) for r in page},
    )
    return page[-1].code if len(page) == limit else None


# --- the expiry run --------------------------------------------------------------------------------------


@dataclass
class ExpiryRun:
    refreshed_pages: int = 0
    members: int = 0
    lots: int = 0
    points: int = 0
    skipped: int = 0  # wallets whose pending spends leave too little to expire now; taken next run


def today_in_beijing(now: datetime) -> date:
    return to_beijing(now).date()


def _due_members(session: Session, tenant_id: int, today: date, after: int, limit: int) -> list[int]:
    return list(
        session.scalars(
            select(PointsLot.member_id)
            .where(
                PointsLot.tenant_id == tenant_id,
                PointsLot.remaining > 0,
                PointsLot.expires_on < today,
                PointsLot.member_id > after,
            )
            .group_by(PointsLot.member_id)
            .order_by(PointsLot.member_id)
            .limit(limit)
        )
    )


def expire_page(session: Session, tenant_id: int, member_ids: list[int], today: date, run: ExpiryRun) -> None:
    """Expire the due lots of these members in the caller's transaction: lock their wallets (in code
    order, with the `expired` account, as the ledger would); under the lock, a wallet whose cache mark
    equals its entry count is read from the cache, any other is derived again from its history (so a
    posting that raced the refresh is accounted for); post one expiry journal per due lot in one batch,
    and bring the cache up to date in the same transaction."""
    book = Ledger(session, tenant=tenant_id)
    book.open_accounts([EXPIRED_ACCOUNT], unit=POINTS, normal="credit", no_overdraft=False)
    codes = sorted([wallet_code(m) for m in member_ids] + [EXPIRED_ACCOUNT])
    locked = session.execute(
        select(
            accounts.c.id,
            accounts.c.code,
            accounts.c.entry_count,
            accounts.c.credits_posted,
            accounts.c.debits_posted,
            accounts.c.debits_pending,
        )
        .where(accounts.c.tenant_id == tenant_id, accounts.c.code.in_(codes))
        .order_by(accounts.c.code)
        .with_for_update()
    ).all()
    wallets = [r for r in locked if r.code != EXPIRED_ACCOUNT]
    marks = dict(
        session.execute(
            select(LotMark.member_id, LotMark.entry_count).where(
                LotMark.tenant_id == tenant_id, LotMark.member_id.in_([_member_of(w.code) for w in wallets])
            )
        ).all()
    )
    current = [w for w in wallets if marks.get(_member_of(w.code)) == w.entry_count]
    stale = [w for w in wallets if marks.get(_member_of(w.code)) != w.entry_count]
    # Due lots per member: (lot id, remaining, last day, cache row id or None when derived afresh).
    due_of: dict[int, list[tuple[int, int, date, int | None]]] = defaultdict(list)
    if current:
        for row in session.execute(
            select(PointsLot.id, PointsLot.member_id, PointsLot.lot_id, PointsLot.remaining, PointsLot.expires_on)
            .where(
                PointsLot.tenant_id == tenant_id,
                PointsLot.member_id.in_([_member_of(w.code) for w in current]),
                PointsLot.remaining > 0,
                PointsLot.expires_on < today,
            )
            .order_by(PointsLot.member_id, PointsLot.earned_at, PointsLot.lot_id)
        ):
            due_of[row.member_id].append((row.lot_id, row.remaining, row.expires_on, row.id))
    derived: dict[int, tuple[int, int, Derived]] = {}
    if stale:
        rule = _rule(session, tenant_id)
        history = wallet_rows(session, [w.id for w in stale])
        for w in stale:
            d = derive_lots(history[w.id], rule)
            derived[_member_of(w.code)] = (w.id, w.entry_count, d)
            for lot in d.lots:
                if lot.remaining > 0 and lot.expires_on is not None and lot.expires_on < today:
                    due_of[_member_of(w.code)].append((lot.lot_id, lot.remaining, lot.expires_on, None))
    specs: list[JournalSpec] = []
    spent_rows: list[dict] = []  # cache rows of current wallets to mark expired
    new_marks: list[dict] = []
    for w in wallets:
        member = _member_of(w.code)
        due = due_of.get(member, [])
        if not due:
            continue
        available = w.credits_posted - w.debits_posted - w.debits_pending
        if sum(remaining for _, remaining, _, _ in due) > available:
            run.skipped += 1
            continue
        for lot_id, remaining, on, row_id in due:
            specs.append(
                JournalSpec(
                    [Transfer(w.code, EXPIRED_ACCOUNT, remaining)],
                    kind=KIND_EXPIRY,
                    key=f"expiry:{member}:{lot_id}",
                    memo=f"积分到期 {on.isoformat()}",
                    meta={"lot": lot_id, "expires_on": on.isoformat()},
                )
            )
            run.points += remaining
            run.lots += 1
            if row_id is not None:
                spent_rows.append({"i": row_id, "n": remaining})
        run.members += 1
        if member in derived:
            account_id, count, d = derived[member]
            for lot in d.lots:
                if lot.remaining > 0 and lot.expires_on is not None and lot.expires_on < today:
                    lot.expired += lot.remaining
                    lot.remaining = 0
            derived[member] = (account_id, count + len(due), d)
        else:
            new_marks.append({"m": member, "n": w.entry_count + len(due)})
    if specs:
        book.post_many(specs)
    if spent_rows:
        session.execute(
            update(_LOTS)
            .where(_LOTS.c.id == bindparam("i"))
            .values(expired=_LOTS.c.expired + bindparam("n"), remaining=0),
            spent_rows,
        )
    if new_marks:
        session.execute(
            update(_MARKS)
            .where(_MARKS.c.tenant_id == tenant_id, _MARKS.c.member_id == bindparam("m"))
            .values(entry_count=bindparam("n")),
            new_marks,
        )
    _write_cache(session, tenant_id, derived)


def expire_due(factory: sessionmaker, tenant_id: int, now: datetime | None = None, page: int = 500) -> ExpiryRun:
    """The expiry run for one district, each page its own transaction (a run killed mid-way loses at
    most its open page; the next run starts again from the lots still open). Memory holds one page."""
    today = today_in_beijing(now or utcnow())
    run = ExpiryRun()
    after = ""
    while True:
        with unit_of_work(factory) as s:
            nxt = refresh_page(s, tenant_id, after, page)
        run.refreshed_pages += 1
        if nxt is None:
            break
        after = nxt
    last = 0
    while True:
        with unit_of_work(factory) as s:
            ids = _due_members(s, tenant_id, today, last, page)
            if ids:
                expire_page(s, tenant_id, ids, today, run)
        if len(ids) < page:
            return run
        last = ids[-1]


def expiry_tenants(session: Session) -> list[int]:
    """Districts that have ever switched expiry on (lots given an expiry keep it after it is off)."""
    return list(
        session.scalars(
            select(ExpiryPolicy.tenant_id).where(ExpiryPolicy.mode != OFF).distinct().order_by(ExpiryPolicy.tenant_id)
        )
    )


# --- what a member sees ----------------------------------------------------------------------------------


def expiring_soon(session: Session, tenant_id: int, member_id: int, now: datetime) -> list[tuple[int, date]]:
    """Points that expire within NOTICE_DAYS (Beijing days), as [(points, last day)], soonest first.
    Read from the cache when it is current, else derived in memory (never written by a reader)."""
    today = today_in_beijing(now)
    horizon = today + timedelta(days=NOTICE_DAYS)
    acct = session.execute(
        select(accounts.c.id, accounts.c.entry_count).where(
            accounts.c.tenant_id == tenant_id, accounts.c.code == wallet_code(member_id)
        )
    ).first()
    if acct is None:
        return []
    mark = session.scalar(
        select(LotMark.entry_count).where(LotMark.tenant_id == tenant_id, LotMark.member_id == member_id)
    )
    sums: dict[date, int] = defaultdict(int)
    if mark == acct.entry_count:
        for remaining, on in session.execute(
            select(PointsLot.remaining, PointsLot.expires_on).where(
                PointsLot.tenant_id == tenant_id,
                PointsLot.member_id == member_id,
                PointsLot.remaining > 0,
                PointsLot.expires_on >= today,
                PointsLot.expires_on <= horizon,
            )
        ):
            if on is not None:
                sums[on] += remaining
    else:
        for lot in derive_wallet(session, tenant_id, member_id).lots:
            if lot.remaining > 0 and lot.expires_on is not None and today <= lot.expires_on <= horizon:
                sums[lot.expires_on] += lot.remaining
    return [(p, d) for d, p in sorted(sums.items())]


# --- the check -------------------------------------------------------------------------------------------


def verify_lots(session: Session, tenant_id: int, page: int = 1000) -> list[str]:
    """Problems, in words: per wallet, the derived open lots must sum to its posted balance (and no
    debit may exceed the lots), and a current cache must equal the derived lots. Streams wallets in
    pages of `page`."""
    problems: list[str] = []
    rule = _rule(session, tenant_id)
    after = ""
    while True:
        page_rows = session.execute(
            select(
                accounts.c.id,
                accounts.c.code,
                accounts.c.entry_count,
                accounts.c.credits_posted,
                accounts.c.debits_posted,
            )
            .where(
                accounts.c.tenant_id == tenant_id,
                accounts.c.code > after,
                accounts.c.code < "member;",
                accounts.c.code.like(WALLET_PREFIX + "%"),
            )
            .order_by(accounts.c.code)
            .limit(page)
        ).all()
        if not page_rows:
            return problems
        history = wallet_rows(session, [r.id for r in page_rows])
        members = [_member_of(r.code) for r in page_rows]
        marks = dict(
            session.execute(
                select(LotMark.member_id, LotMark.entry_count).where(
                    LotMark.tenant_id == tenant_id, LotMark.member_id.in_(members)
                )
            ).all()
        )
        cached: dict[int, set] = defaultdict(set)
        for c in session.execute(
            select(
                PointsLot.member_id,
                PointsLot.lot_id,
                PointsLot.earned_at,
                PointsLot.expires_on,
                PointsLot.amount,
                PointsLot.remaining,
                PointsLot.expired,
            ).where(PointsLot.tenant_id == tenant_id, PointsLot.member_id.in_(members))
        ):
            cached[c.member_id].add((c.lot_id, c.earned_at, c.expires_on, c.amount, c.remaining, c.expired))
        for r, m in zip(page_rows, members, strict=True):
            d = derive_lots(history[r.id], rule)
            posted = r.credits_posted - r.debits_posted
            open_sum = sum(lot.remaining for lot in d.lots)
            if d.shortfall:
                problems.append(f"{r.code}: {d.shortfall} points left the wallet that no lot held")
            if open_sum != posted:
                problems.append(
                    f"{r.code}: open lots hold {open_sum} points but the wallet's posted balance is {posted}"
                )
            if marks.get(m) == r.entry_count:
                want = {
                    (lot.lot_id, lot.earned_at, lot.expires_on, lot.amount, lot.remaining, lot.expired)
                    for lot in d.lots
                }
                if want != cached.get(m, set()):
                    problems.append(f"{r.code}: the cached lots differ from the lots derived from the ledger")
            elif m in marks and marks[m] > r.entry_count:
                problems.append(f"{r.code}: the lots cache claims more history than the wallet has")
        after = page_rows[-1].code


def tenants_with_wallets(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(accounts.c.tenant_id)
            .where(accounts.c.code.like(WALLET_PREFIX + "%"))
            .distinct()
            .order_by(accounts.c.tenant_id)
        )
    )


def count_lots(session: Session, tenant_id: int) -> int:
    return session.scalar(select(func.count()).select_from(PointsLot).where(PointsLot.tenant_id == tenant_id)) or 0


def open_lots(session: Session, tenant_id: int, member_id: int) -> Iterable[PointsLot]:
    return session.scalars(
        select(PointsLot)
        .where(PointsLot.tenant_id == tenant_id, PointsLot.member_id == member_id)
        .order_by(PointsLot.earned_at, PointsLot.lot_id)
    )
