"""Where a redemption's time goes, in-process (no HTTP server, no load generator): builds section 16's
world (tests/bench/outlet_bench.py) on a PostgreSQL database, then posts redemptions one at a time
through Flask's test client, as wrk would, and prints per request the app's CPU (time.process_time),
the PostgreSQL backend's CPU (from /proc, so the server must run on this machine), the statements and
each statement's share of the backend's CPU.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/aixin_bench_profile \\
        .venv/bin/python -m tests.bench.outlet_profile [requests] [--cprofile FILE]

The database is reset. Numbers are per request, medians where it says so; compare runs made at the
same time (the machine's load changes CPU times too).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import os
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import event

from . import checkin_bench as burst
from . import outlet_bench
from .harness import DEFAULT_PG, postgres_target

WARM_UP = 20


def _backend_cpu(pids: set[int]) -> float:
    """CPU seconds the PostgreSQL backends `pids` used so far (utime + stime)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.outlet_profile", description=__doc__.splitlines()[0])
    ap.add_argument("requests", nargs="?", type=int, default=300)
    ap.add_argument("--cprofile", type=Path, help="also write a cProfile (CPU time) of the requests here")
    args = ap.parse_args(argv)
    target, why = postgres_target(os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    if target is None:
        raise SystemExit(why)
    n = args.requests + WARM_UP
    world = outlet_bench._prepare(target, burst._keys(), n, 1)
    app = world["app"]
    work = Path(tempfile.mkdtemp(prefix="aixin-outlet-profile-"))
    members = world["shoppers"][:n]
    outlet_bench._write_lines(world, members, False, work, "profile", first_code=members[0] * 10)
    lines = [line.split("\t") for line in (work / "profile.tsv").read_text().splitlines()]

    engine = app.extensions["db_engine"]
    engine.dispose()
    pids: set[int] = set()
    statements: list[str] = []
    backend_cpu: collections.Counter[str] = collections.Counter()
    started: dict[str, float] = {}

    @event.listens_for(engine, "connect")
    def _pid(dbapi_conn, _record):
        with dbapi_conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pids.add(cur.fetchone()[0])

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, params, context, executemany):
        started["cpu"] = _backend_cpu(pids)

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, params, context, executemany):
        text = " ".join(statement.split())[:90]
        statements.append(text)
        backend_cpu[text] += _backend_cpu(pids) - started["cpu"]

    client = app.test_client()
    # As wrk sends them: without a User-Agent. The test client's own ("Werkzeug/…") differs from the one
    # the session was signed in with, so Flask-Login's session protection would mark every session not
    # fresh and Flask re-sign its cookie on every answer: work the bench's requests never cause.
    client.environ_base.pop("HTTP_USER_AGENT", None)

    def post(i: int) -> None:
        cookie, csrf, url, body = lines[i]
        client.set_cookie("session", cookie, domain="localhost")
        r = client.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "X-CSRFToken": csrf},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )
        assert r.status_code == 201, (r.status_code, r.get_data(as_text=True)[:300])

    for i in range(WARM_UP):
        post(i)
    statements.clear()
    backend_cpu.clear()
    profile = cProfile.Profile(time.process_time) if args.cprofile else None
    app_cpu, wall, counts = [], [], []
    pg_before, cpu_before = _backend_cpu(pids), time.process_time()
    for i in range(WARM_UP, n):
        before = len(statements)
        c0, w0 = time.process_time(), time.perf_counter()
        if profile is not None:
            profile.enable()
        post(i)
        if profile is not None:
            profile.disable()
        app_cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
        counts.append(len(statements) - before)
    done = len(app_cpu)
    pg_total = (_backend_cpu(pids) - pg_before) / done * 1000
    print(f"{done} redemptions, one at a time, load average {os.getloadavg()[0]:.1f}")
    print(f"  app CPU per request: median {statistics.median(app_cpu) * 1000:.2f} ms")
    print(f"  PostgreSQL backend CPU per request: {pg_total:.2f} ms")
    print(f"  wall per request: median {statistics.median(wall) * 1000:.2f} ms")
    print(f"  statements per request: {statistics.median(counts):.0f} (not counting BEGIN, COMMIT, the pool's ping)")
    print("  backend CPU per request, by statement:")
    for text, cpu in backend_cpu.most_common():
        print(f"    {cpu / done * 1000:6.3f} ms  {text}")
    if profile is not None:
        profile.dump_stats(args.cprofile)
        print(f"  cProfile (CPU time, {time.process_time() - cpu_before:.1f} s) written to {args.cprofile}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
