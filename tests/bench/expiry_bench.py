"""Expiry section: the expiry run (app/points/lots.expire_due) over members with three years of
history — seconds and peak memory, at two sizes to show memory stays flat."""

from __future__ import annotations

import os
import random
import threading
import time
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.places import services as places
from app.points import lots
from app.points.expiry import KIND_EXPIRY, MONTH_END
from ledger import Ledger
from ledger.schema import journals

from .expiry_seed import sample_check, seed_history
from .harness import Context, Section, Target, ms
from .people_bench import _app

EXPIRY = "14. Points expiry run (lots, oldest first)"
FIRST_RUN = datetime(2026, 12, 5, 2)  # lots whose last day is before 5 December 2026 (Beijing)
LATER_RUN = datetime(2027, 6, 5, 2)  # six months on: the next lots fall due, the cache is current
FULL_VERIFY = 100_000  # members up to which the bench runs the whole Ledger.verify()


def _district(target: Target, ctx: Context, members: int) -> tuple[int, float, int]:
    app = _app(target)
    with app.test_request_context(), Session(target.engine) as s:
        t0 = time.perf_counter()
        tenant = places.create_district(s, code=f"expiry{ctx.tenant()}", name="到期测试区").id
        lots.change_expiry(s, tenant, mode=MONTH_END, months=12, reason="bench", now=datetime(2023, 12, 1))
        s.commit()
        n = seed_history(s, tenant, members, random.Random(members))
        return tenant, time.perf_counter() - t0, n


class RssPeak:
    """Peak resident memory of this process while a block runs, sampled every 20 ms from /proc (no
    tracing overhead); growth = peak minus the resident size at the start."""

    def __enter__(self) -> RssPeak:
        self.start = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    @property
    def growth(self) -> int:
        return self.peak - self.start


def _run(target: Target, tenant: int, when: datetime) -> tuple[lots.ExpiryRun, float, RssPeak]:
    factory = sessionmaker(target.engine)
    with RssPeak() as mem:
        t = time.perf_counter()
        run = lots.expire_due(factory, tenant, when)
        took = time.perf_counter() - t
    return run, took, mem


def bench_expiry(ctx: Context) -> None:
    # EXPIRY_BENCH_MEMBERS=300000: the size, on PostgreSQL only (seeding both sizes ~12 minutes).
    sized = os.environ.get("EXPIRY_BENCH_MEMBERS")
    big = int(sized) if sized else ctx.size(30_000, 2_000)
    small = big // 5
    for target in [t for t in ctx.targets if t.is_pg or not sized]:
        peaks = {}
        for members in (small, big):
            tenant, setup, n = _district(target, ctx, members)
            ctx.report.note(f"{target.name}: {members:,} members, {n:,} journals of history set up in {setup:.0f} s")
            first, took1, peak1 = _run(target, tenant, FIRST_RUN)
            again, took2, _ = _run(target, tenant, FIRST_RUN)
            assert again.lots == 0, again
            later, took3, peak3 = _run(target, tenant, LATER_RUN)
            peaks[members] = max(peak1.growth, peak3.growth)
            with Session(target.engine) as s:
                expired = s.scalar(
                    select(func.count())
                    .select_from(journals)
                    .where(journals.c.tenant_id == tenant, journals.c.kind == KIND_EXPIRY)
                )
                assert expired == first.lots + later.lots, (expired, first.lots, later.lots)
                if members == big:
                    t = time.perf_counter()
                    problems = lots.verify_lots(s, tenant)
                    assert problems == [], problems[:5]
                    ctx.report.note(
                        f"{target.name}: verify_lots on {members:,} members sound in {time.perf_counter() - t:.0f} s"
                    )
                t = time.perf_counter()
                if members <= FULL_VERIFY:
                    ctx.report.verified.append(Ledger(s, tenant=tenant).verify() == [])
                    what = "Ledger.verify()"
                else:
                    # verify() walks every entry in Python (7.6 million here) and holds every transfer's
                    # sides in memory: the sample checks the same things on 2,000 wallets' chains.
                    problems = sample_check(s, tenant)
                    assert problems == [], problems[:5]
                    what = "totals of every account and 2,000 wallets' hash chains (sample_check)"
                ctx.report.note(f"{target.name}: {members:,} members: {what} sound in {time.perf_counter() - t:.0f} s")
            label = f"{members:,} members"
            ctx.report.note(
                f"{target.name}: {members:,} members: first run {first.refresh_seconds:.1f} s refreshing the lots "
                f"cache ({first.refreshed_pages} pages), {first.expire_seconds:.1f} s expiring (each summed over the "
                f"overlapping workers); six months later "
                f"{later.refresh_seconds:.1f} s + {later.expire_seconds:.1f} s; load average {os.getloadavg()[0]:.1f}"
            )
            ctx.report.add(
                EXPIRY,
                f"{label}: first run (cache built from the whole history, {first.lots:,} lots expire)",
                target.name,
                f"{ms(took1)}, +{peak1.growth / 1e6:.0f} MB (RSS {peak1.peak / 1e6:.0f} MB)",
            )
            ctx.report.add(EXPIRY, f"{label}: the same run again (nothing to do)", target.name, ms(took2))
            ctx.report.add(
                EXPIRY,
                f"{label}: six months later, cache current ({later.lots:,} lots expire)",
                target.name,
                f"{ms(took3)}, +{peak3.growth / 1e6:.0f} MB (RSS {peak3.peak / 1e6:.0f} MB)",
            )
            if members == big and target.is_pg:
                ctx.report.goal(f"expiry first run, {big:,} members < 60 s", target.name, took1, took1 < 60)
        ctx.report.add(
            EXPIRY,
            f"peak memory growth during a run, {small:,} → {big:,} members (flat: about the same)",
            target.name,
            f"{peaks[small] / 1e6:.0f} MB → {peaks[big] / 1e6:.0f} MB",
        )


SECTIONS = [
    Section(
        "expiry",
        EXPIRY,
        bench_expiry,
        """
A district with expiry at the end of the month 12 months after earning, and per member three years of
history (2024-2026): an earning every four months (check-ins and awards, with their kinds and meta), a
redemption at an outlet each December of about half the wallet, and for about one redemption in five a
partial refund — about 12.6 journals per member, written straight into the ledger's tables with each
row, request hash and per-account hash chain exactly as `Ledger.post_many` writes them
(tests/bench/expiry_seed.py; `Ledger.verify()` is run on the result). Measured, at 30,000 members and
at a fifth of that: `lots.expire_due` on 5 December 2026 — the first run, which builds the lots cache
from every wallet's whole history and posts one expiry journal per member for its due lots, in windows
of 2,000 member ids (two threads on PostgreSQL, one window's expiry overlapping another's refresh); the
same run again (nothing to do: a window's cache and journals commit together); and a run six months
later with the cache current. Beside each time: how much the process's resident memory grew during the
run (sampled every 20 ms from /proc; flat: the same at both sizes, one window of members per worker at
a time). EXPIRY_BENCH_MEMBERS=300000 runs the issue's size on PostgreSQL; the run
grows with the number of stale wallets and due lots (see docs/points.md, "Expiry and lots").""",
    ),
]
