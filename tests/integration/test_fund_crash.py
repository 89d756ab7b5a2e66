"""The fund's sweep on a real database, SIGKILLed in the middle of a page and run again: each unclaimed
payout is returned exactly once (one release journal each, status `returned`), the committed pages
stay, the killed page left nothing, and the ledger verifies clean."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from app.db import unit_of_work, utcnow
from app.fund import budget
from app.fund.models import FundPayout
from config import ROOT
from ledger import Ledger
from ledger.schema import journals
from tests.integration.fund_env import make_fund_env
from tests.integration.test_ledger_crash import wait_for_line

pytestmark = pytest.mark.commits  # the job commits page by page; a child process reads what it commits

CHILD = Path(__file__).with_name("fund_sweep_child.py")
PAYOUTS = 30
PAGE = 5


def seed(app) -> tuple[int, int]:
    factory = app.extensions["db_sessionmaker"]
    with app.app_context(), app.test_request_context(), unit_of_work(factory) as s:
        fx = make_fund_env(s)
        fx.income(1_000_000_00)
        ids = []
        for i in range(PAYOUTS):
            p = fx.propose(100_00 + i, payee=fx.member(f"队员{i}"))
            fx.approve(p)
            ids.append(p.id)
        s.execute(update(FundPayout).where(FundPayout.id.in_(ids)).values(approved_at=utcnow() - timedelta(days=40)))
        return fx.tenant, fx.fund_id


def run_child(url: str, tenant: int, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(CHILD), url, str(tenant), utcnow().isoformat(), str(PAGE), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def counts(app, tenant: int) -> tuple[int, int]:
    with unit_of_work(app.extensions["db_sessionmaker"]) as s:
        returned = s.scalar(
            select(func.count())
            .select_from(FundPayout)
            .where(FundPayout.tenant_id == tenant, FundPayout.status == "returned")
        )
        releases = s.scalar(
            select(func.count())
            .select_from(journals)
            .where(journals.c.tenant_id == tenant, journals.c.key.like("fund:payout:%:release"))
        )
    return returned, releases


@pytest.mark.slow
def test_the_sweep_killed_mid_page_and_run_again_returns_each_payout_once(app, db_url):
    tenant, fund_id = seed(app)
    proc = run_child(db_url, tenant, "stall")
    try:
        assert wait_for_line(proc) == "WRITING"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.stdout.close()
        proc.stderr.close()
    assert counts(app, tenant) == (2 * PAGE, 2 * PAGE)  # two pages committed; the third left nothing
    proc = run_child(db_url, tenant, "finish")
    try:
        assert wait_for_line(proc) == f"DONE 0 {PAYOUTS - 2 * PAGE}"
        assert proc.wait(timeout=60) == 0
    finally:
        proc.stdout.close()
        proc.stderr.close()
    proc = run_child(db_url, tenant, "finish")  # and once more: nothing left to do
    try:
        assert wait_for_line(proc) == "DONE 0 0"
        proc.wait(timeout=60)
    finally:
        proc.stdout.close()
        proc.stderr.close()
    assert counts(app, tenant) == (PAYOUTS, PAYOUTS)
    with unit_of_work(app.extensions["db_sessionmaker"]) as s:
        bal = budget.balance(s, tenant, fund_id)
        assert (bal.reserved, bal.paid, bal.remaining) == (0, 0, 1_000_000_00)
        assert Ledger(s, tenant=tenant).verify() == []
