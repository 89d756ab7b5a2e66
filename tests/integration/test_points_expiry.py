"""The expiry job on a real database: run twice it expires each lot once; SIGKILLed mid-run and run
again, each lot still expires exactly once; members see what expires within 30 days; the check finds a
tampered lots cache."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from app.db import unit_of_work
from app.places import services as places
from app.points import lots
from app.points.accounts import open_wallets, wallet_code
from app.points.expiry import EXPIRED_ACCOUNT, KIND_EXPIRY, MONTH_END, LotMark, PointsLot
from config import ROOT
from ledger import JournalSpec, Ledger, Transfer
from ledger.schema import journals
from tests.integration.test_ledger_crash import wait_for_line

pytestmark = pytest.mark.commits  # the job commits page by page; a child process reads what it commits

CHILD = Path(__file__).with_name("expiry_child.py")
_codes = itertools.count(1)
RUN_AT = datetime(2026, 12, 1, 2)  # 10:00 Beijing, 1 December 2026


def seed(factory, members: int, two_due: bool = False) -> int:
    """A district with 12-month-to-month-end expiry since 2024, and per member: 30 points earned in
    January 2025, 50 in June 2025, 40 spent in July 2025 (all of January's lot, 10 of June's), 20 earned
    in February 2026. On 1 December 2026 June's 40 are due (last day 30 June 2026); February's 20 are not.
    `two_due`: nothing spent, so January's 30 and June's 50 are both due (one journal per member)."""
    with unit_of_work(factory) as s:
        tenant = places.create_district(s, code=f"EXP{next(_codes)}-{id(factory) % 100000}", name="到期测试区").id
        lots.change_expiry(s, tenant, mode=MONTH_END, months=12, reason="test", now=datetime(2024, 1, 1))
        open_wallets(s, tenant, range(1, members + 1))
        book = Ledger(s, tenant=tenant)
        book.open_accounts(["source:test", "outlet:1"], unit="PT", normal="debit", no_overdraft=False)
        specs = []
        for m in range(1, members + 1):
            w = wallet_code(m)
            for n, (amount, when, debit, credit) in enumerate(
                [
                    (30, datetime(2025, 1, 10, 4), "source:test", w),
                    (50, datetime(2025, 6, 10, 4), "source:test", w),
                    (40, datetime(2025, 7, 1, 4), w, "outlet:1"),
                    (20, datetime(2026, 2, 10, 4), "source:test", w),
                ]
            ):
                if two_due and debit == w:
                    continue
                specs.append(
                    JournalSpec([Transfer(debit, credit, amount)], kind="test", key=f"seed:{m}:{n}", effective_at=when)
                )
        book.post_many(specs)
    return tenant


def expiry_journals(factory, tenant: int) -> list[str]:
    with unit_of_work(factory) as s:
        return list(
            s.scalars(select(journals.c.key).where(journals.c.tenant_id == tenant, journals.c.kind == KIND_EXPIRY))
        )


def balances(factory, tenant: int, members: int) -> tuple[list[int], int]:
    with unit_of_work(factory) as s:
        book = Ledger(s, tenant=tenant)
        return [book.balance(wallet_code(m)).posted for m in range(1, members + 1)], book.balance(
            EXPIRED_ACCOUNT
        ).posted


def test_the_job_run_twice_expires_each_lot_once(app):
    factory = app.extensions["db_sessionmaker"]
    tenant = seed(factory, 12)
    first = lots.expire_due(factory, tenant, RUN_AT, page=5)
    assert (first.members, first.lots, first.points) == (12, 12, 12 * 40)
    second = lots.expire_due(factory, tenant, RUN_AT, page=5)
    assert (second.members, second.lots, second.points) == (0, 0, 0)
    keys = expiry_journals(factory, tenant)
    assert len(keys) == len(set(keys)) == 12
    wallets, expired = balances(factory, tenant, 12)
    assert wallets == [20] * 12 and expired == 12 * 40
    with unit_of_work(factory) as s:
        assert lots.verify_lots(s, tenant) == []
        assert Ledger(s, tenant=tenant).verify() == []


def test_one_expiry_journal_per_member_names_its_lots_and_the_lots_rederive(app):
    factory = app.extensions["db_sessionmaker"]
    tenant = seed(factory, 3, two_due=True)
    run = lots.expire_due(factory, tenant, RUN_AT, page=2)
    assert (run.members, run.lots, run.points) == (3, 6, 3 * 80)
    assert lots.expire_due(factory, tenant, RUN_AT, page=2).lots == 0  # run twice: nothing more
    with unit_of_work(factory) as s:
        found = s.execute(
            select(journals.c.id, journals.c.key, journals.c.meta)
            .where(journals.c.tenant_id == tenant, journals.c.kind == KIND_EXPIRY)
            .order_by(journals.c.key)
        ).all()
        earned = dict(
            s.execute(
                select(journals.c.key, journals.c.id).where(
                    journals.c.tenant_id == tenant, journals.c.key.in_(["seed:1:0", "seed:1:1"])
                )
            ).all()
        )
        january, june = earned["seed:1:0"], earned["seed:1:1"]
        assert [j.key for j in found] == [
            f"expiry:{m}:{lot}" for m, lot in [(1, january), (2, january + 3), (3, january + 6)]
        ]
        assert found[0].meta == {
            "lots": [
                {"lot": january, "points": 30, "expires_on": "2026-01-31"},
                {"lot": june, "points": 50, "expires_on": "2026-06-30"},
            ]
        }
        transfers = Ledger(s, tenant=tenant).journal_transfers(found[0].id)
        assert [(d, c, a) for d, c, a, _ in transfers] == [(wallet_code(1), EXPIRED_ACCOUNT, 80)]
        cached = {
            (c.member_id, c.lot_id, c.remaining, c.expired)
            for c in s.scalars(select(PointsLot).where(PointsLot.tenant_id == tenant))
        }
        assert lots.verify_lots(s, tenant) == []
        assert Ledger(s, tenant=tenant).verify() == []
        s.execute(delete(LotMark).where(LotMark.tenant_id == tenant))  # rebuild the cache from the ledger
    assert lots.expire_due(factory, tenant, RUN_AT).lots == 0
    with unit_of_work(factory) as s:
        again = {
            (c.member_id, c.lot_id, c.remaining, c.expired)
            for c in s.scalars(select(PointsLot).where(PointsLot.tenant_id == tenant))
        }
    assert again == cached and (1, january, 0, 30) in cached and (1, june, 0, 50) in cached


def test_lots_expired_by_the_old_per_lot_journals_stay_expired(app):
    """A ledger written before the per-member journals (one journal per lot, meta {lot, expires_on}):
    its lots derive as expired, and the run expires only what they left."""
    factory = app.extensions["db_sessionmaker"]
    tenant = seed(factory, 2, two_due=True)
    with unit_of_work(factory) as s:
        january = s.scalar(select(journals.c.id).where(journals.c.tenant_id == tenant, journals.c.key == "seed:1:0"))
        book = Ledger(s, tenant=tenant)
        book.open_accounts([EXPIRED_ACCOUNT], unit="PT", normal="credit", no_overdraft=False)
        book.post(
            [Transfer(wallet_code(1), EXPIRED_ACCOUNT, 30)],
            kind=KIND_EXPIRY,
            key=f"expiry:1:{january}",
            memo="积分到期 2026-01-31",
            meta={"lot": january, "expires_on": "2026-01-31"},
        )
    run = lots.expire_due(factory, tenant, RUN_AT)
    assert (run.members, run.lots, run.points) == (2, 3, 50 + 80)  # member 1: June's only
    assert balances(factory, tenant, 2) == ([20, 20], 160)
    with unit_of_work(factory) as s:
        assert lots.verify_lots(s, tenant) == []
        expired = dict(
            s.execute(
                select(PointsLot.lot_id, PointsLot.expired).where(
                    PointsLot.tenant_id == tenant, PointsLot.member_id == 1
                )
            ).all()
        )
    assert expired[january] == 30 and sorted(expired.values()) == [0, 30, 50]


def test_members_see_what_expires_within_30_days(app):
    factory = app.extensions["db_sessionmaker"]
    tenant = seed(factory, 2)
    with unit_of_work(factory) as s:
        # Before any run the cache is empty: the lots are derived on the spot.
        assert lots.expiring_soon(s, tenant, 1, datetime(2026, 5, 30)) == []
        assert lots.expiring_soon(s, tenant, 1, datetime(2026, 6, 5)) == [(40, date(2026, 6, 30))]
    lots.expire_due(factory, tenant, datetime(2026, 6, 5), page=5)  # refreshes the cache, expires nothing yet
    with unit_of_work(factory) as s:
        assert lots.expiring_soon(s, tenant, 2, datetime(2026, 6, 5)) == [(40, date(2026, 6, 30))]
        assert lots.expiring_soon(s, tenant, 2, datetime(2027, 2, 1)) == [(20, date(2027, 2, 28))]
    lots.expire_due(factory, tenant, datetime(2026, 7, 1), page=5)
    with unit_of_work(factory) as s:
        assert lots.expiring_soon(s, tenant, 2, datetime(2026, 6, 30, 12)) == []  # already gone
        assert lots.verify_lots(s, tenant) == []


def test_a_refund_after_expiry_expires_on_the_next_run(app):
    factory = app.extensions["db_sessionmaker"]
    tenant = seed(factory, 1)
    with unit_of_work(factory) as s:
        spend = s.scalar(select(journals.c.id).where(journals.c.tenant_id == tenant, journals.c.key == "seed:1:2"))
    lots.expire_due(factory, tenant, RUN_AT)
    with unit_of_work(factory) as s:
        Ledger(s, tenant=tenant).reverse(spend, key="refund:1")  # 40 back: 30 to January's lot, 10 to June's
    run = lots.expire_due(factory, tenant, RUN_AT)
    # January's lot never expired before, so it takes its 30 back and expires now; June's lot has
    # expired already, so its 10 form a new lot with June's day, also due now.
    assert (run.lots, run.points) == (2, 40)
    assert balances(factory, tenant, 1) == ([20], 80)
    with unit_of_work(factory) as s:
        assert lots.verify_lots(s, tenant) == []


def test_verify_lots_finds_a_tampered_cache(app):
    factory = app.extensions["db_sessionmaker"]
    tenant = seed(factory, 3)
    lots.expire_due(factory, tenant, RUN_AT)
    with unit_of_work(factory) as s:
        assert lots.verify_lots(s, tenant) == []
        s.execute(
            update(PointsLot)
            .where(PointsLot.tenant_id == tenant, PointsLot.member_id == 2, PointsLot.remaining > 0)
            .values(remaining=PointsLot.remaining + 5)
        )
    with unit_of_work(factory) as s:
        problems = lots.verify_lots(s, tenant)
    assert problems == ["member:2: the cached lots differ from the lots derived from the ledger"]
    out = app.test_cli_runner().invoke(args=["points", "verify-lots", "--tenant", str(tenant)])
    assert out.exit_code == 1 and "member:2: the cached lots differ" in out.output
    # The next run derives the stale-looking wallet again only if its history grew; a rebuild from the
    # ledger (marks dropped) repairs the cache.
    with unit_of_work(factory) as s:
        s.execute(delete(LotMark).where(LotMark.tenant_id == tenant))
    lots.expire_due(factory, tenant, RUN_AT)
    out = app.test_cli_runner().invoke(args=["points", "verify-lots", "--tenant", str(tenant)])
    assert out.exit_code == 0, out.output


def run_child(url: str, tenant: int, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(CHILD), url, str(tenant), RUN_AT.isoformat(), "5", mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


@pytest.mark.slow
@pytest.mark.parametrize("two_due", [False, True], ids=["one lot due", "two lots due per member"])
def test_killed_mid_run_and_run_again_expires_each_lot_exactly_once(app, db_url, two_due):
    factory = app.extensions["db_sessionmaker"]
    members = 40
    tenant = seed(factory, members, two_due)
    proc = run_child(db_url, tenant, "stall")
    try:
        assert wait_for_line(proc) == "WRITING"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.stdout.close()
        proc.stderr.close()
    # Two pages of five members committed; the third was written but never committed.
    assert len(expiry_journals(factory, tenant)) == 10
    proc = run_child(db_url, tenant, "finish")
    try:
        assert wait_for_line(proc) == f"DONE {30 * (2 if two_due else 1)}"
        assert proc.wait(timeout=60) == 0
    finally:
        proc.stdout.close()
        proc.stderr.close()
    keys = expiry_journals(factory, tenant)
    assert sorted(keys) == sorted({k for k in keys})
    assert len(keys) == members  # one journal per member, whatever it expires
    wallets, expired = balances(factory, tenant, members)
    assert wallets == [20] * members and expired == (80 if two_due else 40) * members
    with unit_of_work(factory) as s:
        assert lots.verify_lots(s, tenant) == []
        n = s.scalar(select(func.count()).select_from(PointsLot).where(PointsLot.tenant_id == tenant))
        spent = s.scalar(
            select(func.count())
            .select_from(PointsLot)
            .where(PointsLot.tenant_id == tenant, PointsLot.remaining == 0, PointsLot.expired == 0)
        )
    # June (expired) and February (open) — every lot once; January, spent in full, is not cached
    # (expired too when nothing was spent).
    assert n == members * (3 if two_due else 2) and spent == 0
    with unit_of_work(factory) as s:
        assert Ledger(s, tenant=tenant).verify() == []


def test_a_wallet_that_changed_after_the_refresh_is_derived_again_under_the_lock(app):
    factory = app.extensions["db_sessionmaker"]
    tenant = seed(factory, 2)
    lots.expire_due(factory, tenant, datetime(2026, 6, 5))  # cache built; nothing due yet
    with unit_of_work(factory) as s:
        spend = s.scalar(select(journals.c.id).where(journals.c.tenant_id == tenant, journals.c.key == "seed:1:2"))
        Ledger(s, tenant=tenant).reverse(spend, key="refund:1")  # member 1's cache is now behind
    run = lots.ExpiryRun()
    with unit_of_work(factory) as s:
        lots.expire_page(s, tenant, [1, 2], date(2026, 12, 5), run)
    # Member 1 (derived afresh): January's 30 and June's 50; member 2 (from the cache): June's 40.
    assert (run.members, run.lots, run.points) == (2, 3, 120)
    assert balances(factory, tenant, 2) == ([20, 20], 120)
    with unit_of_work(factory) as s:
        assert lots.verify_lots(s, tenant) == []


def test_the_district_forecast_lists_open_points_by_the_month_they_expire(app):
    factory = app.extensions["db_sessionmaker"]
    tenant = seed(factory, 3)
    lots.expire_due(factory, tenant, datetime(2026, 6, 5))  # the cache is built; nothing is due yet
    with unit_of_work(factory) as s:
        f = lots.expiry_forecast(s, tenant, datetime(2026, 6, 5, 2))
    assert [m.month for m in f.months][:3] == ["2026-06", "2026-07", "2026-08"] and len(f.months) == 12
    assert f.months[-1].month == "2027-05"
    got = {m.month: (m.points, m.members) for m in f.months if m.points}
    assert got == {"2026-06": (120, 3), "2027-02": (60, 3)}  # June 2025's 40 each; February 2026's 20 each
    assert f.wallets_behind == 0
    with unit_of_work(factory) as s:
        Ledger(s, tenant=tenant).post(
            [Transfer("source:test", wallet_code(1), 5)], kind="test", key="later", effective_at=datetime(2026, 6, 6)
        )
    with unit_of_work(factory) as s:
        later = lots.expiry_forecast(s, tenant, datetime(2026, 7, 5, 2))  # June's points are past due, not yet run
    assert later.wallets_behind == 1  # member 1's new 5 points wait for the next refresh
    got = {m.month: (m.points, m.members) for m in later.months if m.points}
    assert got == {"2026-07": (120, 3), "2027-02": (60, 3)}
    lots.expire_due(factory, tenant, datetime(2026, 7, 5, 2))
    with unit_of_work(factory) as s:
        after = lots.expiry_forecast(s, tenant, datetime(2026, 7, 5, 2))
    assert after.wallets_behind == 0
    assert {m.month: m.points for m in after.months if m.points} == {"2027-02": 60, "2027-06": 5}


def test_the_refresh_in_two_workers_derives_every_wallet_once(app):
    """Wallets split by the first digit of the member id (member:1, member:10…19 in one range, member:2,
    member:20…25 in the next…): two workers on PostgreSQL (one on SQLite, a single writer), pages of 3,
    and every wallet's lots are cached once and equal to the ledger."""
    factory = app.extensions["db_sessionmaker"]
    tenant = seed(factory, 25)
    with factory() as s:
        workers = 2 if s.get_bind().dialect.name == "postgresql" else 1
    pages = lots.refresh_all(factory, tenant, page=3, workers=workers)
    assert pages >= 25 // 3
    with unit_of_work(factory) as s:
        marked = s.scalars(select(LotMark.member_id).where(LotMark.tenant_id == tenant)).all()
        assert sorted(marked) == list(range(1, 26))
        assert lots.verify_lots(s, tenant) == []
    assert lots.refresh_all(factory, tenant, page=3, workers=workers) == len(lots._CODE_RANGES)  # nothing stale
