"""Side by side with the peers: the shared harness (tests/bench/bench_peers.py, from ../shared/bench) runs
this ledger, the raw-SQL floor and django-hordak in one run, and the ratios are set against issue 12's
goals. django-hordak lives in a venv of its own, outside the project's dependencies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

from config import ROOT

from .harness import Context, Section, remove_dir, temp_dir

TITLE = "10. Side by side: floor, django-hordak, this ledger"
HARNESS = Path(__file__).with_name("bench_peers.py")
SYSTEMS = "floor-pg,floor-sqlite,hordak,aixin-pg,aixin-tx-pg,aixin-sqlite,aixin-sqlite-full"
PEER_PACKAGES = ["django-hordak==2.0.0", "psycopg[binary]"]


def _peers_python(ctx: Context) -> Path | None:
    """The peers' interpreter: $PEERS_VENV (default instance/peers-venv), made and filled on first use."""
    home = Path(os.environ.get("PEERS_VENV") or ROOT / "instance" / "peers-venv")
    py = home / "bin" / "python"
    try:
        if not py.exists():
            print(f"   making the peers' venv {home} …", flush=True)
            venv.create(home, with_pip=True)
        probe = subprocess.run([py, "-c", "import hordak, psycopg"], capture_output=True)
        if probe.returncode:
            print(f"   installing {' '.join(PEER_PACKAGES)} into it …", flush=True)
            subprocess.run(
                [py, "-m", "pip", "install", "--quiet", *PEER_PACKAGES], check=True, capture_output=True, timeout=900
            )
    except (OSError, subprocess.SubprocessError) as e:
        err = getattr(e, "stderr", b"") or b""
        tail = err.decode(errors="replace").strip().splitlines()[-1:] if err else [str(e)]
        ctx.report.note(f"django-hordak could not be installed into {home}: {' '.join(tail)}; section 10 not run.")
        return None
    return py


def _median(results: dict, system: str, w: str) -> float | None:
    x = results.get(system, {}).get(w)
    return None if not x or "error" in x else x["median"]


def bench_peers(ctx: Context) -> None:
    if ctx.pg is None:
        ctx.report.note("Section 10 needs PostgreSQL (its peers run there): " + (ctx.pg_missing or "not reachable"))
        return
    py = _peers_python(ctx)
    if py is None:
        return
    out = temp_dir()
    env = dict(
        os.environ,
        PEERS_WORKDIR=str(out / "work"),
        PEERS_DBPREFIX=os.environ.get("PEERS_DBPREFIX", "peers_aixin_bench_"),
        AIXIN_PYTHON=sys.executable,
    )
    if ctx.quick:
        env["PEERS_SMOKE"] = "1"
    reps = os.environ.get("PEERS_REPS", "1")
    cmd = [str(py), str(HARNESS), "--only", SYSTEMS, "--reps", reps, "--aixin-checkout", str(ROOT)]
    cmd += ["--aixin-python", sys.executable, "--tag", "peers", "--out", str(out)]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3 * 3600)
        if proc.returncode or not (out / "peers.json").exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            ctx.report.note(f"the peers harness failed (exit {proc.returncode}): {' | '.join(tail)}")
            return
        data = json.loads((out / "peers.json").read_text())
        table = (out / "peers.md").read_text()
    finally:
        remove_dir(out)
    ctx.report.peers_table = table
    r = data["results"]
    for system, res in r.items():
        if "error" in res:
            ctx.report.note(f"peers harness: {system} failed: {res['error'][:200]}")
            continue
        for w, x in res.items():
            if isinstance(x, dict) and "error" in x:
                ctx.report.note(f"peers harness: {system} {w} failed: {x['error'][-200:]}")
    _report(ctx, r, reps)


def _report(ctx: Context, r: dict, reps: str) -> None:
    rep = ctx.report

    def show(system, w, unit):
        v = _median(r, system, w)
        return "–" if v is None else (f"{v:,.0f} {unit}" if unit != "s" else f"{v:.2f} s")

    rows = [
        ("W1 one-transfer transactions, 1 client", "w1", "transfers/s"),
        ("W2 one transaction of 10,000 transfers", "w2", "s"),
        ("W2p 10,000 one-transfer post() calls, 1 transaction", "w2p", "s"),
        ("W2b 10,000 one-transfer journals in one post_many()", "w2b", "s"),
        ("W3 4 clients, disjoint wallets", "w3", "transfers/s"),
    ]
    for label, w, unit in rows:
        for system, name in (("floor", "floor"), ("hordak", "django-hordak"), ("aixin", "this ledger")):
            for db, suffix in (("postgresql", "-pg"), ("sqlite", "-sqlite")):
                v = show(system + suffix, w, unit)
                if v != "–":
                    rep.add(TITLE, f"{label}: {name}", db, v)
    full = show("aixin-sqlite-full", "w1", "transfers/s")
    if full != "–":
        rep.add(TITLE, "W1 one-transfer transactions, 1 client: this ledger, floor's durability", "sqlite", full)
    for label, w in (("W1 one-transfer transactions, 1 client", "w1"), ("W3 4 clients, disjoint wallets", "w3")):
        v = show("aixin-tx-pg", w, "transfers/s")
        if v != "–":
            rep.add(TITLE, f"{label}: this ledger, BEGIN / post / COMMIT", "postgresql", v)
    rep.note(f"Section 10 ran the shared harness with {reps} repetition(s) per workload (PEERS_REPS).")

    def ratio(a, b):
        return None if a is None or b is None or not b else a / b

    def m(system: str, w: str) -> float | None:
        return _median(r, system, w)

    goals = [
        ("peers: W1 >= 2x django-hordak", "postgresql", ratio(m("aixin-pg", "w1"), m("hordak-pg", "w1")), 2.0, True),
        ("peers: W1 >= 0.5x raw floor", "postgresql", ratio(m("aixin-pg", "w1"), m("floor-pg", "w1")), 0.5, True),
        (
            "peers: W1 >= 0.5x raw floor (SQLite, floor's durability)",
            "sqlite",
            ratio(m("aixin-sqlite-full", "w1"), m("floor-sqlite", "w1")),
            0.5,
            True,
        ),
        (
            "peers: W2p time <= django-hordak's W2",
            "postgresql",
            ratio(m("aixin-pg", "w2p"), m("hordak-pg", "w2")),
            1.0,
            False,
        ),
        ("peers: W2b (post_many, 10,000 journals) <= 3 s", "postgresql", m("aixin-pg", "w2b"), 3.0, False),
        (
            "peers: W3 >= 2x django-hordak's W3",
            "postgresql",
            ratio(m("aixin-pg", "w3"), m("hordak-pg", "w3")),
            2.0,
            True,
        ),
        (
            "peers: W3 (4 clients) >= 1.5x W1 (1 client)",
            "postgresql",
            ratio(m("aixin-pg", "w3"), m("aixin-pg", "w1")),
            1.5,
            True,
        ),
    ]
    tx = [
        (w, ratio(m("aixin-tx-pg", w), m("hordak-pg", w)), ratio(m("aixin-tx-pg", w), m("floor-pg", w)))
        for w in ("w1", "w3")
    ]
    if all(h is not None for _, h, _ in tx):
        rep.note(
            "Section 10, this ledger's W1/W3 rows: each post is its own transaction on an AUTOCOMMIT connection "
            "(one statement, one round trip). Posted as BEGIN / post / COMMIT instead (aixin-tx-pg, the shape of "
            "the product's use cases): "
            + "; ".join(f"{w.upper()} {h:.2f}x django-hordak, {f:.2f}x the floor" for w, h, f in tx)
            + "."
        )
    for text, db, value, bound, at_least in goals:
        rep.goal(text, db, value, None if value is None else (value >= bound if at_least else value <= bound))


SECTIONS = [
    Section(
        "peers",
        TITLE,
        bench_peers,
        f"""The shared side-by-side harness (`tests/bench/bench_peers.py`, copied from `../shared/bench` with
two changes: database names prefixed by `$PEERS_DBPREFIX`, and a W2b workload for this ledger — the
W2p journals in one `Ledger.post_many()` call) run as `--only {SYSTEMS}`. django-hordak 2.0 and psycopg
are installed into a venv of their own (`$PEERS_VENV`, default `instance/peers-venv`), never into the
project's; this ledger's workers run under the project's `.venv`. Workloads: **W1** 5,000 one-transfer
transactions, one client; **W2** 10,000 transfers in one transaction (this ledger: one journal); **W2p**
10,000 one-transfer `post()` calls in one transaction; **W2b** the same in one `post_many()`; **W3** 4
client processes × 2,000 one-transfer transactions on disjoint wallets. This ledger's W1 and W3 (`aixin-pg`)
post each transfer as a transaction of its own on a connection in AUTOCOMMIT (one statement, one round
trip; docs/ledger.md, "A post as its own transaction"); `aixin-tx-pg` runs the same W1 and W3 as BEGIN,
`post()`, COMMIT, the shape of the product's use cases, and its ratios are in the notes. Every run starts from a fresh
copy of a template database and every run of this ledger ends with `verify() == []` and every balance
read back. Medians of `$PEERS_REPS` runs (default 1: the full set takes about 15 minutes per
repetition on 2 cores); the ratios are within this one run. `--quick` runs the harness's smoke sizes.""",
    )
]
