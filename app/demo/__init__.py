"""`flask demo load`: a demo district shaped like Guangming (see app/demo/loader.py)."""

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import lazy_gettext as _l

from app.area import Area
from app.db import unit_of_work

from .loader import load_demo

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("load")
def load() -> None:
    """Create the demo district (running it twice changes nothing)."""

    with unit_of_work(current_app.extensions["db_sessionmaker"]) as session:
        lines = load_demo(session)
    for line in lines:
        click.echo(line)
    _first_statement()


def _first_statement() -> None:
    """The demo district's first signed ledger statement, so the auditor's statements page has one (made
    after everything else the demo loads; once)."""
    from sqlalchemy import select

    from app.places.models import District
    from app.statements import services as statements
    from app.statements.models import LedgerStatement

    from .loader import DEFAULT_CODE

    factory = current_app.extensions["db_sessionmaker"]
    with unit_of_work(factory) as session:
        tenant = session.scalar(select(District.id).where(District.code == DEFAULT_CODE))
        if tenant is None or session.scalar(select(LedgerStatement.id).where(LedgerStatement.tenant_id == tenant)):
            return
    try:
        key = statements.signing_key(current_app.config)
        with unit_of_work(factory) as session:
            row = statements.issue(session, tenant, key)
            click.echo(f"Signed the first ledger statement of the district (key {row.key_fingerprint}).")
    except statements.StatementError as e:
        click.echo(f"No ledger statement signed: {e}")


AREA = Area(name="demo", commands=[demo_cli], audit_labels={"demo.load": _l("Demo data loaded")})
