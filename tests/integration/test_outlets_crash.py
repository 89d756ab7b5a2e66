"""A process SIGKILLed while receiving a large donation (300 items, one journal) leaves all of it or
none of it — the movement record, its lines, the journal and every shelf together — and a retry with
the same key completes it once. The ledger's verify() and the stock check are clean throughout."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import create_app
from app.db import unit_of_work
from app.outlets import catalogue
from app.outlets.accounts import shelf_code
from app.outlets.models import StockMovement, StockMovementLine
from config import ROOT
from ledger.schema import accounts
from tests.conftest import TEST_CONFIG
from tests.factories import make_town
from tests.integration.test_ledger_crash import wait_for_line
from tests.outlets_world import make_item, make_outlet, sound

pytestmark = [pytest.mark.slow, pytest.mark.commits]

CHILD = Path(__file__).with_name("stock_crash_child.py")
ITEMS = 300
KEY = "donation:crash"


def child(url: str, outlet_id: int, lines, mode: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), url, str(outlet_id), KEY, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    proc.stdin.write(json.dumps({"lines": lines}))
    proc.stdin.close()
    return proc


def seen(engine, tenant: int, outlet_id: int, item_ids) -> dict:
    """What the parent sees, in one snapshot (REPEATABLE READ on PostgreSQL, as test_ledger_crash does)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with Session(bind=conn) as s:
            movements = s.scalars(select(StockMovement.id).where(StockMovement.tenant_id == tenant)).all()
            lines = (
                s.scalar(
                    select(func.count())
                    .select_from(StockMovementLine)
                    .where(StockMovementLine.movement_id.in_(movements))
                )
                if movements
                else 0
            )
            codes = [shelf_code(outlet_id, i) for i in item_ids]
            shelves = {
                r.code: r.debits_posted - r.credits_posted
                for r in s.execute(
                    select(accounts.c.code, accounts.c.debits_posted, accounts.c.credits_posted).where(
                        accounts.c.tenant_id == tenant, accounts.c.code.in_(codes)
                    )
                )
            }
            return {
                "movements": movements,
                "lines": lines,
                "pieces": sum(shelves.values()),
                "problems": sound(s, tenant),
            }


@pytest.mark.parametrize("mode", ["stall", "commit"])
def test_a_killed_stock_receipt_leaves_all_or_nothing_and_a_retry_completes_it_once(db_url, engine, mode):
    app = create_app({**TEST_CONFIG, "DATABASE_URL": db_url, "ENGINE": engine})
    with app.app_context(), app.test_request_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        town = make_town(s)
        outlet = make_outlet(s, town)
        items = [make_item(s, town.district.id, f"物品{i:04d}", 1 + i % 9) for i in range(ITEMS)]
        for item in items:
            catalogue.set_availability(s, outlet, item)
        tenant, outlet_id, item_ids = town.district.id, outlet.id, [i.id for i in items]
    lines = [[item_id, 1 + n % 5] for n, item_id in enumerate(item_ids)]
    total = sum(q for _i, q in lines)

    proc = child(db_url, outlet_id, lines, mode)
    try:
        assert wait_for_line(proc, timeout=120) == "WRITING"
        proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    if mode == "stall":
        assert code == -signal.SIGKILL

    after = seen(engine, tenant, outlet_id, item_ids)
    assert after["problems"] == []
    if after["movements"]:
        assert mode == "commit" and (after["lines"], after["pieces"]) == (ITEMS, total)
    else:
        assert (after["lines"], after["pieces"]) == (0, 0)

    proc = child(db_url, outlet_id, lines, "finish")
    try:
        line = wait_for_line(proc, timeout=120)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        proc.stdout.close()
        proc.stderr.close()
    assert line.startswith("MOVEMENT ")
    done = seen(engine, tenant, outlet_id, item_ids)
    assert done == {"movements": [int(line.split()[1])], "lines": ITEMS, "pieces": total, "problems": []}
