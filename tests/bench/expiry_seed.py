"""History for the expiry bench, written straight into the ledger's tables (COPY on PostgreSQL, executemany
on SQLite) with every row exactly as `Ledger.post_many` would write it: the same journal, transfer and
entry columns, the request hash from the ledger's own digest and each entry's hash from
`ledger.chain.entry_hash` chained per account, and the accounts' totals, entry counts and chain heads
brought up to date — so `Ledger.verify()` is clean afterwards (the bench checks it). Posting 3.6 million
journals through the ledger API took about 100 minutes on the shared machine; this takes minutes.

The history is what the points area writes: per member, three years (2024-2026) of earnings — check-ins
(kind `checkin`, from the community's check-in source, meta as app/points/checkins.py) and manual awards
(kind `award`, from `source:award`) — a redemption at an outlet at the end of each year of about half the
wallet (kind `redemption`, meta as app/outlets/redemption.py), and for about one redemption in five a
partial refund a few days later (kind `redemption_refund`, meta `refund_of` = the redemption's journal),
so lots are partly spent and partly given back. Pending hours (hold then approve) are not written: a
posted hours journal reaches the wallet as one posted entry like these.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from app.points.accounts import POINTS, checkin_source_code, open_source, open_wallets, wallet_code
from app.points.labels import AWARD_SOURCE, KIND_AWARD, KIND_CHECKIN
from app.points.spending import KIND_REDEMPTION, KIND_REFUND, open_outlet_points, outlet_points_code
from ledger.book import _digest  # the ledger's request hash, so a retried key would compare equal
from ledger.chain import GENESIS, entry_hash
from ledger.schema import accounts, entries, journals, transfers

CHECKIN_SOURCE = checkin_source_code(1)
OUTLET = outlet_points_code(1)
_J_COLS = (
    "id",
    "tenant_id",
    "kind",
    "key",
    "memo",
    "pending",
    "expires_at",
    "effective_at",
    "meta",
    "resolves_id",
    "resolution",
    "reverses_id",
    "request_hash",
    "created_at",
)
_T_COLS = (
    "id",
    "journal_id",
    "debit_account_id",
    "credit_account_id",
    "unit",
    "amount",
    "phase",
    "pending_transfer_id",
)
_E_COLS = (
    "account_id",
    "seq",
    "transfer_id",
    "journal_id",
    "posted_delta",
    "pending_delta",
    "balance_after",
    "created_at",
    "hash",
)


class _Acct:
    __slots__ = ("id", "normal", "dp", "cp", "count", "head", "posted")

    def __init__(self, row):
        self.id, self.normal = row.id, row.normal
        self.dp, self.cp, self.count, self.head = (
            row.debits_posted,
            row.credits_posted,
            row.entry_count,
            bytes(row.head_hash),
        )
        self.posted = self.cp - self.dp if self.normal == "credit" else self.dp - self.cp


def member_history(m: int, rng: random.Random) -> Iterator[tuple]:
    """One member's journals in posting order: (kind, debit, credit, amount, key, memo, effective_at, meta,
    refund_of_index) where refund_of_index is the position of the refunded redemption in this list."""
    w = wallet_code(m)
    held = 0
    n = 0
    for k in range(9):
        year, month = 2024 + k // 3, 1 + (k % 3) * 4
        amount = rng.randint(1, 6) * 10
        held += amount
        when = datetime(year, month, rng.randint(1, 28), 3)
        if k % 3 == 1:
            yield (
                KIND_AWARD,
                AWARD_SOURCE,
                w,
                amount,
                f"award:{m}:{k}",
                "社区表彰",
                when,
                {"award_id": m * 10 + k, "category": "civic", "reason": "bench"},
                None,
            )
        else:
            yield (
                KIND_CHECKIN,
                CHECKIN_SOURCE,
                w,
                amount,
                f"checkin:{m}:{k}",
                "党员报到",
                when,
                {"checkin_id": m * 10 + k, "asked": amount, "cut": 0, "checkin_rule_id": 1, "checkin_rule_version": 1},
                None,
            )
        n += 1
        if k % 3 == 2:
            spend = held // 2
            if spend:
                held -= spend
                redemption = n
                yield (
                    KIND_REDEMPTION,
                    w,
                    OUTLET,
                    spend,
                    f"redeem:{m}:{k}",
                    "爱心超市",
                    datetime(year, 12, 20, 3),
                    {"outlet_id": 1, "title": "爱心超市", "lines": [[1, "大米 5kg", 1, spend]]},
                    None,
                )
                n += 1
                if rng.random() < 0.2 and spend >= 2:
                    back = rng.randint(1, spend // 2 or 1)
                    held += back
                    yield (
                        KIND_REFUND,
                        OUTLET,
                        w,
                        back,
                        f"outlet-refund:{m}:{k}",
                        "退货",
                        datetime(year, 12, 27, 3),
                        {"redemption_id": m * 10 + k, "lines": [[1, "大米 5kg", 1]]},
                        redemption,
                    )
                    n += 1


def _reserve(conn, is_pg: bool, table: str, n: int) -> int:
    """The first of n consecutive ids for `table` (the bench database has no other writer)."""
    if is_pg:
        last = conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" nextval(pg_get_serial_sequence('{table}', 'id')) + :n - 1)"
            ),
            {"n": n},
        ).scalar_one()
        return last - n + 1
    return (conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()) + 1


def _copy(raw, table: str, cols: tuple, rows: list[tuple]) -> None:
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        for r in rows:
            cp.write_row(r)


def seed_history(s: Session, tenant: int, members: int, rng: random.Random, chunk: int = 20_000) -> int:
    """Open the wallets and sources and write every member's history; commits per `chunk` members.
    Returns the number of journals written."""
    is_pg = s.get_bind().dialect.name == "postgresql"
    open_wallets(s, tenant, range(1, members + 1))
    open_source(s, tenant, CHECKIN_SOURCE)
    open_source(s, tenant, AWARD_SOURCE)
    open_outlet_points(s, tenant, 1)
    s.commit()
    hot = {
        r.code: _Acct(r)
        for r in s.execute(
            select(accounts).where(
                accounts.c.tenant_id == tenant, accounts.c.code.in_([CHECKIN_SOURCE, AWARD_SOURCE, OUTLET])
            )
        )
    }
    total = 0
    now = datetime.utcnow().replace(microsecond=0)  # noqa: DTZ003  (the ledger's naive UTC)
    for lo in range(1, members + 1, chunk):
        hi = min(members, lo + chunk - 1)
        wallets = {
            r.code: _Acct(r)
            for r in s.execute(
                select(accounts).where(
                    accounts.c.tenant_id == tenant, accounts.c.code.in_([wallet_code(m) for m in range(lo, hi + 1)])
                )
            )
        }
        plan = [(m, list(member_history(m, rng))) for m in range(lo, hi + 1)]
        n = sum(len(h) for _, h in plan)
        conn = s.connection()
        jid = _reserve(conn, is_pg, "ledger_journals", n)
        tid = _reserve(conn, is_pg, "ledger_transfers", n)
        jrows: list[tuple] = []
        trows: list[tuple] = []
        erows: list[tuple] = []
        for _, history in plan:
            ids: list[int] = []
            for kind, debit, credit, amount, key, memo, effective_at, meta, refund_of in history:
                if refund_of is not None:
                    meta = {**meta, "refund_of": ids[refund_of]}
                request = _digest(
                    {
                        "op": "post",
                        "kind": kind,
                        "memo": memo,
                        "pending": False,
                        "expires_at": None,
                        "effective_at": effective_at,
                        "meta": meta,
                        "t": [(debit, credit, amount)],
                    }
                )
                jrows.append(
                    (jid, tenant, kind, key, memo, False, None, effective_at, meta, None, None, None, request, now)
                )
                d = wallets.get(debit) or hot[debit]
                c = wallets.get(credit) or hot[credit]
                tr = dict(
                    id=tid,
                    journal_id=jid,
                    debit_account_id=d.id,
                    credit_account_id=c.id,
                    unit=POINTS,
                    amount=amount,
                    phase="posted",
                    pending_transfer_id=None,
                )
                trows.append((tid, jid, d.id, c.id, POINTS, amount, "posted", None))
                d.dp += amount
                c.cp += amount
                for a, is_debit in ((d, True), (c, False)):
                    delta = amount if (a.normal == "debit") == is_debit else -amount
                    a.posted += delta
                    a.count += 1
                    e = dict(
                        account_id=a.id,
                        seq=a.count,
                        transfer_id=tid,
                        journal_id=jid,
                        posted_delta=delta,
                        pending_delta=0,
                        balance_after=a.posted,
                        created_at=now,
                    )
                    a.head = entry_hash(a.head, e, tr)
                    erows.append((a.id, a.count, tid, jid, delta, 0, a.posted, now, a.head))
                ids.append(jid)
                jid += 1
                tid += 1
        touched = list(wallets.values()) + list(hot.values())
        if is_pg:
            raw = conn.connection.driver_connection
            # Foreign-key triggers off for this bulk load only (PostgreSQL's way of loading a dump): every
            # id written is one this function read or reserved, and verify() checks that each transfer's
            # accounts exist and each transfer is on both accounts' chains.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            _copy(raw, "ledger_journals", _J_COLS, [(*r[:8], json.dumps(r[8]), *r[9:]) for r in jrows])
            _copy(raw, "ledger_transfers", _T_COLS, trows)
            _copy(raw, "ledger_entries", _E_COLS, erows)
            conn.execute(
                text(
                    "UPDATE ledger_accounts a SET debits_posted = u.dp, credits_posted = u.cp, entry_count = u.n,"
                    " head_hash = u.h FROM unnest(CAST(:ids AS BIGINT[]), CAST(:dp AS BIGINT[]),"
                    " CAST(:cp AS BIGINT[]), CAST(:n AS BIGINT[]), CAST(:h AS BYTEA[])) AS u(id, dp, cp, n, h)"
                    " WHERE a.id = u.id"
                ),
                {
                    "ids": [a.id for a in touched],
                    "dp": [a.dp for a in touched],
                    "cp": [a.cp for a in touched],
                    "n": [a.count for a in touched],
                    "h": [a.head for a in touched],
                },
            )
        else:
            conn.execute(insert(journals), [dict(zip(_J_COLS, r, strict=True)) for r in jrows])
            conn.execute(insert(transfers), [dict(zip(_T_COLS, r, strict=True)) for r in trows])
            conn.execute(insert(entries), [dict(zip(_E_COLS, r, strict=True)) for r in erows])
            conn.execute(
                update(accounts)
                .where(accounts.c.id == bindparam("aid"))
                .values(
                    debits_posted=bindparam("dp"),
                    credits_posted=bindparam("cp"),
                    entry_count=bindparam("n"),
                    head_hash=bindparam("h"),
                ),
                [{"aid": a.id, "dp": a.dp, "cp": a.cp, "n": a.count, "h": a.head} for a in touched],
            )
        s.commit()
        total += n
    if is_pg:
        s.execute(text("ANALYZE ledger_accounts, ledger_journals, ledger_transfers, ledger_entries"))
        s.commit()
    return total


def journal_count(s: Session, tenant: int) -> int:
    return s.scalar(select(func.count()).select_from(journals).where(journals.c.tenant_id == tenant)) or 0


def sample_check(s: Session, tenant: int, wallets: int = 2_000, seed: int = 1) -> list[str]:
    """What `Ledger.verify()` checks, on a district too large to walk whole in the bench's time: every
    account's cached totals against the sum of its transfers and debits = credits (set-based, in the
    database), and the hash chain of `wallets` wallets picked at random plus the `expired` account's,
    re-walked entry by entry with `ledger.chain.entry_hash` as verify() does. [] is sound."""
    problems: list[str] = []
    mismatched = s.execute(
        text(
            """
            WITH t AS (
                SELECT tr.debit_account_id, tr.credit_account_id, tr.amount FROM ledger_transfers tr
                JOIN ledger_journals j ON j.id = tr.journal_id
                WHERE j.tenant_id = :t AND tr.phase IN ('posted', 'post')
            ), d AS (SELECT debit_account_id AS id, sum(amount) AS s FROM t GROUP BY 1),
               c AS (SELECT credit_account_id AS id, sum(amount) AS s FROM t GROUP BY 1)
            SELECT a.code FROM ledger_accounts a LEFT JOIN d ON d.id = a.id LEFT JOIN c ON c.id = a.id
            WHERE a.tenant_id = :t
              AND (a.debits_posted <> coalesce(d.s, 0) OR a.credits_posted <> coalesce(c.s, 0))
            LIMIT 20
            """
        ),
        {"t": tenant},
    ).scalars()
    problems += [f"account {code}: cached totals differ from its transfers" for code in mismatched]
    d, c = s.execute(
        select(func.sum(accounts.c.debits_posted), func.sum(accounts.c.credits_posted)).where(
            accounts.c.tenant_id == tenant
        )
    ).one()
    if d != c:
        problems.append(f"posted debits {d} do not equal posted credits {c}")
    ids = list(s.scalars(select(accounts.c.id).where(accounts.c.tenant_id == tenant, accounts.c.code.like("member:%"))))
    picked = random.Random(seed).sample(ids, min(wallets, len(ids)))
    picked += list(s.scalars(select(accounts.c.id).where(accounts.c.tenant_id == tenant, accounts.c.code == "expired")))
    for acct in s.execute(select(accounts).where(accounts.c.id.in_(picked))):
        prev, seq, balance = GENESIS, 0, 0
        for e in s.execute(
            select(
                entries,
                transfers.c.debit_account_id,
                transfers.c.credit_account_id,
                transfers.c.unit,
                transfers.c.amount,
                transfers.c.phase,
                transfers.c.pending_transfer_id,
            )
            .join(transfers, transfers.c.id == entries.c.transfer_id)
            .where(entries.c.account_id == acct.id)
            .order_by(entries.c.seq)
        ):
            seq += 1
            balance += e.posted_delta
            if e.seq != seq or e.balance_after != balance or entry_hash(prev, e._mapping, e._mapping) != bytes(e.hash):
                problems.append(f"account {acct.code}: entry {e.seq} fails its chain")
                break
            prev = bytes(e.hash)
        if seq != acct.entry_count or prev != bytes(acct.head_hash):
            problems.append(f"account {acct.code}: chain head does not match its {seq} entries")
    return problems
