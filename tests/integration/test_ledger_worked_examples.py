"""Worked examples of the ledger: short stories of a district's points and reward fund, balances checked
after each step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ledger import (
    AccountClosed,
    AccountNotEmpty,
    AlreadyReversed,
    Balance,
    InsufficientBalance,
    Ledger,
    NotPending,
    PendingExpired,
    Transfer,
)

HOURS = "source:hours:c1"  # where one community's approved service hours are issued from
ALICE = "member:42"
BOB = "member:43"
OUTLET = "outlet:7"

GRANT = "grant:district"  # the district's money paid into the reward fund (CNY, fen)
FUND = "fund:safety"
PAYEE = "payable:member:42"

BEIJING = timezone(timedelta(hours=8))


def held(posted: int = 0, pending_in: int = 0, pending_out: int = 0) -> Balance:
    """The Balance an account should show; available is always posted less outgoing holds."""
    return Balance(posted=posted, pending_in=pending_in, pending_out=pending_out, available=posted - pending_out)


def assert_sound(book: Ledger) -> None:
    """What must hold after every story: verify() finds nothing and every unit balances."""
    assert book.verify() == []
    for unit, (debits, credits) in book.trial_balance().items():
        assert debits == credits, f"{unit} does not balance"


@pytest.fixture
def points(book: Ledger) -> Ledger:
    """A district with one community's hours source, two volunteers' wallets and an outlet."""
    book.open_account(HOURS, unit="PT", normal="debit")
    book.open_account(ALICE, unit="PT", normal="credit", no_overdraft=True)
    book.open_account(BOB, unit="PT", normal="credit", no_overdraft=True)
    book.open_account(OUTLET, unit="PT", normal="credit")
    return book


@pytest.fixture
def fund(book: Ledger) -> Ledger:
    """The reward fund in fen: a grant source, the fund (never overdrawn) and what is owed to a member."""
    book.open_account(GRANT, unit="CNY", normal="debit")
    book.open_account(FUND, unit="CNY", normal="credit", no_overdraft=True)
    book.open_account(PAYEE, unit="CNY", normal="credit")
    return book


def earn(book: Ledger, member: str, points_: int, **kw):
    return book.post([Transfer(debit=HOURS, credit=member, amount=points_)], kind="earn.hours", **kw)


def redeem(book: Ledger, member: str, points_: int, **kw):
    return book.post([Transfer(debit=member, credit=OUTLET, amount=points_)], kind="redeem", **kw)


def test_volunteer_earns_points_for_approved_hours(points):
    book = points
    assert book.balance(ALICE) == held(0)

    first = earn(book, ALICE, 30, key="attendance:9", memo="3h park clean-up")
    assert (first.kind, first.key, first.status, first.pending) == ("earn.hours", "attendance:9", "posted", False)
    assert book.journal_transfers(first.id) == [(HOURS, ALICE, 30, "posted")]
    assert book.balance(ALICE) == held(30)
    assert book.balance(HOURS) == held(30)  # the source grows on its debit side as it issues points
    assert book.trial_balance() == {"PT": (30, 30)}

    earn(book, ALICE, 45, key="attendance:10")
    earn(book, BOB, 15, key="attendance:11")
    assert book.balance(ALICE) == held(75)
    assert book.balance(BOB) == held(15)
    assert book.balance(HOURS) == held(90)
    assert book.trial_balance() == {"PT": (90, 90)}
    assert_sound(book)


def test_hours_held_pending_then_approved(points):
    book = points
    hold = earn(book, ALICE, 30, key="checkout:5", pending=True)
    assert hold.status == "pending"
    # Points awaiting approval are shown but cannot be spent yet.
    assert book.balance(ALICE) == held(0, pending_in=30)
    assert book.balance(HOURS) == held(0, pending_in=30)
    assert book.trial_balance() == {"PT": (0, 0)}
    with pytest.raises(InsufficientBalance):
        redeem(book, ALICE, 10)
    assert book.balance(ALICE) == held(0, pending_in=30)

    approval = book.post_pending(hold.id)
    assert (approval.resolves_id, approval.resolution) == (hold.id, "post")
    assert book.journal(hold.id).status == "posted"
    assert book.journal_transfers(approval.id) == [(HOURS, ALICE, 30, "post")]
    assert book.balance(ALICE) == held(30)
    assert book.balance(HOURS) == held(30)
    assert book.trial_balance() == {"PT": (30, 30)}

    redeem(book, ALICE, 10)
    assert book.balance(ALICE) == held(20)
    assert_sound(book)


def test_hours_held_pending_then_rejected(points):
    book = points
    earn(book, ALICE, 10)
    hold = earn(book, ALICE, 30, pending=True)
    assert book.balance(ALICE) == held(10, pending_in=30)

    rejection = book.void_pending(hold.id)
    assert (rejection.resolves_id, rejection.resolution) == (hold.id, "void")
    assert book.journal(hold.id).status == "voided"
    assert book.journal_transfers(rejection.id) == [(HOURS, ALICE, 30, "void")]
    assert book.balance(ALICE) == held(10)
    assert book.balance(HOURS) == held(10)
    assert book.trial_balance() == {"PT": (10, 10)}
    assert_sound(book)


def test_partial_approval_posts_part_and_releases_the_rest(points):
    book = points
    hold = earn(book, ALICE, 40, pending=True, memo="4h claimed")
    assert book.balance(ALICE) == held(0, pending_in=40)

    # The organiser approves 2.5 of the 4 hours claimed.
    approval = book.post_pending(hold.id, amount=25)
    assert book.journal(hold.id).status == "posted"
    assert book.journal_transfers(approval.id) == [(HOURS, ALICE, 25, "post")]
    assert book.balance(ALICE) == held(25)
    assert book.balance(HOURS) == held(25)
    assert book.trial_balance() == {"PT": (25, 25)}

    line = book.statement(ALICE).lines[0]
    assert (line.phase, line.amount, line.pending_amount, line.balance_after) == ("post", 25, -40, 25)
    assert_sound(book)


def test_redemption_at_an_outlet(points):
    book = points
    earn(book, ALICE, 50)
    assert book.balance(ALICE) == held(50)

    basket = redeem(book, ALICE, 20, memo="rice 5kg")
    assert book.journal_transfers(basket.id) == [(ALICE, OUTLET, 20, "posted")]
    assert book.balance(ALICE) == held(30)
    assert book.balance(OUTLET) == held(20)

    # The wallet is never overdrawn: one point too many is refused and nothing moves.
    with pytest.raises(InsufficientBalance, match=ALICE):
        redeem(book, ALICE, 31)
    assert book.balance(ALICE) == held(30)
    assert book.balance(OUTLET) == held(20)

    redeem(book, ALICE, 30)  # exactly what is left is fine
    assert book.balance(ALICE) == held(0)
    assert book.balance(OUTLET) == held(50)
    assert book.trial_balance() == {"PT": (100, 100)}
    assert_sound(book)


def test_refund_by_reversal_once_only(points):
    book = points
    earn(book, ALICE, 50)
    basket = redeem(book, ALICE, 20)
    assert book.balance(ALICE) == held(30)

    refund = book.reverse(basket.id, memo="item returned")
    assert refund.reverses_id == basket.id
    assert refund.memo == "item returned"
    assert book.journal_transfers(refund.id) == [(OUTLET, ALICE, 20, "posted")]
    assert book.balance(ALICE) == held(50)
    assert book.balance(OUTLET) == held(0)
    # History is kept, not erased: both journals stay, the totals grow on both sides.
    assert book.trial_balance() == {"PT": (90, 90)}

    with pytest.raises(AlreadyReversed, match=str(refund.id)):
        book.reverse(basket.id)
    assert book.balance(ALICE) == held(50)
    assert book.balance(OUTLET) == held(0)
    assert_sound(book)


def test_expired_holds_are_released(points):
    book = points
    earn(book, ALICE, 50)
    past = datetime.now(UTC) - timedelta(minutes=5)
    # An order reserved at the outlet but never collected, one still open, and one with no deadline.
    stale = redeem(book, ALICE, 40, pending=True, expires_at=past)
    fresh = redeem(book, ALICE, 5, pending=True, expires_at=datetime.now(UTC) + timedelta(days=1))
    hours = earn(book, ALICE, 7, pending=True)
    assert book.balance(ALICE) == held(50, pending_in=7, pending_out=45)
    assert book.balance(OUTLET) == held(0, pending_in=45)

    assert book.expire_pending(now=past - timedelta(seconds=1)) == 0  # not yet due at that moment
    assert book.balance(ALICE) == held(50, pending_in=7, pending_out=45)

    # Past its deadline it can no longer be collected, even before the sweep has run.
    with pytest.raises(PendingExpired, match=str(stale.id)):
        book.post_pending(stale.id)

    assert book.expire_pending(now=datetime.now(UTC)) == 1
    assert book.journal(stale.id).status == "voided"
    assert book.journal(fresh.id).status == "pending"
    assert book.journal(hours.id).status == "pending"
    assert book.balance(ALICE) == held(50, pending_in=7, pending_out=5)
    assert book.balance(OUTLET) == held(0, pending_in=5)
    assert book.statement(ALICE).lines[0].memo.startswith("expired")

    assert book.expire_pending(now=datetime.now(UTC)) == 0  # a second sweep finds nothing
    with pytest.raises(NotPending, match="voided"):
        book.post_pending(stale.id)

    book.post_pending(fresh.id)
    assert book.balance(ALICE) == held(45, pending_in=7)
    assert book.balance(OUTLET) == held(5)
    assert_sound(book)


def test_closing_an_account(points):
    book = points
    earn(book, BOB, 10)
    redeem(book, BOB, 10)
    assert book.balance(BOB) == held(0)

    closed = book.close_account(BOB)
    assert closed.closed and book.account(BOB).closed
    assert book.close_account(BOB).closed  # closing twice is harmless

    earn(book, ALICE, 30)
    with pytest.raises(AccountNotEmpty, match=ALICE):
        book.close_account(ALICE)
    assert not book.account(ALICE).closed

    # A hold still waiting is not zero either.
    book.open_account("member:44", no_overdraft=True)
    hold = earn(book, "member:44", 5, pending=True)
    with pytest.raises(AccountNotEmpty, match="member:44"):
        book.close_account("member:44")
    book.void_pending(hold.id)
    assert book.close_account("member:44").closed

    with pytest.raises(AccountClosed, match=BOB):
        earn(book, BOB, 5)
    with pytest.raises(AccountClosed, match=BOB):
        book.post([Transfer(debit=ALICE, credit=BOB, amount=5)], kind="gift")
    assert book.balance(BOB) == held(0)
    assert book.balance(ALICE) == held(30)
    assert_sound(book)


def test_reward_fund_payouts_reserve_the_budget(fund):
    book = fund
    book.post([Transfer(debit=GRANT, credit=FUND, amount=100_000)], kind="fund.grant", memo="1000.00 yuan")
    assert book.balance(FUND) == held(100_000)

    # A payout proposed by one manager waits for a second signature, and holds its money meanwhile.
    first = book.post([Transfer(debit=FUND, credit=PAYEE, amount=60_000)], kind="payout", pending=True)
    assert book.balance(FUND) == held(100_000, pending_out=60_000)
    assert book.balance(PAYEE) == held(0, pending_in=60_000)

    with pytest.raises(InsufficientBalance, match=FUND):
        book.post([Transfer(debit=FUND, credit=PAYEE, amount=40_001)], kind="payout", pending=True)
    assert book.balance(FUND) == held(100_000, pending_out=60_000)

    second = book.post([Transfer(debit=FUND, credit=PAYEE, amount=40_000)], kind="payout", pending=True)
    assert book.balance(FUND) == held(100_000, pending_out=100_000)
    assert book.balance(FUND).available == 0

    book.post_pending(first.id)
    assert book.balance(FUND) == held(40_000, pending_out=40_000)
    assert book.balance(PAYEE) == held(60_000, pending_in=40_000)

    book.void_pending(second.id)
    assert book.balance(FUND) == held(40_000)
    assert book.balance(PAYEE) == held(60_000)
    assert book.trial_balance() == {"CNY": (160_000, 160_000)}
    assert_sound(book)


def test_idempotent_retries_change_nothing(points, session, tenant):
    book = points
    first = earn(book, ALICE, 30, key="attendance:9")
    again = earn(book, ALICE, 30, key="attendance:9")  # a retried scan
    assert again.id == first.id
    assert book.balance(ALICE) == held(30)
    assert len(book.statement(ALICE).lines) == 1

    basket = redeem(book, ALICE, 30, key="redeem:scan:77")
    # The wallet is now empty, yet a double-clicked button still gets the original answer.
    assert redeem(book, ALICE, 30, key="redeem:scan:77").id == basket.id
    assert book.balance(ALICE) == held(0)
    assert book.balance(OUTLET) == held(30)

    hold = earn(book, BOB, 12, pending=True, key="checkout:3")
    approved = book.post_pending(hold.id, key="approve:3")
    assert book.post_pending(hold.id, key="approve:3").id == approved.id
    assert earn(book, BOB, 12, pending=True, key="checkout:3").id == hold.id
    assert book.balance(BOB) == held(12)

    refund = book.reverse(basket.id, key="refund:77")
    assert book.reverse(basket.id, key="refund:77").id == refund.id  # not AlreadyReversed
    assert book.balance(ALICE) == held(30)
    assert book.balance(OUTLET) == held(0)

    rejected_hold = earn(book, BOB, 3, pending=True)
    voided = book.void_pending(rejected_hold.id, key="reject:4")
    assert book.void_pending(rejected_hold.id, key="reject:4").id == voided.id
    assert book.balance(BOB) == held(12)
    assert book.trial_balance() == {"PT": (102, 102)}

    # Keys belong to a district: another district may use the same key for its own journal.
    other = Ledger(session, tenant=-tenant)
    other.open_account(HOURS, normal="debit")
    other.open_account(ALICE, no_overdraft=True)
    elsewhere = earn(other, ALICE, 5, key="attendance:9")
    assert elsewhere.id != first.id
    assert other.balance(ALICE) == held(5)
    assert book.balance(ALICE) == held(30)
    assert_sound(book)
    assert other.verify() == []


def test_statement_pages_newest_first_with_running_balance(points):
    book = points
    e1 = earn(book, ALICE, 10)
    e2 = earn(book, ALICE, 20)
    e3 = earn(book, ALICE, 30)
    hold = earn(book, ALICE, 7, pending=True)
    spend = redeem(book, ALICE, 15)
    approval = book.post_pending(hold.id)
    times = [j.created_at for j in (e1, e2, e3, hold, spend, approval)]
    assert times == sorted(set(times))  # each posting got its own instant, so time filters can split them

    first = book.statement(ALICE, limit=4)
    assert [line.seq for line in first.lines] == [6, 5, 4, 3]
    assert first.next == 3
    second = book.statement(ALICE, limit=4, after=first.next)
    assert [line.seq for line in second.lines] == [2, 1]
    assert second.next is None

    lines = first.lines + second.lines
    assert [line.journal_id for line in lines] == [approval.id, spend.id, hold.id, e3.id, e2.id, e1.id]
    assert [line.phase for line in lines] == ["post", "posted", "pending", "posted", "posted", "posted"]
    assert [line.amount for line in lines] == [7, -15, 0, 30, 20, 10]
    assert [line.pending_amount for line in lines] == [-7, 0, 7, 0, 0, 0]
    assert [line.balance_after for line in lines] == [52, 45, 60, 60, 30, 10]
    for newer, older in zip(lines, lines[1:], strict=False):
        assert newer.balance_after - newer.amount == older.balance_after
    assert lines[0].balance_after == book.balance(ALICE).posted

    # A full page with nothing older has no cursor.
    assert book.statement(ALICE, limit=6).next is None

    # since is inclusive, until exclusive; both combine with paging.
    window = book.statement(ALICE, since=e3.created_at, until=spend.created_at)
    assert [line.journal_id for line in window.lines] == [hold.id, e3.id]
    assert [line.journal_id for line in book.statement(ALICE, since=spend.created_at).lines] == [approval.id, spend.id]
    assert [line.journal_id for line in book.statement(ALICE, until=e2.created_at).lines] == [e1.id]
    paged = book.statement(ALICE, since=e2.created_at, limit=2, after=5)
    assert [line.seq for line in paged.lines] == [4, 3] and paged.next == 3
    # An aware time (Beijing) selects the same instant as naive UTC.
    assert book.statement(ALICE, since=spend.created_at.replace(tzinfo=UTC).astimezone(BEIJING)).lines == (
        book.statement(ALICE, since=spend.created_at).lines
    )
    assert book.statement(OUTLET).lines[0].balance_after == 15
    assert_sound(book)


def test_balance_at_past_times(points):
    book = points
    j1 = earn(book, ALICE, 30)
    j2 = redeem(book, ALICE, 10)
    hold = earn(book, ALICE, 100, pending=True)
    j3 = earn(book, ALICE, 5)
    assert j1.created_at < j2.created_at < hold.created_at < j3.created_at
    tick = timedelta(microseconds=1)

    assert book.balance_at(ALICE, datetime(2000, 1, 1)) == 0
    assert book.balance_at(ALICE, j1.created_at - tick) == 0
    assert book.balance_at(ALICE, j1.created_at) == 30
    assert book.balance_at(ALICE, j2.created_at - tick) == 30
    assert book.balance_at(ALICE, j2.created_at) == 20
    assert book.balance_at(ALICE, hold.created_at) == 20  # a hold moves nothing that is posted
    assert book.balance_at(ALICE, j3.created_at) == 25
    assert book.balance_at(ALICE, datetime.now(UTC) + timedelta(days=1)) == 25
    assert book.balance_at(OUTLET, j2.created_at) == 10
    assert book.balance_at(OUTLET, j2.created_at - tick) == 0
    # The same instant written in Beijing time gives the same answer as naive UTC.
    assert book.balance_at(ALICE, j2.created_at.replace(tzinfo=UTC).astimezone(BEIJING)) == 20
    assert book.balance_at(ALICE, (j2.created_at - tick).replace(tzinfo=UTC).astimezone(BEIJING)) == 30
    assert_sound(book)


def test_trial_balance_is_kept_per_unit(points, fund):
    book = points
    earn(book, ALICE, 30)
    redeem(book, ALICE, 12)
    book.post([Transfer(debit=GRANT, credit=FUND, amount=5_000)], kind="fund.grant")
    payout = book.post([Transfer(debit=FUND, credit=PAYEE, amount=2_000)], kind="payout", pending=True)
    assert book.trial_balance() == {"CNY": (5_000, 5_000), "PT": (42, 42)}  # a hold is not posted

    book.post_pending(payout.id)
    # One journal may touch two units, yet each unit still balances on its own.
    book.post(
        [Transfer(debit=ALICE, credit=OUTLET, amount=8), Transfer(debit=FUND, credit=PAYEE, amount=300)],
        kind="redeem.with.cash",
    )
    assert book.trial_balance() == {"CNY": (7_300, 7_300), "PT": (50, 50)}
    assert book.balance(ALICE) == held(10)
    assert book.balance(FUND) == held(2_700)
    assert_sound(book)
