"""Expiry use cases: change the district's expiry setting (audited), keep the lots cache, run the
expiry, tell a member what expires soon, and check the cache against the ledger.

The cache (`points_lots`, `points_lot_marks`) is maintained lazily, not by every posting: a wallet is
stale when its ledger account has more entries than its mark says, and is then derived again from its
whole history (one index range read of `ledger_entries`). Readers never write the cache: a member's page
derives a stale wallet in memory. The expiry job, window by window of member ids, first refreshes stale
wallets, then expires due lots with the wallets locked and derived again under the lock, so a posting
that raced the refresh can never make it expire the wrong amount. One expiry journal per member names
its lots; its key `expiry:<member id>:<first lot id>` makes each lot expire once.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, Table, and_, bindparam, case, cast, delete, func, insert, null, select, text, update
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
    cached_lot,
    derive_lots,
    expiry_rule,
)
from .spending import KIND_REFUND

WALLET_PREFIX = "member:"
# Members per transaction of the expiry run: a page's expiry journals go to the ledger in one post_many
# (about 1,300 at three years of history) and its wallets stay locked until it commits (about a second).
PAGE = 2000
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


# PostgreSQL: one index range read per wallet and one primary-key read per journal, whatever the planner
# believes. The plain join above, given a list of 500 accounts and statistics that lag behind (a large
# import, autovacuum off), was planned as a scan of the whole ledger per page.
_WALLET_ROWS_PG = """
    SELECT a.id AS account_id, e.journal_id, e.posted_delta, COALESCE(j.effective_at, e.created_at) AS at,
           j.kind, j.reverses_id, CASE WHEN j.kind IN (%(expiry)s, %(refund)s) THEN j.meta END AS meta
    FROM unnest(CAST(%(ids)s AS BIGINT[])) AS a(id)
    CROSS JOIN LATERAL (
        SELECT le.seq, le.journal_id, le.posted_delta, le.created_at FROM ledger_entries le
        WHERE le.account_id = a.id AND le.posted_delta <> 0 OFFSET 0
    ) AS e
    CROSS JOIN LATERAL (
        SELECT lj.effective_at, lj.kind, lj.reverses_id, lj.meta FROM ledger_journals lj
        WHERE lj.id = e.journal_id OFFSET 0
    ) AS j
    ORDER BY a.id, e.seq
    """


def wallet_rows(session: Session, account_ids: list[int]) -> dict[int, list[WalletRow]]:
    """The posted history of the given wallet accounts, per account, one row per journal, in order."""
    out: dict[int, list[WalletRow]] = {a: [] for a in account_ids}
    if not account_ids:
        return out
    q = (
        select(
            entries.c.account_id,
            entries.c.journal_id,
            entries.c.posted_delta,
            func.coalesce(journals.c.effective_at, entries.c.created_at).label("at"),  # when it counts
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
    if session.get_bind().dialect.name == "postgresql":
        # The driver's cursor on the session's connection (same transaction): its plain tuples, not
        # SQLAlchemy rows — a district's refresh reads millions of them.
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(
                _WALLET_ROWS_PG, {"ids": _pg_array(account_ids), "expiry": KIND_EXPIRY, "refund": KIND_REFUND}
            )
            result = cursor.fetchall()
        finally:
            cursor.close()
    else:
        result = session.execute(q).all()
    last_account, rows = None, []
    for account_id, journal_id, delta, at, kind, reverses, meta in result:
        if account_id != last_account:
            last_account, rows = account_id, out[account_id]
        if rows and rows[-1].journal_id == journal_id:  # two transfers of one journal: one change
            rows[-1] = rows[-1]._replace(amount=rows[-1].amount + delta)
            continue
        lot = None
        named: tuple[tuple[int, int], ...] = ()
        if meta is not None and isinstance(meta, dict):
            if kind == KIND_EXPIRY:
                lot = meta.get("lot")  # one journal per lot (before the third follow-up)
                named = tuple((x["lot"], x["points"]) for x in meta.get("lots", ()))  # one per member
            elif reverses is None and kind == KIND_REFUND:
                reverses = meta.get("refund_of")  # a (partial) refund gives back to the redemption's lots
        rows.append(WalletRow(journal_id, delta, at, kind, reverses, lot, named))
    return out


def derive_wallet(session: Session, tenant_id: int, member_id: int) -> Derived:
    """The member's lots, derived from the ledger now (the cache is not read)."""
    acct = session.execute(
        select(accounts.c.id).where(accounts.c.tenant_id == tenant_id, accounts.c.code == wallet_code(member_id))
    ).first()
    if acct is None:
        return Derived([])
    return derive_lots(wallet_rows(session, [acct.id])[acct.id], _rule(session, tenant_id))


_INSERT_LOTS_PG = text(
    """
    INSERT INTO points_lots (tenant_id, member_id, lot_id, earned_at, expires_on, amount, remaining, expired)
    SELECT :t, * FROM unnest(CAST(:m AS BIGINT[]), CAST(:l AS BIGINT[]), CAST(:e AS TIMESTAMP[]),
                             CAST(:x AS DATE[]), CAST(:a AS BIGINT[]), CAST(:r AS BIGINT[]), CAST(:d AS BIGINT[]))
    """
)
_INSERT_MARKS_PG = text(
    """
    INSERT INTO points_lot_marks (tenant_id, member_id, account_id, entry_count)
    SELECT :t, * FROM unnest(CAST(:m AS BIGINT[]), CAST(:a AS BIGINT[]), CAST(:n AS BIGINT[]))
    """
)

_LOTS_EXIST_PG = text(
    """
    SELECT u.m FROM unnest(CAST(:m AS BIGINT[])) AS u(m)
    CROSS JOIN LATERAL (SELECT 1 FROM points_lots p WHERE p.tenant_id = :t AND p.member_id = u.m LIMIT 1) AS l
    """
)


def _pg_array(values: Iterable[int]) -> str:
    """A PostgreSQL array literal of integers, sent as one text parameter and cast in the statement: the
    driver's per-element array adaptation cost more than the insert itself on a district-wide refresh."""
    return "{" + ",".join(map(str, values)) + "}"


def _pg_array_iso(values: Iterable[date | datetime | None]) -> str:
    """The same for dates or times (ISO form needs no quoting in an array literal)."""
    return "{" + ",".join("NULL" if v is None else v.isoformat() for v in values) + "}"


def _no_jit(session: Session) -> None:
    """PostgreSQL: no JIT compilation in this transaction. The run's statements read one page each but
    are planned from row estimates of the whole district, above jit_above_cost: each paid tens of
    milliseconds compiling expressions it then ran over a few thousand rows."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def _write_cache(
    session: Session,
    tenant_id: int,
    derived: dict[int, tuple[int, int, Derived]],
    uncached: Iterable[int] = (),
) -> None:
    """Replace the cached lots of the given members: {member id: (account id, entry count, derived)}.
    `uncached`: members of `derived` known (read in this transaction) to have no mark, hence no cached
    lots — nothing to delete for them (a district's first run writes every wallet's lots this way).

    The old rows go one member at a time (an equality on the whole (tenant, member) index prefix, sent
    as one pipelined batch): a single `member_id IN (…)` over a page that is not a contiguous id range
    lets the planner, whose statistics lag behind a table the run itself fills, scan every lot of the
    district per page — the cost that grew faster than the number of members."""
    if not derived:
        return
    is_pg = session.get_bind().dialect.name == "postgresql"
    skip = set(uncached) if is_pg else set()
    if skip:
        # A wallet without a mark has no lots unless the marks were dropped to rebuild the cache: one
        # probe per member (a lateral index read, whatever the statistics say) finds those.
        skip -= set(session.scalars(_LOTS_EXIST_PG, {"t": tenant_id, "m": _pg_array(skip)}))
    ids = [{"t": tenant_id, "m": m} for m in derived if m not in skip]
    if ids:
        session.execute(
            delete(_LOTS).where(_LOTS.c.tenant_id == bindparam("t"), _LOTS.c.member_id == bindparam("m")), ids
        )
        session.execute(
            delete(_MARKS).where(_MARKS.c.tenant_id == bindparam("t"), _MARKS.c.member_id == bindparam("m")), ids
        )
    if is_pg:
        # Core statements over arrays, not the ORM's bulk path: a page writes thousands of rows.
        pairs = [(m, lot) for m, (_, _, d) in derived.items() for lot in d.lots if cached_lot(lot)]
        if pairs:
            session.execute(
                _INSERT_LOTS_PG,
                {
                    "t": tenant_id,
                    "m": _pg_array(m for m, _ in pairs),
                    "l": _pg_array(lot.lot_id for _, lot in pairs),
                    "e": _pg_array_iso(lot.earned_at for _, lot in pairs),
                    "x": _pg_array_iso(lot.expires_on for _, lot in pairs),
                    "a": _pg_array(lot.amount for _, lot in pairs),
                    "r": _pg_array(lot.remaining for _, lot in pairs),
                    "d": _pg_array(lot.expired for _, lot in pairs),
                },
            )
        session.execute(
            _INSERT_MARKS_PG,
            {
                "t": tenant_id,
                "m": _pg_array(derived),
                "a": _pg_array(a for a, _, _ in derived.values()),
                "n": _pg_array(n for _, n, _ in derived.values()),
            },
        )
        return
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
        if cached_lot(lot)
    ]
    if lot_rows:
        session.execute(insert(_LOTS), lot_rows)
    session.execute(
        insert(_MARKS),
        [
            {"tenant_id": tenant_id, "member_id": m, "account_id": a, "entry_count": n}
            for m, (a, n, _) in derived.items()
        ],
    )


def _stale_page(session: Session, tenant_id: int, after: str, limit: int, before: str = "member;", first: bool = False):
    """Wallets whose cache is missing or behind, in code order after `after` (from it when `first`) and
    before `before`."""
    return session.execute(
        select(accounts.c.id, accounts.c.code, accounts.c.entry_count, LotMark.entry_count.label("mark"))
        .outerjoin(LotMark, and_(LotMark.account_id == accounts.c.id))
        .where(
            accounts.c.tenant_id == tenant_id,
            accounts.c.code >= after if first else accounts.c.code > after,
            accounts.c.code < before,  # 'member;' (';' follows ':'): every code starting 'member:'
            accounts.c.code.like(WALLET_PREFIX + "%"),
            (LotMark.entry_count.is_(None)) | (LotMark.entry_count != accounts.c.entry_count),
        )
        .order_by(accounts.c.code)
        .limit(limit)
    ).all()


def refresh_page(
    session: Session, tenant_id: int, after: str = "", limit: int = 500, before: str = "member;", first: bool = False
) -> str | None:
    """Derive one page of stale wallets again and write their lots; returns the cursor for the next
    page, or None when there is none (codes from `after`, exclusive unless `first`, to `before`)."""
    page = _stale_page(session, tenant_id, after, limit, before, first)
    if not page:
        return None
    _refresh_wallets(session, tenant_id, page)
    return page[-1].code if len(page) == limit else None


def _refresh_wallets(session: Session, tenant_id: int, stale) -> None:
    """Derive these stale wallets (rows of id, code, entry_count, mark) again and write their lots."""
    rule = _rule(session, tenant_id)
    history = wallet_rows(session, [r.id for r in stale])
    _write_cache(
        session,
        tenant_id,
        {_member_of(r.code): (r.id, r.entry_count, derive_lots(history[r.id], rule)) for r in stale},
        uncached=[_member_of(r.code) for r in stale if r.mark is None],
    )


# PostgreSQL: one primary-key probe of the accounts and one of the marks per code of the window,
# whatever the planner believes (see _WALLET_ROWS_PG).
_STALE_WINDOW_PG = text(
    """
    SELECT a.id, a.code, a.entry_count, m.entry_count AS mark
    FROM unnest(CAST(:codes AS TEXT[])) AS c(code)
    CROSS JOIN LATERAL (
        SELECT la.id, la.code, la.entry_count FROM ledger_accounts la
        WHERE la.tenant_id = :t AND la.code = c.code OFFSET 0
    ) AS a
    LEFT JOIN LATERAL (
        SELECT pm.entry_count FROM points_lot_marks pm WHERE pm.account_id = a.id OFFSET 0
    ) AS m ON true
    WHERE m.entry_count IS NULL OR m.entry_count <> a.entry_count
    ORDER BY a.code
    """
)


def refresh_window(session: Session, tenant_id: int, lo: int, hi: int) -> int:
    """Derive again the stale wallets of members lo…hi and write their lots; returns how many."""
    codes = sorted(wallet_code(m) for m in range(lo, hi + 1))
    if session.get_bind().dialect.name == "postgresql":
        stale = session.execute(_STALE_WINDOW_PG, {"t": tenant_id, "codes": "{" + ",".join(codes) + "}"}).all()
    else:
        stale = session.execute(
            select(accounts.c.id, accounts.c.code, accounts.c.entry_count, LotMark.entry_count.label("mark"))
            .outerjoin(LotMark, LotMark.account_id == accounts.c.id)
            .where(
                accounts.c.tenant_id == tenant_id,
                accounts.c.code.in_(codes),
                (LotMark.entry_count.is_(None)) | (LotMark.entry_count != accounts.c.entry_count),
            )
            .order_by(accounts.c.code)
        ).all()
    if stale:
        _refresh_wallets(session, tenant_id, stale)
    return len(stale)


# Wallet codes split by the first digit of the member id, so that refresh workers take disjoint ranges
# (`member:1` … `member:19999` is one range: ids starting with 1).
_CODE_RANGES = [
    (WALLET_PREFIX, WALLET_PREFIX + "1"),
    *((f"{WALLET_PREFIX}{d}", f"{WALLET_PREFIX}{d + 1}") for d in range(1, 9)),
    (WALLET_PREFIX + "9", "member;"),
]


def refresh_all(factory: sessionmaker, tenant_id: int, page: int = PAGE, workers: int = 1) -> int:
    """Bring every stale wallet's lots up to date, one page per transaction; returns the pages written.

    With `workers` > 1 (PostgreSQL), that many threads, each with its own session, take disjoint code
    ranges: while one derives lots in Python, another's statements run in the database. Wallets are
    read and their cache rows written, never locked (the expiry step locks and checks marks again), so
    the ranges never wait for each other."""
    ranges = list(_CODE_RANGES)
    lock = threading.Lock()
    pages = 0

    def work() -> None:
        nonlocal pages
        while True:
            with lock:
                if not ranges:
                    return
                lo, hi = ranges.pop(0)
            after, first = lo, True
            while True:
                with unit_of_work(factory) as s:
                    _no_jit(s)
                    nxt = refresh_page(s, tenant_id, after, page, before=hi, first=first)
                with lock:
                    pages += 1
                if nxt is None:
                    break
                after, first = nxt, False

    def guarded() -> None:
        try:
            work()
        except BaseException:
            with lock:
                ranges.clear()  # the others finish their page and stop; the error is raised below
            raise

    if workers <= 1:
        work()
        return pages
    with ThreadPoolExecutor(workers) as pool:
        for f in [pool.submit(guarded) for _ in range(workers)]:
            f.result()
    return pages


# --- the expiry run --------------------------------------------------------------------------------------


@dataclass
class ExpiryRun:
    refreshed_pages: int = 0  # windows in which some wallet was stale and derived again
    members: int = 0
    lots: int = 0
    points: int = 0
    skipped: int = 0  # wallets whose pending spends leave too little to expire now; taken next run
    refresh_seconds: float = 0.0  # time in the first step (stale wallets derived and cached), over the workers
    expire_seconds: float = 0.0  # time in the second step (due lots expired), over the workers


def today_in_beijing(now: datetime) -> date:
    return to_beijing(now).date()


def _member_span(session: Session, tenant_id: int) -> tuple[int, int] | None:
    """The lowest and highest member id with a wallet in the district (one read of its wallet codes; a
    wallet opened after it has no lot due this run)."""
    member = cast(func.substr(accounts.c.code, len(WALLET_PREFIX) + 1), BigInteger)
    lo, hi = session.execute(
        select(func.min(member), func.max(member)).where(
            accounts.c.tenant_id == tenant_id, accounts.c.code > WALLET_PREFIX, accounts.c.code < "member;"
        )
    ).one()
    return None if lo is None else (int(lo), int(hi))


def _due_members(session: Session, tenant_id: int, today: date, lo: int, hi: int) -> list[int]:
    """Members with id in [lo, hi] that hold an open lot whose last day is before `today`: a range read
    of the partial index on open lots, bounded by the window whatever the planner believes (a query
    “after the cursor” read every open lot past it on each page)."""
    return list(
        session.scalars(
            select(PointsLot.member_id)
            .where(
                PointsLot.tenant_id == tenant_id,
                PointsLot.remaining > 0,
                PointsLot.member_id >= lo,
                PointsLot.member_id <= hi,
                PointsLot.expires_on < today,
            )
            .group_by(PointsLot.member_id)
            .order_by(PointsLot.member_id)
        )
    )


def expiry_journal(code: str, member: int, due: list[tuple[int, int, date]]) -> JournalSpec:
    """The member's expiry journal for its due lots [(lot id, points, last day)], in lot order: one
    transfer of their sum to the `expired` account, the lots and points of each named in the meta
    (what `derive_lots` reads). One journal per member, not per lot: a first run over three years of
    history expires 1.5 lots per member, and every journal costs a row of each kind and an entry on
    the `expired` account's hash chain, which serialises the posting.

    Key `expiry:<member id>:<first lot id>`: a lot expires in one journal only (its remaining is zero
    once that commits, and a refund into it forms a new lot), so the first lot names the journal; a
    journal of one lot has the key the per-lot journals had."""
    days = sorted({on for _, _, on in due})
    return JournalSpec(
        [Transfer(code, EXPIRED_ACCOUNT, sum(points for _, points, _ in due))],
        kind=KIND_EXPIRY,
        key=f"expiry:{member}:{due[0][0]}",
        memo="积分到期 " + ", ".join(d.isoformat() for d in days),
        meta={"lots": [{"lot": lot_id, "points": points, "expires_on": on.isoformat()} for lot_id, points, on in due]},
    )


def expire_page(session: Session, tenant_id: int, member_ids: list[int], today: date, run: ExpiryRun) -> None:
    """Expire the due lots of these members in the caller's transaction: lock their wallets (in code
    order, after the `expired` account, as the ledger would); under the lock, a wallet whose cache mark
    equals its entry count is read from the cache, any other is derived again from its history (so a
    posting that raced the refresh is accounted for); post one expiry journal per member (all its due
    lots, `expiry_journal`) in one batch, and bring the cache up to date in the same transaction, with
    set-based statements.

    Every read of the page is bounded by the page's member-id range (and its code range) as well as
    its list, so the database reads the page's rows however stale its statistics are."""
    if not member_ids:
        return
    lo, hi = min(member_ids), max(member_ids)
    book = Ledger(session, tenant=tenant_id)
    book.open_accounts([EXPIRED_ACCOUNT], unit=POINTS, normal="credit", no_overdraft=False)
    # 'expired' sorts before every 'member:' code: locking it first keeps the ledger's code order.
    session.execute(
        select(accounts.c.id)
        .where(accounts.c.tenant_id == tenant_id, accounts.c.code == EXPIRED_ACCOUNT)
        .with_for_update()
    )
    codes = sorted(wallet_code(m) for m in member_ids)
    wallets = session.execute(
        select(
            accounts.c.id,
            accounts.c.code,
            accounts.c.entry_count,
            accounts.c.credits_posted,
            accounts.c.debits_posted,
            accounts.c.debits_pending,
        )
        .where(
            accounts.c.tenant_id == tenant_id,
            accounts.c.code >= codes[0],
            accounts.c.code <= codes[-1],
            accounts.c.code.in_(codes),
        )
        .order_by(accounts.c.code)
        .with_for_update()
    ).all()
    in_page = (
        LotMark.tenant_id == tenant_id,
        LotMark.member_id >= lo,
        LotMark.member_id <= hi,
        LotMark.member_id.in_([_member_of(w.code) for w in wallets]),
    )
    marks = dict(session.execute(select(LotMark.member_id, LotMark.entry_count).where(*in_page)).all())
    current = [w for w in wallets if marks.get(_member_of(w.code)) == w.entry_count]
    stale = [w for w in wallets if marks.get(_member_of(w.code)) != w.entry_count]

    def due_lots_of(members: list[int]):
        return (
            _LOTS.c.tenant_id == tenant_id,
            _LOTS.c.member_id >= lo,
            _LOTS.c.member_id <= hi,
            _LOTS.c.member_id.in_(members),
            _LOTS.c.remaining > 0,
            _LOTS.c.expires_on < today,
        )

    # Due lots per member: (lot id, remaining, last day).
    due_of: dict[int, list[tuple[int, int, date]]] = defaultdict(list)
    if current:
        for row in session.execute(
            select(_LOTS.c.member_id, _LOTS.c.lot_id, _LOTS.c.remaining, _LOTS.c.expires_on)
            .where(*due_lots_of([_member_of(w.code) for w in current]))
            .order_by(_LOTS.c.member_id, _LOTS.c.earned_at, _LOTS.c.lot_id)
        ):
            due_of[row.member_id].append((row.lot_id, row.remaining, row.expires_on))
    derived: dict[int, tuple[int, int, Derived]] = {}
    if stale:
        rule = _rule(session, tenant_id)
        history = wallet_rows(session, [w.id for w in stale])
        for w in stale:
            d = derive_lots(history[w.id], rule)
            derived[_member_of(w.code)] = (w.id, w.entry_count, d)
            for lot in d.lots:
                if lot.remaining > 0 and lot.expires_on is not None and lot.expires_on < today:
                    due_of[_member_of(w.code)].append((lot.lot_id, lot.remaining, lot.expires_on))
    specs: list[JournalSpec] = []
    expired_current: list[int] = []  # current wallets whose due cache rows are now expired
    for w in wallets:
        member = _member_of(w.code)
        due = due_of.get(member, [])
        if not due:
            continue
        available = w.credits_posted - w.debits_posted - w.debits_pending
        if sum(remaining for _, remaining, _ in due) > available:
            run.skipped += 1
            continue
        specs.append(expiry_journal(w.code, member, due))
        run.points += sum(remaining for _, remaining, _ in due)
        run.lots += len(due)
        run.members += 1
        if member in derived:
            account_id, count, d = derived[member]
            for lot in d.lots:
                if lot.remaining > 0 and lot.expires_on is not None and lot.expires_on < today:
                    lot.expired += lot.remaining
                    lot.remaining = 0
            derived[member] = (account_id, count + 1, d)  # the journal's one entry on the wallet
        else:
            expired_current.append(member)
    if specs:
        book.post_many(specs)
    if expired_current:
        # The wallets are locked and their cache was read under the lock: exactly the rows read above.
        session.execute(
            update(_LOTS)
            .where(*due_lots_of(expired_current))
            .values(expired=_LOTS.c.expired + _LOTS.c.remaining, remaining=0)
        )
        # The mark is the wallet's entry count now (its expiry journal added one entry).
        session.execute(
            update(_MARKS)
            .where(
                _MARKS.c.tenant_id == tenant_id,
                _MARKS.c.member_id >= lo,
                _MARKS.c.member_id <= hi,
                _MARKS.c.member_id.in_(expired_current),
            )
            .values(
                entry_count=select(accounts.c.entry_count).where(accounts.c.id == _MARKS.c.account_id).scalar_subquery()
            )
        )
    _write_cache(session, tenant_id, derived, uncached=[m for m in derived if m not in marks])


EXPIRY_WORKERS = 2  # PostgreSQL: threads taking windows at once (see expire_due)


def expire_due(
    factory: sessionmaker, tenant_id: int, now: datetime | None = None, page: int = PAGE, workers: int | None = None
) -> ExpiryRun:
    """The expiry run for one district, over windows of `page` consecutive member ids from the lowest
    to the highest wallet (`_member_span`). Each window is two transactions: refresh its stale wallets'
    lots (`refresh_window`: reads the ledger, writes the window's cache rows, locks nothing), then
    expire its due lots (`expire_page`: locks the `expired` account and the window's wallets, checks
    the marks again under the lock). A run killed mid-way loses at most its open transactions; the next
    run starts again from the lots still open. Memory holds a window per worker.

    On PostgreSQL `workers` threads (each its own session) take windows from one counter, so one
    window's expiry (serialised by the `expired` account's lock: one thread posts at a time) runs while
    another window is refreshed — the refresh needs no lock and touches other members' rows, so the
    two steps overlap instead of following each other. `refresh_seconds` and `expire_seconds` are the
    time spent in each step, summed over the workers."""
    today = today_in_beijing(now or utcnow())
    run = ExpiryRun()
    with unit_of_work(factory) as s:
        if workers is None:
            workers = EXPIRY_WORKERS if s.get_bind().dialect.name == "postgresql" else 1
        span = _member_span(s, tenant_id)
        # Opened here, once: two workers' first pages opening it at once would both insert it.
        Ledger(s, tenant=tenant_id).open_accounts([EXPIRED_ACCOUNT], unit=POINTS, normal="credit", no_overdraft=False)
    if span is None:
        return run
    windows = iter(range(span[0], span[1] + 1, page))
    lock = threading.Lock()
    stop = False

    def work() -> None:
        while True:
            with lock:
                lo = None if stop else next(windows, None)
            if lo is None:
                return
            hi = lo + page - 1
            started = time.perf_counter()
            with unit_of_work(factory) as s:
                _no_jit(s)
                refreshed = refresh_window(s, tenant_id, lo, hi)
            middle = time.perf_counter()
            part = ExpiryRun()
            with unit_of_work(factory) as s:
                _no_jit(s)
                ids = _due_members(s, tenant_id, today, lo, hi)
                if ids:
                    expire_page(s, tenant_id, ids, today, part)
            with lock:  # counted once committed
                run.refreshed_pages += 1 if refreshed else 0
                run.members += part.members
                run.lots += part.lots
                run.points += part.points
                run.skipped += part.skipped
                run.refresh_seconds += middle - started
                run.expire_seconds += time.perf_counter() - middle

    def guarded() -> None:
        nonlocal stop
        try:
            work()
        except BaseException:
            with lock:
                stop = True  # the others finish their window and stop; the error is raised below
            raise

    if workers <= 1:
        work()
        return run
    with ThreadPoolExecutor(workers) as pool:
        for f in [pool.submit(guarded) for _ in range(workers)]:
            f.result()
    return run


def expiry_tenants(session: Session) -> list[int]:
    """Districts that have ever switched expiry on (lots given an expiry keep it after it is off)."""
    return list(
        session.scalars(
            select(ExpiryPolicy.tenant_id).where(ExpiryPolicy.mode != OFF).distinct().order_by(ExpiryPolicy.tenant_id)
        )
    )


# --- what a member sees ----------------------------------------------------------------------------------


def expiring_soon(session: Session, tenant_id: int, member_id: int, now: datetime) -> list[tuple[int, date]]:
    """Points that expire within NOTICE_DAYS (Beijing days), as [(points, last day)], soonest first."""
    return expiring_within(session, tenant_id, member_id, now, NOTICE_DAYS)


def expiring_within(
    session: Session, tenant_id: int, member_id: int, now: datetime, days: int
) -> list[tuple[int, date]]:
    """A member's points that expire within `days` Beijing days (their expiry forecast), as [(points,
    last day)], soonest first. Read from the cache when it is current, else derived in memory (never
    written by a reader)."""
    today = today_in_beijing(now)
    horizon = today + timedelta(days=days)
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


# --- the district's forecast ----------------------------------------------------------------------------


@dataclass
class ForecastMonth:
    month: str  # '2027-03' (Beijing)
    points: int
    members: int


@dataclass
class Forecast:
    months: list[ForecastMonth]
    wallets_behind: int  # wallets changed since the cache was last refreshed (counted as of then)


def expiry_forecast(session: Session, tenant_id: int, now: datetime, months: int = 12) -> Forecast:
    """Open points of the district by the month of their last day, from this Beijing month for
    `months` months (every month listed, zero included). Read from the lots cache (one range read of
    the open lots, grouped in the database); the expiry job refreshes it daily, and
    `wallets_behind` says how many wallets have changed since (their lots are counted as of their
    last refresh). Points already past their last day but not yet expired by a run are in this month."""
    today = today_in_beijing(now)
    first = today.replace(day=1)
    keys = []
    y, m = first.year, first.month
    for _ in range(months):
        keys.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    end = date(y, m, 1)  # the first day after the window
    if session.get_bind().dialect.name == "postgresql":
        month_of = func.to_char(PointsLot.expires_on, "YYYY-MM")
    else:
        month_of = func.strftime("%Y-%m", PointsLot.expires_on)
    # Past last days (not yet expired by a run) count in this month.
    month = case((PointsLot.expires_on < first, keys[0]), else_=month_of).label("month")
    rows = session.execute(
        select(month, func.sum(PointsLot.remaining), func.count(PointsLot.member_id.distinct()))
        .where(
            PointsLot.tenant_id == tenant_id,
            PointsLot.remaining > 0,
            PointsLot.expires_on.is_not(None),
            PointsLot.expires_on < end,
        )
        .group_by(month)
    ).all()
    points = {r[0]: int(r[1] or 0) for r in rows}
    members = {r[0]: int(r[2] or 0) for r in rows}
    behind = (
        session.scalar(
            select(func.count())
            .select_from(accounts)
            .outerjoin(LotMark, LotMark.account_id == accounts.c.id)
            .where(
                accounts.c.tenant_id == tenant_id,
                accounts.c.code > WALLET_PREFIX,
                accounts.c.code < "member;",
                (LotMark.entry_count.is_(None)) | (LotMark.entry_count != accounts.c.entry_count),
            )
        )
        or 0
    )
    return Forecast([ForecastMonth(k, points.get(k, 0), members.get(k, 0)) for k in keys], behind)


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
                    if cached_lot(lot)
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
