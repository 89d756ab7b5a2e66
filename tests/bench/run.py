"""`make bench`: time the ledger, member search and import, signed-in requests, the side-by-side peers, and
earning (review, sign-up, a check-in burst against a real server) on SQLite and PostgreSQL; print a table and
write docs/benchmarks.md.

Usage: python -m tests.bench.run [--quick] [--only NAME ...] [--doc PATH | --no-doc]
A section is a function taking a Context; add one by appending a Section to SECTIONS.
PostgreSQL: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1/aixin_bench), which is
dropped and rebuilt on every run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from config import ROOT

from . import (
    checkin_bench,
    earning_bench,
    expiry_bench,
    fund_bench,
    fund_report_bench,
    http_bench,
    ledger_bench,
    outlet_bench,
    peers_bench,
    people_bench,
    report_bench,
)
from .harness import (
    DEFAULT_PG,
    Context,
    LoadMeter,
    Report,
    Section,
    goals_table,
    load_table,
    machine,
    postgres_target,
    remove_dir,
    sqlite_target,
    table,
    temp_dir,
    write_doc,
)

SECTIONS: list[Section] = [
    *ledger_bench.SECTIONS,
    *people_bench.SECTIONS,
    *http_bench.SECTIONS,
    *peers_bench.SECTIONS,
    *earning_bench.SECTIONS,
    *checkin_bench.SECTIONS,
    *expiry_bench.SECTIONS,
    *report_bench.SECTIONS,
    *fund_report_bench.SECTIONS,
    *fund_bench.SECTIONS,
    *outlet_bench.SECTIONS,
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, a smoke run of a minute or so")
    ap.add_argument("--only", nargs="+", choices=[s.name for s in SECTIONS], help="run only these sections")
    ap.add_argument("--doc", type=Path, help="where to write the report (default docs/benchmarks.md on a full run)")
    ap.add_argument("--no-doc", action="store_true", help="write no report")
    ap.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    args = ap.parse_args(argv)
    # A smoke run must not overwrite the real numbers unless asked to.
    doc = None if args.no_doc else (args.doc or (None if args.quick else ROOT / "docs" / "benchmarks.md"))
    sections = [s for s in SECTIONS if not args.only or s.name in args.only]

    started = time.perf_counter()
    workdir = temp_dir()
    targets, pg_missing = [], ""
    try:
        print("Building the SQLite database …", flush=True)
        targets.append(sqlite_target(workdir))
        if args.sqlite_only:
            pg_missing = "PostgreSQL skipped (--sqlite-only)"
        else:
            url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG)
            print("Resetting and migrating the PostgreSQL database …", flush=True)
            pg, pg_missing = postgres_target(url)
            if pg is not None:
                targets.append(pg)
        if pg_missing:
            print(f"{pg_missing}: benchmarking SQLite only.", flush=True)
        machine_rows = machine(next((t for t in targets if t.is_pg), None))
        report = Report()
        if pg_missing:
            report.note(pg_missing + ".")
        ctx = Context(targets=targets, quick=args.quick, report=report, pg_missing=pg_missing)
        for s in sections:
            print(f"\n== {s.title}", flush=True)
            meter = LoadMeter()
            s.run(ctx)
            secs, pct, la = meter.read()
            report.load.append((s.title, secs, pct, la))
            shown = "" if pct is None else f", CPU pressure {pct:.0f} %"
            print(f"   ({secs:.0f} s{shown}, load average {la:.2f})", flush=True)
        if report.verified:
            sound = sum(report.verified)
            report.note(f"Ledger.verify() on the benchmark's tenants: {sound} of {len(report.verified)} sound.")
    finally:
        for t in targets:
            t.engine.dispose()
        remove_dir(workdir)
    seconds = time.perf_counter() - started

    print()
    for k, v in machine_rows:
        print(f"{k}: {v}")
    print()
    print("\n".join(table(report)))
    print()
    print("\n".join(goals_table(report)))
    print()
    print("\n".join(load_table(report)))
    print(f"\nTotal {seconds / 60:.1f} minutes.")
    if doc is not None:
        write_doc(doc, report, machine_rows, sections, args.quick, seconds)
        print(f"Wrote {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
