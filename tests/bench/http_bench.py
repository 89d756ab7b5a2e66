"""A signed-in request's fixed cost, beside /healthz (the floor: one database round trip, no session):
in-process with Flask's test client, and over HTTP under `make serve` (gunicorn, production settings)
with wrk and 50 connections — on the demo district, as the issue measured it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from sqlalchemy import select

from app import create_app
from config import ROOT

from .harness import Context, Section, Target, serve_workers, temp_dir

TITLE = "9. Signed-in requests"
ADMIN_MOBILE, DEMO_PASSWORD = "13800138006", "aixin-demo-2026"  # the demo's district administrator
PATHS = [
    ("/healthz", "healthz (floor)"),
    ("/api/v1/members?q=1286", "members API, signed in"),
    ("/me", "/me, signed in"),
]
CONNECTIONS = 50


def _load_demo(target: Target) -> int:
    """The demo district in the target's database (once per run); returns its id."""
    from app.places.models import District

    with target.engine.connect() as conn:
        found = conn.execute(select(District.id).where(District.code == "guangming")).scalar()
        conn.rollback()
    if found:
        return found
    env = dict(os.environ, DATABASE_URL=target.url)
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "demo", "load"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:  # say why: the output is otherwise lost with the failed run
        raise RuntimeError(f"flask demo load failed ({done.returncode}):\n{done.stderr[-4000:]}")
    with target.engine.connect() as conn:
        got = conn.execute(select(District.id).where(District.code == "guangming")).scalar_one()
        conn.commit()
        # As autovacuum would soon after a bulk load: plans from statistics, not from an empty table.
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    return got


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert m, "no CSRF token on the sign-in page"
    return m.group(1)


# -- in-process ------------------------------------------------------------------------------------
def _app(target: Target):
    return create_app(
        {
            "ENV": "test",
            "SECRET_KEY": "bench-secret-" + "x" * 32,
            "DATABASE_URL": target.url,
            "ENGINE": target.engine,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )


def _in_process(ctx: Context, target: Target, district: int) -> None:
    app = _app(target)
    client = app.test_client()
    page = client.get("/signin").get_data(as_text=True)
    resp = client.post(
        "/signin",
        data={"csrf_token": _csrf(page), "district": district, "mobile": ADMIN_MOBILE, "password": DEMO_PASSWORD},
    )
    assert resp.status_code == 302, resp.status_code
    rounds = ctx.size(600, 100)
    times: dict[str, list[float]] = {p: [] for p, _ in PATHS}
    for _ in range(20):  # warm the statement caches and the pool
        for p, _label in PATHS:
            client.get(p)
    for _ in range(rounds):  # interleaved, so drift in the machine's load hits every path alike
        for p, _label in PATHS:
            t0 = time.perf_counter()
            r = client.get(p)
            times[p].append(time.perf_counter() - t0)
            assert r.status_code in (200, 302), (p, r.status_code)
    floor = statistics.median(times["/healthz"])
    for p, label in PATHS:
        m = statistics.median(times[p])
        ratio = "" if p == "/healthz" else f" ({m / floor:.2f}× healthz)"
        ctx.report.add(TITLE, f"in-process {label}, median", target.name, f"{m * 1000:.2f} ms{ratio}")
    worst = max(statistics.median(times[p]) for p, _ in PATHS[1:]) / floor
    ctx.report.goal("in-process: a signed-in API read <= 2x /healthz", target.name, worst, worst <= 2.0)
    _scan_write(ctx, target, app, district, rounds)
    _activity_scan_write(ctx, target, app, district, rounds)


SCAN = "/api/v1/site-scans"


def _scan_write(ctx: Context, target: Target, app, district: int, rounds: int) -> None:
    """A scan-sized write: party members each scan a check-in site's poster (`POST /api/v1/site-scans`,
    the phone's real call), interleaved with /healthz. Each scan is a new check-in (one per member, site
    and day): the row, the monthly-cap counter and the points journal, committed once."""
    from app.auth import services as auth
    from app.checkins.models import CheckinSite, PartyCheckin
    from app.db import unit_of_work, utcnow
    from app.people.models import Member
    from app.times import to_beijing
    from app.tokens import make_token

    today = to_beijing(utcnow()).date()
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        sites = list(
            s.scalars(select(CheckinSite.id).where(CheckinSite.tenant_id == district).order_by(CheckinSite.id))
        )
        members = list(
            s.scalars(
                select(Member.id)
                .where(Member.tenant_id == district, Member.is_party_member.is_(True), Member.status == "active")
                .order_by(Member.id)
            )
        )
        done = set(s.execute(select(PartyCheckin.member_id, PartyCheckin.site_id).where(PartyCheckin.day == today)))
        # Site by site, every member at each: a member signs in once and scans once per site.
        pairs = [(m, site) for site in sites for m in members if (m, site) not in done][: rounds + 20]
        users = {}
        for m, _site in pairs:
            if m not in users:
                users[m] = auth.user_for_member(s, s.get(Member, m)).id
        principals = {m: auth.open_session(s, uid) for m, uid in users.items()}
        tokens = {site: make_token("site_poster", district, site) for site in sites}
    client, headers = _signed_in_clients(app, principals)
    scans = [(headers[m], {"token": tokens[site]}) for m, site in pairs]
    _time_scans(ctx, target, client, SCAN, scans, 201, "site scan POST (a check-in and its points journal)")


def _signed_in_clients(app, principals: dict) -> tuple:
    """A cookie-less test client and, per key, the headers of that principal's browser: the signed
    session cookie and the CSRF token."""
    from flask import session as flask_session
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf

    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    cookie = app.config["SESSION_COOKIE_NAME"]
    client = app.test_client(use_cookies=False)
    headers = {}
    for key, p in principals.items():
        # Signed in from the phone that then scans (the client's address and User-Agent): Flask-Login's
        # session protection ("basic") would otherwise mark each session not fresh on its first request
        # and re-sign and re-send its cookie — once per phone in real use, but on every scan here,
        # where each member's cookie serves one scan.
        with app.test_request_context("/", environ_base=client.environ_base):
            login_user(p)
            csrf = generate_csrf()
            headers[key] = {"Cookie": f"{cookie}={serializer.dumps(dict(flask_session))}", "X-CSRFToken": csrf}
    return client, headers


def _time_scans(
    ctx: Context, target: Target, client, path: str, scans: list, status: int, label: str, goal: bool = True
) -> None:
    """Each (headers, body) of `scans` POSTed to `path` once, interleaved with /healthz; the medians
    after 20 warm-up pairs, in wall and in CPU time, and (with `goal`) the goal."""
    times: dict[str, list[float]] = {"/healthz": [], path: []}
    cpu: dict[str, list[float]] = {"/healthz": [], path: []}
    for i, (headers, body) in enumerate(scans):
        c0, t0 = time.process_time(), time.perf_counter()
        r = client.get("/healthz")
        c1, t1 = time.process_time(), time.perf_counter()
        w = client.post(path, json=body, headers=headers)
        c2, t2 = time.process_time(), time.perf_counter()
        assert r.status_code == 200 and w.status_code == status, (
            r.status_code,
            w.status_code,
            w.get_data(as_text=True),
        )
        if i >= 20:  # the first 20: warm-up
            times["/healthz"].append(t1 - t0)
            times[path].append(t2 - t1)
            cpu["/healthz"].append(c1 - c0)
            cpu[path].append(c2 - c1)
    floor, m_scan = statistics.median(times["/healthz"]), statistics.median(times[path])
    c_floor, c_scan = statistics.median(cpu["/healthz"]), statistics.median(cpu[path])
    n = len(times[path])
    ctx.report.add(
        TITLE,
        f"in-process healthz beside the {label.split(' (')[0]}s ({n}), median",
        target.name,
        f"{floor * 1000:.2f} ms",
    )
    ctx.report.add(
        TITLE, f"in-process {label}, median", target.name, f"{m_scan * 1000:.2f} ms ({m_scan / floor:.2f}× healthz)"
    )
    # The client process's CPU (time.process_time: the app, SQLAlchemy and the driver; not the database
    # server's): steadier than wall time on a shared machine, and blind to the commit's wait for the
    # disk, which a write pays and /healthz does not.
    ctx.report.add(
        TITLE,
        f"in-process CPU of the process, median: healthz / {label.split(' (')[0]}",
        target.name,
        f"{c_floor * 1000:.2f} / {c_scan * 1000:.2f} ms ({c_scan / c_floor:.2f}×)",
    )
    if goal:
        ctx.report.goal(
            f"in-process: a scan-sized write <= 2x /healthz ({label.split(' POST')[0]})",
            target.name,
            m_scan / floor,
            m_scan / floor <= 2.0,
        )


ACTIVITY_SCAN = "/api/v1/scans"


def _activity_scan_write(ctx: Context, target: Target, app, district: int, rounds: int) -> None:
    """The volunteer's scan at an event (`POST /api/v1/scans`, the check-in burst's call): members of the
    demo district signed up for one running activity each scan its check-in poster once — the
    attendance row and the scan log, committed once (points come at check-out and review)."""
    from datetime import timedelta

    from sqlalchemy import insert

    from app.activities import services as activities
    from app.activities.labels import CONFIRMED
    from app.activities.models import Attendance, Signup
    from app.auth import services as auth
    from app.db import unit_of_work, utcnow
    from app.people.models import Member
    from app.places.models import OrgUnit
    from app.tokens import make_token

    n = rounds + 20
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        community = s.scalars(
            select(OrgUnit).where(OrgUnit.tenant_id == district, OrgUnit.kind == "community").order_by(OrgUnit.id)
        ).first()
        assert community is not None
        members = list(
            s.scalars(
                select(Member.id)
                .where(Member.tenant_id == district, Member.status == "active")
                .order_by(Member.id.desc())
                .limit(n)
            )
        )
        now = utcnow()
        activity = activities.create_activity(
            s,
            district,
            activities.ActivityData(
                title="签到基准：社区健步走",
                category="civic",
                host_unit_id=community.id,
                place="光明区体育中心",
                starts_at=now - timedelta(minutes=10),
                ends_at=now + timedelta(hours=3),
                capacity=len(members),
            ),
            actor_user_id=None,
        )
        activities.publish_activity(s, activity, actor_user_id=None)
        # Everyone signed up (bulk: this measures the scans, not the sign-ups).
        s.execute(
            insert(Signup),
            [
                dict(tenant_id=district, activity_id=activity.id, member_id=m, status=CONFIRMED, queued_at=now)
                for m in members
            ],
        )
        activity.confirmed_count = len(members)
        # And one ending in 5 minutes that they all checked in to at its start, 2 hours ago (in bulk):
        # the check-out burst at its end.
        ending = activities.create_activity(
            s,
            district,
            activities.ActivityData(
                title="签退基准：河道清洁",
                category="environment",
                host_unit_id=community.id,
                place="茅洲河碧道",
                starts_at=now - timedelta(hours=2),
                ends_at=now + timedelta(minutes=5),
                capacity=len(members),
            ),
            actor_user_id=None,
        )
        activities.publish_activity(s, ending, actor_user_id=None)
        s.execute(
            insert(Attendance),
            [
                dict(
                    tenant_id=district,
                    activity_id=ending.id,
                    member_id=m,
                    status="in",
                    checked_in_at=ending.starts_at,
                    checkin_source="poster",
                    created_at=now,
                )
                for m in members
            ],
        )
        principals = {m: auth.open_session(s, auth.user_for_member(s, s.get(Member, m)).id) for m in members}
        poster = make_token("poster_checkin", district, activity.id)
        leave = make_token("poster_checkout", district, ending.id)
    client, headers = _signed_in_clients(app, principals)
    scans = [(headers[m], {"token": poster}) for m in members]
    _time_scans(ctx, target, client, ACTIVITY_SCAN, scans, 200, "activity check-in scan POST (attendance and scan log)")
    scans = [(headers[m], {"token": leave}) for m in members]
    _time_scans(
        ctx, target, client, ACTIVITY_SCAN, scans, 200, "activity check-out scan POST (priced, points held pending)"
    )
    # The floor of a signed-in write (section 13's, tests/bench/checkin_app.py) on a twin of the app: the
    # same server-side sessions (a cookie signed afresh for each), the principal, CSRF and JSON checks,
    # one INSERT and the commit, and nothing else.
    # What a scan costs above it is the scan's own work.
    from .checkin_app import FLOOR, with_bench_routes

    floor_client, floor_headers = _signed_in_clients(with_bench_routes(_app(target)), principals)
    scans = [(floor_headers[m], {"activity_id": activity.id}) for m in members]
    _time_scans(
        ctx, target, floor_client, FLOOR, scans, 200, "floor write POST (signed in, CSRF, one insert)", goal=False
    )


# -- under make serve ------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """`make serve` on 127.0.0.1 and a free port, stopped (its whole process group) on exit."""

    def __init__(self, url: str, workdir: Path):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ID_HASH_KEY", "AIXIN_ENV")}
        env.update(
            DATABASE_URL=url,
            SERVE_BIND=f"127.0.0.1:{self.port}",
            SERVE_ENV_FILE=str(workdir / "serve.env"),
            SERVE_JOBS="0",
        )
        self.workers = serve_workers()  # the Makefile counts them; this is for the report
        self.log = open(workdir / "serve.log", "wb")  # noqa: SIM115 (closed in __exit__)
        self.proc = subprocess.Popen(
            ["make", "--no-print-directory", "serve"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def __enter__(self):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"make serve exited with {self.proc.returncode}; see its log")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("make serve did not answer /healthz within 90 s")

    def __exit__(self, *exc):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def _sign_in_over_http(base: str, district: int) -> str:
    """Sign in as the demo's district administrator; returns the Cookie header value. (The cookie is
    Secure in production; the load generator sends it over plain HTTP to 127.0.0.1 regardless.)"""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    # No User-Agent, as wrk sends none: Flask-Login's session protection ("basic") ties the session to
    # the address and User-Agent it signed in with; a request from another marks the session not fresh,
    # re-signs it and sends a Set-Cookie, which wrk (keeping no cookies) would provoke on every request.
    opener.addheaders = []
    with opener.open(base + "/signin", timeout=10) as r:
        cookie = r.headers["Set-Cookie"].split(";", 1)[0]
        html = r.read().decode()
    body = urllib.parse.urlencode(
        {"csrf_token": _csrf(html), "district": district, "mobile": ADMIN_MOBILE, "password": DEMO_PASSWORD}
    ).encode()
    req = urllib.request.Request(base + "/signin", data=body, headers={"Cookie": cookie})
    try:
        opener.open(req, timeout=30)
        raise RuntimeError("sign-in did not redirect")
    except urllib.error.HTTPError as e:  # the 302 after a successful sign-in
        if e.code != 302:
            raise
        return e.headers["Set-Cookie"].split(";", 1)[0]


def _wrk(url: str, seconds: int, cookie: str | None) -> dict[str, float]:
    assert url.startswith("http://127.0.0.1:"), url  # never anything but this machine
    cmd = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=seconds + 60, check=True).stdout

    def dur(s: str) -> float:
        n, unit = re.match(r"([\d.]+)(us|ms|s)", s).groups()  # type: ignore[union-attr]
        return float(n) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    got = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "99"):
        got[f"p{pct}"] = dur(re.search(rf"\s{pct}%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    got["bad"] = float(bad.group(1)) if bad else 0.0
    return got


def _under_serve(ctx: Context, target: Target, district: int) -> None:
    if shutil.which("wrk") is None:
        ctx.report.note("HTTP under make serve not measured: wrk is not installed (apt-get install wrk).")
        return
    seconds = ctx.size(5, 4)
    # The in-process part signed in hundreds of party members (new users and sessions) after the demo's
    # ANALYZE; autovacuum would analyze them within a minute or so, but not necessarily before this
    # starts, and with the old counts PostgreSQL plans the principal's join as a scan of all users.
    with target.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    workdir = temp_dir()
    rounds = ctx.size(3, 1)
    try:
        with _Server(target.url, workdir) as server:
            cookie = _sign_in_over_http(server.base, district)
            for p, _label in PATHS:
                _wrk(server.base + p, 2, cookie if p != "/healthz" else None)  # warm every worker
            # In rounds, each path in turn: drift in the machine's speed (a shared machine's neighbours,
            # the database's background work) then reaches every path alike, as in-process above.
            runs: dict[str, list[dict[str, float]]] = {p: [] for p, _ in PATHS}
            for _ in range(rounds):
                for p, _label in PATHS:
                    runs[p].append(_wrk(server.base + p, seconds, cookie if p != "/healthz" else None))
            for p, label in PATHS:
                rps = [r["rps"] for r in runs[p]]
                shown = (
                    f"{statistics.median(rps):,.0f} req/s (rounds {' / '.join(f'{x:,.0f}' for x in rps)}), "
                    f"p50 {statistics.median(r['p50'] for r in runs[p]):.0f} ms, "
                    f"p99 {max(r['p99'] for r in runs[p]):.0f} ms (worst round)"
                )
                bad = sum(r["bad"] for r in runs[p])
                if bad:
                    shown += f", {bad:.0f} errors"
                ctx.report.add(
                    TITLE, f"make serve ({server.workers} workers), wrk {CONNECTIONS} conn: {label}", target.name, shown
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    api = "/api/v1/members?q=1286"
    # Each round's ratio is of two runs seconds apart; the median of the rounds' ratios.
    ratio = statistics.median(a["rps"] / h["rps"] for a, h in zip(runs[api], runs["/healthz"], strict=True))
    worst_p99 = max(r["p99"] for r in runs[api])
    ctx.report.goal("make serve: signed-in members API >= 0.5x /healthz req/s", target.name, ratio, ratio >= 0.5)
    ctx.report.goal("make serve: signed-in members API p99 < 150 ms", target.name, worst_p99, worst_p99 < 150)


def bench_signed_in(ctx: Context) -> None:
    for target in ctx.targets:
        district = _load_demo(target)
        _in_process(ctx, target, district)
    pg = ctx.pg
    if pg is None:
        ctx.report.note("HTTP under make serve measured on PostgreSQL only: " + (ctx.pg_missing or "not reachable"))
        return
    _under_serve(ctx, pg, _load_demo(pg))


SECTIONS = [
    Section(
        "http",
        TITLE,
        bench_signed_in,
        f"""The demo district (`flask demo load`, about 3,000 members) in the benchmark's database, signed in
as its district administrator. **In-process**: Flask's test client, {PATHS[0][0]}, a member search by
mobile tail (`GET /api/v1/members?q=1286`) and `/me` (a redirect to one's own page) interleaved, 600
rounds after 20 warm-up rounds; the median of each, and its ratio to /healthz, which opens a
connection and sends one query but reads no session. **A scan-sized write**, in-process too: the
demo's party members, each signed in with a session of their own (cookie and CSRF token as a browser
holds them), scan a check-in site's poster (`POST /api/v1/site-scans`, the phone's real call: the
check-in row, the monthly-cap counter and the points journal, committed once), 600 scans, each a new
(member, site, day), interleaved with /healthz from a cookie-less client; the median of each after 20
warm-up pairs, in wall time and in the process's CPU time (`time.process_time`: the app, SQLAlchemy and
the driver, not the database server; it does not see the commit's wait for the disk, which the scan pays
and /healthz does not). Each member's session is made as if signed in on the phone that scans (the
test client's address and User-Agent), as a phone keeps the cookie it signed in with. **The volunteer's
scan at an event** the same way: 600 demo members signed up (in bulk) for one running activity each scan
its check-in poster once (`POST /api/v1/scans`, the check-in burst's call: the attendance row and the
scan log, committed once; the points come at check-out and review), then check out of another activity
that they checked in to (in bulk) at its start 2 hours ago and that ends in 5 minutes (the attendance
closed and priced, the points held as a pending journal, the scan log). Beside them, with no goal of its
own, **the floor of a signed-in write**: the same members post to section 13's floor route
(`POST /api/v1/bench/floor`, added by tests/bench/checkin_app.py to a twin of the app): the session cookie,
the principal, the API's CSRF and JSON checks, one INSERT of a scan row and the commit, nothing else.
**Under `make serve`** (PostgreSQL): the real target — gunicorn with `AIXIN_ENV=production`, workers
from `WEB_CONCURRENCY` or cores + 1, migrations first, bound to 127.0.0.1 on a free port, stopped
when done — and `wrk -t2 -c{CONNECTIONS} --latency` with the signed-in cookie, after 2 s of warm-up per path: three
rounds of 5 s per path, the paths in turn, so that drift in the machine's speed reaches every path
alike; per path the median of the rounds' requests per second (each round's shown), the median 50th
latency percentile and the worst round's 99th; the throughput goal takes the median of the rounds'
ratios (members API to /healthz in the same round), the latency goal the worst round. The load generator
shares the machine's cores with the server and the database.""",
    )
]
