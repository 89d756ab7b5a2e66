"""The expiry section's first run alone, repeatable: seed a district once, then time `lots.expire_due`
on a fresh copy of it (`CREATE DATABASE … TEMPLATE`) as often as needed — before/after pairs without
seeding 3.78 million journals again for each (11 minutes at 300,000 members on the shared machine).

    python -m tests.bench.expiry_first_run seed 300000 postgresql://postgres@127.0.0.1/aixin_x_seed
    python -m tests.bench.expiry_first_run run aixin_x_seed aixin_x_run [--server URL] [--workers N]

`seed` resets and migrates the named database and writes what the expiry section writes (one district,
tests/bench/expiry_seed.py); `run` drops and re-creates the second database as a copy of the first,
runs ANALYZE, and prints the first run's wall time (and the time spent in the refresh and the expiry
steps, each summed over the workers, which overlap: the sum exceeds the wall), this process's CPU time,
the database client backends' CPU time (from /proc, sampled every 0.5 s: the server must run on this
machine), the lots expired and the peak resident memory growth, with the load average."""

from __future__ import annotations

import argparse
import glob
import os
import threading
import time

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from app.db import make_engine
from app.points import lots

from .expiry_bench import FIRST_RUN, RssPeak, _district
from .harness import Context, Report, postgres_target

_TICK = os.sysconf("SC_CLK_TCK")


def seed(members: int, url: str) -> None:
    pg, why = postgres_target(url)
    if pg is None:
        raise SystemExit(why)
    ctx = Context(targets=[pg], quick=False, report=Report(), pg_missing="")
    tenant, seconds, n = _district(pg, ctx, members)
    print(f"district {tenant}: {members:,} members, {n:,} journals in {seconds:.0f} s")
    pg.engine.dispose()


class BackendCpu:
    """CPU seconds of the server's client backends of one database (autovacuum not counted)."""

    def __init__(self, database: str):
        self.database, self.seen = database, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def scan(self) -> None:
        for d in glob.glob("/proc/[0-9]*"):
            try:
                with open(d + "/cmdline") as f:
                    words = f.read().replace("\0", " ").split()
                if self.database not in words or not any(w.startswith("127.0.0.1(") for w in words):
                    continue
                with open(d + "/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                self.seen[d] = (int(fields[11]) + int(fields[12])) / _TICK
            except OSError:
                pass

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self.scan()

    def __enter__(self) -> BackendCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.scan()
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.seen.values())


def run(seeded: str, copy: str, server: str, workers: int | None = None) -> None:
    admin = make_engine(
        make_url(server).set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{copy}"')
        c.exec_driver_sql(f'CREATE DATABASE "{copy}" TEMPLATE "{seeded}"')
    admin.dispose()
    url = make_url(server).set(database=copy).render_as_string(hide_password=False)
    pre = make_engine(url)
    with pre.connect() as c:
        tenant = c.execute(text("SELECT tenant_id FROM points_expiry_policies LIMIT 1")).scalar_one()
        c.execute(text("ANALYZE"))
        c.commit()
    pre.dispose()
    engine = make_engine(url, pool_size=4)
    load = os.getloadavg()[0]
    with BackendCpu(copy) as backend, RssPeak() as mem:
        cpu, wall = time.process_time(), time.perf_counter()
        r = lots.expire_due(sessionmaker(engine), tenant, FIRST_RUN, workers=workers)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    engine.dispose()
    print(
        f"first run: {wall:.1f} s (refresh {r.refresh_seconds:.1f} s, expiry {r.expire_seconds:.1f} s, each summed "
        f"over {workers or lots.EXPIRY_WORKERS} overlapping workers); "
        f"client CPU {cpu:.1f} s, database backends' CPU {backend.seconds:.1f} s; {r.lots:,} lots, "
        f"{r.points:,} points, {r.members:,} members expired, {r.skipped} skipped; memory "
        f"+{mem.growth / 1e6:.0f} MB (RSS {mem.peak / 1e6:.0f} MB); load average {load:.1f} -> {os.getloadavg()[0]:.1f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.expiry_first_run", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("members", type=int)
    s.add_argument("url")
    r = sub.add_parser("run")
    r.add_argument("seeded")
    r.add_argument("copy")
    r.add_argument("--server", default="postgresql://postgres@127.0.0.1/postgres")
    r.add_argument("--workers", type=int, default=None, help=f"default: lots.EXPIRY_WORKERS ({lots.EXPIRY_WORKERS})")
    args = ap.parse_args()
    if args.cmd == "seed":
        seed(args.members, args.url)
    else:
        run(args.seeded, args.copy, args.server, args.workers)


if __name__ == "__main__":
    main()
