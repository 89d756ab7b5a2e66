"""The ledger's sections: posting speed against a minimal-SQL floor, concurrent writers, reads over long histories."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import make_url, text

from app.db import make_engine
from ledger import Ledger, Transfer

from . import floor
from .harness import Context, Section, Stopwatch, Target, median, ms, rate

ONE = "1-2. One-transfer journals"
FAN = "3. One journal of many transfers"
CONC = "4. Concurrent clients (PostgreSQL)"
HIST = "5. Reads over a long history"


def _check_sound(ctx: Context, target: Target, tenant: int, what: str) -> None:
    """The benchmark's rows must be valid ledger rows, else its numbers mean nothing."""
    with target.engine.connect() as conn:
        problems = Ledger(conn, tenant).verify()
        conn.rollback()
    ctx.report.verified.append(not problems)
    if problems:
        ctx.report.note(f"{target.name}: verify() found problems in {what}: {problems[:3]}")


def _members(conn, tenant: int, n: int, source: str = "source:hours") -> dict[str, floor.Acct]:
    specs = [(source, "debit", False)] + [(f"member:{i}", "credit", True) for i in range(n)]
    return floor.open_accounts(conn, tenant, specs)


# -- 1 and 2: one-transfer journals, one transaction each -----------------------------------------
def bench_one_transfer(ctx: Context) -> None:
    n = ctx.size(2000, 300)
    block = 250 if not ctx.quick else 100
    for target in ctx.targets:
        lt, ft = ctx.tenant(), ctx.tenant()
        with target.engine.connect() as conn:
            _members(conn, lt, 100)
            faccts = _members(conn, ft, 100)
            conn.commit()
            book = Ledger(conn, tenant=lt)
            fsrc = faccts["source:hours"]
            ledger_sw, floor_sw = Stopwatch(), Stopwatch()
            # Alternate blocks of ledger and floor journals so drift in the machine's load hits both alike.
            for lo in range(0, n, block):
                hi = min(n, lo + block)
                jobs = [(f"member:{i % 100}", 1 + i % 50, f"hours:{i}") for i in range(lo, hi)]
                with ledger_sw:
                    for member, amount, key in jobs:
                        book.post([Transfer("source:hours", member, amount)], kind="earn.hours", key=key)
                        conn.commit()
                with floor_sw:
                    for member, amount, key in jobs:
                        floor.post_one(conn, ft, fsrc, faccts[member], amount, "earn.hours", key)
                        conn.commit()
        led, flo = n / ledger_sw.total, n / floor_sw.total
        ctx.report.add(ONE, f"ledger, {n:,} journals", target.name, rate(n, ledger_sw.total))
        ctx.report.add(ONE, "floor (minimal SQL)", target.name, rate(n, floor_sw.total))
        ctx.report.add(ONE, "ledger / floor", target.name, f"{led / flo:.2f}")
        ctx.report.goal(
            "1-transfer journals: ledger / floor throughput >= 0.5", target.name, led / flo, led / flo >= 0.5
        )
        _check_sound(ctx, target, lt, "the ledger's one-transfer journals")
        _check_sound(ctx, target, ft, "the floor's one-transfer journals")


# -- 3: one journal of 10,000 transfers -----------------------------------------------------------
MEMO = "approval of an event's hours"


def bench_fan_out(ctx: Context) -> None:
    n = ctx.size(10_000, 1000)
    rounds = ctx.size(3, 1)
    for target in ctx.targets:
        lt, ft = ctx.tenant(), ctx.tenant()
        ledger_times, floor_times = [], []
        with target.engine.connect() as conn:
            _members(conn, lt, n, "source:event")
            faccts = _members(conn, ft, n, "source:event")
            conn.commit()
            book = Ledger(conn, tenant=lt)
            batch = [Transfer("source:event", f"member:{i}", 10) for i in range(n)]
            fsrc = faccts["source:event"]
            fpairs = [(fsrc, faccts[f"member:{i}"], 10) for i in range(n)]
            for r in range(rounds):
                t = time.perf_counter()
                book.post(batch, kind="earn.event", key=f"event:{r}", memo=MEMO)
                conn.commit()
                ledger_times.append(time.perf_counter() - t)
                t = time.perf_counter()
                floor.post_many(conn, ft, fpairs, "earn.event", f"event:{r}", memo=MEMO)
                conn.commit()
                floor_times.append(time.perf_counter() - t)
        led, flo = median(ledger_times), median(floor_times)
        ctx.report.add(FAN, f"ledger, {n:,} transfers (median of {rounds})", target.name, f"{ms(led)} ({rate(n, led)})")
        ctx.report.add(FAN, "floor (minimal SQL, executemany)", target.name, f"{ms(flo)} ({rate(n, flo)})")
        ctx.report.add(FAN, "ledger / floor", target.name, f"{flo / led:.2f}")
        ctx.report.goal(
            f"{n:,}-transfer journal: ledger / floor throughput >= 0.3", target.name, flo / led, flo / led >= 0.3
        )
        _check_sound(ctx, target, lt, "the ledger's large journals")
        _check_sound(ctx, target, ft, "the floor's large journals")


# -- 4: concurrent clients on PostgreSQL ----------------------------------------------------------
MEMBERS_PER_CLIENT = 20


def _cpu_seconds(pid: int | None = None) -> float | None:
    """CPU time (user + system) used so far by this process, or by process `pid` (read from /proc)."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _client(url: str, tenant: int, k: int, hot: bool, seconds: float, barrier, results) -> None:
    """One client process: post one-transfer journals, one transaction each, until the time is up."""
    try:
        engine = make_engine(url, pool_size=1)
        with engine.connect() as conn:
            book = Ledger(conn, tenant=tenant)
            # The server's own process, to count its CPU too (only when it runs on this machine).
            server = None
            if make_url(url).host in (None, "", "localhost", "127.0.0.1", "::1"):
                server = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
                conn.rollback()

            def one(j: int) -> None:
                member = f"member:{k}:{j % MEMBERS_PER_CLIENT}"
                t = Transfer(member, "outlet:hot", 1) if hot else Transfer(f"source:{k}", member, 1)
                book.post([t], kind="redeem" if hot else "earn.hours", key=f"{k}:{j}")
                conn.commit()

            for j in range(20):  # warm up: connection, statement caches
                one(j)
            barrier.wait()
            cpu0, server0 = _cpu_seconds(), _cpu_seconds(server) if server else None
            done, start = 0, time.perf_counter()
            end = start + seconds
            while time.perf_counter() < end:
                one(20 + done)
                done += 1
            took = time.perf_counter() - start
            cpu, server_cpu = _cpu_seconds() - cpu0, None
            if server0 is not None and (server1 := _cpu_seconds(server)) is not None:
                server_cpu = server1 - server0
            results.put((k, done, took, cpu, server_cpu, None))
        engine.dispose()
    except BaseException:
        results.put((k, 0, 0.0, 0.0, None, traceback.format_exc()))
        try:
            barrier.abort()
        except Exception:
            pass


@dataclass
class Run:
    tps: float  # journals (= transfers) per second, summed over the clients
    journals: int
    seconds: float
    client_cpu: float  # CPU seconds the client processes used
    server_cpu: float | None  # and their PostgreSQL backends, when on this machine


def _concurrent(target: Target, tenant: int, clients: int, hot: bool, seconds: float) -> Run:
    with target.engine.connect() as conn:
        specs = [("outlet:hot", "credit", False)]
        for k in range(clients):
            specs.append((f"source:{k}", "debit", False))
            specs += [(f"member:{k}:{i}", "credit", True) for i in range(MEMBERS_PER_CLIENT)]
        floor.open_accounts(conn, tenant, specs)
        conn.commit()
        if hot:  # the members spend at the outlet, so give them points first
            book = Ledger(conn, tenant=tenant)
            for k in range(clients):
                book.post(
                    [Transfer(f"source:{k}", f"member:{k}:{i}", 10**9) for i in range(MEMBERS_PER_CLIENT)],
                    kind="earn.hours",
                    key=f"fund:{k}",
                )
            conn.commit()
    # fork: the children start at once with everything imported; each opens its own engine and
    # connection, and never uses the parent's (it exits with os._exit, so nothing is closed twice).
    mpc = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    barrier, results = mpc.Barrier(clients), mpc.Queue()
    procs = [
        mpc.Process(target=_client, args=(target.url, tenant, k, hot, seconds, barrier, results))
        for k in range(clients)
    ]
    for p in procs:
        p.start()
    got = [results.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    errors = [e for *_, e in got if e]
    if errors:
        raise RuntimeError(f"a benchmark client failed:\n{errors[0]}")
    server = [g[4] for g in got]
    return Run(
        tps=sum(done / took for _, done, took, *_ in got),
        journals=sum(g[1] for g in got),
        seconds=max(g[2] for g in got),
        client_cpu=sum(g[3] for g in got),
        server_cpu=None if None in server else sum(server),
    )


def bench_concurrent(ctx: Context) -> None:
    target = ctx.pg
    goal = "disjoint writers: 4 clients >= 1.5x one client"
    if target is None:
        ctx.report.add(CONC, "disjoint / hot account", "postgresql", "not measured")
        ctx.report.goal(goal, "postgresql", None, None)
        return
    seconds = 1.0 if ctx.quick else 6.0
    rounds = 1 if ctx.quick else 3
    cores = len(os.sched_getaffinity(0))
    for hot in (False, True):
        label = "one hot account" if hot else "disjoint accounts"
        # Several rounds, each over every client count, and the median round per count: on a small
        # machine one run swings by a third with whatever else it is doing.
        tried: dict[int, list[Run]] = {c: [] for c in (1, 2, 4, 8)}
        for _ in range(rounds):
            for c in tried:
                tried[c].append(_concurrent(target, ctx.tenant(), c, hot, seconds))
        runs = {c: sorted(rs, key=lambda r: r.tps)[len(rs) // 2] for c, rs in tried.items()}
        for c, r in runs.items():
            spread = (
                ""
                if rounds == 1
                else (
                    f"; median of {rounds}, "
                    f"range {min(x.tps for x in tried[c]):,.0f}–{max(x.tps for x in tried[c]):,.0f}"
                )
            )
            busy = r.client_cpu + (r.server_cpu or 0)
            cpu = (
                ""
                if r.server_cpu is None or not r.journals
                else (
                    f"; CPU per journal {r.client_cpu / r.journals * 1000:.1f}"
                    f" + {r.server_cpu / r.journals * 1000:.1f} ms"
                )
            )
            ctx.report.add(
                CONC,
                f"{label}, {c} client{'s' if c > 1 else ''}",
                target.name,
                f"{r.tps:,.0f} transfers/s ({r.tps / runs[1].tps:.2f}x;"
                f" {busy / r.seconds:.1f} cores busy{cpu}{spread})",
            )
        if hot:
            continue
        one = runs[1]
        scale = runs[4].tps / one.tps
        ctx.report.goal(goal, target.name, scale, scale >= 1.5)
        if one.server_cpu is not None and one.journals:
            # What one journal costs in CPU, client and server together, caps what these cores can do.
            per = (one.client_cpu + one.server_cpu) / one.journals
            ceiling = cores / per
            ctx.report.add(
                CONC,
                "CPU per journal (1 client): client + server",
                target.name,
                f"{one.client_cpu / one.journals * 1000:.2f} + {one.server_cpu / one.journals * 1000:.2f} ms",
            )
            ctx.report.add(CONC, f"CPU ceiling on {cores} cores", target.name, f"{ceiling:,.0f} transfers/s")
            ctx.report.note(
                f"Concurrent clients: one client keeps {(one.client_cpu + one.server_cpu) / one.seconds:.1f} of "
                f"{cores} cores busy; 4 clients reached {runs[4].tps / ceiling:.0%} of the {ceiling:,.0f} transfers/s "
                f"that {cores} cores allow at {per * 1000:.2f} ms of CPU per journal"
                + (" — the cores, not locks, are the limit here." if runs[4].tps >= 0.7 * ceiling else ".")
            )


# -- 5: balance() and statement() over a short and a long history ---------------------------------
def bench_history(ctx: Context) -> None:
    small, big = 1000, ctx.size(1_000_000, 50_000)
    calls = ctx.size(200, 50)
    for target in ctx.targets:
        tenants = {}
        t0 = time.perf_counter()
        with target.engine.connect() as conn:
            for size in (small, big):
                tenants[size] = tenant = ctx.tenant()
                accts = floor.open_accounts(
                    conn, tenant, [("source:hours", "debit", False), ("member:1", "credit", True)]
                )
                floor.build_history(conn, tenant, accts["source:hours"], accts["member:1"], size)
                conn.commit()
            if target.is_pg:
                # A maintained database has statistics (autovacuum would gather them soon after a load like this).
                conn.execute(text("ANALYZE"))
                conn.commit()
        ctx.report.note(
            f"{target.name}: built the {small:,} and {big:,}-transfer histories in {time.perf_counter() - t0:.0f} s"
        )
        _check_sound(ctx, target, tenants[small], f"the {small:,}-transfer history")
        if ctx.quick:
            _check_sound(ctx, target, tenants[big], f"the {big:,}-transfer history")
        timings: dict[tuple[str, int], list[float]] = {}
        with target.engine.connect() as conn:
            books = {size: Ledger(conn, tenant=tenants[size]) for size in (small, big)}
            calls_of = {
                "balance()": lambda b: b.balance("member:1"),
                "statement(), first page of 50": lambda b: b.statement("member:1", limit=50),
            }
            for i in range(calls + 20):  # the first 20 only warm caches
                conn.execute(text("SELECT 1"))  # open the transaction outside the clock
                # Interleave the sizes, each first in turn, so load changes and first-call effects hit both alike.
                for what, call in calls_of.items():
                    for size in (small, big) if i % 2 else (big, small):
                        t = time.perf_counter()
                        call(books[size])
                        took = time.perf_counter() - t
                        if i >= 20:
                            timings.setdefault((what, size), []).append(took)
                conn.rollback()
            page = books[big].statement("member:1", limit=50)
            assert len(page.lines) == 50 and page.lines[0].seq == big, "statement() did not return the newest 50"
            conn.rollback()
        for what in calls_of:
            a, b = median(timings[(what, small)]), median(timings[(what, big)])
            ctx.report.add(HIST, f"{what}, {small:,} entries (median of {calls})", target.name, ms(a))
            ctx.report.add(HIST, f"{what}, {big:,} entries", target.name, f"{ms(b)} ({b / a:.2f}x)")
            ctx.report.goal(f"{what}: time at {big:,} / at {small:,} entries <= 2", target.name, b / a, b / a <= 2)


SECTIONS = [
    Section(
        "one",
        ONE,
        bench_one_transfer,
        """
One client posts journals of one transfer (`source:hours` -> one of 100 member wallets with
no-overdraft), each with its own idempotency key, and commits after each: one database transaction
per journal, as a scan or a button press does. The full run posts 2,000 journals; `--quick` 300.

The floor writes the same rows in the same kind of transaction on the same database, tenant apart:
one journal row (`INSERT … RETURNING id`), one transfer row (`INSERT … RETURNING id`), two entry
rows (one executemany) and the two account `UPDATE`s with the same column values, head hash
included (the floor computes the same hash chain with `ledger.chain.entry_hash`). It reads nothing,
locks nothing and checks nothing, which the ledger must. Ledger and floor run in alternating
blocks of 250 journals, so a change in the machine's load hits both alike. Both use a
`Connection` from `app.db.make_engine(url)`; `Ledger.verify()` then checks both tenants, so the
floor's rows are valid ledger rows. Goal: ledger throughput at least half the floor's.
""",
    ),
    Section(
        "fan",
        FAN,
        bench_fan_out,
        """
One journal moves 10 points from `source:event` to each of 10,000 member wallets (a large event's
approval), committed as one transaction; the `Transfer` list is built before the clock starts. The
full run repeats it 3 times (the median is shown), `--quick` once with 1,000 transfers.

The floor writes the same rows: the journal (`INSERT … RETURNING id`), a block of transfer ids
(`nextval` over `generate_series` on PostgreSQL, `max(id)` on SQLite under its write lock), the
transfers, entries and account `UPDATE`s each as one executemany, computing the same hash chain.
Goal: the ledger's throughput at least 0.3 of the floor's.
""",
    ),
    Section(
        "concurrent",
        CONC,
        bench_concurrent,
        """
1, 2, 4 and 8 clients post one-transfer journals, one transaction each, for 6 seconds (1 s with
`--quick`) after a warm-up of 20 journals, all starting together. The full run does 3 rounds over
all four client counts and shows the median round for each count, with the range. Clients are separate
**processes** (multiprocessing, fork), each with its own connection: with threads the ledger's
Python work per journal would serialise on the GIL, which would measure the interpreter rather than
the database. *Disjoint accounts*: each client earns from its own source into its own 20 wallets,
so no two clients touch one row. *One hot account*: each client's members spend at the same
`outlet:hot`, so every journal locks that row until it commits and journals queue on it. A fresh
tenant per run; throughput is the sum over clients of journals / seconds. Goal: 4 disjoint clients
reach at least 1.5x one client.

The clients and the PostgreSQL server share this machine's cores, so the table also shows the CPU
the clients and their server backends used (from `os.times()` and `/proc/<backend pid>/stat`):
CPU per journal times throughput cannot exceed the core count, which bounds the scaling any number
of clients can show on this machine.
""",
    ),
    Section(
        "history",
        HIST,
        bench_history,
        """
Two member wallets, one with 1,000 entries of history and one with 1,000,000 (`--quick`: 50,000),
in the same tables. The histories are written in bulk with minimal SQL (`COPY` on PostgreSQL,
executemany on SQLite; about a minute for the million): one-transfer journals from a source
account, each with its journal, transfer, two entries with the running balance and the hash chain,
and the account rows' totals and chain heads, so they are valid ledger rows (`Ledger.verify()`
checks the 1,000-entry one, and the large one in `--quick`). The PostgreSQL load skips the
foreign-key triggers (`session_replication_role = replica`, as pg_restore does; the rows are
consistent by construction), then gets `ANALYZE`, as autovacuum would soon do.
`balance()` and `statement(limit=50)` (the newest page, with journal and transfer joined) are each
called 200 times per wallet after 20 warm-up calls, alternating between the two wallets; the
median is shown. Goal: the long history's median at most 2x the short one's.
""",
    ),
]
