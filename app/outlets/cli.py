"""`flask outlets verify-stock`: the stock check (shelf = postings = the outlets' records) and the
ledger's own verify, per district."""

from __future__ import annotations

import click
from flask import current_app
from sqlalchemy import select

from app.db import unit_of_work
from app.places.models import District
from ledger import Ledger

outlets_cli = click.Group("outlets", help="爱心超市 outlets: stock checks.")


@outlets_cli.command("verify-stock")
@click.option("--district", "district_code", default=None, help="Only this district (its code).")
def verify_stock_command(district_code: str | None) -> None:
    """Check every district's shelves against their postings and the outlets' records, and the ledger."""
    from .checks import verify_stock

    bad = 0
    with unit_of_work(current_app.extensions["db_sessionmaker"]) as db:
        q = select(District).order_by(District.id)
        if district_code:
            q = q.where(District.code == district_code)
        for district in db.scalars(q):
            problems = verify_stock(db, district.id) + Ledger(db, tenant=district.id).verify()
            for p in problems:
                click.echo(f"{district.code}: {p}")
            bad += len(problems)
            if not problems:
                click.echo(f"{district.code}: stock and ledger agree")
    if bad:
        raise SystemExit(1)
