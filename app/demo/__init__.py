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


AREA = Area(name="demo", commands=[demo_cli], audit_labels={"demo.load": _l("Demo data loaded")})
