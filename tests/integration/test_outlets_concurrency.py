"""Redemption under real concurrency on PostgreSQL: many transactions at once on their own connections,
each committing as a request would. 100 members after the last 5 bags of rice get exactly 5; one
member at two outlets at once with points for one gets one; a per-member limit holds; a double-tapped
confirm redeems once; two supervisors refunding one redemption at once refund it once. The ledger's
verify() and the stock check are clean after each."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.auth.services import user_for_member
from app.db import utcnow
from app.outlets import redemption as counter
from app.outlets import refunds
from app.outlets.accounts import shelf_code
from app.outlets.models import Redemption
from app.people.models import MemberCode
from app.points.spending import available_points, outlet_points_codes
from app.tokens import make_token
from ledger import Ledger
from ledger.schema import journals
from tests.integration import test_earning_concurrency as conc
from tests.integration.test_earning_concurrency import build, outcome, run_together
from tests.outlets_world import make_shop, member_with_points, sound

pg_app = conc.pg_app  # the fixture

pytestmark = [pytest.mark.postgres, pytest.mark.commits]


def checked(engine, tenant: int) -> list[str]:
    with Session(engine) as s:
        return sound(s, tenant)


def issue_codes(s, tenant: int, member_id: int, n: int) -> list[str]:
    """n live short codes for one member (as n visits to the QR page would leave, one at a time)."""
    now = utcnow()
    codes = []
    for i in range(n):
        code = f"Q{member_id % 1000:03d}{i:02d}".translate(str.maketrans("01", "AB"))
        s.add(
            MemberCode(
                tenant_id=tenant, member_id=member_id, code=code, issued_at=now, expires_at=now + timedelta(minutes=10)
            )
        )
        codes.append(code)
    s.flush()
    return codes


def run_held(app, engine, n: int, work, lock_sql: str, params: dict) -> list:
    """Like run_together, but another transaction holds a row lock (lock_sql) until all n wait on it, so
    each has read what it reads before any has written; n <= conc.CONNECTIONS."""
    assert n <= conc.CONNECTIONS
    barrier = threading.Barrier(n)

    def one(i: int):
        barrier.wait(timeout=60)
        with app.app_context(), app.test_request_context():
            try:
                with Session(engine) as s:
                    result = work(s, i)
                    s.commit()
                    return result
            except Exception as exc:  # noqa: BLE001
                return exc

    with engine.connect() as gate, ThreadPoolExecutor(max_workers=n) as pool:
        gate.execute(text(lock_sql), params)
        try:
            futures = [pool.submit(one, i) for i in range(n)]
            conc.wait_for_lock_waiters(engine, n)
        finally:
            gate.rollback()
        return [f.result() for f in futures]


def test_100_members_after_the_last_5_bags_get_exactly_5(pg_app, pg_engine):
    def setup(s):
        from tests.factories import make_town

        town = make_town(s)
        shop = make_shop(s, town, rice_stock=5)
        members = [member_with_points(s, town, 100, name=f"会员{i}").id for i in range(100)]
        return shop.tenant, shop.a.id, shop.rice.id, members

    tenant, outlet_id, rice, members = build(pg_app, pg_engine, setup)
    now = utcnow()

    def redeem(s, i):
        from app.outlets.models import Outlet

        outlet = s.get(Outlet, outlet_id)
        tok = make_token("member", tenant, members[i], now)
        return counter.redeem(s, outlet, None, [(rice, 1)], f"rice-{i}", member_token=tok, now=now).id

    results = run_together(pg_app, pg_engine, 100, redeem)
    kinds = Counter(type(r).__name__ if isinstance(r, Exception) else "ok" for r in results)
    assert kinds == {"ok": 5, "OutOfStock": 95}, kinds
    with Session(pg_engine) as s:
        assert Ledger(s, tenant=tenant).balance(shelf_code(outlet_id, rice)).posted == 0
        assert s.scalar(select(func.count()).select_from(Redemption).where(Redemption.tenant_id == tenant)) == 5
    assert checked(pg_engine, tenant) == []


def test_the_first_redemptions_at_an_outlet_with_split_points_accounts_open_them_once(pg_app, pg_engine):
    """OUTLET_POINTS_SHARDS raised: the first redemptions at the outlet, at once, open its shard accounts
    (one request wins, the others find them) and every one goes through."""

    def setup(s):
        from tests.factories import make_town

        town = make_town(s)
        shop = make_shop(s, town)
        members = [member_with_points(s, town, 100, name=f"会员{i}").id for i in range(12)]
        return shop.tenant, shop.a.id, shop.haircut.id, members

    # A service: no shelf whose lock would make them take turns before the accounts are opened.
    tenant, outlet_id, haircut, members = build(pg_app, pg_engine, setup)
    now = utcnow()

    def redeem(s, i):
        from app.outlets.models import Outlet

        tok = make_token("member", tenant, members[i], now)
        return counter.redeem(
            s, s.get(Outlet, outlet_id), None, [(haircut, 1)], f"shard-{i}", member_token=tok, now=now, points_shards=4
        ).id

    results = run_together(pg_app, pg_engine, 12, redeem)
    assert all(not isinstance(r, Exception) for r in results), results
    with Session(pg_engine) as s:
        book = Ledger(s, tenant=tenant)
        collected = sum(book.balance(code).posted for code in outlet_points_codes(outlet_id, 4))
        assert collected == 12 * 10
    assert checked(pg_engine, tenant) == []


def test_the_first_redemptions_of_goods_at_an_outlet_with_split_points_accounts_do_not_deadlock(pg_app, pg_engine):
    """As above, with goods: each request locks the shelves it sells from. Opening the split points
    accounts while holding shelf locks deadlocked two first redemptions (one waits for the other's
    uncommitted accounts, the other for its shelves: PostgreSQL aborts one, the API answered 503); the
    accounts are now opened before anything is locked. Every one goes through."""

    def setup(s):
        from tests.factories import make_town

        town = make_town(s)
        shop = make_shop(s, town, rice_stock=50, oil_stock=50)
        members = [member_with_points(s, town, 200, name=f"会员{i}").id for i in range(12)]
        return shop.tenant, shop.a.id, shop.rice.id, shop.oil.id, members

    tenant, outlet_id, rice, oil, members = build(pg_app, pg_engine, setup)
    now = utcnow()

    def redeem(s, i):
        from app.outlets.models import Outlet

        tok = make_token("member", tenant, members[i], now)
        cart = [(rice, 1), (oil, 1)]
        return counter.redeem(
            s, s.get(Outlet, outlet_id), None, cart, f"shard-goods-{i}", member_token=tok, now=now, points_shards=4
        ).id

    results = run_together(pg_app, pg_engine, 12, redeem)
    assert all(not isinstance(r, Exception) for r in results), results
    with Session(pg_engine) as s:
        book = Ledger(s, tenant=tenant)
        collected = sum(book.balance(code).posted for code in outlet_points_codes(outlet_id, 4))
        assert collected == 12 * 90
        assert book.balance(shelf_code(outlet_id, rice)).posted == 50 - 12
    assert checked(pg_engine, tenant) == []


def test_one_member_at_two_outlets_at_once_with_points_for_one_gets_one(pg_app, pg_engine):
    def setup(s):
        from tests.factories import make_town

        town = make_town(s)
        shop = make_shop(s, town)
        m = member_with_points(s, town, 60)
        codes = issue_codes(s, shop.tenant, m.id, 2)
        return shop.tenant, [shop.a.id, shop.b.id], shop.oil.id, m.id, codes

    tenant, outlets, oil, member_id, codes = build(pg_app, pg_engine, setup)

    def redeem(s, i):
        from app.outlets.models import Outlet

        return counter.redeem(s, s.get(Outlet, outlets[i]), None, [(oil, 1)], f"two-{i}", member_code=codes[i]).id

    # Both wait for the member's wallet row, held until both are queued on it.
    results = run_held(
        pg_app,
        pg_engine,
        2,
        redeem,
        "SELECT id FROM ledger_accounts WHERE tenant_id = :t AND code = :c FOR UPDATE",
        {"t": tenant, "c": f"member:{member_id}"},
    )
    assert sorted(outcome(r) if isinstance(r, Exception) else "ok" for r in results) == ["InsufficientPoints", "ok"]
    with Session(pg_engine) as s:
        assert available_points(s, tenant, member_id) == 20
    assert checked(pg_engine, tenant) == []


def test_the_per_member_limit_holds_under_simultaneous_redemptions(pg_app, pg_engine):
    def setup(s):
        from tests.factories import make_town

        town = make_town(s)
        shop = make_shop(s, town)
        m = member_with_points(s, town, 10_000)
        return shop.tenant, [shop.a.id, shop.b.id], shop.rice.id, m.id, issue_codes(s, shop.tenant, m.id, 10)

    tenant, outlets, rice, member_id, codes = build(pg_app, pg_engine, setup)

    def redeem(s, i):
        from app.outlets.models import Outlet

        return counter.redeem(s, s.get(Outlet, outlets[i % 2]), None, [(rice, 1)], f"lim-{i}", member_code=codes[i]).id

    results = run_held(
        pg_app,
        pg_engine,
        10,
        redeem,
        "SELECT id FROM ledger_accounts WHERE tenant_id = :t AND code = :c FOR UPDATE",
        {"t": tenant, "c": f"member:{member_id}"},
    )
    kinds = Counter(type(r).__name__ if isinstance(r, Exception) else "ok" for r in results)
    assert kinds == {"ok": 2, "LimitReached": 8}, kinds  # rice: 2 a month
    with Session(pg_engine) as s:
        assert available_points(s, tenant, member_id) == 10_000 - 2 * 50
    assert checked(pg_engine, tenant) == []


def test_a_double_tapped_confirm_redeems_once(pg_app, pg_engine):
    def setup(s):
        from tests.factories import make_town

        town = make_town(s)
        shop = make_shop(s, town)
        return shop.tenant, shop.a.id, shop.oil.id, member_with_points(s, town, 100).id

    tenant, outlet_id, oil, member_id = build(pg_app, pg_engine, setup)
    now = utcnow()
    with pg_app.app_context():
        tok = make_token("member", tenant, member_id, now)

    def tap(s, i):
        from app.outlets.models import Outlet

        return counter.redeem(s, s.get(Outlet, outlet_id), None, [(oil, 1)], "the-cart", member_token=tok, now=now).id

    results = run_together(pg_app, pg_engine, 10, tap)
    assert all(not isinstance(r, Exception) for r in results), results
    assert len(set(results)) == 1
    with Session(pg_engine) as s:
        assert available_points(s, tenant, member_id) == 60
        assert (
            s.scalar(
                select(func.count())
                .select_from(journals)
                .where(journals.c.tenant_id == tenant, journals.c.kind == "redemption")
            )
            == 1
        )
    assert checked(pg_engine, tenant) == []


def test_a_double_tapped_two_item_cart_held_on_the_wallet_redeems_once(pg_app, pg_engine):
    """Every tap waits on the member's wallet (one row per cart item in the statement that locks it),
    then finds the first tap's redemption and answers with it."""

    def setup(s):
        from tests.factories import make_town

        town = make_town(s)
        shop = make_shop(s, town)
        return shop.tenant, shop.a.id, shop.oil.id, shop.haircut.id, member_with_points(s, town, 100).id

    tenant, outlet_id, oil, haircut, member_id = build(pg_app, pg_engine, setup)
    now = utcnow()
    with pg_app.app_context():
        tok = make_token("member", tenant, member_id, now)

    def tap(s, i):
        from app.outlets.models import Outlet

        cart = [(oil, 1), (haircut, 2)]
        return counter.redeem(s, s.get(Outlet, outlet_id), None, cart, "two-items", member_token=tok, now=now).id

    results = run_held(
        pg_app,
        pg_engine,
        5,
        tap,
        "SELECT id FROM ledger_accounts WHERE tenant_id = :t AND code = :c FOR UPDATE",
        {"t": tenant, "c": f"member:{member_id}"},
    )
    assert all(not isinstance(r, Exception) for r in results), results
    assert len(set(results)) == 1
    with Session(pg_engine) as s:
        assert available_points(s, tenant, member_id) == 100 - 40 - 2 * 10
    assert checked(pg_engine, tenant) == []


def test_two_supervisors_refunding_one_redemption_at_once_refund_it_once(pg_app, pg_engine):
    def setup(s):
        from app.outlets import OUTLET_SUPERVISOR
        from tests.factories import make_town
        from tests.outlets_world import make_staff

        town = make_town(s)
        shop = make_shop(s, town)
        m = member_with_points(s, town, 100)
        r = counter.redeem(
            s, shop.a, None, [(shop.oil.id, 2)], "buy", member_token=make_token("member", shop.tenant, m.id)
        )
        other = make_staff(s, town, shop.a, "冯雪", OUTLET_SUPERVISOR)
        sups = [shop.people["supervisor_a"], other]
        return shop.tenant, r.id, m.id, [(user_for_member(s, x).id, x.id) for x in sups]

    tenant, rid, member_id, sups = build(pg_app, pg_engine, setup)

    def refund(s, i):
        r = s.get(Redemption, rid)
        return refunds.refund(s, r, sups[i % 2][0], sups[i % 2][1], reason="退货").points

    results = run_together(pg_app, pg_engine, 6, refund)
    assert sorted(outcome(r) for r in results) == ["80"] + ["AlreadyRefunded"] * 5
    with Session(pg_engine) as s:
        assert available_points(s, tenant, member_id) == 100
    assert checked(pg_engine, tenant) == []
