"""The statements of a redemption at the counter (app/outlets/redemption.py), built once per process:
building a statement with SQLAlchemy's expression language costs more CPU than running it, and a
redemption is the busiest write of a Saturday morning (docs/outlets.md, "Benchmark").

Parameters (bound per call): `tenant`; `member_id` and `wallet` (a QR token names the member) or `code`
(a short code); `outlet_id`, `ids` (the cart's item ids), `key`, `digest` (the QR token's SHA-256,
NULL for a short code), `code_id` (the short code's row, NULL for a token), `now`, and `since_day` …
`since_year` (the start of the Beijing calendar periods containing `now`).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Select,
    SQLColumnExpression,
    String,
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    null,
    select,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import aliased

from app.db import FixedStatement
from app.people.member_codes import CONSUME_PG
from app.people.models import Member, MemberCode
from app.points.accounts import wallet_code_sql
from ledger import NEXT_JOURNAL_ID_PG
from ledger.schema import accounts

from .labels import LIMIT_PERIODS
from .models import Item, ItemPrice, OutletItem, Redemption, RedemptionLine

_TENANT = bindparam("tenant", type_=BigInteger)
_SEEN = accounts.alias("wallet_seen")


# The member's columns (attribute key, column), for the Core form of the turn: `m_<key>` in its rows.
MEMBER_COLUMNS = [(p.key, p.columns[0]) for p in sa_inspect(Member).column_attrs]


def _turn(by_code: bool, core: bool = False) -> Select:
    """The member (by token: `member_id`; by short code: `code`) joined to their wallet, which is locked
    (FOR UPDATE OF the wallet): Member (core: its columns as `m_<key>`), have (the wallet's available
    points), code_id, expires_at, used_at, wallet_n (how many entries the wallet has, read under the
    lock)."""
    have = (accounts.c.credits_posted - accounts.c.debits_posted - accounts.c.debits_pending).label("have")
    member = [c.label(f"m_{k}") for k, c in MEMBER_COLUMNS] if core else [Member]
    if by_code:
        q = (
            select(*member, have, MemberCode.id.label("code_id"), MemberCode.expires_at, MemberCode.used_at)
            .join_from(MemberCode, Member, Member.id == MemberCode.member_id)
            .join(accounts, accounts.c.code == wallet_code_sql(Member.id))
            .where(MemberCode.tenant_id == _TENANT, MemberCode.code == bindparam("code", type_=String))
        )
    else:
        q = (
            select(*member, have, null().label("code_id"), null().label("expires_at"), null().label("used_at"))
            .join_from(Member, accounts, accounts.c.code == bindparam("wallet", type_=String))
            .where(Member.id == bindparam("member_id", type_=BigInteger))
        )
    return q.add_columns(accounts.c.entry_count.label("wallet_n")).where(accounts.c.tenant_id == _TENANT)


def _used() -> tuple[ColumnElement, ColumnElement]:
    """Whether the cart key or the QR token already paid for a redemption (its id, or NULL)."""
    key_used = (
        select(Redemption.id)
        .where(Redemption.tenant_id == _TENANT, Redemption.key == bindparam("key", type_=String))
        .scalar_subquery()
        .label("key_used")
    )
    token_used = (
        select(Redemption.id)
        .where(Redemption.tenant_id == _TENANT, Redemption.token_digest == bindparam("digest", type_=String))
        .scalar_subquery()
        .label("token_used")
    )
    return key_used, token_used


def _lines(q: Select, member_id: SQLColumnExpression[int], from_items: bool = False, size: int = 0) -> Select:
    """`q` with one row per cart item of the district (`ids`, expanded by SQLAlchemy per execution; with
    `size`: the parameters ids_0 … ids_<size-1>, for a statement compiled once per cart size): whether
    `outlet_id` offers it now, its price version at `now`, and how many the member had since the start
    of its limit period (across the district, less refunds; 0 for an item without a limit).
    `from_items`: q has no FROM of its own."""
    in_cart = (
        Item.id.in_([bindparam(f"ids_{i}", type_=BigInteger) for i in range(size)])
        if size
        else Item.id.in_(bindparam("ids", expanding=True))
    )
    cart = and_(in_cart, Item.tenant_id == _TENANT)
    q = q.select_from(Item).where(cart) if from_items else q.join(Item, cart)
    since = case(
        *((Item.limit_period == p, bindparam(f"since_{p}", type_=DateTime)) for p in LIMIT_PERIODS), else_=null()
    )
    had = (
        select(func.coalesce(func.sum(RedemptionLine.qty - RedemptionLine.refunded_qty), 0))
        .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
        .where(
            Redemption.tenant_id == _TENANT,
            Redemption.member_id == member_id,
            RedemptionLine.item_id == Item.id,
            Redemption.created_at >= since,
        )
        .correlate_except(Redemption, RedemptionLine)
        .scalar_subquery()
    )
    version = aliased(ItemPrice)
    price_now = (
        select(version.id)
        .where(version.item_id == Item.id, version.effective_from <= bindparam("now", type_=DateTime))
        .order_by(version.effective_from.desc(), version.version.desc())
        .limit(1)
        .correlate(Item)
        .scalar_subquery()
    )
    return (
        q.add_columns(
            Item.id.label("item_id"),
            and_(OutletItem.available.is_(True), Item.active.is_(True)).label("offered"),
            Item.name.label("item_name"),
            Item.kind,
            Item.limit_qty,
            Item.limit_period,
            ItemPrice.id.label("price_id"),
            ItemPrice.points,
            case((Item.limit_qty.is_(None), literal(0)), else_=had).label("had"),
        )
        .join(
            OutletItem,
            and_(OutletItem.item_id == Item.id, OutletItem.outlet_id == bindparam("outlet_id", type_=BigInteger)),
        )
        .outerjoin(ItemPrice, ItemPrice.id == price_now)
    )


def _turn_and_checks(by_code: bool, size: int = 0) -> Select:
    """The member's turn and every check in one statement, one row per cart item offered here (none:
    ask again with TURN_BY_*). `wallet_seen_n` is the wallet's entry count in the statement's snapshot:
    equal to `wallet_n` (read under the lock) when nothing of the member's committed between the two,
    so the checks read in that snapshot are the ones the lock would show."""
    seen = select(_SEEN.c.entry_count).where(_SEEN.c.id == accounts.c.id).scalar_subquery().label("wallet_seen_n")
    q = _turn(by_code, core=size > 0).add_columns(seen, *_used())
    return _lines(q, Member.id, size=size).with_for_update(of=accounts)


TURN_BY_TOKEN = _turn(by_code=False).with_for_update(of=accounts)
TURN_BY_CODE = _turn(by_code=True).with_for_update(of=accounts)
TURN_AND_CHECKS_BY_TOKEN = _turn_and_checks(by_code=False)
TURN_AND_CHECKS_BY_CODE = _turn_and_checks(by_code=True)


def turn_and_checks_pg(by_code: bool, size: int) -> FixedStatement:
    """PostgreSQL, the request's path: TURN_AND_CHECKS_BY_* in Core on the DBAPI cursor
    (app/db.FixedStatement), for a cart of `size` items (parameters ids_0 …), the member's columns as
    m_<key> (redemption._turn_and_checks builds the Member). Built once per process and cart size. The
    ORM's execution of this statement cost about as much CPU again as psycopg's (docs/outlets.md, "CPU
    per redemption, fourth pass"). The cart stays a list of parameters, as SQLAlchemy expands it: with
    one array parameter (`= ANY(…)`) PostgreSQL planned the statement afresh at every execution (a custom
    plan, 0.9 ms of the backend's CPU) instead of keeping the generic one."""
    found = _TURN_AND_CHECKS_PG.get((by_code, size))
    if found is None:
        found = _TURN_AND_CHECKS_PG[(by_code, size)] = FixedStatement(_turn_and_checks(by_code, size))
    return found


_TURN_AND_CHECKS_PG: dict[tuple[bool, int], FixedStatement] = {}

# The checks alone (after TURN_BY_*, or when the member's wallet moved while we waited for it): a new
# statement, so it sees what the member's previous redemption committed. USED is its first columns
# alone, for a cart with nothing offered here.
_CODE_USED = (
    select(MemberCode.used_at)
    .where(MemberCode.id == bindparam("code_id", type_=BigInteger))
    .scalar_subquery()
    .label("used_at")
)
USED = select(*_used(), _CODE_USED)
CHECKS = _lines(USED, bindparam("member_id", type_=BigInteger), from_items=True)

_REDEMPTIONS = cast(Table, Redemption.__table__)
_LINES = cast(Table, RedemptionLine.__table__)
INSERT_REDEMPTION = insert(_REDEMPTIONS).returning(_REDEMPTIONS.c.id)
INSERT_LINES = insert(_LINES).returning(_LINES.c.id, sort_by_parameter_order=True)

# PostgreSQL: the short code marked used (its rows changed: codes_used), the redemption and its lines,
# in one statement (app/people/member_codes.CONSUME_PG is the code's part). The lines come back as
# (line_ids, item_ids), in the same order. `journal_id` NULL: the statement takes the journal's id from
# the ledger's sequence (ledger.NEXT_JOURNAL_ID_PG) and returns it, and the journal is posted after it
# with that id (redemption.redeem: the records first, so the outlet's rows are locked only for the
# journal's write and the commit).
RECORD_PG = f"""
WITH code AS ({CONSUME_PG}),
r AS (
    INSERT INTO outlet_redemptions (tenant_id, outlet_id, member_id, staff_user_id, key, token_digest,
        member_code_id, total_points, journal_id, request_hash, created_at)
    VALUES (%(tenant_id)s, %(outlet_id)s, %(member_id)s, %(staff_user_id)s, %(key)s, %(token_digest)s,
        %(member_code_id)s, %(total_points)s, COALESCE(%(journal_id)s::bigint, {NEXT_JOURNAL_ID_PG}),
        %(request_hash)s, %(created_at)s)
    RETURNING id, journal_id
),
l AS (
    INSERT INTO outlet_redemption_lines (redemption_id, item_id, price_id, item_name, unit_points, qty, refunded_qty)
    SELECT r.id, x.item_id, x.price_id, x.item_name, x.unit_points, x.qty, 0
    FROM r, unnest(%(item_ids)s::bigint[], %(price_ids)s::bigint[], %(item_names)s::varchar[],
        %(unit_points)s::int[], %(qtys)s::int[]) AS x(item_id, price_id, item_name, unit_points, qty)
    RETURNING id, item_id
)
SELECT r.id, r.journal_id, (SELECT count(*) FROM code) AS codes_used,
    ARRAY(SELECT l.id FROM l ORDER BY l.item_id) AS line_ids,
    ARRAY(SELECT l.item_id FROM l ORDER BY l.item_id) AS item_ids
FROM r
"""

RECORD_PG_ROW = FixedStatement(RECORD_PG, ("id", "journal_id", "codes_used", "line_ids", "item_ids"))

# PostgreSQL: undo RECORD_PG within the transaction that wrote it, when the journal posted after it is
# refused (a shelf ran out while the records were written): the rows were never committed nor seen by
# anyone else, and the request fails as if they had never been written.
UNRECORD_PG = """
WITH l AS (DELETE FROM outlet_redemption_lines WHERE redemption_id = %(id)s),
r AS (DELETE FROM outlet_redemptions WHERE id = %(id)s),
c AS (UPDATE member_codes SET used_at = NULL WHERE id = %(code_id)s)
SELECT 1
"""
