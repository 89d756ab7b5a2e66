"""The fund's scheduled work (daily, 00:20 Beijing time) and its command `flask fund sweep`:

- a payout left waiting for approval longer than the district's approval period is released
  (status `expired`, its reservation voided);
- an approved payout not paid within the unclaimed period (default 30 days) is returned to the fund
  (status `returned`, the record kept).

Safe to run twice and to be killed mid-way: each page of payouts is its own transaction; each payout is
re-read under its row lock and skipped unless it is still open and overdue; the ledger's release key
`fund:payout:<id>:release` makes a repeat a no-op."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from app.db import unit_of_work, utcnow
from app.jobs import crontab, flask_app, huey

from .approvals import release_many
from .budget import rules
from .labels import APPROVED, EXPIRED, PROPOSED, RETURNED
from .models import Fund, FundPayout


@dataclass
class SweepRun:
    """What one sweep of one district did."""

    expired: int = 0
    returned: int = 0


def _due(s, tenant_id: int, status: str, column, before: datetime, page: int) -> list[int]:
    return list(
        s.scalars(
            select(FundPayout.id)
            .where(FundPayout.tenant_id == tenant_id, FundPayout.status == status, column < before)
            .order_by(FundPayout.id)
            .limit(page)
        )
    )


def sweep(
    factory: sessionmaker, tenant_id: int, now: datetime | None = None, page: int = 100, after_page=None
) -> SweepRun:
    """Release the district's overdue proposals and return its unclaimed approved payouts, `page`
    payouts per transaction. `after_page(n)` is called after each committed page (tests use it to be
    killed mid-way). Returns how many of each it did in this run."""
    now = now or utcnow()
    run = SweepRun()
    with unit_of_work(factory) as s:
        r = rules(s, tenant_id)
    # The reason is kept with the payout, in the district's language (a job has no request to choose one).
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_Hans_CN")):
        expired_reason = _("Not approved within %(days)s days; the money was released.", days=r.approval_days)
        returned_reason = _("Not paid within %(days)s days of approval; returned to the fund.", days=r.unclaimed_days)
    jobs = [
        (
            PROPOSED,
            FundPayout.proposed_at,
            now - timedelta(days=r.approval_days),
            EXPIRED,
            "fund.expired",
            expired_reason,
        ),
        (
            APPROVED,
            FundPayout.approved_at,
            now - timedelta(days=r.unclaimed_days),
            RETURNED,
            "fund.returned",
            returned_reason,
        ),
    ]
    pages = 0
    for status, column, before, end, audit, reason in jobs:
        while True:
            with unit_of_work(factory) as s:
                ids = _due(s, tenant_id, status, column, before, page)
                due = []
                for payout_id in ids:
                    payout = s.scalar(select(FundPayout).where(FundPayout.id == payout_id).with_for_update())
                    if payout is None or payout.status != status or getattr(payout, column.key) >= before:
                        continue  # decided meanwhile (approved, paid, rejected): leave it
                    due.append(payout)
                # The page's reservations are voided in one ledger call (Ledger.void_pending_many).
                release_many(s, due, end, reason, actor_user_id=None, now=now, audit=audit)
                if end == EXPIRED:
                    run.expired += len(due)
                else:
                    run.returned += len(due)
            pages += 1
            if after_page is not None:
                after_page(pages)
            if len(ids) < page:
                break
    return run


def sweep_all(factory: sessionmaker, now: datetime | None = None, page: int = 100) -> dict[int, SweepRun]:
    """Sweep every district that has a fund."""
    with unit_of_work(factory) as s:
        tenants = sorted(set(s.scalars(select(Fund.tenant_id))))
    return {t: sweep(factory, t, now, page) for t in tenants}


# 16:20 UTC = 00:20 Beijing time.
@huey.periodic_task(crontab(minute="20", hour="16"))
def sweep_fund_task() -> int:
    """The daily sweep of every district's fund."""
    app = flask_app()
    with app.app_context():
        runs = sweep_all(app.extensions["db_sessionmaker"])
    return sum(r.expired + r.returned for r in runs.values())


fund_cli = AppGroup("fund", help="The reward fund.")


@fund_cli.command("sweep")
@click.option("--page", type=int, default=100, show_default=True, help="payouts per transaction")
def sweep_command(page: int) -> None:
    """Release overdue proposals and return unclaimed payouts now (what the daily job does)."""
    for t, run in sweep_all(current_app.extensions["db_sessionmaker"], page=page).items():
        click.echo(f"district {t}: {run.expired} proposal(s) released, {run.returned} payout(s) returned")
