"""Scheduled expiry of points (daily, shortly after midnight Beijing time) and its commands:
`flask points expire` and `flask points verify-lots`."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.orm import sessionmaker

from app.db import unit_of_work
from app.jobs import crontab, flask_app, huey

from . import lots


def expire_all(factory: sessionmaker, now: datetime | None = None, page: int = lots.PAGE) -> dict[int, lots.ExpiryRun]:
    """Run expiry for every district that has switched it on at some time."""
    with unit_of_work(factory) as s:
        tenants = lots.expiry_tenants(s)
    return {t: lots.expire_due(factory, t, now, page) for t in tenants}


# 16:10 UTC = 00:10 Beijing time: the first run of each Beijing day.
@huey.periodic_task(crontab(minute="10", hour="16"))
def expire_points_task() -> int:
    app = flask_app()
    with app.app_context():
        runs = expire_all(app.extensions["db_sessionmaker"])
    return sum(r.lots for r in runs.values())


points_cli = AppGroup("points", help="Points expiry and lots.")


@points_cli.command("expire")
@click.option("--page", type=int, default=lots.PAGE, show_default=True, help="members per transaction")
def expire_command(page: int) -> None:
    """Expire every due lot now (what the daily job does)."""
    for t, run in expire_all(current_app.extensions["db_sessionmaker"], page=page).items():
        click.echo(
            f"district {t}: {run.lots} lot(s), {run.points} points expired for {run.members} member(s)"
            f"; {run.skipped} wallet(s) left for the next run"
        )


@points_cli.command("verify-lots")
@click.option("--tenant", type=int, default=None, help="district id; default: every district with wallets")
def verify_lots_command(tenant: int | None) -> None:
    """Check that each wallet's open lots sum to its posted balance and the lots cache equals the ledger."""
    found = 0
    with unit_of_work(current_app.extensions["db_sessionmaker"]) as s:
        tenants = [tenant] if tenant is not None else lots.tenants_with_wallets(s)
        for t in tenants:
            problems = lots.verify_lots(s, t)
            found += len(problems)
            for p in problems:
                click.echo(f"district {t}: {p}", err=True)
    if found:
        click.echo(f"points verify-lots: {found} problem(s) found", err=True)
        sys.exit(1)
    click.echo(f"points verify-lots: sound in {len(tenants)} district(s)")
