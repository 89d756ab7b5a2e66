"""Stateful model test: random request sequences drive the real Ledger and an in-memory reference model in step."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.orm import Session

from ledger import (
    AccountClosed,
    AccountConflict,
    AccountNotEmpty,
    AlreadyReversed,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidTransfer,
    Ledger,
    LedgerError,
    NotPending,
    Resolution,
    Transfer,
    UnitMismatch,
    UnknownAccount,
    UnknownJournal,
)

# Each example gets its own tenant; the range is far from conftest's so the two never collide.
_tenants = itertools.count(random.randint(2**41, 2**50))

UNITS = ("PT", "CNY")
CODES = tuple(f"m{i}" for i in range(6))  # codes the open_account rule may open
GHOST = "ghost"  # never opened
KIND = "model.test"


@dataclass
class MAcct:
    """Reference account: raw debit/credit totals, as the ledger keeps them."""

    unit: str
    normal: str
    no_overdraft: bool
    closed: bool = False
    dp: int = 0
    cp: int = 0
    dq: int = 0
    cq: int = 0

    @property
    def posted(self) -> int:
        return self.cp - self.dp if self.normal == "credit" else self.dp - self.cp

    @property
    def pending_in(self) -> int:
        return self.cq if self.normal == "credit" else self.dq

    @property
    def pending_out(self) -> int:
        return self.dq if self.normal == "credit" else self.cq

    @property
    def available(self) -> int:
        return self.posted - self.pending_out


@dataclass
class MJournal:
    """Reference journal. `transfers` are what the journal's rows hold: pending amounts for a pending
    journal, posted amounts for a post resolution, released amounts for a void resolution."""

    id: int
    transfers: list[tuple[str, str, int]]
    role: str  # posted | pending | post (resolution) | void (resolution) | reversal
    status: str  # the ledger's Journal.status: pending | posted | voided
    reversed: bool = False


@dataclass
class Model:
    accounts: dict[str, MAcct] = field(default_factory=dict)
    journals: dict[int, MJournal] = field(default_factory=dict)
    keys: dict[str, tuple[tuple, int]] = field(default_factory=dict)  # key -> (request, journal id)

    def apply(self, rows):
        """rows: (debit, credit, amount, phase, pending_amount). Returns the updated copies of the touched
        accounts, or InsufficientBalance; the check runs after the whole journal, as in the ledger."""
        touched = {code: MAcct(**vars(self.accounts[code])) for d, c, *_ in rows for code in (d, c)}
        for d, c, amount, phase, pamount in rows:
            dd, cc = touched[d], touched[c]
            if phase == "posted":
                dd.dp += amount
                cc.cp += amount
            elif phase == "pending":
                dd.dq += amount
                cc.cq += amount
            elif phase == "post":
                dd.dq -= pamount
                cc.cq -= pamount
                dd.dp += amount
                cc.cp += amount
            else:  # void
                dd.dq -= pamount
                cc.cq -= pamount
        if any(a.no_overdraft and a.available < 0 for a in touched.values()):
            return InsufficientBalance
        return touched

    def key_outcome(self, key, request):
        """None when the key is free (or absent); else the original journal id or IdempotencyConflict."""
        if key is None or key not in self.keys:
            return None
        old_request, jid = self.keys[key]
        return jid if old_request == request else IdempotencyConflict


def _journal_ids(draw, ids):
    return draw(st.sampled_from(sorted(ids)))


def test_ledger_matches_reference_model(engine):
    class LedgerModel(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.conn = engine.connect()
            self.trans = self.conn.begin()
            self.session = Session(bind=self.conn, join_transaction_mode="create_savepoint")
            self.book = Ledger(self.session, tenant=next(_tenants))
            self.model = Model()
            self.key_seq = itertools.count(1)
            self.failed_keys: list[str] = []  # keys of refused requests: still free

        def teardown(self):
            self.session.close()
            self.trans.rollback()
            self.conn.close()

        # -- helpers --------------------------------------------------------------------------
        def expect(self, expected, call):
            """Run `call`; expected is an error class or None (success). Returns the call's result."""
            self.last_expected = expected
            try:
                got = call()
            except LedgerError as exc:
                assert expected is not None and type(exc) is expected, (
                    f"ledger raised {type(exc).__name__}({exc}), model expected "
                    f"{expected.__name__ if expected else 'success'}"
                )
                return None
            assert expected is None, f"ledger succeeded ({got!r}), model expected {expected.__name__}"
            return got

        def draw_key(self, data):
            choice = data.draw(st.sampled_from(["none", "none", "fresh", "failed"]))
            if choice == "fresh" or (choice == "failed" and not self.failed_keys):
                return f"k{next(self.key_seq)}"
            if choice == "failed":
                return data.draw(st.sampled_from(self.failed_keys))
            return None

        def remember_key(self, key, request, journal_id, ok):
            if key is None or key in self.model.keys:
                return
            if ok:
                self.model.keys[key] = (request, journal_id)
                if key in self.failed_keys:
                    self.failed_keys.remove(key)
            elif key not in self.failed_keys:
                self.failed_keys.append(key)

        def commit(self, touched):
            self.model.accounts.update(touched)

        def check_rows(self, jid):
            """The journal's stored transfers are the ones the model says it holds."""
            got = [(d, c, amt) for d, c, amt, _phase in self.book.journal_transfers(jid)]
            assert got == self.model.journals[jid].transfers

        # -- accounts -------------------------------------------------------------------------
        @initialize()
        def open_funds_and_wallets(self):
            # Per unit, a debit-normal source that may go negative (so value can enter the system) and a
            # guarded wallet, so that posting has something to work with from the first step.
            for unit in UNITS:
                self.do_open(f"fund:{unit}", unit, "debit", False)
                self.do_open(f"wallet:{unit}", unit, "credit", True)

        def do_open(self, code, unit, normal, no_overdraft):
            have = self.model.accounts.get(code)
            expected = None
            if have is not None and (have.unit, have.normal, have.no_overdraft) != (unit, normal, no_overdraft):
                expected = AccountConflict
            acct = self.expect(
                expected, lambda: self.book.open_account(code, unit=unit, normal=normal, no_overdraft=no_overdraft)
            )
            if expected is None:
                assert (acct.code, acct.unit, acct.normal, acct.no_overdraft) == (code, unit, normal, no_overdraft)
                if have is None:
                    self.model.accounts[code] = MAcct(unit, normal, no_overdraft)
                assert acct.closed == self.model.accounts[code].closed

        @rule(
            code=st.sampled_from(CODES),
            unit=st.sampled_from(UNITS),
            normal=st.sampled_from(["debit", "credit"]),
            no_overdraft=st.booleans(),
        )
        def open_account(self, code, unit, normal, no_overdraft):
            self.do_open(code, unit, normal, no_overdraft)

        @rule(data=st.data())
        def reopen_same(self, data):
            code = data.draw(st.sampled_from(sorted(self.model.accounts)))
            a = self.model.accounts[code]
            self.do_open(code, a.unit, a.normal, a.no_overdraft)

        @rule(data=st.data())
        def close_account(self, data):
            # The funds stay open: closing them (they start empty) would soon leave nothing to post.
            code = data.draw(
                st.sampled_from([c for c in sorted(self.model.accounts) if not c.startswith("fund:")] + [GHOST])
            )
            a = self.model.accounts.get(code)
            if a is None:
                expected = UnknownAccount
            elif not a.closed and (a.posted != 0 or a.dq or a.cq):
                expected = AccountNotEmpty
            else:
                expected = None
            acct = self.expect(expected, lambda: self.book.close_account(code))
            if expected is None:
                assert acct.closed
                a.closed = True

        # -- posting --------------------------------------------------------------------------
        def do_post(self, transfers, pending, key, memo=""):
            """Predict and run book.post(); returns the journal id on success."""
            request = ("post", memo, pending, tuple(transfers))
            m = self.model
            expected, touched, replay = None, None, None
            if any(amt <= 0 or d == c for d, c, amt in transfers):
                expected = InvalidTransfer
            elif (outcome := m.key_outcome(key, request)) is not None:
                expected, replay = (outcome, None) if outcome is IdempotencyConflict else (None, outcome)
            elif any(code not in m.accounts for d, c, _ in transfers for code in (d, c)):
                expected = UnknownAccount
            else:
                for d, c, _ in transfers:
                    if m.accounts[d].closed or m.accounts[c].closed:
                        expected = AccountClosed
                        break
                    if m.accounts[d].unit != m.accounts[c].unit:
                        expected = UnitMismatch
                        break
                else:
                    phase = "pending" if pending else "posted"
                    touched = m.apply([(d, c, amt, phase, amt) for d, c, amt in transfers])
                    if touched is InsufficientBalance:
                        expected, touched = InsufficientBalance, None
            j = self.expect(
                expected,
                lambda: self.book.post(
                    [Transfer(d, c, amt) for d, c, amt in transfers], kind=KIND, key=key, memo=memo, pending=pending
                ),
            )
            if replay is not None:
                assert (j.id, j.status) == (replay, self.model.journals[replay].status), (
                    "retry must return the original"
                )
                return j.id
            if expected is not None:
                self.remember_key(key, request, None, ok=False)
                return None
            assert j.pending == pending and j.status == ("pending" if pending else "posted")
            self.commit(touched)
            m.journals[j.id] = MJournal(
                j.id, list(transfers), "pending" if pending else "posted", "pending" if pending else "posted"
            )
            self.remember_key(key, request, j.id, ok=True)
            self.check_rows(j.id)
            return j.id

        def draw_transfers(self, data):
            """1-3 transfers between distinct accounts of one unit (the invalid_post rule covers the rest)."""
            by_unit: dict[str, list[str]] = {}
            for code, a in sorted(self.model.accounts.items()):
                by_unit.setdefault(a.unit, []).append(code)
            units = sorted(u for u, codes in by_unit.items() if len(codes) >= 2)
            if not units:
                return None
            out = []
            for _ in range(data.draw(st.integers(1, 3))):
                unit = data.draw(st.sampled_from(units))
                codes = by_unit[unit]
                if data.draw(st.booleans()):
                    # Half the transfers issue from the (never closed, unguarded) fund, so wallets fill up.
                    d = f"fund:{unit}"
                    c = data.draw(st.sampled_from([x for x in codes if x != d]))
                else:
                    d, c = data.draw(st.lists(st.sampled_from(codes), min_size=2, max_size=2, unique=True))
                out.append((d, c, data.draw(st.integers(1, 60))))
            return out

        @rule(data=st.data())
        def post(self, data):
            transfers = self.draw_transfers(data)
            if transfers is not None:
                self.do_post(transfers, False, self.draw_key(data))

        @rule(data=st.data())
        def hold(self, data):
            transfers = self.draw_transfers(data)
            if transfers is not None:
                self.do_post(transfers, True, self.draw_key(data))

        @rule(
            data=st.data(), what=st.sampled_from(["zero", "negative", "same", "unit", "unknown", "closed", "overdraft"])
        )
        def invalid_post(self, data, what):
            m = self.model
            live = sorted(code for code, a in m.accounts.items() if not a.closed)
            pick = lambda codes: data.draw(st.sampled_from(codes))  # noqa: E731
            if what in ("zero", "negative", "same"):
                if not live:
                    return
                d = pick(live)
                c = d if what == "same" else pick([x for x in live if x != d] or [GHOST])
                amount = {"zero": 0, "negative": -data.draw(st.integers(1, 50))}.get(what, 5)
                transfers, intended = [(d, c, amount)], InvalidTransfer
            elif what == "unit":
                pt = [x for x in live if m.accounts[x].unit == "PT"]
                cny = [x for x in live if m.accounts[x].unit == "CNY"]
                if not (pt and cny):
                    return
                pair = [pick(pt), pick(cny)]
                if data.draw(st.booleans()):
                    pair.reverse()
                transfers, intended = [(pair[0], pair[1], 5)], UnitMismatch
            elif what == "unknown":
                other = pick(sorted(m.accounts))
                transfers = [(GHOST, other, 5)] if data.draw(st.booleans()) else [(other, GHOST, 5)]
                intended = UnknownAccount
            elif what == "closed":
                closed = sorted(code for code, a in m.accounts.items() if a.closed)
                if not closed:
                    return
                x = pick(closed)
                y = pick(
                    sorted(code for code in m.accounts if code != x and m.accounts[code].unit == m.accounts[x].unit)
                    or [x]
                )
                if x == y:
                    return
                transfers, intended = [(x, y, 5)] if data.draw(st.booleans()) else [(y, x, 5)], AccountClosed
            else:  # overdraft: take one more than the room of a no_overdraft account
                guarded = [x for x in live if m.accounts[x].no_overdraft]
                if not guarded:
                    return
                x = pick(guarded)
                peers = [y for y in live if y != x and m.accounts[y].unit == m.accounts[x].unit]
                if not peers:
                    return
                y = pick(peers)
                a = m.accounts[x]
                amount = a.available + 1
                # Value leaves a credit-normal account on its debit side, a debit-normal one on its credit side.
                transfers = [(x, y, amount)] if a.normal == "credit" else [(y, x, amount)]
                intended = InsufficientBalance
            before = len(m.journals)
            self.do_post(transfers, data.draw(st.booleans()), None)
            # Sanity of the generator itself: the model agreed this request is the intended failure.
            assert self.last_expected is intended, f"{what}: meant to fail with {intended.__name__}"
            assert len(m.journals) == before

        # -- pending ----------------------------------------------------------------------------
        def do_resolve(self, how, jid, amount, key):
            m = self.model
            op = "post_pending" if how == "post" else "void_pending"
            request = (op, jid, amount)
            expected, replay, touched = None, None, None
            orig = m.journals.get(jid)
            if (outcome := m.key_outcome(key, request)) is not None:
                expected, replay = (outcome, None) if outcome is IdempotencyConflict else (None, outcome)
            elif orig is None:
                expected = UnknownJournal
            elif orig.role != "pending" or orig.status != "pending":
                expected = NotPending
            elif amount is not None and (len(orig.transfers) != 1 or not 0 < amount <= orig.transfers[0][2]):
                expected = InvalidTransfer
            else:
                rows = [(d, c, amount if amount is not None else amt, how, amt) for d, c, amt in orig.transfers]
                touched = m.apply(rows)
                assert touched is not InsufficientBalance, "resolving a hold only ever frees room"
            if how == "post":
                call = lambda: self.book.post_pending(jid, amount=amount, key=key)  # noqa: E731
            else:
                call = lambda: self.book.void_pending(jid, key=key)  # noqa: E731
            j = self.expect(expected, call)
            if replay is not None:
                assert (j.id, j.status) == (replay, self.model.journals[replay].status), (
                    "retry must return the original"
                )
                return
            if expected is not None:
                self.remember_key(key, request, None, ok=False)
                return
            assert (j.resolves_id, j.resolution, j.pending) == (jid, how, False)
            self.commit(touched)
            orig.status = "posted" if how == "post" else "voided"
            moved = [(d, c, amount if amount is not None else amt) for d, c, amt in orig.transfers]
            m.journals[j.id] = MJournal(j.id, moved if how == "post" else list(orig.transfers), how, "posted")
            self.remember_key(key, request, j.id, ok=True)
            self.check_rows(j.id)
            assert self.book.journal(jid).status == orig.status

        def draw_resolve_target(self, data):
            """Mostly open holds, then resolved holds, then any journal, rarely an unknown id."""
            js = self.model.journals
            pools = {
                "open": [jid for jid, j in js.items() if j.status == "pending"],
                "held": [jid for jid, j in js.items() if j.role == "pending"],
                "any": list(js),
            }
            pool = data.draw(st.sampled_from(["open"] * 5 + ["held", "held", "any", "unknown"]))
            if pool == "unknown":
                return 0  # ids start at 1
            return _journal_ids(data.draw, pools[pool] or pools["any"])

        @precondition(lambda self: self.model.journals)
        @rule(data=st.data())
        def post_pending(self, data):
            jid = self.draw_resolve_target(data)
            j = self.model.journals.get(jid)
            amount = None
            mode = data.draw(st.sampled_from(["full", "full", "partial", "bad"]))
            if j is not None and mode == "partial":
                amount = data.draw(st.integers(1, j.transfers[0][2]))
            elif j is not None and mode == "bad":
                amount = data.draw(st.sampled_from([0, -3, j.transfers[0][2] + 1]))
            self.do_resolve("post", jid, amount, self.draw_key(data))

        @precondition(lambda self: self.model.journals)
        @rule(data=st.data())
        def void_pending(self, data):
            self.do_resolve("void", self.draw_resolve_target(data), None, self.draw_key(data))

        @precondition(lambda self: self.model.journals)
        @rule(data=st.data())
        def resolve_batch(self, data):
            """resolve_many over a few items: the model resolves them one by one, in order, on a copy; the
            first refusal is the batch's (nothing changes), else every item is as post_pending /
            void_pending alone would make it."""
            items = []
            for _ in range(data.draw(st.integers(1, 4))):
                how = data.draw(st.sampled_from(["post", "post", "void"]))
                jid = self.draw_resolve_target(data)
                j = self.model.journals.get(jid)
                amount = None
                if how == "post" and j is not None and data.draw(st.integers(0, 3)) == 0:
                    amount = data.draw(st.sampled_from([1, j.transfers[0][2], j.transfers[0][2] + 1, 0]))
                key = self.draw_key(data)
                if items and data.draw(st.integers(0, 5)) == 0:
                    how, jid, amount, key = items[-1]  # the same item twice (one resolution if it has a key)
                items.append((how, jid, amount, key))
            m = self.model
            saved = m.accounts
            m.accounts = dict(saved)
            expected, plan = None, []
            first: dict[str, int] = {}
            named: set[int] = set()
            for n, (how, jid, amount, key) in enumerate(items):
                request = ("post_pending" if how == "post" else "void_pending", jid, amount)
                if key is not None and key in first:
                    if plan[first[key]][1] != request:
                        expected = IdempotencyConflict
                        break
                    plan.append(("same", request, first[key]))
                    continue
                if key is not None:
                    first[key] = n
                outcome = m.key_outcome(key, request)
                if outcome is IdempotencyConflict:
                    expected = outcome
                    break
                if jid in named:
                    expected = NotPending
                    break
                named.add(jid)
                if outcome is not None:
                    plan.append(("replay", request, outcome))
                    continue
                orig = m.journals.get(jid)
                if orig is None:
                    expected = UnknownJournal
                elif orig.role != "pending" or orig.status != "pending":
                    expected = NotPending
                elif amount is not None and (len(orig.transfers) != 1 or not 0 < amount <= orig.transfers[0][2]):
                    expected = InvalidTransfer
                if expected is not None:
                    break
                rows = [(d, c, amount if amount is not None else amt, how, amt) for d, c, amt in orig.transfers]
                touched = m.apply(rows)
                assert touched is not InsufficientBalance, "resolving a hold only ever frees room"
                m.accounts.update(touched)
                plan.append(("new", request, (how, jid, amount, key)))
            batch = [Resolution(jid, how, amount, key) for how, jid, amount, key in items]
            got = self.expect(expected, lambda: self.book.resolve_many(batch))
            if expected is not None:
                m.accounts = saved
                for *_, key in items:
                    self.remember_key(key, None, None, ok=False)
                return
            for n, (what, request, x) in enumerate(plan):
                j = got[n]
                if what == "same":
                    assert j.id == got[x].id
                elif what == "replay":
                    assert (j.id, j.status) == (x, m.journals[x].status), "retry must return the original"
                else:
                    how, jid, amount, key = x
                    orig = m.journals[jid]
                    assert (j.resolves_id, j.resolution, j.pending, j.key) == (jid, how, False, key)
                    orig.status = "posted" if how == "post" else "voided"
                    moved = [(d, c, amount if amount is not None else amt) for d, c, amt in orig.transfers]
                    m.journals[j.id] = MJournal(j.id, moved if how == "post" else list(orig.transfers), how, "posted")
                    self.remember_key(key, request, j.id, ok=True)
                    self.check_rows(j.id)
                    assert self.book.journal(jid).status == orig.status

        # -- reversal ---------------------------------------------------------------------------
        def do_reverse(self, jid, key, memo=""):
            m = self.model
            request = ("reverse", jid, memo)
            expected, replay, touched = None, None, None
            orig = m.journals.get(jid)
            if (outcome := m.key_outcome(key, request)) is not None:
                expected, replay = (outcome, None) if outcome is IdempotencyConflict else (None, outcome)
            elif orig is None:
                expected = UnknownJournal
            elif orig.role == "pending":
                expected = NotPending
            elif orig.role == "void":
                expected = InvalidTransfer
            elif orig.reversed:
                expected = AlreadyReversed
            elif any(m.accounts[code].closed for d, c, _ in orig.transfers for code in (d, c)):
                expected = AccountClosed
            else:
                touched = m.apply([(c, d, amt, "posted", amt) for d, c, amt in orig.transfers])
                if touched is InsufficientBalance:
                    expected, touched = InsufficientBalance, None
            j = self.expect(expected, lambda: self.book.reverse(jid, key=key, memo=memo))
            if replay is not None:
                assert (j.id, j.status) == (replay, self.model.journals[replay].status), (
                    "retry must return the original"
                )
                return
            if expected is not None:
                self.remember_key(key, request, None, ok=False)
                return
            assert j.reverses_id == jid
            self.commit(touched)
            orig.reversed = True
            m.journals[j.id] = MJournal(j.id, [(c, d, amt) for d, c, amt in orig.transfers], "reversal", "posted")
            self.remember_key(key, request, j.id, ok=True)
            self.check_rows(j.id)

        @precondition(lambda self: self.model.journals)
        @rule(data=st.data())
        def reverse(self, data):
            jid = 0 if data.draw(st.integers(0, 9)) == 0 else _journal_ids(data.draw, self.model.journals)
            self.do_reverse(jid, self.draw_key(data))

        # -- idempotency retries ----------------------------------------------------------------
        def replay(self, request, key):
            op = request[0]
            if op == "post":
                _, memo, pending, transfers = request
                self.do_post(list(transfers), pending, key, memo=memo)
            elif op in ("post_pending", "void_pending"):
                self.do_resolve("post" if op == "post_pending" else "void", request[1], request[2], key)
            else:
                self.do_reverse(request[1], key, memo=request[2])

        @precondition(lambda self: self.model.keys)
        @rule(data=st.data())
        def retry_same(self, data):
            key = data.draw(st.sampled_from(sorted(self.model.keys)))
            before = {code: vars(a).copy() for code, a in self.model.accounts.items()}
            n = len(self.model.journals)
            self.replay(self.model.keys[key][0], key)
            assert len(self.model.journals) == n
            assert {code: vars(a) for code, a in self.model.accounts.items()} == before

        @precondition(lambda self: self.model.keys)
        @rule(data=st.data())
        def retry_different(self, data):
            key = data.draw(st.sampled_from(sorted(self.model.keys)))
            request = self.model.keys[key][0]
            op = request[0]
            variant = data.draw(st.sampled_from(["memo", "tweak"]))
            if op == "post":
                _, memo, pending, transfers = request
                if variant == "memo":
                    request = ("post", memo + "-again", pending, transfers)
                else:
                    (d, c, amt), *rest = transfers
                    request = ("post", memo, pending, ((d, c, amt + 1), *rest))
            elif op in ("post_pending", "void_pending"):
                jid, amount = request[1], request[2]
                if variant == "memo":  # the same journal, the other resolution
                    request = ("void_pending" if op == "post_pending" else "post_pending", jid, None)
                else:
                    request = (
                        ("post_pending", jid, 1 if amount is None else amount + 1)
                        if op == "post_pending"
                        else ("reverse", jid, "")
                    )
            else:
                request = (
                    ("reverse", request[1], request[2] + "-again")
                    if variant == "memo"
                    else ("post_pending", request[1], None)
                )
            assert self.model.key_outcome(key, request) is IdempotencyConflict
            n = len(self.model.journals)
            self.replay(request, key)
            assert len(self.model.journals) == n

        # -- invariants ---------------------------------------------------------------------------
        @invariant()
        def balances_match_model(self):
            for code, a in self.model.accounts.items():
                got = self.book.balance(code)
                want = (a.posted, a.pending_in, a.pending_out, a.available)
                assert (got.posted, got.pending_in, got.pending_out, got.available) == want, code
                if a.no_overdraft:
                    assert got.available >= 0, code

        @invariant()
        def trial_balance_balances(self):
            tb = self.book.trial_balance()
            for unit, (debits, credits) in tb.items():
                assert debits == credits, unit
            want: dict[str, tuple[int, int]] = {}
            for a in self.model.accounts.values():
                d, c = want.get(a.unit, (0, 0))
                want[a.unit] = (d + a.dp, c + a.cp)
            assert tb == want

        @invariant()
        def verifies(self):
            assert self.book.verify() == []

    run_state_machine_as_test(
        LedgerModel,
        # One bug at a time: every step re-verifies the whole book, so shrinking two failures doubles a slow wait.
        settings=settings(max_examples=25, stateful_step_count=30, deadline=None, report_multiple_bugs=False),
    )
