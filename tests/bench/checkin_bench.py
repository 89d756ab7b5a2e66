"""Check-in burst: 10,000 volunteers of one large activity each scan once, from 50 concurrent clients,
against a real gunicorn server on PostgreSQL, driven by `wrk` with a Lua script (tests/bench/checkin.lua);
beside it the floor: the same server's minimal endpoint doing the same session lookup and one insert."""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

from flask import session as flask_session
from flask_login import login_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import func, insert, select
from sqlalchemy.orm import sessionmaker

from app import create_app
from app.activities import services as activities
from app.activities.labels import CONFIRMED
from app.activities.models import Activity, Attendance, Scan, Signup
from app.auth import services as auth
from app.auth.models import User
from app.db import unit_of_work, utcnow
from app.people.models import Member
from app.places import services as places
from app.places.models import OrgUnit
from app.tokens import make_token
from config import ROOT

from .harness import Context, Section, Target
from .people_bench import _bulk_members, _tree

BURST = "13. Check-in burst (PostgreSQL, gunicorn, wrk)"
LUA = Path(__file__).with_name("checkin.lua")
CLIENTS = 50
WRK_THREADS = 2
# The place of the activity and where the volunteers stand (about 50 m away; the radius is 300 m).
LAT, LNG = 22.7485, 113.9357
GUNICORN_WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "4"))
GUNICORN_THREADS = int(os.environ.get("BENCH_GUNICORN_THREADS", "4"))
# A gthread worker keeps a keep-alive connection for good, and wrk opens its 50 at once: left to the
# accept race, one worker took 39-45 of them while three idled (docs/outlets.md, "Server settings").
# Many phones connecting over time spread over the workers; capping each worker at its share of the
# clients (gunicorn's worker_connections) spreads wrk's connections the same way; BENCH_WORKER_CONNECTIONS
# overrides it (1000, gunicorn's default, for the accept race).
WORKER_CONNECTIONS = int(os.environ.get("BENCH_WORKER_CONNECTIONS", "0")) or -(-CLIENTS // GUNICORN_WORKERS)
TIME_LIMIT_S = 180  # each wrk run stops by then whatever happens


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keys() -> dict[str, str]:
    return {"SECRET_KEY": secrets.token_urlsafe(48), "ID_HASH_KEY": secrets.token_urlsafe(48)}


def _prepare(target: Target, keys: dict[str, str], n: int, warm: int, work: Path) -> tuple[int, int, str, str]:
    """A district with one large activity and `n` signed-up volunteers, each with an open session, and
    a small one of `warm` other volunteers (the warm-up's). Writes the credentials (session cookie, CSRF
    token) to work/creds.tsv and work/warm.tsv. Returns (district id, the large activity's id, its
    poster's check-in token, the small one's)."""
    app = create_app(
        {"ENV": "production", **keys, "DATABASE_URL": target.url, "RATELIMIT_STORAGE_URI": "memory://"},
    )
    started = time.perf_counter()
    with app.app_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            district = places.create_district(s, code=f"burst-{secrets.token_hex(4)}", name="签到压测区")
            t = district.id
            grids = _tree(s, t, 1, 2, 5)
            community = s.get(OrgUnit, grids[0].parent_id)
            assert community is not None  # an area grid lies in a community
            rows = _bulk_members(s, t, grids, n + warm, random.Random(9))
            mobiles = [r["mobile"] for r in rows]
            member_ids = list(s.scalars(select(Member.id).where(Member.tenant_id == t).order_by(Member.id)))
            assert len(member_ids) == len(mobiles)
            now = utcnow()
            s.execute(insert(User), [dict(tenant_id=t, member_id=m, created_at=now) for m in member_ids])
            warm_ids, member_ids = member_ids[:warm], member_ids[warm:]
            warm_up = _running_activity(s, t, community.id, "签到预热：社区义诊", warm, now)
            activity = _running_activity(s, t, community.id, "万人健步走志愿服务", n, now)
            # Everyone signed up (bulk: the benchmark measures the scans, not 10,000 sign-ups).
            s.execute(
                insert(Signup),
                [
                    dict(tenant_id=t, activity_id=activity.id, member_id=m, status=CONFIRMED, queued_at=now)
                    for m in member_ids
                ]
                + [
                    dict(tenant_id=t, activity_id=warm_up.id, member_id=m, status=CONFIRMED, queued_at=now)
                    for m in warm_ids
                ],
            )
            activity.confirmed_count, warm_up.confirmed_count = n, warm
            s.flush()
            activity_id = activity.id
            user_ids = list(s.scalars(select(User.id).where(User.tenant_id == t).order_by(User.member_id)))
            principals = [auth.open_session(s, uid) for uid in user_ids]
        poster = make_token("poster_checkin", t, activity_id)
        warm_poster = make_token("poster_checkin", t, warm_up.id)
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert serializer is not None
    lines = []
    # Each volunteer's browser state after signing in: Flask's signed session cookie (the server-side
    # session's token, as login_user stores it) and the CSRF token the page would carry. A request
    # context of its own each (outside the app context above): Flask-WTF caches the token in `g`.
    for p in principals:
        with app.test_request_context("/", environ_base={"REMOTE_ADDR": "127.0.0.1"}):
            login_user(p)
            csrf = generate_csrf()
            lines.append(f"{serializer.dumps(dict(flask_session))}\t{csrf}\n")
    (work / "warm.tsv").write_text("".join(lines[:warm]))
    (work / "creds.tsv").write_text("".join(lines[warm:]))
    app.extensions["db_engine"].dispose()
    print(
        f"   {n:,} volunteers (and {warm:,} for the warm-up) signed up and signed in "
        f"({time.perf_counter() - started:.0f} s)",
        flush=True,
    )
    return t, activity_id, poster, warm_poster


def _running_activity(s, tenant_id: int, host_unit_id: int, title: str, capacity: int, now) -> Activity:
    """A published activity under way (started 10 minutes ago, 3 hours to go) at LAT, LNG, radius 300 m."""
    activity = activities.create_activity(
        s,
        tenant_id,
        activities.ActivityData(
            title=title,
            category="civic",
            host_unit_id=host_unit_id,
            place="光明区体育中心",
            starts_at=now - timedelta(minutes=10),
            ends_at=now + timedelta(hours=3),
            capacity=capacity,
            lat=LAT,
            lng=LNG,
            radius_m=300,
        ),
        actor_user_id=None,
    )
    activities.publish_activity(s, activity, actor_user_id=None)
    return activity


class Server:
    """gunicorn serving tests.bench.checkin_app on 127.0.0.1, production settings; stopped on exit."""

    def __init__(
        self,
        target: Target,
        keys: dict[str, str],
        work: Path,
        *,
        worker_class: str = "gthread",
        workers: int = GUNICORN_WORKERS,
        threads: int = GUNICORN_THREADS,
        worker_connections: int = WORKER_CONNECTIONS,
        backlog: int = 256,
        graceful_timeout: int = 5,
    ) -> None:
        """`worker_class` "sync" is `make serve`'s (one request at a time per worker; `threads` unused);
        `make serve` keeps gunicorn's backlog of 2048 and waits 20 s for workers to finish."""
        self.port = _free_port()
        env = {
            **os.environ,
            "AIXIN_ENV": "production",
            **keys,
            "DATABASE_URL": target.url,
            "PYTHONPATH": str(ROOT),
        }
        self.log = open(work / "gunicorn.log", "w")  # noqa: SIM115 (closed in stop)
        gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
        self.proc = subprocess.Popen(
            [
                gunicorn,
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--worker-class",
                worker_class,
                "--threads",
                str(threads),
                "--backlog",
                str(backlog),
                "--timeout",
                "30",
                "--graceful-timeout",
                str(graceful_timeout),
                "--no-control-socket",  # as make serve: no shared ~/.gunicorn/gunicorn.ctl between servers
                "--worker-connections",
                str(worker_connections),
                "tests.bench.checkin_app:create()",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn did not start; see {work / 'gunicorn.log'}")
            time.sleep(0.3)

    def has(self, path: str) -> bool:
        """Does the server route `path` (POST)? An unknown API path answers 404, a known one 401 unsigned."""
        req = urllib.request.Request(self.url + path, data=b"{}", method="POST")
        req.add_header("Content-Type", "application/json")
        try:
            urllib.request.urlopen(req, timeout=5)
        except urllib.error.HTTPError as e:
            return e.code != 404
        return True

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wrk(url: str, body: dict, work: Path, name: str, n: int, creds: str = "creds.tsv") -> dict:
    """One burst: every credential of work/`creds` used once, CLIENTS connections, bounded by TIME_LIMIT_S."""
    done = work / f"done-{name}"
    done.mkdir()
    (work / f"{name}.json").write_text(json.dumps(body))
    cmd = [
        "wrk",
        "-t",
        str(WRK_THREADS),
        "-c",
        str(CLIENTS),
        "-d",
        f"{TIME_LIMIT_S}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
        "--",
        str(work / creds),
        str(work / f"{name}.json"),
        str(WRK_THREADS),
        str(done),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + TIME_LIMIT_S + 30
    # wrk runs for its whole duration unless interrupted: stop it once every thread has its answers.
    while proc.poll() is None and time.monotonic() < deadline:
        if len(list(done.iterdir())) >= WRK_THREADS:
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.1)
    out, _ = proc.communicate(timeout=60)
    line = next((x for x in out.splitlines() if x.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result:\n{out[-2000:]}")
    result = json.loads(line[len("WRK_RESULT ") :])
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    result["answered"] = result["requests"]
    result["rps"] = result["requests"] / (result["burst_us"] / 1e6) if result["burst_us"] else 0.0
    return result


def bench_checkin_burst(ctx: Context) -> None:
    target = ctx.pg
    if target is None:
        ctx.report.note(f"{BURST}: not measured ({ctx.pg_missing or 'no PostgreSQL'}).")
        return
    if shutil.which("wrk") is None:
        ctx.report.note(f"{BURST}: not measured: wrk is not installed (apt-get install -y wrk).")
        print("   wrk is not installed (apt-get install -y wrk): skipped", flush=True)
        return
    n = ctx.size(10_000, 1_000)
    # A server that has been up serving other traffic, as at a real event: before the measured burst,
    # `warm` other volunteers check in to another activity through the same call (not counted). Without
    # it the burst also timed each worker's first requests (connections opened, statements compiled and
    # prepared), which the floor, measured second, never paid.
    warm = ctx.size(1_000, 200)
    keys = _keys()
    work = Path(tempfile.mkdtemp(prefix="aixin-burst-"))
    try:
        t, activity_id, poster, warm_poster = _prepare(target, keys, n, warm, work)
        server = Server(target, keys, work)
        try:
            path = "/api/v1/scans" if server.has("/api/v1/scans") else "/api/v1/bench/scans"
            warmed = wrk(
                server.url + path,
                {"token": warm_poster, "lat": LAT + 0.0004, "lng": LNG},
                work,
                "warm",
                warm,
                "warm.tsv",
            )
            if warmed["errors"]:  # a warm-up that failed warmed nothing: say so rather than measure on
                raise RuntimeError(f"the warm-up burst had {warmed['errors']} errors: {warmed['first_error']}")
            scans = wrk(server.url + path, {"token": poster, "lat": LAT + 0.0004, "lng": LNG}, work, "scan", n)
            floor = wrk(server.url + "/api/v1/bench/floor", {"activity_id": activity_id}, work, "floor", n)
        finally:
            server.stop()
        with unit_of_work(_sessionmaker(target)) as s:
            attended = s.scalar(
                select(func.count()).select_from(Attendance).where(Attendance.activity_id == activity_id)
            )
            recorded = s.scalar(
                select(func.count())
                .select_from(Scan)
                .where(Scan.activity_id == activity_id, Scan.outcome == "recorded", Scan.distance_m.is_not(None))
            )
            assert s.get(Activity, activity_id) is not None
    finally:
        shutil.rmtree(work, ignore_errors=True)

    db = target.name
    what = f"{n:,} volunteers scan once, {CLIENTS} clients ({path})"
    for label, r in (("check-in " + what, scans), ("floor: session lookup + one insert", floor)):
        ctx.report.add(
            BURST,
            label,
            db,
            f"{r['rps']:,.0f} requests/s; p50 / p95 / p99 "
            f"{r['p50_us'] / 1000:.0f} / {r['p95_us'] / 1000:.0f} / {r['p99_us'] / 1000:.0f} ms; "
            f"errors {r['errors']}",
        )
    ratio = scans["rps"] / floor["rps"] if floor["rps"] else 0.0
    ctx.report.add(BURST, "check-in / floor throughput", db, f"{ratio:.2f}")
    ctx.report.add(BURST, "attendances recorded (one per volunteer)", db, f"{attended:,} of {n:,}")
    ctx.report.goal("check-in burst: p99 < 200 ms", db, scans["p99_us"] / 1000, scans["p99_us"] < 200_000)
    ctx.report.goal("check-in burst: 0 errors", db, scans["errors"], scans["errors"] == 0 and attended == n)
    ctx.report.goal("check-in burst: throughput >= 0.5 x floor", db, ratio, ratio >= 0.5)
    ctx.report.note(
        f"{BURST}: server gunicorn, {GUNICORN_WORKERS} workers x {GUNICORN_THREADS} threads (gthread), "
        f"at most {WORKER_CONNECTIONS} connections a worker, "
        f"ENV=production; wrk {WRK_THREADS} threads; {scans['extra']} repeat scans after the last volunteer "
        f"(each answered as already checked in); check-in scans logged {recorded:,}; "
        f"first error: {scans['first_error'] or 'none'}."
    )
    for k in ("scan", "floor"):
        r = scans if k == "scan" else floor
        print(
            f"   {k}: {r['rps']:.0f} requests/s, p50 {r['p50_us'] / 1000:.0f} ms, p95 {r['p95_us'] / 1000:.0f} ms, "
            f"p99 {r['p99_us'] / 1000:.0f} ms, errors {r['errors']} (first: {r['first_error']})",
            flush=True,
        )


def _sessionmaker(target: Target):
    return sessionmaker(bind=target.engine, expire_on_commit=False)


SECTIONS = [
    Section(
        "checkin",
        BURST,
        bench_checkin_burst,
        """
One district, one activity of 10,000 places (with a 300 m radius) and 10,000 volunteers signed up,
each with an open server-side session (`auth.services.open_session`) and the cookie and CSRF token a
signed-in phone would carry. gunicorn serves the app with production settings (ENV=production, fresh
random SECRET_KEY and ID_HASH_KEY) on 127.0.0.1 from `tests/bench/checkin_app.py`, a bench-only factory
that adds the floor route (and a stand-in for POST /api/v1/scans while the real one is not in the app).
`wrk` (Debian's package) with `tests/bench/checkin.lua` keeps 50 connections busy; each request is one
volunteer posting the poster's check-in code with a position inside the radius, each volunteer once.
Before it, 1,000 other volunteers (200 with `--quick`) check in to another activity the same way, not
counted: the server is warm, as one that has been up serving other traffic is when an event's burst
comes (each worker's connections opened, its statements compiled and prepared); the floor, measured
after the burst, was always warm. Throughput is from the first request to the last answer; latencies
are wrk's. The floor is the same server's minimal route: the same session lookup (Flask-Login's loader,
CSRF and JSON checks of the API blueprint) and one INSERT.
Goals: p99 < 200 ms, no errors, throughput at least half the floor's.""",
    ),
]
