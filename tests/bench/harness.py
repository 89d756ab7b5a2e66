"""The benchmark's plumbing: databases to run on, the machine's description, results, the table and the doc."""

from __future__ import annotations

import itertools
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from app.db import make_engine
from config import ROOT, database_url

DEFAULT_PG = "postgresql://postgres@127.0.0.1/aixin_bench"


def serve_workers() -> int:
    """The gunicorn workers `make serve` starts: WEB_CONCURRENCY, or the usable cores + 1 (the
    Makefile's `nproc` + 1; docs/outlets.md, "How many workers")."""
    return int(os.environ.get("WEB_CONCURRENCY") or len(os.sched_getaffinity(0)) + 1)


def migrate(url: str) -> None:
    """`alembic upgrade head`, as tests.conftest.migrate does (copied so the benchmark needs no pytest)."""
    cfg = AlembicConfig(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "head")


# -- databases -------------------------------------------------------------------------------------
@dataclass
class Target:
    """One database the sections run on."""

    name: str  # "sqlite" | "postgresql": the column of the table
    url: str
    engine: Engine

    @property
    def is_pg(self) -> bool:
        return self.name == "postgresql"


def sqlite_target(workdir: Path) -> Target:
    url = f"sqlite:///{workdir / 'bench.db'}"
    migrate(url)
    return Target("sqlite", url, make_engine(url))


def postgres_target(raw_url: str) -> tuple[Target | None, str]:
    """A freshly reset and migrated PostgreSQL database, or (None, why not)."""
    url = database_url(raw_url)
    try:
        _ensure_database(url)
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        migrate(url)
    except Exception as exc:  # unreachable server, bad credentials…: run on SQLite alone, say so
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, f"PostgreSQL at {make_url(url).render_as_string(hide_password=True)} is unreachable ({first})"
    return Target("postgresql", url, make_engine(url, pool_size=4)), ""


def _ensure_database(url: str) -> None:
    """CREATE DATABASE when the named one does not exist yet (connecting through `postgres`)."""
    name = make_url(url).database
    admin = make_engine(
        make_url(url).set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()


def pg_settings(target: Target) -> dict[str, str]:
    with target.engine.connect() as conn:
        got = {
            k: conn.execute(text(f"SHOW {k}")).scalar_one()
            for k in ("server_version", "shared_buffers", "synchronous_commit", "fsync", "max_connections")
        }
        conn.rollback()
    return got


# -- the machine -----------------------------------------------------------------------------------
def machine(pg: Target | None) -> list[tuple[str, str]]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "unknown"
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    import psycopg
    import sqlalchemy

    rows = [
        ("Date", datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M %Z")),
        ("CPU", cpu),
        ("Cores (logical, usable)", f"{os.cpu_count()}, {len(os.sched_getaffinity(0))}"),
        ("RAM", ram),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("SQLAlchemy / psycopg", f"{sqlalchemy.__version__} / {psycopg.__version__}"),
    ]
    if pg is not None:
        s = pg_settings(pg)
        rows.append(
            (
                "PostgreSQL",
                f"{s['server_version']} (shared_buffers {s['shared_buffers']}, "
                f"synchronous_commit {s['synchronous_commit']}, fsync {s['fsync']})",
            )
        )
    else:
        rows.append(("PostgreSQL", "not reachable: not measured"))
    rows.append(("Code measured", _code_version()))
    rows.append(("Load average at start (1/5/15 min)", " / ".join(f"{x:.2f}" for x in os.getloadavg())))
    return rows


def cpu_pressure_us() -> int | None:
    """Total microseconds some task waited for a CPU (Linux PSI), or None where unavailable."""
    try:
        for line in Path("/proc/pressure/cpu").read_text().splitlines():
            if line.startswith("some"):
                return int(line.rsplit("total=", 1)[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


class LoadMeter:
    """How busy the machine was over a stretch of the run: other work on the box skews every number."""

    def __init__(self) -> None:
        self.t, self.p = time.perf_counter(), cpu_pressure_us()

    def read(self) -> tuple[float, float | None, float]:
        """(seconds, % of the time some task waited for a CPU, 1-minute load average now)."""
        secs = time.perf_counter() - self.t
        p = cpu_pressure_us()
        pct = None if p is None or self.p is None else (p - self.p) / 1e6 / secs * 100
        return secs, pct, os.getloadavg()[0]


def _code_version() -> str:
    """The commit the numbers belong to, and whether ledger/ differed from it (read-only git calls)."""
    try:

        def git(*args):
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()

        head = git("log", "-1", "--format=%h %s")
        dirty = git("status", "--porcelain", "--", "ledger", "migrations")
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    if not head:
        return "unknown (not a git checkout)"
    return f"commit {head}" + (" + uncommitted changes in ledger/ or migrations/" if dirty else "")


# -- results ---------------------------------------------------------------------------------------
@dataclass
class Goal:
    text: str  # e.g. "ledger / floor throughput >= 0.5"
    db: str
    value: float | None
    met: bool | None  # None: not measured


@dataclass
class Report:
    # (section title, measure) -> {db: formatted value}; dicts keep insertion order for the table
    values: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    load: list[tuple[str, float, float | None, float]] = field(default_factory=list)  # section, s, PSI %, load
    verified: list[bool] = field(default_factory=list)  # one per tenant Ledger.verify() checked: sound?
    peers_table: str = ""  # section 10: the shared harness's own table, as it printed it

    def add(self, section: str, measure: str, db: str, value: str) -> None:
        self.values.setdefault((section, measure), {})[db] = value
        print(f"  {section} | {measure} | {db}: {value}", flush=True)

    def goal(self, text_: str, db: str, value: float | None, met: bool | None) -> None:
        self.goals.append(Goal(text_, db, value, met))
        state = "not measured" if met is None else ("met" if met else "NOT MET")
        shown = "" if value is None else f" ({value:.2f})"
        print(f"  goal: {text_} on {db}{shown}: {state}", flush=True)

    def note(self, line: str) -> None:
        self.notes.append(line)
        print(f"  note: {line}", flush=True)


@dataclass
class Context:
    """What a section gets: the databases, the run mode and where its results go."""

    targets: list[Target]
    quick: bool
    report: Report
    pg_missing: str = ""  # why PostgreSQL is not measured, or ""
    # Far above any district's id: a section's ledger-only tenant must never be the id a district made
    # later in the same database gets (the demo loaded by section 9 once met section 1's journals,
    # keys and all, under its new district's id).
    _tenants: itertools.count = field(default_factory=lambda: itertools.count(1_000_001))

    def tenant(self) -> int:
        """A tenant no other section uses: every section's rows stay apart."""
        return next(self._tenants)

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    @property
    def pg(self) -> Target | None:
        return next((t for t in self.targets if t.is_pg), None)


@dataclass
class Section:
    name: str  # for --only
    title: str  # the table's first column
    run: Callable[[Context], None]
    method: str  # how it is measured, for the doc (markdown)


# -- helpers for sections --------------------------------------------------------------------------
def median(xs: list[float]) -> float:
    return statistics.median(xs)


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f} transfers/s"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.3f} ms" if seconds < 0.1 else f"{seconds:,.2f} s"


class Stopwatch:
    """Sums the time spent inside `with sw:` blocks."""

    def __init__(self) -> None:
        self.total = 0.0

    def __enter__(self):
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.total += time.perf_counter() - self._t


def temp_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="aixin-bench-"))


def remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# -- output ----------------------------------------------------------------------------------------
DBS = ("sqlite", "postgresql")


def table(report: Report) -> list[str]:
    head = ["Section", "Measure", "SQLite", "PostgreSQL"]
    body = [
        [sec, measure, v.get("sqlite", "–"), v.get("postgresql", "–")] for (sec, measure), v in report.values.items()
    ]
    return _markdown(head, body)


def goals_table(report: Report) -> list[str]:
    by_text: dict[str, dict[str, Goal]] = {}
    for g in report.goals:
        by_text.setdefault(g.text, {})[g.db] = g

    def cell(g: Goal | None) -> str:
        if g is None:
            return "–"
        if g.met is None:
            return "not measured"
        return ("met" if g.met else "**not met**") + ("" if g.value is None else f" ({g.value:.2f})")

    body = [[t, cell(v.get("sqlite")), cell(v.get("postgresql"))] for t, v in by_text.items()]
    return _markdown(["Goal", "SQLite", "PostgreSQL"], body)


def load_table(report: Report) -> list[str]:
    body = [
        [name, f"{secs:,.0f}", "n/a" if pct is None else f"{pct:.0f} %", f"{la:.2f}"]
        for name, secs, pct, la in report.load
    ]
    return _markdown(["Section", "Seconds", "CPU pressure", "Load average (1 min) at end"], body)


def _markdown(head: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [head, *body]) for i in range(len(head))]

    def line(r):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)) + " |"

    return [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *[line(r) for r in body]]


def write_doc(
    path: Path,
    report: Report,
    machine_rows: list[tuple[str, str]],
    sections: list[Section],
    quick: bool,
    seconds: float,
) -> None:
    out = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m tests.bench.run`"
        + (" --quick" if quick else "")
        + f"); the whole run took {seconds / 60:.1f} minutes. "
        "Do not edit by hand: run it again.",
        "",
        "## Machine",
        "",
        *_markdown(["", ""], [[k, v] for k, v in machine_rows]),
        "",
        "## Results",
        "",
        *table(report),
        "",
        "## Goals",
        "",
        *goals_table(report),
        "",
    ]
    if report.load:
        out += [
            "## Machine load during the run",
            "",
            "Other work on the machine slows everything measured here. CPU pressure is the share of the time "
            "at least one runnable task was waiting for a CPU (Linux PSI, /proc/pressure/cpu); it counts the "
            "benchmark's own processes too, so section 4, which runs up to 8 clients and 8 server backends, "
            "raises it by itself.",
            "",
            *load_table(report),
            "",
        ]
    if report.peers_table:
        out += [
            "## Side by side with the peers (section 10), as the shared harness printed it",
            "",
            report.peers_table,
            "",
        ]
    if report.notes:
        out += ["## Notes from this run", "", *[f"- {n}" for n in report.notes], ""]
    out += ["## How each section is measured", ""]
    for s in sections:
        out += [f"### {s.title}", "", s.method.strip(), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out))
