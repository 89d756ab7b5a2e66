"""The ledger's command-line tools: `flask ledger verify|balance|statement` (areas bring their own,
e.g. `flask demo load`, `flask auth invite`).

Each command is one unit of work: it commits once at the end or not at all."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select, union

from app.places.models import District
from ledger import Ledger, LedgerError
from ledger.schema import accounts

from .db import unit_of_work

ledger_cli = AppGroup("ledger", help="Inspect and check the double-entry ledger.")
tenant_option = click.option(
    "--tenant", type=int, default=None, help="district (tenant) id; default: the only district, if there is one, else 0"
)


def _tenant(session, tenant: int | None) -> int:
    if tenant is not None:
        return tenant

    ids = session.scalars(select(District.id).limit(2)).all()
    return ids[0] if len(ids) == 1 else 0


@ledger_cli.command("verify")
@click.option(
    "--tenant",
    type=int,
    default=None,
    help="district (tenant) id; default: every district (and any other tenant the ledger holds)",
)
def verify(tenant: int | None) -> None:
    """Re-derive balances and hash chains; exit 1 on any problem."""

    found = 0
    with unit_of_work(current_app.extensions["db_sessionmaker"]) as session:
        if tenant is not None:
            tenants = [tenant]
        else:
            tenants = sorted(session.scalars(union(select(District.id), select(accounts.c.tenant_id).distinct())))
        names = dict(session.execute(select(District.id, District.name)).all())
        for t in tenants:
            book = Ledger(session, tenant=t)
            problems = book.verify()
            totals = book.trial_balance()
            label = f"district {t} ({names[t]})" if t in names else f"tenant {t}"
            if len(tenants) > 1:
                click.echo(f"{label}:")
            for unit, (d, c) in totals.items():
                click.echo(
                    f"  {unit}: posted debits {d}, posted credits {c}"
                    if len(tenants) > 1
                    else f"{unit}: posted debits {d}, posted credits {c}"
                )
            if problems:
                found += len(problems)
                click.echo(f"ledger verify: {label}: {len(problems)} problem(s) found", err=True)
                for p in problems:
                    click.echo(f"  - {p}", err=True)
    if found:
        sys.exit(1)
    click.echo(
        f"ledger verify: sound in {len(tenants)} district(s) "
        "(balances match transfers, debits equal credits, hash chains intact)"
    )


@ledger_cli.command("balance")
@click.argument("code")
@tenant_option
def balance(code: str, tenant: int) -> None:
    """Print an account's balance."""
    try:
        with unit_of_work(current_app.extensions["db_sessionmaker"]) as session:
            book = Ledger(session, tenant=_tenant(session, tenant))
            acct, bal = book.account(code), book.balance(code)
    except LedgerError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"{acct.code} ({acct.unit}, normal {acct.normal}{', closed' if acct.closed else ''})")
    click.echo(
        f"posted {bal.posted}  pending in {bal.pending_in}  pending out {bal.pending_out}  available {bal.available}"
    )


@ledger_cli.command("statement")
@click.argument("code")
@tenant_option
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--after", type=int, default=None, help="the 'next' cursor printed by the previous page")
def statement(code: str, tenant: int, limit: int, after: int | None) -> None:
    """Print an account's statement, newest line first."""
    try:
        with unit_of_work(current_app.extensions["db_sessionmaker"]) as session:
            page = Ledger(session, tenant=_tenant(session, tenant)).statement(code, limit=limit, after=after)
    except LedgerError as e:
        raise click.ClickException(str(e)) from e
    click.echo(
        f"{'seq':>6}  {'time (UTC)':19}  {'journal':>8}  {'kind':16} {'phase':7} {'amount':>10} "
        f"{'pending':>9} {'balance':>10}  memo"
    )
    for ln in page.lines:
        click.echo(
            f"{ln.seq:>6}  {ln.time:%Y-%m-%d %H:%M:%S}  {ln.journal_id:>8}  {ln.kind[:16]:16} {ln.phase:7} "
            f"{ln.amount:>10} {ln.pending_amount:>9} {ln.balance_after:>10}  {ln.memo}"
        )
    if page.next is not None:
        click.echo(f"more: --after {page.next}")


def register_cli(app) -> None:
    """The ledger's commands; each area adds its own through its `Area.commands`."""
    app.cli.add_command(ledger_cli)
