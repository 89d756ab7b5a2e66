"""verify(): re-derive balances from transfers and re-walk every account's hash chain.

It reads the whole tenant's history once, streaming, so its cost grows with the history; it is an
audit, not a hot path.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Connection

from .chain import GENESIS, entry_hash
from .schema import accounts, entries, journals, transfers

_LIMIT = 200  # problems reported before the report stops listing


def verify_book(conn: Connection, tenant: int) -> list[str]:
    problems: list[str] = []

    def say(msg: str) -> None:
        if len(problems) < _LIMIT:
            problems.append(msg)

    accts = {r.id: r for r in conn.execute(select(accounts).where(accounts.c.tenant_id == tenant))}

    # 1. Cached balances against the sum of transfers.
    posted = transfers.c.phase.in_(("posted", "post"))
    r = transfers.alias("res")
    unresolved = and_(
        transfers.c.phase == "pending", ~select(r.c.id).where(r.c.pending_transfer_id == transfers.c.id).exists()
    )
    sums: defaultdict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # dp, cp, dq, cq
    jt = select(journals.c.id).where(journals.c.tenant_id == tenant)
    for side, idx in (("debit", 0), ("credit", 1)):
        col = transfers.c[f"{side}_account_id"]
        q = (
            select(
                col,
                func.coalesce(func.sum(case((posted, transfers.c.amount), else_=0)), 0),
                func.coalesce(func.sum(case((unresolved, transfers.c.amount), else_=0)), 0),
            )
            .where(transfers.c.journal_id.in_(jt))
            .group_by(col)
        )
        for acct_id, p, q_ in conn.execute(q):
            sums[acct_id][idx] = int(p)
            sums[acct_id][idx + 2] = int(q_)
    for acct_id in set(sums) - set(accts):
        say(f"transfers name account id {acct_id}, which is not an account of this ledger")
    for acct_id, a in accts.items():
        dp, cp, dq, cq = sums.get(acct_id, [0, 0, 0, 0])
        cached = (a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending)
        if cached != (dp, cp, dq, cq):
            say(
                f"account {a.code}: cached totals (debits, credits, pending debits, pending credits) "
                f"{cached} differ from its transfers {(dp, cp, dq, cq)}"
            )
        if a.no_overdraft:
            room = (
                (a.credits_posted - a.debits_posted - a.debits_pending)
                if a.normal == "credit"
                else (a.debits_posted - a.credits_posted - a.credits_pending)
            )
            if room < 0:
                say(f"account {a.code} is marked no_overdraft but is overdrawn by {-room} {a.unit}")

    # 2. Debits equal credits per unit, from the transfers themselves.
    per_unit: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    for acct_id, a in accts.items():
        dp, cp, _, _ = sums.get(acct_id, [0, 0, 0, 0])
        per_unit[a.unit][0] += dp
        per_unit[a.unit][1] += cp
    for unit, (d, c) in sorted(per_unit.items()):
        if d != c:
            say(f"unit {unit}: posted debits {d} do not equal posted credits {c}")

    # 3. Every account's hash chain, with each entry checked against its transfer.
    orig = transfers.alias("orig")
    q = (
        select(
            entries,
            transfers.c.id.label("t_id"),
            transfers.c.debit_account_id,
            transfers.c.credit_account_id,
            transfers.c.unit,
            transfers.c.amount,
            transfers.c.phase,
            transfers.c.pending_transfer_id,
            orig.c.amount.label("orig_amount"),
        )
        .join(accounts, accounts.c.id == entries.c.account_id)
        .outerjoin(transfers, transfers.c.id == entries.c.transfer_id)
        .outerjoin(orig, orig.c.id == transfers.c.pending_transfer_id)
        .where(accounts.c.tenant_id == tenant)
        .order_by(entries.c.account_id, entries.c.seq)
        .execution_options(yield_per=5000)
    )
    seen_sides: dict[int, set[int]] = defaultdict(set)
    current, prev, expect_seq, balance = None, GENESIS, 1, 0

    def close_chain(acct_id, prev, count):
        a = accts[acct_id]
        if count != a.entry_count:
            say(f"account {a.code}: {count} entries found but its chain head counts {a.entry_count}")
        elif bytes(a.head_hash) != prev:
            say(f"account {a.code}: hash chain head does not match its entries (history was altered)")

    chained: set[int] = set()
    for e in conn.execute(q):
        if e.account_id != current:
            chained.add(e.account_id)
            if current is not None:
                close_chain(current, prev, expect_seq - 1)
            current, prev, expect_seq, balance = e.account_id, GENESIS, 1, 0
        a = accts[e.account_id]
        if e.seq != expect_seq:
            say(f"account {a.code}: entry {expect_seq} is missing (next found is {e.seq})")
            expect_seq = e.seq
        if e.t_id is None:
            say(f"account {a.code}: entry {e.seq} names transfer {e.transfer_id}, which does not exist")
        else:
            is_debit = e.account_id == e.debit_account_id
            if not is_debit and e.account_id != e.credit_account_id:
                say(f"account {a.code}: entry {e.seq} records transfer {e.t_id}, which does not touch it")
            seen_sides[e.t_id].add(0 if is_debit else 1)
            s = 1 if (a.normal == "debit") == is_debit else -1
            want_posted = s * e.amount if e.phase in ("posted", "post") else 0
            want_pending = {
                "pending": s * e.amount,
                "post": -s * (e.orig_amount or 0),
                "void": -s * (e.orig_amount or 0),
            }.get(e.phase, 0)
            if (e.posted_delta, e.pending_delta) != (want_posted, want_pending):
                say(f"account {a.code}: entry {e.seq} does not match transfer {e.t_id}'s amount")
            tr = dict(
                debit_account_id=e.debit_account_id,
                credit_account_id=e.credit_account_id,
                unit=e.unit,
                amount=e.amount,
                phase=e.phase,
                pending_transfer_id=e.pending_transfer_id,
            )
            if entry_hash(prev, e._mapping, tr) != bytes(e.hash):
                say(f"account {a.code}: entry {e.seq} (transfer {e.t_id}) fails its hash: history was altered")
        balance += e.posted_delta
        if balance != e.balance_after:
            say(f"account {a.code}: entry {e.seq} records balance {e.balance_after} but the running sum is {balance}")
            balance = e.balance_after
        prev = bytes(e.hash)
        expect_seq += 1
    if current is not None:
        close_chain(current, prev, expect_seq - 1)
    for acct_id, a in accts.items():
        if acct_id not in chained and a.entry_count:
            say(f"account {a.code}: its chain head counts {a.entry_count} entries but none were found")

    # 4. Every transfer of this tenant is recorded on both of its accounts' chains.
    for t in conn.execute(
        select(transfers.c.id, transfers.c.journal_id)
        .where(transfers.c.journal_id.in_(jt))
        .order_by(transfers.c.id)
        .execution_options(yield_per=5000)
    ):
        sides = seen_sides.get(t.id)
        if sides != {0, 1}:
            say(f"transfer {t.id} (journal {t.journal_id}) is not on both accounts' chains: it was inserted or altered")
    return problems
