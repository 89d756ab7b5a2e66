"""The ledger's command-line tools: `flask ledger verify|balance|statement|statement-key` (areas bring their
own, e.g. `flask demo load`, `flask auth invite`). Signed statements and `verify --against` are made by
app/statements/services.py.

Each command is one unit of work: it commits once at the end or not at all."""

from __future__ import annotations

import sys
from pathlib import Path

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


# Exit codes of `flask ledger verify`: 0 sound; 1 a problem in the ledger (or history changed since a
# statement given with --against); 3 a statement that is not authentic (forged, edited, another key, unreadable).
EXIT_PROBLEMS, EXIT_NOT_AUTHENTIC = 1, 3


@ledger_cli.command("verify")
@click.option(
    "--tenant",
    type=int,
    default=None,
    help="district (tenant) id; default: every district (and any other tenant the ledger holds)",
)
@click.option(
    "--against",
    "against",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="a signed statement (`flask ledger statement`): proves nothing recorded before it was changed since; "
    "may be given more than once",
)
@click.option(
    "--public-key",
    "public_key_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="the statement public key you kept (PEM, or its base64 text): the statements must be signed by it",
)
def verify(tenant: int | None, against: tuple[str, ...], public_key_file: str | None) -> None:
    """Re-derive balances and hash chains; with --against, also check the ledger against signed statements.
    Exit 0 when sound, 1 on a problem in the ledger, 3 when a statement is not authentic."""
    from app.statements import services as statements

    trusted = None
    if public_key_file:
        if not against:
            raise click.UsageError("--public-key checks statements: give them with --against FILE")
        try:
            with open(public_key_file, "rb") as f:
                trusted = statements.load_public_key(f.read())
        except statements.StatementError as e:
            raise click.UsageError(f"{public_key_file}: {e}") from e
    documents = []
    for path in against:
        with open(path, "rb") as f:
            documents.append((path, f.read()))

    found, not_authentic = 0, 0
    with unit_of_work(current_app.extensions["db_sessionmaker"]) as session:
        names = dict(session.execute(select(District.id, District.name)).all())
        checks = []
        for path, document in documents:
            try:
                env = statements.parse(document)
            except statements.StatementError as e:
                click.echo(f"ledger verify: {path}: NOT AUTHENTIC: {e}", err=True)
                not_authentic += 1
                continue
            bad = statements.check_signature(env, trusted)
            if bad:
                not_authentic += 1
                click.echo(f"ledger verify: {path}: NOT AUTHENTIC (the ledger was not compared with it):", err=True)
                for p in bad:
                    click.echo(f"  - {p}", err=True)
                continue
            checks.append((path, env))
        if against:
            tenants = sorted({int(env["statement"]["tenant_id"]) for _, env in checks})
        elif tenant is not None:
            tenants = [tenant]
        else:
            tenants = sorted(session.scalars(union(select(District.id), select(accounts.c.tenant_id).distinct())))
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
        compared = []
        for path, env in checks:
            st = env["statement"]
            try:
                changed = statements.check_ledger_by_account(session, env)
                problems = [p for code in sorted(changed) for p in changed[code]][:200]
                compared.append((env, changed))
            except statements.StatementError as e:
                problems = [str(e)]
            when = f"{str(st.get('cutoff_beijing'))[:19].replace('T', ' ')} Beijing time"
            if problems:
                found += len(problems)
                click.echo(
                    f"ledger verify: {path}: history recorded before the statement of {when} was changed since "
                    f"({len(problems)} problem(s)):",
                    err=True,
                )
                for p in problems:
                    click.echo(f"  - {p}", err=True)
            else:
                who = " (the key you kept)" if trusted else " (its own key: give --public-key to check who signed)"
                click.echo(
                    f"ledger verify: {path}: signed by {st['public_key']['fingerprint']}{who}; "
                    f"all {len(st['accounts'])} account(s) unchanged up to the statement of {when}"
                )
        hints = statements.narrowed(compared)
        if hints:
            click.echo("ledger verify: the statements together narrow it down:", err=True)
            for h in hints:
                click.echo(f"  - {h}", err=True)
    if not_authentic:
        sys.exit(EXIT_NOT_AUTHENTIC)
    if found:
        sys.exit(EXIT_PROBLEMS)
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
@click.argument("code", required=False)
@tenant_option
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--after", type=int, default=None, help="the 'next' cursor printed by the previous page")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="without CODE: where to write the signed statement ('-' for standard output); with several districts "
    "each goes to OUT with the district id before the extension",
)
def statement(code: str | None, tenant: int | None, limit: int, after: int | None, out: str | None) -> None:
    """With CODE, print an account's statement, newest line first. Without CODE, sign and store a fund and
    ledger statement of every district (or --tenant) now: chain heads, totals, CNY balances."""
    if code is None:
        _signed_statement(tenant, out)
        return
    if out is not None:
        raise click.UsageError("--out is for the signed statement: leave CODE out")
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


def _signed_statement(tenant: int | None, out: str | None) -> None:
    from app.statements import services as statements

    try:
        key = statements.signing_key(current_app.config)
    except statements.StatementError as e:
        raise click.ClickException(str(e)) from e
    factory = current_app.extensions["db_sessionmaker"]
    if tenant is None:
        with unit_of_work(factory) as session:
            tenants = statements.ledger_tenants(session)
    else:
        tenants = [tenant]
    refused = 0
    for t in tenants:
        try:
            with unit_of_work(factory) as session:
                row = statements.issue(session, t, key)
                document, fp, cutoff = row.document, row.key_fingerprint, row.cutoff_at
                n_accounts, n_entries, digest = row.accounts, row.entries, row.sha256
        except statements.LedgerUnsound as e:
            refused += 1
            click.echo(f"ledger statement: {e}", err=True)
            for p in e.problems:
                click.echo(f"  - {p}", err=True)
            continue
        where = ""
        if out == "-":
            click.echo(document)
        elif out:
            path = Path(out)
            if len(tenants) > 1:
                path = path.with_name(f"{path.stem}-{t}{path.suffix}")
            path.write_text(document, encoding="utf-8")
            where = f" -> {path}"
        click.echo(
            f"ledger statement: tenant {t}, cut-off {cutoff:%Y-%m-%d %H:%M:%S} UTC: {n_accounts} account(s), "
            f"{n_entries} entries; sha256 {digest}; signed by {fp}{where}",
            err=out == "-",
        )
    if refused:
        sys.exit(EXIT_PROBLEMS)


@ledger_cli.command("statement-key")
@click.option(
    "--generate",
    is_flag=True,
    help="create the signing key if there is none (the only way in production); never replaces one",
)
def statement_key(generate: bool) -> None:
    """Print the public key that signs statements and its fingerprint (hand both to the auditors)."""
    from app.statements import services as statements

    try:
        key = statements.signing_key(current_app.config, create=True if generate else None)
    except statements.StatementError as e:
        raise click.ClickException(str(e)) from e
    pub = key.public_key()
    click.echo(f"signing key file: {statements.key_path(current_app.config)} (keep it secret and backed up)")
    click.echo(f"fingerprint: {statements.fingerprint(pub)}")
    click.echo(statements.public_pem(pub).rstrip())


def register_cli(app) -> None:
    """The ledger's commands; each area adds its own through its `Area.commands`."""
    app.cli.add_command(ledger_cli)
