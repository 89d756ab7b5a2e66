"""Outlets through the core services, on SQLite and PostgreSQL: redemption by QR token and short code
(one journal for points and goods, idempotent by the cart key, a code pays once), the counter's
refusals (points, stock, limits, suspended members, expired codes), versioned prices, refunds (some
lines, the rest, twice, own, too late), stock movements and counts, the stock report at a date, one
ledger unit per item, and one-outlet scope. Every scenario ends with the ledger and the stock check
sound."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app import access
from app.auth.services import load_principal, open_session, user_for_member
from app.db import utcnow
from app.errors import NotFound
from app.outlets import errors, refunds, stock
from app.outlets import outlets as outlet_services
from app.outlets import redemption as counter
from app.outlets.accounts import REDEEMED, goods_code, item_unit, shelf_code
from app.outlets.catalogue import change_price, limit_window, offers
from app.outlets.labels import PURCHASE
from app.people import member_codes
from app.people.labels import SUSPENDED
from app.points.lots import derive_wallet
from app.points.spending import KIND_REDEMPTION, available_points, outlet_points_code, outlet_points_codes
from app.tokens import TokenExpired, make_token
from ledger import Ledger, Transfer, UnitMismatch
from tests.outlets_world import give_points, make_shop, member_with_points, sound


@pytest.fixture
def env(app, town):
    with app.app_context(), app.test_request_context():
        s = app.extensions["db_sessionmaker"]()
        shop = make_shop(s, town)
        yield s, shop
        assert sound(s, shop.tenant) == []
        s.rollback()
        s.close()


def token_for(shop, member, now):
    return make_token("member", shop.tenant, member.id, now)


def staff_user(s, shop, who="staff_a"):
    return user_for_member(s, shop.people[who]).id


def principal(s, member):
    return load_principal(s, open_session(s, user_for_member(s, member).id).token)


def test_redemption_moves_points_and_goods_in_one_journal_and_prints_a_receipt(env):
    s, shop = env
    now = utcnow()
    m = member_with_points(s, shop.town, 200)
    r = counter.redeem(
        s,
        shop.a,
        staff_user(s, shop),
        [(shop.rice.id, 1), (shop.haircut.id, 2)],
        "cart-1",
        member_token=token_for(shop, m, now),
        now=now,
    )
    assert r.total_points == 50 + 2 * 10
    rows = Ledger(s, tenant=shop.tenant).journal_transfers(r.journal_id)
    assert sorted(rows) == sorted(
        [
            (f"member:{m.id}", outlet_points_code(shop.a.id), 70, "posted"),
            (goods_code(shop.a.id, REDEEMED, shop.rice.id), shelf_code(shop.a.id, shop.rice.id), 1, "posted"),
        ]
    )
    assert Ledger(s, tenant=shop.tenant).journal(r.journal_id).kind == KIND_REDEMPTION
    rec = counter.receipt(s, r)
    assert rec.available_after == 130 and rec.member_name_masked == "张*"
    assert [(x.name, x.qty, x.points) for x in rec.lines] == [("大米 5kg", 1, 50), ("理发", 2, 20)]
    stock_left = {o.item.id: o.stock for o in offers(s, shop.a)}
    assert stock_left[shop.rice.id] == 19 and stock_left[shop.haircut.id] is None


def test_with_split_points_accounts_the_first_redemption_opens_them_and_a_refund_returns_to_its_shard(env):
    """OUTLET_POINTS_SHARDS=3: the outlet's first redemption opens its three points accounts before the
    journal (spending.ensure_outlet_points), later ones find them; each member's points go to the
    member's shard, and a refund takes them back from there."""
    s, shop = env
    now = utcnow()
    members = [member_with_points(s, shop.town, 200, name=f"会员{i}") for i in range(4)]
    book = Ledger(s, tenant=shop.tenant)
    done = []
    for i, m in enumerate(members):
        cart = [(shop.rice.id, 1), (shop.oil.id, 1)]
        done.append(
            counter.redeem(
                s, shop.a, None, cart, f"split-{i}", member_token=token_for(shop, m, now), now=now, points_shards=3
            )
        )
    collected = {code: book.balance(code).posted for code in outlet_points_codes(shop.a.id, 3)}
    want = {code: 0 for code in outlet_points_codes(shop.a.id, 3)}
    for m in members:
        want[outlet_points_code(shop.a.id, m.id, 3)] += 90
    assert collected == want
    sup = shop.people["supervisor_a"]
    refunds.refund(s, done[0], user_for_member(s, sup).id, sup.id, reason="会员退回", now=now)
    want[outlet_points_code(shop.a.id, members[0].id, 3)] -= 90
    assert {code: book.balance(code).posted for code in outlet_points_codes(shop.a.id, 3)} == want
    assert available_points(s, shop.tenant, members[0].id) == 200
    assert book.balance(shelf_code(shop.a.id, shop.rice.id)).posted == 20 - 3


def test_a_double_tap_redeems_once_and_another_cart_under_the_same_key_is_refused(env):
    s, shop = env
    now = utcnow()
    m = member_with_points(s, shop.town, 200)
    tok = token_for(shop, m, now)
    first = counter.redeem(s, shop.a, None, [(shop.oil.id, 1)], "tap", member_token=tok, now=now)
    again = counter.redeem(s, shop.a, None, [(shop.oil.id, 1)], "tap", member_token=tok, now=now + timedelta(minutes=5))
    assert again.id == first.id
    assert available_points(s, shop.tenant, m.id) == 160
    with pytest.raises(errors.CartKeyReused):
        counter.redeem(s, shop.a, None, [(shop.oil.id, 2)], "tap", member_token=tok, now=now)


def test_a_qr_token_pays_for_one_redemption_only(env):
    s, shop = env
    now = utcnow()
    m = member_with_points(s, shop.town, 200)
    tok = token_for(shop, m, now)
    counter.redeem(s, shop.a, None, [(shop.oil.id, 1)], "k1", member_token=tok, now=now)
    with pytest.raises(errors.TokenUsed) as e:
        counter.redeem(s, shop.b, None, [(shop.oil.id, 1)], "k2", member_token=tok, now=now)
    assert e.value.code == "token_used"
    with pytest.raises(TokenExpired):
        counter.redeem(
            s,
            shop.a,
            None,
            [(shop.oil.id, 1)],
            "k3",
            member_token=token_for(shop, m, now - timedelta(minutes=5)),
            now=now,
        )


def test_a_short_code_names_the_member_once_and_expires(env):
    s, shop = env
    now = utcnow()
    m = member_with_points(s, shop.town, 200)
    code = member_codes.current_code(s, shop.tenant, m.id, now)
    assert len(code.code) == 6 and not set(code.code) & set("01OIL")
    assert member_codes.current_code(s, shop.tenant, m.id, now + timedelta(minutes=1)).id == code.id
    seen = counter.member_at_counter(s, shop.tenant, member_code=code.code.lower(), now=now)
    assert (seen.member_id, seen.available_points, seen.name_masked) == (m.id, 200, "张*")
    counter.redeem(s, shop.a, None, [(shop.oil.id, 1)], "c1", member_code=f" {code.code[:3]}-{code.code[3:]} ", now=now)
    with pytest.raises(member_codes.MemberCodeUsed) as e:
        counter.redeem(s, shop.a, None, [(shop.oil.id, 1)], "c2", member_code=code.code, now=now)
    assert e.value.code == "token_used"
    fresh = member_codes.current_code(s, shop.tenant, m.id, now)
    assert fresh.code != code.code
    with pytest.raises(member_codes.MemberCodeExpired) as e:
        counter.redeem(
            s, shop.a, None, [(shop.oil.id, 1)], "c3", member_code=fresh.code, now=now + timedelta(minutes=11)
        )
    assert e.value.code == "token_expired"
    with pytest.raises(member_codes.MemberCodeUnknown):
        counter.member_at_counter(s, shop.tenant, member_code="ZZZZZZ", now=now)


def test_the_counter_says_what_is_wrong(env):
    s, shop = env
    now = utcnow()
    poor = member_with_points(s, shop.town, 60, name="钱多多")
    with pytest.raises(errors.InsufficientPoints) as e:
        counter.redeem(
            s,
            shop.a,
            None,
            [(shop.rice.id, 1), (shop.oil.id, 1)],
            "p",
            member_token=token_for(shop, poor, now),
            now=now,
        )
    assert e.value.details[0]["shortfall"] == 30 and "30" in e.value.message
    rich = member_with_points(s, shop.town, 10_000, name="李富贵")
    with pytest.raises(errors.OutOfStock) as e:
        counter.redeem(s, shop.a, None, [(shop.oil.id, 21)], "o", member_token=token_for(shop, rich, now), now=now)
    assert e.value.details[0]["available"] == 20
    counter.redeem(s, shop.a, None, [(shop.rice.id, 2)], "l1", member_token=token_for(shop, rich, now), now=now)
    with pytest.raises(errors.LimitReached) as e:
        counter.redeem(
            s,
            shop.b,
            None,
            [(shop.rice.id, 1)],
            "l2",
            member_token=token_for(shop, rich, now - timedelta(seconds=30)),
            now=now,
        )
    _start, resets = limit_window("month", now)
    assert e.value.details[0]["resets_at"] == resets.isoformat() + "Z"
    rich.status = SUSPENDED
    s.flush()
    with pytest.raises(errors.MemberSuspended):
        counter.redeem(
            s,
            shop.a,
            None,
            [(shop.oil.id, 1)],
            "susp",
            member_token=token_for(shop, rich, now - timedelta(seconds=60)),
            now=now,
        )
    assert available_points(s, shop.tenant, poor.id) == 60


def test_a_redemption_keeps_the_price_it_was_made_at(env):
    s, shop = env
    now = utcnow()
    m = member_with_points(s, shop.town, 500)
    r1 = counter.redeem(s, shop.a, None, [(shop.oil.id, 1)], "v1", member_token=token_for(shop, m, now), now=now)
    change_price(s, shop.oil, None, 45, effective_from=now + timedelta(hours=1), reason="进价上涨", now=now)
    later = now + timedelta(hours=2)
    r2 = counter.redeem(s, shop.a, None, [(shop.oil.id, 1)], "v2", member_token=token_for(shop, m, later), now=later)
    assert (r1.lines[0].unit_points, r2.lines[0].unit_points) == (40, 45)
    assert r1.lines[0].price_id != r2.lines[0].price_id


def test_refunds_some_lines_then_the_rest_then_never_again(env):
    s, shop = env
    now = utcnow()
    m = member_with_points(s, shop.town, 300)
    r = counter.redeem(
        s,
        shop.a,
        staff_user(s, shop),
        [(shop.rice.id, 2), (shop.oil.id, 1)],
        "r",
        member_token=token_for(shop, m, now),
        now=now,
    )
    assert available_points(s, shop.tenant, m.id) == 160
    sup = shop.people["supervisor_a"]
    rice_line = next(line for line in r.lines if line.item_id == shop.rice.id)
    first = refunds.refund(
        s, r, user_for_member(s, sup).id, sup.id, lines=[(rice_line.id, 1)], reason="包装破损", now=now
    )
    assert first.points == 50 and available_points(s, shop.tenant, m.id) == 210
    assert Ledger(s, tenant=shop.tenant).balance(shelf_code(shop.a.id, shop.rice.id)).posted == 19
    # The points go back to the lot they came from: one lot, 300 earned, 160 + 50 left in it.
    lots = derive_wallet(s, shop.tenant, m.id).lots
    assert [(x.amount, x.remaining) for x in lots] == [(300, 210)]
    rest = refunds.refund(s, r, user_for_member(s, sup).id, sup.id, reason="会员退回", now=now)
    assert rest.points == 90 and available_points(s, shop.tenant, m.id) == 300
    assert [(x.amount, x.remaining) for x in derive_wallet(s, shop.tenant, m.id).lots] == [(300, 300)]
    with pytest.raises(errors.AlreadyRefunded):
        refunds.refund(s, r, user_for_member(s, sup).id, sup.id, reason="再退", now=now)
    with pytest.raises(errors.AlreadyRefunded):
        refunds.refund(s, r, user_for_member(s, sup).id, sup.id, lines=[(rice_line.id, 1)], reason="再退", now=now)


def test_nobody_refunds_their_own_redemption_and_the_period_ends(env):
    s, shop = env
    now = utcnow()
    sup = shop.people["supervisor_a"]
    give_points(s, shop.tenant, sup.id, 100)
    own = counter.redeem(s, shop.a, None, [(shop.oil.id, 1)], "own", member_token=token_for(shop, sup, now), now=now)
    with pytest.raises(errors.OwnRedemption):
        refunds.refund(s, own, user_for_member(s, sup).id, sup.id, reason="自己退", now=now)
    m = member_with_points(s, shop.town, 100)
    made_by_sup = counter.redeem(
        s, shop.a, user_for_member(s, sup).id, [(shop.oil.id, 1)], "mine", member_token=token_for(shop, m, now), now=now
    )
    with pytest.raises(errors.OwnRedemption):
        refunds.refund(s, made_by_sup, user_for_member(s, sup).id, sup.id, reason="我做的", now=now)
    other = shop.people["supervisor_b"]  # a supervisor elsewhere; the scope check is the caller's (API tests)
    with pytest.raises(errors.RefundPeriodOver):
        refunds.refund(
            s, made_by_sup, user_for_member(s, other).id, other.id, reason="太晚", now=now + timedelta(days=8)
        )
    outlet_services.change_settings(s, shop.tenant, None, refund_days=10)
    refunds.refund(s, made_by_sup, user_for_member(s, other).id, other.id, reason="十天内", now=now + timedelta(days=8))


def test_stock_moves_in_between_and_out_and_a_count_is_applied_with_reasons(env):
    s, shop = env
    t0 = utcnow()
    a, b, rice, oil = shop.a, shop.b, shop.rice, shop.oil
    bought = stock.receive(s, a, None, PURCHASE, [(rice.id, 10), (oil.id, 5)], supplier="光明粮油店", key="buy-1")
    assert (
        stock.receive(s, a, None, PURCHASE, [(rice.id, 10), (oil.id, 5)], supplier="光明粮油店", key="buy-1").id
        == bought.id
    )
    stock.transfer(s, a, b, None, [(rice.id, 7)])
    with pytest.raises(errors.OutOfStock):
        stock.transfer(s, a, b, None, [(oil.id, 26)])
    stock.write_off(s, b, None, [(oil.id, 2)], reason="expired")
    with pytest.raises(errors.OutletInvalid):
        stock.write_off(s, b, None, [(oil.id, 1)], reason="other")
    with pytest.raises(errors.OutletInvalid):
        stock.receive(s, a, None, "donation", [(shop.haircut.id, 1)], donor="x")  # services have no stock
    book = stock.book_stock(s, shop.tenant, a.id, [rice.id, oil.id])
    assert book == {rice.id: 23, oil.id: 25}
    count = stock.record_count(s, a, None, [(rice.id, 22), (oil.id, 25)], reasons={rice.id: "老鼠咬破一袋"})
    assert [x.difference for x in count.lines] == [-1, 0]
    report = stock.stock_report(s, a)
    assert not report.matches  # a pending difference
    mid = utcnow()
    mv = stock.apply_count(s, count, None)
    assert mv is not None and [(x.item_id, x.qty) for x in mv.lines] == [(rice.id, -1)]
    with pytest.raises(errors.CountNotPending):
        stock.apply_count(s, count, None)
    report = stock.stock_report(s, a, since=t0)
    line = {x.item_id: x for x in report.lines}
    assert report.matches and line[rice.id].book_qty == 22 and line[rice.id].transferred == -7
    assert line[rice.id].adjusted == -1 and line[oil.id].received == 5
    assert report.value_fen == 22 * 3500 + 25 * 3000
    assert stock.stock_report(s, a, at=mid).lines[0].book_qty in (23, 25)  # before the adjustment


def test_one_ledger_unit_per_item_refuses_moving_rice_as_oil(env):
    s, shop = env
    assert item_unit(1) == "PCB" and item_unit(27) == "PCBB"
    book = Ledger(s, tenant=shop.tenant)
    assert book.account(shelf_code(shop.a.id, shop.rice.id)).unit == item_unit(shop.rice.id)
    with pytest.raises(UnitMismatch):
        book.post(
            [Transfer(goods_code(shop.a.id, REDEEMED, shop.oil.id), shelf_code(shop.a.id, shop.rice.id), 1)],
            kind="test",
        )


def test_outlet_staff_reach_their_own_outlet_only(env):
    s, shop = env
    staff_a = principal(s, shop.people["staff_a"])
    assert outlet_services.get_outlet(s, staff_a, shop.a.id, "outlet.redeem").id == shop.a.id
    for action in ("outlet.view", "outlet.redeem", "outlet.refund", "outlet.stock.count"):
        with pytest.raises(NotFound):
            outlet_services.get_outlet(s, staff_a, shop.b.id, action)
    with pytest.raises(errors.NotOutletStaff) as e:
        outlet_services.get_outlet(s, staff_a, shop.a.id, "outlet.refund")
    assert e.value.status == 403 and e.value.code == "not_outlet_staff"
    listed = s.scalars(outlet_services.outlets_query(staff_a)).all()
    assert [o.id for o in listed] == [shop.a.id]
    admin = principal(s, shop.town.users["district_admin"][0])
    assert {o.id for o in s.scalars(outlet_services.outlets_query(admin)).all()} == {shop.a.id, shop.b.id}
    grid_admin = principal(s, shop.town.users["grid_admin"][0])  # community A's: sees A's outlet, not B's
    assert access.can(grid_admin, "outlet.view", shop.a) and not access.can(grid_admin, "outlet.view", shop.b)
    assert [o.id for o in s.scalars(outlet_services.outlets_query(grid_admin)).all()] == [shop.a.id]


def test_the_stock_check_finds_records_that_disagree_with_the_books(env, app):
    s, shop = env
    s.flush()
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["outlets", "verify-stock", "--district", shop.town.district.code])
    assert ok.exit_code == 0 and "stock and ledger agree" in ok.output
    # A movement recorded without its journal's goods: the outlet's records no longer add up.
    from app.outlets.models import StockMovement, StockMovementLine

    bogus = StockMovement(tenant_id=shop.tenant, outlet_id=shop.a.id, kind="purchase", journal_id=0, supplier="x")
    bogus.lines = [StockMovementLine(item_id=shop.oil.id, qty=3)]
    s.add(bogus)
    s.flush()
    from app.outlets.checks import verify_stock

    assert verify_stock(s, shop.tenant) == [
        f"outlet {shop.a.id} item {shop.oil.id}: the books hold 20 pieces but the outlet's records add up to 23"
    ]
    bad = runner.invoke(args=["outlets", "verify-stock", "--district", shop.town.district.code])
    assert bad.exit_code == 1 and "records add up to 23" in bad.output
    s.delete(bogus.lines[0])
    s.delete(bogus)
    s.flush()
